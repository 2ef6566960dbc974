#!/usr/bin/env bash
# Entrypoint of the evalsuite image (Dockerfile), and what a pod started by `evalsuite runpod launch` does:
# on RunPod's stock PyTorch image the same steps are the pod's start command
# (evalsuite.cloud.runpod_client.STOCK_START; tests/cloud/test_docker_entrypoint.py runs both).
#   1. EVALSUITE_INSTALL set (the stock image): pip install it, evalsuite at the launching machine's version;
#      if that fails nothing in evalsuite can remove the pod, so runpodctl (in every RunPod pod) does;
#   2. with arguments: run them as an evalsuite command (`docker run IMAGE run --model ... --db ...`);
#   3. without: the pod's job, `evalsuite runpod pod-run` (evaluate, send the bundle home, remove the pod).
set -uo pipefail

if [ -n "${EVALSUITE_INSTALL:-}" ]; then
  if ! pip install -q "$EVALSUITE_INSTALL"; then
    echo "error: could not install $EVALSUITE_INSTALL" >&2
    if [ -n "${RUNPOD_POD_ID:-}" ] && [ -z "${EVALSUITE_KEEP_POD:-}" ]; then
      runpodctl remove pod "$RUNPOD_POD_ID"
    fi
    exit 1
  fi
fi

if [ "$#" -gt 0 ]; then
  exec evalsuite "$@"
fi
exec evalsuite runpod pod-run
