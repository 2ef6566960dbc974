"""The options of `evalsuite run` as data: the RunConfig they describe, and a command line that says the same.

`evalsuite run`'s options are declared once (``evalsuite.cli.options.RUN_OPTIONS``, its signature;
the Python API checks its keywords against them). `runpod launch` offers the same declarations
and hands the pod the command line :func:`command_line` writes; reading that line back with
run's own parser (:func:`parse`) gives the RunConfig the pod's `evalsuite run` will build, so the launcher checks exactly what the pod will run.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from typer.core import TyperOption

from evalsuite.identity.run_config import (
    ModelRequest,
    Outputs,
    PromptFormat,
    RunConfig,
    RunControls,
    TaskSelection,
    default_data_dir,
    default_db,
    parse_key_values,
)


def config_from_options(options: Mapping[str, Any], model: str) -> RunConfig:
    """The RunConfig of ``model`` from `evalsuite run`'s option values, keyed by parameter name.

    The one place run's flags become a RunConfig: `evalsuite run` builds it here from its
    own values, and the launcher from the command line it sends a pod (:func:`parse`).
    """
    data_dir = options["data_dir"]
    judge = options["judge"]
    return RunConfig(
        model=ModelRequest(
            name=model,
            backend=options["backend"],
            device=options["device"],
            dtype=options["dtype"],
            batch_size=options["batch_size"],
            revision=options["revision"],
            trust_remote_code=options["trust_remote_code"],
            backend_args=parse_key_values(list(options["backend_arg"]), "--backend-arg"),
            base_url=options["base_url"],
            api_key_env=options["api_key_env"],
        ),
        selection=TaskSelection(
            tasks=_split_csv(options["tasks"]),
            suite=options["suite"],
            text_file=_path(options["text_file"]),
            include_path=tuple(Path(p) for p in options["include_path"]),
            data_dir=Path(data_dir) if data_dir is not None else default_data_dir(),
            limit=options["limit"],
            num_fewshot=options["num_fewshot"],
        ),
        prompt=PromptFormat(
            apply_chat_template=options["apply_chat_template"],
            fewshot_as_multiturn=options["fewshot_as_multiturn"],
            system_instruction=options["system_instruction"],
            gen_kwargs=parse_key_values(list(options["gen_kwarg"]), "--gen-kwarg"),
            seed=options["seed"],
        ),
        outputs=Outputs(db=options["db"] or default_db(), output=_path(options["output"]), log_samples=options["log_samples"]),
        controls=RunControls(
            resume=options["resume"], dry_run=options["dry_run"], no_cache=options["no_cache"],
            executor=options["executor"], ray_address=options["ray_address"], replicas=options["replicas"],
        ),
        judge=None if judge is None else ModelRequest(
            name=judge,
            backend=options["judge_backend"],
            base_url=options["judge_base_url"],
            api_key_env=options["judge_api_key_env"],
            backend_args=parse_key_values(list(options["judge_arg"]), "--judge-arg"),
        ),
        judge_max_tokens=options["judge_max_tokens"],
    )


def command_line(params: Iterable[object], values: Mapping[str, Any], names: Collection[str]) -> tuple[str, ...]:
    """The options ``names`` of ``params`` with their ``values`` as command-line words, in declaration order.

    Only None means "not set": 0, an empty string and False are values like any other
    (False is written as a flag's ``--no-`` form), so what was asked is what is written.
    """
    words: list[str] = []
    for param in params:
        if isinstance(param, TyperOption) and param.name in names:
            words.extend(_words(param, values[param.name]))
    return tuple(words)


def _words(option: TyperOption, value: Any) -> list[str]:
    flag = option.opts[0]
    if value is None:
        return []
    if option.is_flag:
        if value:
            return [flag]
        # An on-only flag (--trust-remote-code) has nothing to say for False, which is its default.
        return [option.secondary_opts[0]] if option.secondary_opts else []
    items = value if option.multiple else [value]
    return [word for item in items for word in _pair(flag, str(item))]


def _pair(flag: str, value: str) -> list[str]:
    """``--flag value``; ``--flag=-value`` when the value could be read as an option of its own."""
    return [f"{flag}={value}"] if value.startswith("-") else [flag, value]


class RunParser(Protocol):
    """`evalsuite run`'s command as its CLI library builds it: what :func:`parse` needs of it."""

    def make_context(self, info_name: str | None, args: list[str]) -> Any: ...


def parse(run: RunParser, args: Sequence[str]) -> RunConfig:
    """The RunConfig `evalsuite run ARGS` builds (its first model), read by ``run``'s own option parser.

    ``run`` is the click command of `evalsuite run`, handed in by the caller (the command tree
    is built in ``evalsuite.cli.app``, which imports this module).
    """
    from evalsuite.execution import queue as model_queue

    # A word run cannot parse is a bug of command_line (the words come from run's own options): it keeps its traceback.
    with run.make_context("run", list(args)) as context:
        models = model_queue.model_list(context.params["model"], context.params["models_file"])
        return config_from_options(context.params, models[0])


def _split_csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip()) if value else ()


def _path(value: str | Path | None) -> Path | None:
    return Path(value) if value is not None else None
