"""How one vLLM model is spread over GPUs: tensor, pipeline and data parallel sizes, and the executor.

The values come from ``--backend-arg`` (vLLM's own engine-argument names, so a
user's vLLM knowledge carries over) and are checked here before anything loads or
is stored, against facts the caller measures (visible GPUs, whether Ray imports):
this module imports neither torch nor vLLM.

What vLLM 0.32's offline ``vllm.LLM`` supports, and therefore what evalsuite does:

* ``tensor_parallel_size`` and ``pipeline_parallel_size``: one engine over
  ``tensor x pipeline`` GPUs, passed through unchanged;
* ``distributed_executor_backend``: ``mp`` (one node, vLLM's default when the world
  size is above 1), ``ray`` (a Ray cluster, the way to go past one node), ``uni``
  (one process), ``external_launcher`` (torchrun);
* ``data_parallel_size`` above 1 is refused by ``vllm.LLM`` itself in one process,
  and its multi-process offline mode serves mixture-of-experts models only. So a
  run takes it as ``--replicas N`` (``execution/resolve.py`` moves it there): N
  engines, each a Ray actor (``--executor ray``, ``evalsuite.execution.cluster``).
  Anywhere else (the arena's engines) it is refused here.

Tensor and pipeline parallelism change the order of floating-point reductions
(all-reduce across GPUs), so they can move a log-likelihood by rounding; they stay
in the backend args and thus in the model identity (cache key), and every run
records them (``RunConfig.to_json()["parallelism"]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from evalsuite.errors import BackendError, BackendNotInstalledError, ConfigError

EXECUTORS = ("mp", "ray", "uni", "external_launcher")
SIZE_KEYS = ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size")
RAY_INSTALL_HINT = "pip install 'ray[default]' on every node, start the cluster (`ray start --head`, then `ray start --address HEAD:6379`), and run evalsuite on the head node"


@dataclass(frozen=True)
class Parallelism:
    """The parallel layout of one vLLM engine; ``executor`` None means vLLM's choice (mp, or uni on one GPU)."""

    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    data_parallel_size: int = 1
    executor: str | None = None
    nnodes: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> Parallelism:
        """Read decoded ``--backend-arg`` values; a size that is not a positive integer is a user error."""
        sizes = {key: _positive_int(key, args.get(key, 1)) for key in (*SIZE_KEYS, "nnodes")}
        executor = args.get("distributed_executor_backend")
        if executor is not None and executor not in EXECUTORS:
            raise ConfigError(
                f"--backend-arg distributed_executor_backend={executor!r} is not one of vLLM's executors",
                f"choose one of: {', '.join(EXECUTORS)} (ray for several nodes)",
            )
        return cls(executor=executor, **sizes)

    @property
    def world_size(self) -> int:
        """GPUs one engine occupies (vLLM's world size)."""
        return self.tensor_parallel_size * self.pipeline_parallel_size

    def check(self, visible_gpus: int | None, ray_installed: bool, *, gpus_are: str = "this process sees", fix: str | None = None) -> None:
        """Refuse a layout vLLM would refuse (or hang on), naming the fix.

        Args:
            visible_gpus: GPUs this process sees (CUDA_VISIBLE_DEVICES applied); None on a CPU build.
            ray_installed: whether ``import ray`` would work.
            gpus_are, fix: how the message names the GPUs and the fix (a pod: its --gpu-count).
        """
        if self.data_parallel_size != 1:
            raise BackendError(
                f"data_parallel_size={self.data_parallel_size}: vLLM's offline engine runs one replica per process "
                "(vllm.LLM refuses data parallelism for dense models)",
                "for replicas of one model in a run: `evalsuite run ... --executor ray --replicas N`; "
                "or spread one model with tensor_parallel_size=N",
            )
        if self.executor == "ray" and not ray_installed:
            raise BackendNotInstalledError("distributed_executor_backend=ray needs the ray package, which is not installed", RAY_INSTALL_HINT)
        spans_nodes = self.executor == "ray" or self.nnodes > 1
        if visible_gpus is not None and not spans_nodes and self.world_size > visible_gpus:
            raise ConfigError(
                f"tensor_parallel_size x pipeline_parallel_size = {self.world_size} GPUs, but {gpus_are} {visible_gpus}",
                fix or "lower the sizes, make more GPUs visible (CUDA_VISIBLE_DEVICES, --gpu-sets 0,1), "
                "or span nodes with --backend-arg distributed_executor_backend=ray",
            )

    def as_json(self) -> dict[str, Any]:
        """What a run records (the executor as given; None: vLLM's default)."""
        return asdict(self)

    def engine_args(self) -> dict[str, Any]:
        """vLLM ``EngineArgs`` keywords; unset ones are left to vLLM (data parallelism is never passed)."""
        args: dict[str, Any] = {"tensor_parallel_size": self.tensor_parallel_size, "pipeline_parallel_size": self.pipeline_parallel_size}
        if self.executor is not None:
            args["distributed_executor_backend"] = self.executor
        if self.nnodes != 1:
            args["nnodes"] = self.nnodes
        return args


def describe(stored: Mapping[str, Any]) -> str:
    """One line for `evalsuite results show`, from a run's recorded ``parallelism``."""
    executor = stored.get("executor") or "vLLM's default"
    return (
        f"parallelism: tensor {stored.get('tensor_parallel_size', 1)}, pipeline {stored.get('pipeline_parallel_size', 1)}, "
        f"data {stored.get('data_parallel_size', 1)}; executor {executor}"
    )


def _positive_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"--backend-arg {key}={value!r} must be a positive integer", f"write e.g. --backend-arg {key}=2")
    return value
