"""vLLM's parallel layout: checked before anything loads, recorded with the run, shown by `results show`."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from evalsuite.backends.parallelism import Parallelism
from evalsuite.cli.app import app
from evalsuite.errors import BackendError, BackendNotInstalledError, ConfigError
from evalsuite.execution.resolve import resolve
from evalsuite.identity import environment
from evalsuite.identity.models import resolve_model
from evalsuite.identity.run_config import RunConfig
from evalsuite.store import queries
from evalsuite.store.db import open_database


def _vllm(*args: tuple[str, str]) -> RunConfig:
    return resolve(RunConfig.from_flat(model="demo/pico-s", tasks=("pubmedqa",), backend="vllm", backend_args=args))


def test_layout_is_checked_against_visible_gpus_and_ray() -> None:
    tp4 = Parallelism(tensor_parallel_size=2, pipeline_parallel_size=2)
    with pytest.raises(ConfigError, match="= 4 GPUs, but this process sees 2"):
        tp4.check(visible_gpus=2, ray_installed=True)
    tp4.check(visible_gpus=4, ray_installed=False)
    Parallelism(tensor_parallel_size=4, executor="ray").check(visible_gpus=1, ray_installed=True)  # Ray places it across nodes
    with pytest.raises(BackendNotInstalledError, match="needs the ray package"):
        Parallelism(executor="ray").check(visible_gpus=8, ray_installed=False)
    with pytest.raises(BackendError, match="data_parallel_size=2"):
        Parallelism(data_parallel_size=2).check(visible_gpus=8, ray_installed=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((("tensor_parallel_size", "0"),), "tensor_parallel_size=0 must be a positive integer"),
        ((("pipeline_parallel_size", "two"),), "pipeline_parallel_size='two' must be a positive integer"),
        ((("distributed_executor_backend", "slurm"),), "'slurm' is not one of vLLM's executors"),
    ],
)
def test_malformed_layout_is_a_config_error(args: tuple[tuple[str, str], ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _vllm(*args)


def test_run_records_and_shows_its_parallel_layout(db_url: str) -> None:
    config = _vllm(("tensor_parallel_size", "2"), ("distributed_executor_backend", "mp"))
    stored_config = config.to_json()
    assert stored_config["parallelism"] == {
        "tensor_parallel_size": 2, "pipeline_parallel_size": 1, "data_parallel_size": 1, "executor": "mp", "nnodes": 1,
    }
    assert "parallelism" not in resolve(RunConfig.from_flat(model="demo/pico-s", tasks=("pubmedqa",))).to_json()  # one device: nothing to record
    model = resolve_model("demo/pico-s")
    with open_database(db_url) as database:
        model_row = queries.get_or_create_model(database, name=model.name, source=model.stored_source, revision=model.revision, weights_sha256=model.weights_sha256)
        run = queries.create_run(
            database, model_id=model_row.id, backend="vllm", config=stored_config, config_hash=config.result_hash("k"), tasks=["pubmedqa"],
            seed=0, versions=environment.package_versions(), hardware=environment.hardware(),
        )
        run_id = run.id
    shown = CliRunner().invoke(app, ["results", "show", str(run_id), "--db", db_url])
    assert shown.exit_code == 0, shown.output
    assert "parallelism: tensor 2, pipeline 1, data 1; executor mp" in shown.stdout


def test_runpod_launch_refuses_a_layout_larger_than_the_pod_before_renting() -> None:
    result = CliRunner().invoke(
        app, ["runpod", "launch", "--model", "org/model", "--suite", "quick", "--gpu-count", "2", "--backend-arg", "tensor_parallel_size=2",
              "--backend-arg", "pipeline_parallel_size=2", "--yes"],
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: tensor_parallel_size x pipeline_parallel_size = 4 GPUs, but the pod has --gpu-count 2"), result.stderr
    assert "launch with --gpu-count 4" in result.stderr
