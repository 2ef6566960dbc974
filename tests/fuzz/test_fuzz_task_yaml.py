"""Fuzz the task YAML loader: a user's ``--include-path`` folder of lm-eval task files.

The files are indexed by ``evalsuite.tasks.index`` and built by lm-eval's TaskManager through
``evalsuite.tasks.loading``; the requests are then built from the documents (what ``--dry-run`` counts).
Whatever lm-eval makes of a bad file, the user must see a project error naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzz_support import (
    MAX_EXAMPLES,
    cli_fails_cleanly,
    encode,
    file_bytes,
    json_values,
    succeeds_or_project_error,
    text,
    trial,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from evalsuite.tasks import index as task_index
from evalsuite.tasks.loading import load_tasks, request_counts
from evalsuite.tasks.suites import TaskSpec

DATA = [{"q": "2+2", "a": 1, "choices": ["3", "4"]}, {"q": "1+1", "a": 0, "choices": ["2", "5"]}]
BASE: dict[str, Any] = {
    "task": "mine",
    "custom_dataset": "!function evalsuite.tasks.jsonl_dataset",
    "dataset_kwargs": {"data_files": {"test": "d.jsonl"}},
    "test_split": "test",
    "output_type": "multiple_choice",
    "doc_to_text": "{{q}}=",
    "doc_to_choice": "{{choices}}",
    "doc_to_target": "a",
    "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
}
KEYS = [
    *BASE, "num_fewshot", "fewshot_split", "generation_kwargs", "filter_list", "target_delimiter", "fewshot_delimiter",
    "description", "repeats", "include", "tag", "group", "metadata", "process_docs", "dataset_path", "dataset_name",
    "validation_split", "training_split", "should_decontaminate", "doc_to_decontamination_query", "task_alias",
]  # fmt: skip
# Values lm-eval's YAML could hold for those keys, right or wrong for the key they land on.
TEMPLATES = ["{{q}}", "{{ nope }}", "{{ q ", "{% for %}", "{{ q | nofilter }}", "{{choices[5]}}", "{{ a / 0 }}", "{{ q.upper() }}"]
FUNCTIONS = ["!function evalsuite.tasks.jsonl_dataset", "!function no_such_module.fn", "!function evalsuite.tasks.loading.nope", "!function os"]
SPECIAL = [
    "generate_until", "loglikelihood", "loglikelihood_rolling", "multiple_choice", "bogus", "test", "train", "nope",
    -1, 0, 10**6, 2**64, 1.5, "d.jsonl", "missing.yaml", "task.yaml", [], {}, None, True, "",
    {"data_files": {"test": "missing.jsonl"}}, {"data_files": "d.jsonl"}, {"data_files": {"test": 5}},
    [{"metric": "bogus"}], [{"metric": "acc", "aggregation": "nope"}], [{"aggregation": "mean"}], ["acc"],
    {"until": 5}, {"max_gen_toks": -1}, [{"name": "x", "filter": [{"function": "regex", "regex_pattern": "("}]}],
]  # fmt: skip
value = st.sampled_from(TEMPLATES + FUNCTIONS + SPECIAL) | json_values


class _Dumper(yaml.SafeDumper):
    pass


def _function_tag(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    """Strings starting with ``!function`` are written as the tag lm-eval resolves at load time."""
    if data.startswith("!function "):
        return dumper.represent_scalar("!function", data.removeprefix("!function "))
    return dumper.represent_str(data)


_Dumper.add_representer(str, _function_tag)


def dump(cfg: Any) -> str:
    return yaml.dump(cfg, Dumper=_Dumper, allow_unicode=True, sort_keys=False)


@st.composite
def task_config(draw: st.DrawFn) -> Any:
    """The working task with one to three keys set, dropped or misspelt."""
    cfg = dict(BASE)
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["set", "set", "set", "drop", "rename"]))
        key = draw(st.sampled_from(KEYS))
        if action == "set":
            cfg[key] = draw(value)
        elif key in cfg:
            moved = cfg.pop(key)
            if action == "rename":
                cfg[key.upper()] = moved
    return cfg


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)
) + "task: mine\n"  # a billion laughs: 9**9 leaves if anything expands the aliases
RAW = ["task: mine\ndoc_to_text: [unclosed\n", "task: mine\n\tdoc_to_text: x\n", "- task: mine\n", "task: mine\ntask: other\n",
       "task: !!python/object/apply:os.system ['true']\n", "task: mine\ninclude: task.yaml\n", BOMB, "---\ntask: mine\n---\ntask: two\n"]  # fmt: skip
yaml_document = st.one_of(task_config().map(dump), task_config().map(dump), st.sampled_from(RAW), text)
data_document = st.one_of(st.just(DATA), st.lists(json_values | st.fixed_dictionaries({"q": text, "a": json_values, "choices": json_values}), max_size=3))


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder passed as --include-path; the first load (lm-eval's imports) happens here, outside the deadline."""
    folder = tmp_path_factory.mktemp("fuzz-tasks")
    (folder / "task.yaml").write_text(dump(BASE))
    (folder / "d.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DATA))
    assert request_counts(load_tasks([TaskSpec("mine")], include_path=[folder]), None) == {"mine": 4}
    return folder


def _load_and_count(folder: Path) -> Any:
    """What `evalsuite run --include-path F --tasks mine --dry-run` does, step by step."""
    if "mine" not in task_index.own_index([folder]):
        return None  # renamed or no task at all: lm-eval's 14,000 names would be searched (UnknownTaskError)
    return request_counts(load_tasks([TaskSpec("mine")], include_path=[folder]), None)


@settings(max_examples=MAX_EXAMPLES["task_yaml"])
@given(task=file_bytes(yaml_document), records=data_document)
def test_any_task_yaml_loads_or_is_refused_naming_the_file(task_dir: Path, task: bytes, records: list[Any]) -> None:
    (task_dir / "task.yaml").write_bytes(task)
    (task_dir / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with trial("task_yaml"):
        outcome = succeeds_or_project_error(lambda: _load_and_count(task_dir))
    if isinstance(outcome, dict):
        assert set(outcome) == {"mine"} and outcome["mine"] >= 0
    elif outcome is not None:
        assert "task.yaml" in outcome.message or "d.jsonl" in outcome.message or "mine" in outcome.message, outcome.message


# One mistake that makes the task unusable, in the YAML or in its data; each must be refused.
BREAKERS: dict[str, Any] = {
    "yaml syntax": "task: mine\ndoc_to_text: [unclosed\n",
    "unknown output_type": {"output_type": "bogus"},
    "missing loader": {"custom_dataset": "!function no_such_module.fn"},
    "missing data file": {"dataset_kwargs": {"data_files": {"test": "missing.jsonl"}}},
    "template syntax": {"doc_to_text": "{{ q "},
    "undefined field": {"doc_to_text": "{{ nope }}"},
    "unknown filter": {"description": "{{ q | nofilter }}"},
    "missing include": {"include": "missing.yaml"},
    "records not objects": ["a", 1],
}


@pytest.fixture(scope="module")
def cli_task_dir(task_dir: Path) -> Path:
    """The control, and the CLI's first run (imports) outside the deadline: the working task is accepted."""
    from typer.testing import CliRunner

    from evalsuite.cli.app import app

    (task_dir / "task.yaml").write_text(dump(BASE))
    (task_dir / "d.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DATA))
    result = CliRunner().invoke(app, ["run", "--model", "demo/pico-s", "--tasks", "mine", "--include-path", str(task_dir), "--dry-run"])
    assert result.exit_code == 0, result.output
    return task_dir


@settings(max_examples=MAX_EXAMPLES["task_yaml"] // 4)
@given(breaker=st.sampled_from(sorted(BREAKERS)), extra=st.dictionaries(st.sampled_from(["tag", "task_alias", "metadata", "fewshot_delimiter"]), value, max_size=2))
def test_cli_run_refuses_a_broken_task_naming_it(cli_task_dir: Path, breaker: str, extra: dict[str, Any]) -> None:
    change = BREAKERS[breaker]
    records: list[Any] = change if isinstance(change, list) else DATA
    task = change if isinstance(change, str) else dump({**BASE, **extra, **(change if isinstance(change, dict) else {})})
    (cli_task_dir / "task.yaml").write_bytes(encode(task, "utf-8"))
    (cli_task_dir / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with trial("task_yaml"):
        output = cli_fails_cleanly(["run", "--model", "demo/pico-s", "--tasks", "mine", "--include-path", str(cli_task_dir), "--dry-run"])
    assert str(cli_task_dir) in output or "'mine'" in output, output  # names the file, or the task
