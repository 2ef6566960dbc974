"""--executor, --replicas and lm-eval's data_parallel_size: checked before anything is stored; what each replica asks for; how requests are shared."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lm_eval.api.instance import Instance

from evalsuite.errors import ConfigError
from evalsuite.execution.cluster.pool import split
from evalsuite.execution.cluster.resources import ReplicaResources, per_replica
from evalsuite.execution.resolve import resolve
from evalsuite.identity.run_config import RunConfig

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_ray_is_one_line_with_the_install_hint_and_stores_nothing(tmp_path: Path) -> None:
    """A fresh interpreter in which `import ray` fails, as on a machine without the extra."""
    db = tmp_path / "r.db"
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from evalsuite.cli import main\n"
        f"sys.argv = ['evalsuite', 'run', '--model', 'demo/pico-s', '--tasks', 'pubmedqa', '--limit', '1', '--executor', 'ray', '--db', {str(db)!r}]\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines == ["error: --executor ray needs the ray package, which is not installed (ray) — hint: pip install 'evalsuite[ray]' (on every node of the cluster), or run without --executor ray"]
    assert "Traceback" not in result.stderr and not db.exists()


def _config(**values: object) -> RunConfig:
    return RunConfig.from_flat(model="demo/pico-s", tasks=("pubmedqa",), db="x.db", **values)


def test_data_parallel_size_is_replicas_and_leaves_the_backend_args_so_the_cache_is_shared() -> None:
    replicated = resolve(_config(backend="vllm", executor="ray", backend_args=(("data_parallel_size", "2"), ("max_model_len", "512"))))
    single = resolve(_config(backend="vllm", backend_args=(("max_model_len", "512"),)))
    assert replicated.controls.replicas == 2 and replicated.model == single.model  # the cache key is built from the model request
    assert replicated.parallelism is not None and replicated.parallelism["data_parallel_size"] == 2
    assert replicated.result_hash("k") == single.result_hash("k")  # replicas may resume a one-process run, and the reverse
    with pytest.raises(ConfigError, match="--replicas 3 and --backend-arg data_parallel_size=2 disagree"):
        resolve(_config(backend="vllm", executor="ray", replicas=3, backend_args=(("data_parallel_size", "2"),)))
    with pytest.raises(ConfigError, match=r"runs the replicas as Ray actors — hint: add --executor ray"):
        resolve(_config(backend="vllm", backend_args=(("data_parallel_size", "2"),)))
    with pytest.raises(ConfigError, match="--ray-address is for --executor ray"):
        _config(ray_address="auto")
    with pytest.raises(ConfigError, match="--backend openai asks a server, which runs its own"):
        resolve(_config(backend="openai", base_url="http://127.0.0.1:9/v1", executor="ray", replicas=2))


def test_each_replica_asks_for_its_gpus_or_a_fair_share_of_cpus_and_a_count_that_cannot_fit_is_refused() -> None:
    workers = [{"CPU": 1.0, "GPU": 1.0}, {"CPU": 1.0, "GPU": 1.0}, {"CPU": 0.0}]
    assert per_replica(2, 1, workers) == ReplicaResources(num_cpus=1, num_gpus=1)
    with pytest.raises(ConfigError, match="--replicas 3: the Ray cluster's 3 node\\(s\\) hold 2 replica"):
        per_replica(3, 1, workers)
    with pytest.raises(ConfigError, match="hold 0 replica"):
        per_replica(1, 2, workers)  # tensor x pipeline = 2 GPUs, no node has two
    assert per_replica(1, 1, [{"CPU": 2.0}]) == ReplicaResources(num_cpus=2, num_gpus=0)
    assert per_replica(2, 1, [{"CPU": 2.0}]) == ReplicaResources(num_cpus=1, num_gpus=0)
    assert per_replica(2, 1, [{"CPU": 8.0}, {"CPU": 4.0}]) == ReplicaResources(num_cpus=4, num_gpus=0)


def test_shares_are_even_and_keep_the_choices_of_one_question_together() -> None:
    requests = [Instance("loglikelihood", {}, (f"question {q}", f" choice {c}"), q * 3 + c) for q in range(5) for c in range(3)]
    shares = split(requests, 2)
    assert sorted(len(share) for share in shares) == [6, 9]
    assert sorted(r.idx for share in shares for r in share) == list(range(15))
    for share in shares:
        for request in share:
            assert all(other in share for other in requests if other.args[0] == request.args[0])
