# evalsuite on a RunPod GPU pod: CUDA runtime, evalsuite with vLLM and the cloud extra (RunPod SDK, PostgreSQL driver).
# Build: docker build -t evalsuite .
# As a pod (`evalsuite runpod launch --image IMG ...`): no arguments; the entrypoint runs `evalsuite runpod pod-run`,
#   which evaluates what EVALSUITE_RUN_ARGS says, sends the bundle home and removes the pod (docker/entrypoint.sh).
# By hand: docker run --gpus all -e HF_TOKEN -v /workspace:/workspace evalsuite run --model meta-llama/Llama-3.2-1B --suite open-llm-v1 --backend vllm
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/workspace/hf-cache \
    EVALSUITE_DB=/workspace/results/evalsuite.db

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip git \
 && rm -rf /var/lib/apt/lists/*

RUN python3 -m venv /opt/evalsuite
ENV PATH=/opt/evalsuite/bin:$PATH

WORKDIR /opt/src
COPY pyproject.toml README.md ./
COPY evalsuite ./evalsuite
COPY tasks ./tasks
COPY leaderboard ./leaderboard
# vllm pins its own CUDA build of torch; install it first so evalsuite's range accepts it.
RUN pip install --upgrade pip && pip install "vllm>=0.8" && pip install ".[vllm,cloud,ray]"
COPY docker/entrypoint.sh /usr/local/bin/evalsuite-entrypoint

WORKDIR /workspace
VOLUME ["/workspace"]
# 8000: the pod serves its run log there (`evalsuite runpod logs`); 8501: `evalsuite leaderboard --host 0.0.0.0`.
EXPOSE 8000 8501
ENTRYPOINT ["/usr/local/bin/evalsuite-entrypoint"]
