"""`BackendOptions`: every setting a backend is built from, whoever builds it.

`evalsuite run`, `arena generate` and `arena judge` each turn their flags into one
of these and hand it to :func:`evalsuite.backends.registry.load_backend`, so a
setting that one command honours (seed, revision, trust-remote-code, a
``--backend-arg``) cannot be dropped by another on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evalsuite.errors import ConfigError

DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class BackendOptions:
    """How to load one model.

    Attributes:
        backend: a name in :data:`evalsuite.backends.registry.BACKENDS`.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (vLLM: where its build runs).
        dtype: one of :data:`DTYPES`.
        batch_size: a positive integer as text, or ``auto`` (vLLM: its ``max_num_seqs``).
        seed: the engine's sampling seed (vLLM); torch-based backends are seeded by their caller.
        revision: Hub branch, tag or commit, used when the model is fetched.
        trust_remote_code: allow the model repository's own Python code.
        args: decoded ``--backend-arg`` values, passed to the backend class.
        base_url: an OpenAI-compatible endpoint's base URL, ending in ``/v1`` (``--backend openai`` only).
        api_key_env: the environment variable holding the endpoint's API key; None means
            ``OPENAI_API_KEY`` if set, else no key (local servers need none).
    """

    backend: str
    device: str = "auto"
    dtype: str = "auto"
    batch_size: str = "auto"
    seed: int = 0
    revision: str | None = None
    trust_remote_code: bool = False
    args: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    api_key_env: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BackendOptions:
        """The inverse of ``dataclasses.asdict`` (options cross to a child process as JSON)."""
        return cls(**data)

    def check_values(self) -> None:
        """The plain values of --dtype, --device and --batch-size, checked before anything loads."""
        if self.dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {self.dtype!r}", f"choose one of: {', '.join(DTYPES)}")
        kind, colon, index = self.device.partition(":")
        if kind not in DEVICES or (colon and not (kind == "cuda" and index.isascii() and index.isdigit())):
            raise ConfigError(f"unknown device {self.device!r}", "use cpu, cuda, cuda:N or auto")
        # ASCII digits only: str.isdigit() is also true of "²" and "④", which int() refuses.
        if self.batch_size != "auto" and not (self.batch_size.isascii() and self.batch_size.isdigit() and int(self.batch_size) > 0):
            raise ConfigError(f"--batch-size must be a positive integer or 'auto', got {self.batch_size!r}")
