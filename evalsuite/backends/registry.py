"""The one backend registry: which backends exist, and one way to check, resolve and load any.

`evalsuite run`, `arena generate` and `arena judge` all load models here
(:func:`resolve` then :func:`load_backend`, from one :class:`BackendOptions`). Each
backend is one object implementing :class:`~evalsuite.backends.protocol.Backend`, in
its own module; :data:`REGISTRY` is the only table of them, and nothing outside a
backend's module names it: callers ask for :class:`~evalsuite.backends.protocol.Capabilities`.
The backend objects are light: torch, lm-eval and vLLM load only when a backend is
built or its arguments are checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from evalsuite.backends import hf_backend, openai_backend, transformers_backend, vllm_backend
from evalsuite.backends.protocol import Backend
from evalsuite.errors import ConfigError

if TYPE_CHECKING:
    from lm_eval.api.model import LM

    from evalsuite.backends.options import BackendOptions
    from evalsuite.identity.models import ModelSpec

# The registration table, in the order --help lists them.
REGISTRY: dict[str, Backend] = {
    backend.name: backend
    for backend in (transformers_backend.BACKEND, vllm_backend.BACKEND, hf_backend.BACKEND, openai_backend.BACKEND)
}
DEFAULT_BACKEND = transformers_backend.BACKEND.name  # `run`, the arena and the judge, unless --backend says otherwise
POD_BACKEND = vllm_backend.BACKEND.name  # `runpod launch`'s: a rented GPU is for the fast engine
BACKENDS = tuple(REGISTRY)
ARENA_BACKENDS = tuple(name for name, backend in REGISTRY.items() if backend.capabilities.arena)
ENDPOINT_BACKENDS = tuple(name for name, backend in REGISTRY.items() if not backend.capabilities.local_model)
LOCAL_BACKENDS = tuple(name for name in BACKENDS if name not in ENDPOINT_BACKENDS)


def backend_help(*, for_arena: bool = False) -> str:
    """The ``--backend`` help text, from the registry (the arena runs some in a child process)."""
    names = ARENA_BACKENDS if for_arena else BACKENDS
    child = ", run in a child process"
    return ", ".join(
        f"{name} ({REGISTRY[name].capabilities.summary}{child if for_arena and REGISTRY[name].capabilities.child_process else ''})"
        for name in names
    ) + "."


def choices(names: tuple[str, ...]) -> str:
    """``a, b or c``: backend names for a help text."""
    return " or ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} or {names[-1]}"


def pip_extras(words: Iterable[str]) -> tuple[str, ...]:
    """The evalsuite extras the backends named among ``words`` need (a pod's install line, from its run arguments)."""
    named = set(words)
    needed = (backend.capabilities.pip_extra for name, backend in REGISTRY.items() if name in named)
    return tuple(dict.fromkeys(extra for extra in needed if extra))


def backend_entry(name: str, *, for_arena: bool = False) -> Backend:
    """The registered backend ``name``; a user error naming the choices when there is none."""
    names = ARENA_BACKENDS if for_arena else BACKENDS
    if name not in REGISTRY:
        raise ConfigError(f"unknown backend {name!r}", f"choose one of: {', '.join(names)}")
    if for_arena and not REGISTRY[name].capabilities.arena:
        raise ConfigError(
            f"the {name} backend scores only (lm-eval's reference, kept for comparisons); it does not answer arena prompts",
            f"choose one of: {', '.join(names)}",
        )
    return REGISTRY[name]


def resolve(model: str, options: BackendOptions) -> ModelSpec:
    """The model's local files and fingerprints, fetched at ``options.revision`` when from the Hub.

    An endpoint's model is what the server at ``options.base_url`` serves under that name.
    """
    return backend_entry(options.backend).resolve(model, options)


def load_backend(spec: ModelSpec, options: BackendOptions) -> LM:
    """Build the backend ``options.backend`` for a resolved model: the one place any model loads."""
    return backend_entry(options.backend).build(spec, options)


def close_backend(lm: Any) -> None:
    """Stop a backend's worker processes (vLLM's engine) now: left to interpreter exit, they can hang it."""
    close = getattr(lm, "close", None)
    if callable(close):
        close()


def check_backend_options(options: BackendOptions) -> str:
    """Refuse options the backend cannot honour, before any model loads; return the device type used.

    Every --backend-arg must be a keyword the backend accepts, with a value of the
    annotated type; ``--device`` must be one the backend can run on.
    """
    return check_backend_args(options).check_device(options)


def check_backend_args(options: BackendOptions) -> Backend:
    """The checks of :func:`check_backend_options` that do not depend on this machine's devices.

    The endpoint flags, and every --backend-arg key and value; `runpod launch` makes them
    for a pod before renting it (the pod's devices are not here to ask).
    """
    backend = backend_entry(options.backend)
    if backend.capabilities.local_model:
        _refuse_endpoint_flags(backend, options)
    backend.check_args(options)
    return backend


def _refuse_endpoint_flags(backend: Backend, options: BackendOptions) -> None:
    """--base-url and --api-key-env belong to the endpoint backends."""
    endpoints = choices(ENDPOINT_BACKENDS)
    for flag, value in (("--base-url", options.base_url), ("--api-key-env", options.api_key_env)):
        if value is not None:
            raise ConfigError(f"{flag} is for --backend {endpoints}, not {backend.name}", f"add --backend {endpoints}, or drop {flag}")
