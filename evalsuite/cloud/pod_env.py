"""The environment a launched pod reads: the one place both sides (launcher and pod) take the names from.

The launcher (``evalsuite runpod launch``) sets these on the pod; the pod-side entrypoint
(``evalsuite runpod pod-run``, ``docker/entrypoint.sh``) reads them. RunPod itself sets
``RUNPOD_POD_ID`` and a pod-scoped ``RUNPOD_API_KEY`` in every pod.
"""

from __future__ import annotations

from evalsuite import redact

POD_ID = "RUNPOD_POD_ID"
API_KEY = "RUNPOD_API_KEY"
RUN_ARGS = "EVALSUITE_RUN_ARGS"  # the `evalsuite run` options, shell-quoted (shlex.join)
RESULTS_DIR = "EVALSUITE_RESULTS_DIR"  # a folder (the pod's network volume) the bundle is copied to
RESULTS_DB = "EVALSUITE_RESULTS_DB"  # a database URL the bundle is imported into (postgresql://…)
PUSH_TO_HUB = "EVALSUITE_PUSH_TO_HUB"  # ORG/REPO, a Hub dataset the bundle is uploaded to
GIST = "EVALSUITE_GIST"  # "1": post the Markdown summary as a gist (GITHUB_API_TOKEN)
GIST_PUBLIC = "EVALSUITE_GIST_PUBLIC"  # "1": a public gist
MAX_HOURS = "EVALSUITE_MAX_HOURS"  # hard deadline: after it the run is killed, a failed run sent home, the pod removed
DEADLINE_MARGIN = "EVALSUITE_DEADLINE_MARGIN_S"  # seconds after MAX_HOURS to send the bundle home; then the watchdog removes the pod
KEEP_POD = "EVALSUITE_KEEP_POD"  # "1": leave the pod running when done (debugging)
WORK_DIR = "EVALSUITE_WORK_DIR"  # where the pod keeps its local database, log and bundle
LOG_PORT = "EVALSUITE_LOG_PORT"  # the pod serves its log here (RunPod's HTTP proxy), for `evalsuite runpod logs`
LOG_HOST = "EVALSUITE_LOG_HOST"  # the address it listens on [default: all, as RunPod's proxy needs]
INSTALL = "EVALSUITE_INSTALL"  # pip requirement the stock image installs first (evalsuite at the launcher's version)
HF_TOKEN = "HF_TOKEN"
GITHUB_TOKEN = "GITHUB_API_TOKEN"

SECRETS = (HF_TOKEN, API_KEY, GITHUB_TOKEN)  # never printed, logged or stored: shown as "***"
MASK = redact.MASK
DEFAULT_LOG_PORT = 8000
# After the MAX_HOURS deadline the run is stopped (at most ~30 s) and the bundle written and sent home; the pod's
# watchdog removes the pod at MAX_HOURS + this margin whatever is still going on (a hung upload), so a pod costs at
# most MAX_HOURS h + 10 min of running (pod-run's clock starts after the install of the stock image).
DEFAULT_DEADLINE_MARGIN_S = 600.0


def mask_secrets(text: str, env: dict[str, str]) -> str:
    """``text`` with every secret (the values of ``env``'s secret variables, URL passwords, tokens) shown as ``***``."""
    return redact.mask_secrets(text, env)


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
