# evalsuite on a RunPod GPU pod: CUDA runtime, evalsuite with the vLLM extra, results on the /workspace volume.
# Build: docker build -t evalsuite .
# Run:   docker run --gpus all -e HF_TOKEN -v /workspace:/workspace evalsuite run --model meta-llama/Llama-3.2-1B --suite open-llm-v1 --backend vllm
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
RUN pip install --upgrade pip && pip install "vllm>=0.8" && pip install ".[vllm]"

WORKDIR /workspace
VOLUME ["/workspace"]
EXPOSE 8501
ENTRYPOINT ["evalsuite"]
CMD ["--help"]
