"""The run as it will run: a RunConfig checked against the suite table, the backend registry and the judged tasks.

A :class:`~evalsuite.identity.run_config.RunConfig` is built from plain values without
reading anything. Before any model loads (the runner, the dry run, the model queue's
check, `runpod launch` and the Python API all come through here) :func:`resolve` applies
what needs a registry or a file: a suite's protocol settings join --backend-arg, judged
tasks always speak through the chat template, and the vLLM layout is recorded.
"""

from __future__ import annotations

from dataclasses import replace

from evalsuite.backends.registry import backend_entry
from evalsuite.backends.requests import judge_options, model_options, parallelism
from evalsuite.errors import ConfigError, JudgeError
from evalsuite.identity.run_config import RunConfig, decode_scalar
from evalsuite.judged import is_judged
from evalsuite.tasks.suites import suites

# Judged tasks (MT-Bench) set their own sampling per category; only the length may be lowered.
JUDGED_GEN_KWARGS = ("max_gen_toks",)
# lm-eval's vLLM argument for replicas of one model; evalsuite's own flag is --replicas.
DATA_PARALLEL_ARG = "data_parallel_size"


def judged_tasks(config: RunConfig) -> tuple[str, ...]:
    """The requested tasks a judge grades (MT-Bench)."""
    return tuple(name for name in config.selection.tasks if is_judged(name))


def resolve(config: RunConfig) -> RunConfig:
    """``config`` with its suite's backend args, the chat template forced for judged tasks and its layout; checked.

    Resolving a resolved config gives it back unchanged.
    """
    config = _with_replicas_from_backend_args(_with_suite_backend_args(config))
    _check(config)
    layout = parallelism(config.model)  # a malformed tensor/pipeline parallel size fails here
    if layout is not None:
        layout = replace(layout, data_parallel_size=config.controls.replicas)  # recorded: how many replicas computed it
    prompt = replace(config.prompt, apply_chat_template=True) if judged_tasks(config) else config.prompt  # recorded in the identity
    return replace(config, prompt=prompt, parallelism=layout.as_json() if layout is not None else None)


def _with_replicas_from_backend_args(config: RunConfig) -> RunConfig:
    """lm-eval's spelling ``--backend-arg data_parallel_size=N`` (vLLM) as ``--replicas N``, taken out of the backend args.

    Replicas change no number, but backend args are in the cache key: left there, answers
    computed by two replicas would not be served to a one-replica run of the same model.
    """
    args = config.model.backend_args
    given = [value for key, value in args if key == DATA_PARALLEL_ARG]
    if not given or not backend_entry(config.model.backend).capabilities.engine_device:
        return config  # other backends refuse the key as an unknown --backend-arg, with their list
    replicas = decode_scalar(given[-1])
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ConfigError(f"--backend-arg {DATA_PARALLEL_ARG}={given[-1]!r} must be a positive integer", "e.g. --backend-arg data_parallel_size=2 --executor ray")
    if config.controls.replicas not in (1, replicas):
        raise ConfigError(
            f"--replicas {config.controls.replicas} and --backend-arg {DATA_PARALLEL_ARG}={replicas} disagree",
            "give the number of replicas once: --replicas N",
        )
    model = replace(config.model, backend_args=tuple(pair for pair in args if pair[0] != DATA_PARALLEL_ARG))
    return replace(config, model=model, controls=replace(config.controls, replicas=replicas))


def _with_suite_backend_args(config: RunConfig) -> RunConfig:
    """A suite's protocol settings (``backend_args`` in suites.yaml) join --backend-arg unless the user set the key."""
    suite = config.selection.suite
    spec = suites().get(suite) if suite else None  # an unknown suite is refused when the tasks are selected, with the list
    if spec is None:
        return config
    given = {key for key, _ in config.model.backend_args}
    added = tuple(pair for pair in spec.backend_args if pair[0] not in given)
    return replace(config, model=replace(config.model, backend_args=config.model.backend_args + added))


def _check(config: RunConfig) -> None:
    if config.prompt.fewshot_as_multiturn and not (config.prompt.apply_chat_template or judged_tasks(config)):
        # Chat turns exist only inside a chat template; lm-eval's own CLI refuses the pair (evaluate_config).
        raise ConfigError("--fewshot-as-multiturn needs --apply-chat-template", "add --apply-chat-template, or drop --fewshot-as-multiturn")
    backend = backend_entry(config.model.backend)
    if config.controls.executor != "local" and not backend.capabilities.local_model:
        raise ConfigError(
            f"--executor {config.controls.executor} starts replicas of a local model; --backend {backend.name} asks a server, which runs its own",
            f"drop --executor {config.controls.executor} (raise --batch-size to keep more requests in flight)",
        )
    model_options(config).check_values()
    _check_judge(config)


def _check_judge(config: RunConfig) -> None:
    """Judged tasks need --judge; a judge grades judged tasks only (other tasks run without one)."""
    judged = judged_tasks(config)
    if judged and config.judge is None:
        raise JudgeError(f"--tasks {','.join(judged)} needs a judge", "add --judge MODEL (e.g. --judge demo/pico-judge, or --judge NAME --judge-backend openai --judge-base-url URL)")
    if config.judge is None:
        return
    selection = config.selection
    others = [name for name in selection.tasks if not is_judged(name)] + ([f"--suite {selection.suite}"] if selection.suite else []) + (["--text-file"] if selection.text_file else [])
    if not judged or others:
        raise JudgeError(
            f"--judge grades judged tasks only (mt_bench), not {', '.join(others) or 'nothing'}",
            "run judged tasks alone with --judge, and other tasks in a run without it",
        )
    unsupported = [key for key, _ in config.prompt.gen_kwargs if key not in JUDGED_GEN_KWARGS]
    if unsupported:
        raise JudgeError(
            f"--gen-kwarg {', '.join(unsupported)} cannot be set for {','.join(judged)}: it samples as FastChat does, per category",
            "drop it; only --gen-kwarg max_gen_toks=N (new tokens per turn) may be set",
        )
    backend_entry(config.judge.backend)
    judge_options(config, config.judge).check_values()
