"""Every option more than one command takes, declared once: `evalsuite run`, `runpod launch`, `arena …`, `admin …`, the Python API.

A shared flag and its help live here and nowhere else. `evalsuite run` gets its signature from
:data:`RUN_OPTIONS` (:func:`takes_run_options`); `runpod launch` offers run's signature
(``evalsuite.cli.runpod``); the arena commands reuse the model-loading declarations; and
``evalsuite.run()`` checks its keywords against the same table and takes its defaults from it
(:func:`api_values`), so the three ways to describe a run cannot drift apart. The help texts
that list suites and backends are written from their registries, so a new suite or backend
shows up in ``--help`` without an edit here.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import typer
from typer.models import OptionInfo

from evalsuite.backends.registry import ARENA_BACKENDS, DEFAULT_BACKEND, backend_help
from evalsuite.cli.common import DbOption
from evalsuite.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def suite_help() -> str:
    """The --suite help, naming every suite of the registry (tasks/suites.yaml)."""
    from evalsuite.tasks.suites import suite_names

    names = suite_names()
    return f"A suite: {', '.join(names)} (see `evalsuite tasks`)." if names else "A suite (see `evalsuite tasks`)."


def judge_backend_help() -> str:
    """The --judge-backend help: the backends a judge can use (those the registry offers the arena: they generate)."""
    return f"The judge's backend: {', '.join(ARENA_BACKENDS)}."


# How a model loads: `evalsuite run` (and through it `runpod launch`), `arena generate` and `arena judge`.
BackendOption = typer.Option(DEFAULT_BACKEND, help=backend_help())
ArenaBackendOption = typer.Option(DEFAULT_BACKEND, help=backend_help(for_arena=True))
DeviceOption = typer.Option("auto", help="cpu, cuda, cuda:N, or auto (CUDA when present); vllm runs where its build targets.")
DtypeOption = typer.Option("auto", help="auto, float32, bfloat16, float16.")
RevisionOption = typer.Option(None, help="Hub branch, tag or commit of the model.")
TrustRemoteCodeOption = typer.Option(False, "--trust-remote-code", help="Allow the model repository's own Python code to run.")
BackendArgOption = typer.Option([], "--backend-arg", help="KEY=VALUE passed to the backend (repeatable), e.g. max_model_len=4096.")
BaseUrlOption = typer.Option(None, "--base-url", help="--backend openai: the endpoint's API root, e.g. http://127.0.0.1:8000/v1.")
ApiKeyEnvOption = typer.Option(
    None, "--api-key-env", help="--backend openai: environment variable holding the API key \\[default: OPENAI_API_KEY if set]."
)

JudgeBackendOption = typer.Option(DEFAULT_BACKEND, "--judge-backend", help=judge_backend_help())
JudgeBaseUrlOption = typer.Option(None, "--judge-base-url", help="--judge-backend openai: the judge endpoint's API root, e.g. http://127.0.0.1:8000/v1.")
JudgeApiKeyEnvOption = typer.Option(None, "--judge-api-key-env", help="--judge-backend openai: environment variable holding the judge's API key \\[default: OPENAI_API_KEY if set].")
JudgeArgOption = typer.Option([], "--judge-arg", help="KEY=VALUE passed to the judge's backend (repeatable); an openai judge uses chat unless api=completions.")
JudgeMaxTokensOption = typer.Option(None, "--judge-max-tokens", help="New tokens per judgment at most \\[default: the task's; MT-Bench: 2048, as FastChat].")
DataDirOption = typer.Option(None, "--data-dir", help="Local copies of benchmark data for offline runs \\[default: $EVALSUITE_DATA_DIR].")
# Where a Streamlit app serves: `evalsuite leaderboard` and `evalsuite arena serve`.
PortOption = typer.Option(8501, help="Port to serve on.")
HostOption = typer.Option("localhost", help="Address to bind.")

# Arena and operator commands.
AdminTokenOption = typer.Option(
    None, "--admin-token", help="The operator's token; required when EVALSUITE_ADMIN_TOKEN is set, and must equal it."
)
IncludeJudgesOption = typer.Option(False, "--include-judges", help="Count model-judge votes too, not only people's (stored votes only).")
CategoryOption = typer.Option(None, help="Only prompts (and their battles) of this category.")
ContestantsOption = typer.Option(
    ..., "--contestants", help="YAML file of the models people meet in the live arena (see examples/arena_demo.yaml)."
)

# A flag name some command uses for something else than the declaration above, and why it is not that one.
# tests/test_cli_options.py fails on any other flag declared twice with a different help or type.
OTHER_MEANINGS: dict[tuple[str, str], str] = {
    ("runpod launch", "--model"): "one model, downloaded by the pod (run queues several)",
    ("runpod launch", "--backend"): "the pod's backend, vllm by default",
    ("runpod launch", "--db"): "where the pod sends the run, not a database here",
    ("arena generate", "--model"): "one model whose answers are stored under its name",
    ("arena generate", "--backend"): "the backends that can answer arena prompts",
    ("arena judge", "--backend"): "the backends that can answer arena prompts",
    ("arena generate", "--seed"): "the sampling seed of arena answers, 0 by default",
    ("arena judge", "--seed"): "the judge engine's seed, 0 by default",
    ("arena judge", "--judge"): "the model that votes on arena answer pairs",
    ("arena ratings", "--seed"): "the bootstrap's seed",
    ("results compare", "--seed"): "the bootstrap's and permutation test's seed",
    ("results list", "--model"): "a filter on stored model names",
    ("cache clear", "--model"): "a filter on stored model names",
    ("arena generate", "--limit"): "at most N prompts answered, not documents per task",
    ("arena judge", "--max-tokens"): "the judge's new tokens per verdict, not per answer (arena generate)",
    ("results bundle", "--output"): "the bundle's folder",
    ("results export", "--output"): "the exported table's file",
    ("arena export", "--output"): "the battles file",
    ("arena export", "--format"): "the battles file's layout (evalsuite's battles or FastChat's), not a results table's",
    ("runpod stop", "--all"): "every pod evalsuite started, not every task",
    ("metrics agreement", "--judge"): "the model that scores SummEval summaries, G-Eval style",
    ("metrics agreement", "--limit"): "at most N SummEval documents (all systems of each)",
    ("metrics agreement", "--seed"): "the bootstrap's seed",
}


@dataclass(frozen=True)
class RunOption:
    """One option of `evalsuite run`: its parameter name, Python type and Typer declaration (flag, default, help)."""

    name: str
    annotation: Any
    declaration: OptionInfo

    @property
    def default(self) -> Any:
        """The declared default; a fresh list for a repeatable option (the declaration's own is shared)."""
        value = self.declaration.default
        return list(value) if isinstance(value, list) else value


def _opt(name: str, annotation: Any, declaration: Any) -> RunOption:
    return RunOption(name, annotation, declaration)


# `evalsuite run`'s options, in --help order. config_from_options (cli/run_options.py) turns their values into a RunConfig.
RUN_OPTIONS: tuple[RunOption, ...] = (
    _opt("model", list[str], typer.Option([], "--model", "-m", help="Hub id, local model directory, or demo alias (demo/pico-s, demo/pico-m); with --backend openai, the served model name. Repeat it to queue several models (each its own run).")),
    _opt("models_file", Path | None, typer.Option(None, "--models-file", help="Queue the models listed in this file, one per line (# comments allowed), after any --model.")),
    _opt("gpu_sets", list[str], typer.Option([], "--gpu-sets", hidden=True, help="Replaced by --executor ray (refused with that hint).")),
    _opt("backend", str, BackendOption),
    _opt("executor", str, typer.Option("local", "--executor", help="Where requests are computed: local (this process) or ray (replicas as Ray actors, a queue's models as Ray tasks; needs the ray extra).")),
    _opt("ray_address", str | None, typer.Option(None, "--ray-address", help="--executor ray: auto or HOST:PORT of a running Ray cluster \\[default: start a local Ray].")),
    _opt("replicas", int, typer.Option(1, "--replicas", help="--executor ray: copies of the model, each a Ray actor computing a share of the requests (vllm also takes --backend-arg data_parallel_size=N).")),
    _opt("tasks", str | None, typer.Option(None, "--tasks", "-t", help="Comma-separated task or group names (see `evalsuite tasks`).")),
    _opt("suite", str | None, typer.Option(None, help=suite_help())),
    _opt("limit", int | None, typer.Option(None, help="At most N documents per task (overrides a suite's own limits).")),
    _opt("num_fewshot", int | None, typer.Option(None, "--num-fewshot", help="Few-shot examples for every task (overrides suite defaults).")),
    _opt("batch_size", str, typer.Option("auto", "--batch-size", help="Batch size, or auto (vllm: the cap on concurrent sequences, max_num_seqs; openai: requests in flight, auto = 8).")),
    _opt("device", str, DeviceOption),
    _opt("dtype", str, DtypeOption),
    _opt("seed", int | None, typer.Option(None, help="One seed for Python, NumPy, torch and few-shot sampling \\[default: lm-eval's 0/1234/1234/1234].")),
    _opt("db", str | None, DbOption),
    _opt("data_dir", Path | None, DataDirOption),
    _opt("text_file", Path | None, typer.Option(None, "--text-file", help="Measure perplexity on your own text file.")),
    _opt("include_path", list[Path], typer.Option([], "--include-path", help="Extra folder of lm-eval task YAML files (repeatable).")),
    _opt("output", Path | None, typer.Option(None, "--output", "-o", help="Also write the results as lm-eval's results JSON.")),
    _opt("log_samples", bool, typer.Option(True, "--log-samples/--no-log-samples", help="Store every scored document.")),
    _opt("revision", str | None, RevisionOption),
    _opt("trust_remote_code", bool, TrustRemoteCodeOption),
    _opt("apply_chat_template", bool, typer.Option(False, "--apply-chat-template", help="Wrap prompts in the tokenizer's chat template.")),
    _opt("fewshot_as_multiturn", bool | None, typer.Option(None, "--fewshot-as-multiturn/--no-fewshot-as-multiturn", help="Few-shot examples as chat turns \\[default: on with --apply-chat-template].")),
    _opt("system_instruction", str | None, typer.Option(None, "--system-instruction", help="System message prepended to every prompt.")),
    _opt("backend_arg", list[str], BackendArgOption),
    _opt("base_url", str | None, BaseUrlOption),
    _opt("api_key_env", str | None, ApiKeyEnvOption),
    _opt("judge", str | None, typer.Option(None, "--judge", help="Judged tasks (mt_bench): the judge model, as --model (with --judge-backend openai, the served name).")),
    _opt("judge_backend", str, JudgeBackendOption),
    _opt("judge_base_url", str | None, JudgeBaseUrlOption),
    _opt("judge_api_key_env", str | None, JudgeApiKeyEnvOption),
    _opt("judge_arg", list[str], JudgeArgOption),
    _opt("judge_max_tokens", int | None, JudgeMaxTokensOption),
    _opt("gen_kwarg", list[str], typer.Option([], "--gen-kwarg", help="KEY=VALUE generation setting for generation tasks (repeatable).")),
    _opt("resume", int | None, typer.Option(None, help="Resume an interrupted run by id (finished requests are not recomputed).")),
    _opt("no_cache", bool, typer.Option(False, "--no-cache", help="Compute every request again instead of reusing cached answers (new answers are still stored).")),
    _opt("dry_run", bool, typer.Option(False, "--dry-run", help="List tasks and request counts, then stop before loading any model.")),
    _opt("verbose", bool, typer.Option(False, "--verbose", "-v", help="Show lm-eval's and transformers' logs.")),
)  # fmt: skip


def takes_run_options(command: F) -> F:
    """Give ``command`` (``def run(**options)``) `evalsuite run`'s options as its signature; Typer reads it from there."""
    parameters = [
        inspect.Parameter(option.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=option.declaration, annotation=option.annotation)
        for option in RUN_OPTIONS
    ]
    command.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
    command.__annotations__ = {**{p.name: p.annotation for p in parameters}, "return": None}
    return command


# run's options the Python API does not take: the queue's (one call evaluates one model) and the CLI's log level.
NOT_IN_THE_API: dict[str, str] = {
    "model": "the first argument",
    "models_file": "one call evaluates one model: call evalsuite.run once per model",
    "gpu_sets": "one call evaluates one model: call evalsuite.run once per model",
    "verbose": "set the level of the `evalsuite` logger instead",
}
# The API's names for the KEY=VALUE options (a mapping, as RunConfig names them), and run's option they fill.
API_MAPPINGS: dict[str, str] = {"backend_args": "backend_arg", "gen_kwargs": "gen_kwarg", "judge_args": "judge_arg"}


def api_values(tasks: Sequence[str] | str | None, keywords: Mapping[str, Any]) -> dict[str, Any]:
    """run's option values from ``evalsuite.run``'s keywords: names checked, the rest from the declared defaults.

    Keywords are run's option names (``limit``, ``apply_chat_template``, ``backend_arg``) or
    :data:`API_MAPPINGS`'s (``backend_args={"max_length": 512}``); anything else is a
    :class:`ConfigError` naming the closest option.
    """
    accepted = {option.name for option in RUN_OPTIONS} - NOT_IN_THE_API.keys()
    values = {option.name: option.default for option in RUN_OPTIONS}
    for name, value in keywords.items():
        target = API_MAPPINGS.get(name, name)
        if target not in accepted:
            raise _unknown_keyword(name, accepted | API_MAPPINGS.keys())
        values[target] = _key_values(value) if target in API_MAPPINGS.values() else value
    values["tasks"] = tasks if tasks is None or isinstance(tasks, str) else ",".join(tasks)
    values["batch_size"] = str(values["batch_size"])
    return values


def _key_values(value: Mapping[str, Any] | Sequence[Any] | None) -> list[str]:
    """A mapping or (key, value) pairs as KEY=VALUE words; KEY=VALUE words as they are."""
    items = value.items() if isinstance(value, Mapping) else value or ()
    return [item if isinstance(item, str) else f"{item[0]}={item[1]}" for item in items]


def _unknown_keyword(name: str, accepted: set[str]) -> ConfigError:
    if name in NOT_IN_THE_API:
        return ConfigError(f"evalsuite.run() does not take {name!r}", NOT_IN_THE_API[name])
    close = difflib.get_close_matches(name, sorted(accepted), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"the options are {', '.join(sorted(accepted))}"
    return ConfigError(f"evalsuite.run() has no option {name!r}", hint + " (the options of `evalsuite run`, with _ for -)")
