"""A GPU cloud as evalsuite uses it: plan a pod, create it, list, read its log, remove it.

The CLI (`evalsuite runpod …`) and the pod entry speak to a provider only through
:class:`Provider`; each provider lives in its own module and is named once, in
:data:`PROVIDERS` (imported lazily: a provider's SDK is an optional install). RunPod
(:mod:`evalsuite.cloud.runpod_client`) is the one provider today.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from evalsuite.errors import ConfigError

DEFAULT_PROVIDER = "runpod"
# name -> module whose PROVIDER attribute implements the protocol (checked by mypy there).
PROVIDERS: dict[str, str] = {"runpod": "evalsuite.cloud.runpod_client"}


@dataclass(frozen=True)
class LaunchRequest:
    """What `evalsuite runpod launch` was asked for: the run, the machine, and where results go."""

    model: str
    run_args: tuple[str, ...]  # the `evalsuite run` options, --model included
    gpu: str  # the provider's defaults: its LaunchDefaults
    disk_gb: int
    max_hours: float
    gpu_count: int = 1
    cloud: str = "secure"
    image: str | None = None  # None: the provider's stock image plus `pip install` of evalsuite
    install: str | None = None  # pip requirement for the stock image [default: the launcher's version]
    volume_gb: int = 0
    keep_pod: bool = False
    results_db: str | None = None
    push_to_hub: str | None = None
    volume_dir: str | None = None
    gist: bool = False
    public_gist: bool = False
    network_volume_id: str | None = None
    hf_secret: str | None = None  # a provider-held secret with the Hub token: the pod reads it, it never leaves the provider


@dataclass(frozen=True)
class LaunchDefaults:
    """A provider's defaults for `runpod launch`'s machine options (shown in its --help)."""

    gpu: str
    disk_gb: int
    max_hours: float


@dataclass
class LaunchPlan:
    """The pod to create, checked against the provider: what to tell the user, and the provider's own create call."""

    pod_name: str
    gpu_name: str
    price_per_hour: float | None
    lines: list[str] = field(default_factory=list)
    create_kwargs: dict[str, Any] = field(default_factory=dict)  # the provider's own arguments, opaque to callers


@dataclass(frozen=True)
class PodSummary:
    """One of evalsuite's pods as `runpod list` shows it."""

    id: str
    name: str
    status: str
    gpu: str
    price_per_hour: float | None
    uptime_s: float | None


class Provider(Protocol):
    """What evalsuite needs of a GPU cloud; every method raises ``CloudError`` (with a hint) on the provider's refusals."""

    name: str
    defaults: LaunchDefaults

    def plan(self, request: LaunchRequest, env: dict[str, str]) -> LaunchPlan:
        """Check ``request`` (GPU type, price, destinations, secrets in ``env``) and build the create call; creates nothing."""
        ...

    def create(self, plan: LaunchPlan) -> str:
        """Create the planned pod; its id."""
        ...

    def pods(self) -> list[PodSummary]:
        """The account's pods that evalsuite started."""
        ...

    def pod(self, pod_id: str) -> PodSummary:
        """One of evalsuite's pods, or a ``CloudError`` listing the ones there are."""
        ...

    def log(self, pod_id: str) -> str:
        """The pod's run log."""
        ...

    def remove(self, pod_id: str) -> PodSummary:
        """Remove one of evalsuite's pods (billing stops); what it was."""
        ...

    def remove_self(self, pod_id: str, api_key: str | None) -> None:
        """A pod removing itself with its own pod-scoped key (the pod entry's last step)."""
        ...


def provider(name: str = DEFAULT_PROVIDER) -> Provider:
    """The provider called ``name`` (its module imported now, not at start-up)."""
    module = PROVIDERS.get(name)
    if module is None:
        raise ConfigError(f"unknown cloud provider {name!r}", f"choose one of: {', '.join(PROVIDERS)}")
    found: Provider = importlib.import_module(module).PROVIDER
    return found
