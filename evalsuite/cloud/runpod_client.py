"""RunPod through its Python SDK (``runpod``), evalsuite's one cloud provider (:data:`PROVIDER`): plan and create a pod, list, read logs, remove.

Everything RunPod says is passed through: a GraphQL error (no capacity, no funds) becomes a
one-line ``CloudError`` with a hint. Pods started here are tagged by name
(:data:`POD_NAME_PREFIX`); `list` shows only those and `stop` refuses others. Secrets
(``HF_TOKEN``) travel to the pod as environment variables in the create request and are
shown as ``***`` everywhere else. The SDK reads its API root from ``RUNPOD_API_BASE_URL``
(default ``https://api.runpod.io``), which is how the tests point it at a loopback stand-in.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalsuite import settings
from evalsuite.cloud import pod_env
from evalsuite.cloud.provider import LaunchDefaults, LaunchPlan, LaunchRequest, PodSummary, Provider
from evalsuite.errors import CloudError, ConfigError
from evalsuite.redact import mask_secrets

POD_NAME_PREFIX = "evalsuite-"
# RunPod's stock PyTorch image, pinned by tag; the pod installs evalsuite into it at start.
DEFAULT_IMAGE = "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04"
DEFAULT_GPU = "NVIDIA A100 80GB PCIe"
DEFAULT_DISK_GB = 100
DEFAULT_MAX_HOURS = 6.0
DEFAULT_HUB_DATASET = "evalsuite-results"  # under the HF_TOKEN's user, when no destination is given
CLOUD_TYPES = {"secure": "SECURE", "community": "COMMUNITY", "all": "ALL"}
# The stock image's start command, as docker/entrypoint.sh: install evalsuite at the launcher's version (if that
# fails, runpodctl, in every RunPod pod, removes the pod), then do the pod's job.
STOCK_START = (
    f'bash -c \'pip install -q "${settings.INSTALL.name}" || {{ [ -n "${settings.KEEP_POD.name}" ] || runpodctl remove pod "${pod_env.POD_ID}"; exit 1; }}; '
    "exec evalsuite runpod pod-run'"
)
API_KEY_HINT = "create an API key at https://www.runpod.io/console/user/settings and `export RUNPOD_API_KEY=...`"
REPO_ROOT = Path(__file__).resolve().parents[2]


def sdk(api_key: str | None = None) -> Any:
    """The ``runpod`` module with the API key set (``RUNPOD_API_KEY``, or the one given)."""
    key = api_key or os.environ.get(pod_env.API_KEY)
    if not key:
        raise CloudError(f"{pod_env.API_KEY} is not set", API_KEY_HINT)
    try:
        import runpod
    except ImportError as exc:
        raise CloudError("the RunPod SDK is not installed", "pip install 'evalsuite[cloud]'") from exc
    runpod.api_key = key
    return runpod


def call(what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
    """One SDK call; RunPod's refusals and network failures become a one-line CloudError with a hint."""
    import requests
    from runpod import error as rp_error

    try:
        return function(*args, **kwargs)
    except rp_error.AuthenticationError as exc:
        raise CloudError(f"RunPod rejected the API key while trying to {what}", API_KEY_HINT) from exc
    except rp_error.QueryError as exc:
        message = _one_line(str(exc))
        raise CloudError(f"RunPod refused to {what}: {message}", _hint_for(message)) from exc
    except requests.RequestException as exc:
        raise CloudError(f"cannot reach RunPod's API to {what}: {_one_line(str(exc))}", "check the network, then retry") from exc
    except ValueError as exc:  # the SDK's own checks (an unknown GPU id)
        raise CloudError(f"cannot {what}: {_one_line(str(exc))}", "run `evalsuite runpod launch --help`") from exc


def _one_line(text: str) -> str:
    return " ".join(text.split())[:400]


def _hint_for(message: str) -> str:
    lowered = message.lower()
    if "instances available" in lowered or "capacity" in lowered or "no available" in lowered:
        return "no machine with that GPU is free now: try another --gpu, --cloud community, or retry later"
    if "balance" in lowered or "quota" in lowered or "limit" in lowered or "credit" in lowered:
        return "your RunPod account is out of balance or quota: add funds or raise the limit in the RunPod console"
    return "see the message above from RunPod; `evalsuite runpod list` shows the pods you have"


def gpu_types(rp: Any) -> list[dict[str, Any]]:
    return list(call("list GPU types", rp.get_gpus) or [])


def gpu_info(rp: Any, gpu: str, count: int) -> dict[str, Any]:
    """The GPU type ``gpu`` (id or display name) with its prices; unknown names list the valid ones."""
    known = gpu_types(rp)
    match = next((g for g in known if gpu in (g.get("id"), g.get("displayName"))), None)
    if match is None:
        names = ", ".join(sorted(str(g.get("id")) for g in known))
        raise CloudError(f"unknown GPU type {gpu!r}", f"RunPod offers: {names}")
    return dict(call(f"read the price of {match['id']}", rp.get_gpu, match["id"], count))


def hourly_price(info: dict[str, Any], cloud: str, count: int) -> float | None:
    """The price per hour of ``count`` GPUs in ``cloud``, as the API reports it (per GPU x count)."""
    per_gpu = info.get("securePrice") if cloud == "secure" else info.get("communityPrice")
    if per_gpu is None:
        lowest = info.get("lowestPrice") or {}
        per_gpu = lowest.get("uninterruptablePrice")
    return None if per_gpu is None else float(per_gpu) * count


def plan_launch(rp: Any, request: LaunchRequest, env: dict[str, str]) -> LaunchPlan:
    """Check the request against the API (GPU type, price) and build the create call; creates nothing."""
    if request.cloud not in CLOUD_TYPES:
        raise ConfigError(f"unknown --cloud {request.cloud!r}", f"choose one of: {', '.join(CLOUD_TYPES)}")
    if request.gpu_count < 1:
        raise ConfigError(f"--gpu-count must be at least 1, got {request.gpu_count}")
    if request.max_hours <= 0:
        raise ConfigError(f"--max-hours must be positive, got {request.max_hours}")
    if not (request.results_db or request.push_to_hub or request.volume_dir):
        request = replace(request, push_to_hub=default_hub_repo(env))
    if request.push_to_hub and not (env.get(pod_env.HF_TOKEN) or request.hf_secret):
        raise ConfigError(
            f"--push-to-hub {request.push_to_hub} needs a Hub token on the pod, and HF_TOKEN is not set",
            "export HF_TOKEN=hf_… (a token that may write), or pass --hf-secret NAME (a RunPod secret holding it)",
        )
    if request.results_db and "://" not in request.results_db:
        raise ConfigError(f"--db {request.results_db} is a local file, which the pod cannot reach", "pass a database URL, e.g. postgresql://user@host/db")
    install = None if request.image else (request.install or install_spec(request))  # refused before RunPod is asked
    info = gpu_info(rp, request.gpu, request.gpu_count)
    price = hourly_price(info, request.cloud, request.gpu_count)
    pod_environment = _pod_environment(request, env, install)
    name = pod_name(request.model)
    kwargs: dict[str, Any] = {
        "name": name,
        "image_name": request.image or DEFAULT_IMAGE,
        "gpu_type_id": info["id"],
        "cloud_type": CLOUD_TYPES[request.cloud],
        "gpu_count": request.gpu_count,
        "volume_in_gb": request.volume_gb,
        "container_disk_in_gb": request.disk_gb,
        "ports": f"{pod_env.DEFAULT_LOG_PORT}/http",
        "volume_mount_path": "/workspace",
        "docker_args": "" if request.image else _graphql_text(STOCK_START),
        "env": pod_environment,
    }
    if request.network_volume_id:
        kwargs["network_volume_id"] = request.network_volume_id
    shown_price = f"${price:.2f}/hour" if price is not None else "unknown (the API reported none)"
    lines = [
        f"pod      {name} on RunPod ({request.cloud} cloud)",
        f"gpu      {request.gpu_count} x {info.get('displayName') or info['id']} ({info.get('memoryInGb')} GB): {shown_price}",
        f"image    {kwargs['image_name']}" + (f" + pip install '{install}'" if install else " (its entrypoint runs the evaluation)"),
        f"disk     {request.disk_gb} GB container disk" + (f", {request.volume_gb} GB volume" if request.volume_gb else ""),
        f"run      evalsuite run {mask(shlex.join(request.run_args), env)}",
        f"results  {', '.join(destinations(request))}",
        "deadline " + (
            f"the pod removes itself within {request.max_hours:g} h + {pod_env.DEFAULT_DEADLINE_MARGIN_S / 60:g} min to send the results home"
            + (f" (at most ${price * (request.max_hours + pod_env.DEFAULT_DEADLINE_MARGIN_S / 3600):.2f})" if price else "")
        ),
        "when done " + ("the pod is KEPT (--keep-pod): stop it with `evalsuite runpod stop POD`" if request.keep_pod else "the pod removes itself"),
        "secrets  " + (
            f"HF_TOKEN from the RunPod secret {request.hf_secret}" if request.hf_secret
            else ", ".join(f"{n}=***" for n in pod_env.SECRETS if n in pod_environment) or "none passed (no HF_TOKEN: gated models will fail)"
        ),
    ]
    return LaunchPlan(pod_name=name, create_kwargs=kwargs, gpu_name=str(info.get("displayName") or info["id"]), price_per_hour=price, lines=lines)


def default_hub_repo(env: dict[str, str]) -> str:
    """Where results go when no destination is given: ``<your Hub user>/evalsuite-results`` (a private dataset)."""
    from evalsuite.cloud.transports import hub_user

    if not env.get(pod_env.HF_TOKEN):
        raise ConfigError(
            "the pod would have nowhere to send its results",
            "pass --push-to-hub ORG/REPO (with HF_TOKEN set), --db postgresql://… (a database the pod can reach), "
            "or --volume-dir with --network-volume; with HF_TOKEN set, results go to <your Hub user>/evalsuite-results",
        )
    return f"{hub_user()}/{DEFAULT_HUB_DATASET}"


def destinations(request: LaunchRequest) -> list[str]:
    out = []
    if request.results_db:
        out.append(f"database {mask_secrets(request.results_db)}")
    if request.push_to_hub:
        out.append(f"Hub dataset {request.push_to_hub} (import with `evalsuite results pull {request.push_to_hub}`)")
    if request.volume_dir:
        out.append(f"network volume folder {request.volume_dir}")
    if request.gist:
        out.append("a " + ("public" if request.public_gist else "private") + " gist")
    return out


def _pod_environment(request: LaunchRequest, env: dict[str, str], install: str | None) -> dict[str, str]:
    """The pod's environment: the run's options, destinations and deadline, and the secrets it needs."""
    values: dict[str, str | None] = {
        settings.RUN_ARGS.name: shlex.join(request.run_args),
        settings.MAX_HOURS.name: f"{request.max_hours:g}",
        settings.KEEP_POD.name: "1" if request.keep_pod else None,
        settings.RESULTS_DB.name: request.results_db,
        settings.PUSH_TO_HUB.name: request.push_to_hub,
        settings.RESULTS_DIR.name: request.volume_dir,
        settings.GIST.name: "1" if request.gist else None,
        settings.GIST_PUBLIC.name: "1" if request.public_gist else None,
        settings.LOG_PORT.name: str(pod_env.DEFAULT_LOG_PORT),
        settings.INSTALL.name: install,
        pod_env.HF_TOKEN: f"{{{{ RUNPOD_SECRET_{request.hf_secret} }}}}" if request.hf_secret else env.get(pod_env.HF_TOKEN),
        pod_env.GITHUB_TOKEN: env.get(pod_env.GITHUB_TOKEN) if request.gist else None,
    }
    return {name: _graphql_text(value) for name, value in values.items() if value}


def _graphql_text(value: str) -> str:
    """A value as the SDK needs it: it pastes values between double quotes of its GraphQL text unescaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def pod_name(model: str) -> str:
    """``evalsuite-<model>-<UTC time>``: the tag `list` and `stop` know evalsuite's pods by."""
    short = re.sub(r"[^A-Za-z0-9._-]+", "-", model.rstrip("/").split("/")[-1])[:40]
    return f"{POD_NAME_PREFIX}{short}-{datetime.now(UTC):%Y%m%d-%H%M%S}"


def install_spec(request: LaunchRequest, repo_root: Path | None = None) -> str:
    """evalsuite at this machine's version: this checkout's commit (a pinned git URL), else the published release.

    Only an origin a pod can reach counts (https, ssh, ``git@host:``); a clone of a folder on
    this machine has a path as its origin, which means nothing on the pod. A checkout without
    one, or a version that was never published, is refused: the pod would run other code
    than this machine's, or fail at its install after it was rented.
    """
    from evalsuite.backends.registry import pip_extras
    from evalsuite.version import __version__

    on_ray = "--executor=ray" in request.run_args or any(a == "--executor" and b == "ray" for a, b in zip(request.run_args, request.run_args[1:]))
    extras = ",".join(("cloud", *pip_extras(request.run_args), *(("ray",) if on_ray else ())))
    root = repo_root or REPO_ROOT
    if (root / ".git").exists():
        remote, commit = _git(root, "remote", "get-url", "origin"), _git(root, "rev-parse", "HEAD")
        if remote and commit and re.match(r"(https?|ssh|git)://|git@[^:]+:", remote):
            url = re.sub(r"^git@([^:]+):", r"https://\1/", remote)
            return f"evalsuite[{extras}] @ git+{url}@{commit}"
        why = f"its origin {remote} is not a URL a pod can reach" if remote else "it has no 'origin' remote"
        raise ConfigError(f"this evalsuite is a git checkout ({root}) whose commit a pod cannot install: {why}", _install_hint(extras, __version__))
    if not _published(__version__):
        raise ConfigError(f"this evalsuite's version {__version__} is not a published release, so a pod cannot install it", _install_hint(extras, None))
    return f"evalsuite[{extras}]=={__version__}"


def _install_hint(extras: str, version: str | None) -> str:
    release = f", --install 'evalsuite[{extras}]=={version}' (the published release)" if version and _published(version) else ""
    return (
        "push the commit to a remote the pod can reach and make it the origin (git remote add origin https://…), "
        f"or pass --install 'evalsuite[{extras}] @ git+https://…@COMMIT'{release}, or --image IMAGE (a prebuilt image with evalsuite)"
    )


def _published(version: str) -> bool:
    """Whether ``version`` can be a release on the package index: no local part (``+…``), not a dev build."""
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    return parsed.local is None and not parsed.is_devrelease


def _git(root: Path, *args: str) -> str | None:
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10)
    except (subprocess.SubprocessError, OSError):
        return None
    return done.stdout.strip() or None


def mask(text: str, env: dict[str, str]) -> str:
    return pod_env.mask_secrets(text, env)


def create(rp: Any, plan: LaunchPlan) -> dict[str, Any]:
    """Create the pod; RunPod's answer (its id) comes back."""
    return dict(call("create the pod", rp.create_pod, **plan.create_kwargs) or {})


# ---------------------------------------------------------------- the pods evalsuite started


def our_pods(rp: Any) -> list[dict[str, Any]]:
    """The account's pods whose name carries evalsuite's tag."""
    pods = call("list pods", rp.get_pods) or []
    return [p for p in pods if str(p.get("name") or "").startswith(POD_NAME_PREFIX)]


def our_pod(rp: Any, pod_id: str) -> dict[str, Any]:
    """One of evalsuite's pods, or a CloudError that says which pods there are."""
    pods = our_pods(rp)
    match = next((p for p in pods if p.get("id") == pod_id), None)
    if match is None:
        known = ", ".join(f"{p['id']} ({p.get('name')})" for p in pods) or "none"
        raise CloudError(f"no pod {pod_id!r} started by evalsuite", f"evalsuite's pods now: {known}")
    return match


def stop(rp: Any, pod_id: str) -> dict[str, Any]:
    """Remove (terminate) one of evalsuite's pods: billing stops, its container disk is gone."""
    pod = our_pod(rp, pod_id)
    call(f"remove pod {pod_id}", rp.terminate_pod, pod_id)
    return pod


def terminate(pod_id: str, *, api_key: str | None) -> None:
    """The pod removing itself (its pod-scoped ``RUNPOD_API_KEY``)."""
    rp = sdk(api_key)
    call(f"remove pod {pod_id}", rp.terminate_pod, pod_id)


def pod_log(pod_id: str, *, port: int = pod_env.DEFAULT_LOG_PORT, timeout: float = 20.0) -> str:
    """The pod's run log, served by the pod at ``/log`` behind RunPod's HTTP proxy."""
    import requests

    base = settings.RUNPOD_PROXY.read().format(pod_id=pod_id, port=port).rstrip("/")
    try:
        response = requests.get(f"{base}/log", timeout=timeout)
    except requests.RequestException as exc:
        raise CloudError(f"cannot read pod {pod_id}'s log at {base}/log: {_one_line(str(exc))}", "the pod may still be starting (installing evalsuite); retry in a minute") from exc
    if response.status_code != 200:
        raise CloudError(f"pod {pod_id}'s log answered HTTP {response.status_code}", "the pod may still be starting (installing evalsuite); retry in a minute")
    return response.text


# ---------------------------------------------------------------- the provider protocol


def _summary(pod: dict[str, Any]) -> PodSummary:
    """A pod as RunPod's API describes it, in the provider-neutral form `runpod list` prints."""
    runtime = pod.get("runtime") or {}
    uptime = pod.get("uptimeSeconds") if pod.get("uptimeSeconds") is not None else runtime.get("uptimeInSeconds")
    return PodSummary(
        id=str(pod.get("id")),
        name=str(pod.get("name")),
        status=str(pod.get("desiredStatus") or ""),
        gpu=f"{pod.get('gpuCount') or ''} x {(pod.get('machine') or {}).get('gpuDisplayName') or ''}",
        price_per_hour=None if pod.get("costPerHr") is None else float(pod["costPerHr"]),
        uptime_s=None if uptime is None else float(uptime),
    )


class RunPod:
    """RunPod as a :class:`~evalsuite.cloud.provider.Provider`; the SDK (and the API key) is needed only when called."""

    name = "runpod"
    defaults = LaunchDefaults(gpu=DEFAULT_GPU, disk_gb=DEFAULT_DISK_GB, max_hours=DEFAULT_MAX_HOURS)

    def plan(self, request: LaunchRequest, env: dict[str, str]) -> LaunchPlan:
        return plan_launch(sdk(), request, env)

    def create(self, plan: LaunchPlan) -> str:
        return str(create(sdk(), plan).get("id"))

    def pods(self) -> list[PodSummary]:
        return [_summary(pod) for pod in our_pods(sdk())]

    def pod(self, pod_id: str) -> PodSummary:
        return _summary(our_pod(sdk(), pod_id))

    def log(self, pod_id: str) -> str:
        return pod_log(pod_id)

    def remove(self, pod_id: str) -> PodSummary:
        return _summary(stop(sdk(), pod_id))

    def remove_self(self, pod_id: str, api_key: str | None) -> None:
        terminate(pod_id, api_key=api_key)


PROVIDER: Provider = RunPod()
