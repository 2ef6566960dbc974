"""A run's model requests as the backend registry builds them: the model's and the judge's options, the engine's layout.

:class:`~evalsuite.identity.run_config.ModelRequest` is plain values; which backend exists,
whether it runs an engine over several GPUs and whether it is an endpoint are facts of the
registry, applied here.
"""

from __future__ import annotations

from evalsuite.backends.options import BackendOptions
from evalsuite.backends.parallelism import Parallelism
from evalsuite.backends.registry import backend_entry
from evalsuite.identity.run_config import ModelRequest, RunConfig


def model_options(config: RunConfig) -> BackendOptions:
    """What the backend registry builds the run's model from (vLLM's seed: lm-eval's random seed)."""
    request = config.model
    return BackendOptions(
        backend=request.backend, device=request.device, dtype=request.dtype, batch_size=request.batch_size,
        seed=config.prompt.seeds["random"], revision=request.revision, trust_remote_code=request.trust_remote_code,
        args=request.decoded_args(), base_url=request.base_url, api_key_env=request.api_key_env,
    )


def judge_options(config: RunConfig, judge: ModelRequest) -> BackendOptions:
    """How the judge loads: its own backend, URL, key variable and --judge-arg values (device, dtype: auto).

    An endpoint judge talks through chat completions (as FastChat's judge does) unless
    ``--judge-arg api=completions`` says otherwise.
    """
    args = judge.decoded_args()
    if not backend_entry(judge.backend).capabilities.local_model:
        args.setdefault("api", "chat")
    return BackendOptions(
        backend=judge.backend, seed=config.prompt.seeds["random"], revision=None, args=args,
        base_url=judge.base_url, api_key_env=judge.api_key_env,
    )


def parallelism(request: ModelRequest) -> Parallelism | None:
    """How the engine spreads the model over GPUs (vLLM); None for backends that run on one device."""
    if not backend_entry(request.backend).capabilities.engine_device:
        return None
    return Parallelism.from_args(request.decoded_args())
