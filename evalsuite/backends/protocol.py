"""What every backend provides to the registry, so that no caller asks which backend it holds.

A backend is one object implementing :class:`Backend` (each in its own module,
``*_backend.py``), registered in :mod:`evalsuite.backends.registry`'s table. The
object is light: it imports its lm-eval ``LM`` class (torch, vLLM, an HTTP client)
only when it checks arguments against that class or builds it, so listing backends
for ``--help`` or validating a config costs no heavy import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from lm_eval.api.model import LM

    from evalsuite.backends.options import BackendOptions
    from evalsuite.identity.models import ModelSpec


@dataclass(frozen=True)
class Capabilities:
    """What callers may ask of a backend instead of asking for its name.

    Attributes:
        summary: a few words for ``--help``.
        local_model: the model's files are here (resolved and hashed by ``evalsuite.identity.models``);
            False for an endpoint, which is asked what it serves (``--base-url``) instead.
        engine_device: the engine picks its device and GPU layout (tensor/pipeline parallel
            sizes in ``--backend-arg``) from its own build (vLLM); else torch's device.
        arena: offered for arena answers and the judge.
        child_process: the queue and the arena run it in a fresh interpreter (vLLM's
            ``spawn`` workers are only reliably gone when their process ends).
        pip_extra: the evalsuite extra a machine installs to run it (a pod's install line).
    """

    summary: str
    local_model: bool = True
    engine_device: bool = False
    arena: bool = True
    child_process: bool = False
    pip_extra: str | None = None


class Backend(Protocol):
    """One backend: checked before a run is stored, resolved, built; its version facts for the identity."""

    @property
    def name(self) -> str:
        """What ``--backend`` takes."""

    @property
    def capabilities(self) -> Capabilities:
        """What it can do (see :class:`Capabilities`)."""

    def accepted_args(self) -> dict[str, Any]:
        """``--backend-arg`` keyword -> annotated type (None where unknown) its ``LM`` accepts."""

    def check_args(self, options: BackendOptions) -> None:
        """Refuse flags and ``--backend-arg`` values it cannot honour, whatever the machine.

        `runpod launch` makes these checks for a pod before renting it (the pod's devices are
        not here to ask); a missing engine package raises ``BackendNotInstalledError``.
        """

    def check_device(self, options: BackendOptions) -> str:
        """The device type this machine would run it on (``endpoint`` for a server); refuse what cannot run here."""

    def resolve(self, model: str, options: BackendOptions) -> ModelSpec:
        """The model's files and fingerprints (an endpoint's: what the server serves under that name)."""

    def build(self, spec: ModelSpec, options: BackendOptions) -> LM:
        """The lm-eval ``LM`` for a resolved model: the one place it loads."""

    def engine_version(self) -> str | None:
        """The version of the engine that computes its numbers beyond torch and transformers (vLLM's), for the identity."""
