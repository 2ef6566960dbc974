"""What a run was computed with: package versions and hardware, stored with every run."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any, TypeVar

from evalsuite.backends.registry import REGISTRY
from evalsuite.version import __version__

F = TypeVar("F", bound=Callable[..., Any])

TRACKED_PACKAGES = ("lm_eval", "torch", "transformers", "datasets", "sacrebleu", "tokenizers", "numpy")


def package_version(distribution: str) -> str | None:
    """An installed distribution's version; None when it is not installed (the one lookup for the run's record and the identity)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def package_versions() -> dict[str, str | None]:
    """Versions of evalsuite and everything that can change a number."""
    versions: dict[str, str | None] = {"evalsuite": __version__, "python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        versions[name] = package_version(name)
    for name, backend in REGISTRY.items():  # engines installed beside torch (vLLM's), whatever backend this run uses
        engine = backend.engine_version()
        if engine:
            versions[name] = engine
    return versions


def hardware() -> dict[str, Any]:
    """CPU, memory and accelerators of this machine."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    if "CUDA_VISIBLE_DEVICES" in os.environ:  # the GPUs a run was given (Ray sets it for each queued model)
        info["cuda_visible_devices"] = os.environ["CUDA_VISIBLE_DEVICES"]
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


def git_describe(cwd: str | None = None) -> str | None:
    """`git describe --always` of the working directory, or None outside a checkout, silently.

    The same value lm-eval records as ``git_hash`` (falling back, as it does, to reading
    ``.git/HEAD``), but git's "fatal: not a git repository" goes to DEVNULL, not the terminal.
    """
    from lm_eval.loggers.utils import get_commit_from_path

    folder = cwd or os.getcwd()
    try:
        done = subprocess.run(["git", "describe", "--always"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
        return done.stdout.decode().strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return get_commit_from_path(folder)  # type: ignore[no-any-return]


@contextmanager
def quiet_git_lookup() -> Iterator[None]:
    """Within the block, lm-eval's ``simple_evaluate`` looks up ``git_hash`` via :func:`git_describe`.

    Why a scoped replacement: lm-eval 0.4.13 runs ``git describe`` with the parent's stderr at
    the end of every ``simple_evaluate`` and has no option to skip it, so outside a git checkout
    every task printed "fatal: not a git repository". Only that one name in ``lm_eval.evaluator``
    is swapped, only while our call runs, and it returns the value lm-eval would have stored.
    """
    import lm_eval.evaluator as evaluator

    original = evaluator.get_git_commit_hash
    evaluator.get_git_commit_hash = git_describe
    try:
        yield
    finally:
        evaluator.get_git_commit_hash = original


def without_git_noise(function: F) -> F:
    """``function`` (lm-eval's ``simple_evaluate``) called inside :func:`quiet_git_lookup`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with quiet_git_lookup():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
