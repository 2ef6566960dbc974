"""What the backends that load a model's files on this machine share: arg checks, device, build.

:class:`LocalBackend` implements :class:`~evalsuite.backends.protocol.Backend` for an
lm-eval ``LM`` class built as ``cls(pretrained=PATH, dtype=..., batch_size=..., ...)``;
a backend module subclasses it with its own facts (and overrides what its engine does
differently, as vLLM's device and accepted arguments). The helpers below are the checks
and imports any backend, local or endpoint, makes the same way.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from evalsuite.backends import arg_types
from evalsuite.backends.protocol import Capabilities
from evalsuite.errors import BackendError, BackendNotInstalledError, ConfigError

if TYPE_CHECKING:
    from lm_eval.api.model import LM

    from evalsuite.backends.options import BackendOptions
    from evalsuite.identity.models import ModelSpec

DEFAULT_INSTALL_HINT = "pip install evalsuite"

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


def import_backend_module(module: str, hint: str) -> Any:
    """Import a backend module, turning a missing dependency into an install hint."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendNotInstalledError(f"backend module {module} cannot be imported: {exc}", hint) from exc


def pick_device(device: str) -> str:
    """`auto` means CUDA when present; asking for CUDA without it is a user error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendError("--device cuda was asked for, but PyTorch sees no CUDA device", "use --device cpu or install a CUDA build of torch")
    return device


def check_arg_values(backend: str, args: dict[str, Any], accepted: dict[str, Any], reserved: dict[str, str], *, open_ended: bool = False) -> None:
    """Every --backend-arg must be a keyword the backend accepts, with a value of the annotated type.

    ``open_ended``: unknown keys are passed on unchecked (lm-eval's HFLM forwards them to the loader).
    """
    for key, value in args.items():
        if key in reserved:
            raise ConfigError(f"--backend-arg {key} is set by {reserved[key]}", f"use {reserved[key]} instead")
        if key not in accepted:
            if open_ended:
                continue
            raise ConfigError(f"--backend-arg {key} is not an option of the {backend} backend", arg_types.closest_hint(key, accepted))
        expected = accepted[key]
        if expected is not None and not arg_types.value_fits(value, expected):
            raise ConfigError(
                f"--backend-arg {key}={value!r} is invalid for the {backend} backend: expected {arg_types.type_name(expected)}",
                f"write it as --backend-arg {key}=VALUE with VALUE of type {arg_types.type_name(expected)}",
            )


class LocalBackend:
    """A backend whose ``LM`` class loads the model's files here (``module.class_name``).

    Subclasses set the class attributes; ``seeded``: the class takes the sampling ``seed``
    (an engine that seeds itself); ``open_ended``: unknown ``--backend-arg`` keys pass
    unchecked; ``reserved``: the class's own names for settings evalsuite sets from flags.
    """

    name: str
    capabilities: Capabilities
    module: str
    class_name: str
    install_hint: str = DEFAULT_INSTALL_HINT
    seeded: bool = False
    open_ended: bool = False
    reserved: tuple[tuple[str, str], ...] = ()

    def lm_class(self) -> Any:
        """The ``LM`` class, imported now (torch, lm-eval and the engine load here)."""
        return getattr(import_backend_module(self.module, self.install_hint), self.class_name)

    def accepted_args(self) -> dict[str, Any]:
        return arg_types.init_types(self.lm_class())

    def check_args(self, options: BackendOptions) -> None:
        reserved = {**RESERVED_ARGS, **dict(self.reserved)}
        check_arg_values(self.name, options.args, self.accepted_args(), reserved, open_ended=self.open_ended)

    def check_device(self, options: BackendOptions) -> str:
        return pick_device(options.device)

    def resolve(self, model: str, options: BackendOptions) -> ModelSpec:
        from evalsuite.identity.models import resolve_model

        return resolve_model(model, revision=options.revision, trust_remote_code=options.trust_remote_code)

    def build(self, spec: ModelSpec, options: BackendOptions) -> LM:
        """The class on the local snapshot; the revision was applied when ``spec`` was resolved (no revision here)."""
        kwargs: dict[str, Any] = {
            "revision": None,
            "trust_remote_code": options.trust_remote_code,
            "dtype": options.dtype,
            "batch_size": options.batch_size if options.batch_size == "auto" else int(options.batch_size),
            **self.placement(options),
        }
        if self.seeded:
            kwargs["seed"] = options.seed
        return self.lm_class()(pretrained=str(spec.path), **kwargs, **options.args)  # type: ignore[no-any-return]

    def placement(self, options: BackendOptions) -> dict[str, Any]:
        """Where the model runs, as keywords of the class: torch's device (an engine picks its own)."""
        return {"device": pick_device(options.device)}

    def engine_version(self) -> str | None:
        return None
