"""The environment a launched pod reads, besides evalsuite's own variables: RunPod's names and the secrets.

The launcher (``evalsuite runpod launch``) sets the pod's ``EVALSUITE_*`` variables, declared in
:mod:`evalsuite.settings` (``settings.RUN_ARGS`` …), and the pod-side entrypoint
(``evalsuite runpod pod-run``, ``docker/entrypoint.sh``) reads them from there. RunPod itself
sets ``RUNPOD_POD_ID`` and a pod-scoped ``RUNPOD_API_KEY`` in every pod.
"""

from __future__ import annotations

from evalsuite import redact, settings

POD_ID = "RUNPOD_POD_ID"
API_KEY = "RUNPOD_API_KEY"
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

