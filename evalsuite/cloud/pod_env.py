"""The environment a launched pod reads: the one place both sides (launcher and pod) take the names from.

The launcher (``evalsuite runpod launch``) sets these on the pod; the pod-side entrypoint
(``evalsuite runpod pod-run``, ``docker/entrypoint.sh``) reads them. RunPod itself sets
``RUNPOD_POD_ID`` and a pod-scoped ``RUNPOD_API_KEY`` in every pod.
"""

from __future__ import annotations

from evalsuite import redact, settings

POD_ID = "RUNPOD_POD_ID"
API_KEY = "RUNPOD_API_KEY"
# The EVALSUITE_* names, their meanings and parsing are declared in evalsuite.settings; the launcher writes them by these names.
RUN_ARGS = settings.RUN_ARGS.name
RESULTS_DIR = settings.RESULTS_DIR.name
RESULTS_DB = settings.RESULTS_DB.name
PUSH_TO_HUB = settings.PUSH_TO_HUB.name
GIST = settings.GIST.name
GIST_PUBLIC = settings.GIST_PUBLIC.name
MAX_HOURS = settings.MAX_HOURS.name
DEADLINE_MARGIN = settings.DEADLINE_MARGIN_S.name
KEEP_POD = settings.KEEP_POD.name
WORK_DIR = settings.WORK_DIR.name
LOG_PORT = settings.LOG_PORT.name
LOG_HOST = settings.LOG_HOST.name
INSTALL = settings.INSTALL.name
HF_TOKEN = "HF_TOKEN"
GITHUB_TOKEN = "GITHUB_API_TOKEN"

SECRETS = (HF_TOKEN, API_KEY, GITHUB_TOKEN)  # never printed, logged or stored: shown as "***"
MASK = redact.MASK
DEFAULT_LOG_PORT = 8000
# After the MAX_HOURS deadline the run is stopped (at most ~30 s) and the bundle written and sent home; the pod's
# watchdog removes the pod at MAX_HOURS + this margin whatever is still going on (a hung upload), so a pod costs at
# most MAX_HOURS h + 10 min of running (pod-run's clock starts after the install of the stock image).
DEFAULT_DEADLINE_MARGIN_S = settings.DEADLINE_MARGIN_S.default


def mask_secrets(text: str, env: dict[str, str]) -> str:
    """``text`` with every secret (the values of ``env``'s secret variables, URL passwords, tokens) shown as ``***``."""
    return redact.mask_secrets(text, env)

