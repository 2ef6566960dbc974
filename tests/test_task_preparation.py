"""Task preparation happens once per run: each split's ``process_docs`` pass, no progress bars before the header,
and the requests (contexts, continuations, few-shot examples) exactly as lm-eval builds them itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.execution import plan as run_plan
from evalsuite.tasks.loading import TaskSpec, load_tasks
from tests.conftest import evalsuite_ok

LM_EVAL_TASKS = Path(__import__("lm_eval.tasks", fromlist=["x"]).__file__).parent
TRAIN_ROWS, TEST_ROWS, LIMIT, SHOTS = 7, 12, 5, 2

# A user task whose process_docs writes one line per pass (the rows it was given) beside itself.
COUNTED_YAML = f"""\
task: counted
custom_dataset: !function evalsuite.tasks.jsonl_dataset
dataset_kwargs: {{data_files: {{train: train.jsonl, test: test.jsonl}}}}
training_split: train
test_split: test
fewshot_split: train
process_docs: !function counted_docs.process_docs
output_type: multiple_choice
doc_to_text: "{{{{q}}}} ="
doc_to_choice: "{{{{choices}}}}"
doc_to_target: a
num_fewshot: {SHOTS}
"""
COUNTED_PY = """\
from pathlib import Path

PASSES = Path(__file__).with_name("passes.log")


def process_docs(dataset):
    with PASSES.open("a") as log:
        log.write(f"{len(dataset)}\\n")
    return dataset.map(lambda doc: {"q": doc["q"].upper()})
"""


@pytest.fixture
def counted_task(tmp_path: Path) -> Path:
    """A folder holding the `counted` task: 7 train and 12 test documents, 2-shot from train."""
    folder = tmp_path / "tasks"
    folder.mkdir()
    for split, rows in (("train", TRAIN_ROWS), ("test", TEST_ROWS)):
        records = [{"q": f"{split} question {i}", "choices": [f"no {i}", f"yes {i}"], "a": i % 2} for i in range(rows)]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "counted.yaml").write_text(COUNTED_YAML)
    (folder / "counted_docs.py").write_text(COUNTED_PY)
    return folder


def _passes(folder: Path) -> list[int]:
    """Rows of each process_docs pass so far, sorted; then the log is emptied for the next command."""
    log = folder / "passes.log"
    rows = sorted(int(line) for line in log.read_text().split()) if log.exists() else []
    log.unlink(missing_ok=True)
    return rows


def test_run_and_rescore_process_each_split_once(counted_task: Path, tmp_path: Path) -> None:
    """Building, the header, the first-document check, lm-eval's request building and its results each read
    the documents; lm-eval re-runs process_docs on every read (9 passes per split on HellaSwag)."""
    db = str(tmp_path / "r.db")
    evalsuite_ok("run", "--model", "demo/pico-s", "--tasks", "counted", "--include-path", str(counted_task), "--limit", str(LIMIT), "--db", db)
    assert _passes(counted_task) == [TRAIN_ROWS, TEST_ROWS]  # one pass per split: the few-shot source and the scored one
    evalsuite_ok("rescore", "1", "--db", db)
    assert _passes(counted_task) == [TRAIN_ROWS, TEST_ROWS]
    evalsuite_ok("run", "--model", "demo/pico-s", "--tasks", "counted", "--include-path", str(counted_task), "--limit", str(LIMIT), "--db", db, "--dry-run")
    assert _passes(counted_task) == [TRAIN_ROWS, TEST_ROWS]


def _requests(task: Any, limit: int) -> list[tuple[int, tuple[Any, ...]]]:
    """(document id, request arguments) as lm-eval's evaluator builds them, few-shot sampler seeded as it does."""
    task.set_fewshot_seed(seed=1234)
    task.build_all_requests(limit=limit, rank=0, world_size=1)
    return [(instance.doc_id, instance.arguments) for instance in task.instances]


def _lm_eval_task(yaml_path: Path, splits: dict[str, list[dict[str, Any]]] | None, shots: int) -> Any:
    """lm-eval's own ConfigurableTask from the YAML (its own process_docs), optionally fed these records."""
    import datasets
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks._yaml_loader import load_yaml

    cfg = load_yaml(yaml_path, resolve_func=True)
    for key in ("tag", "group"):
        cfg.pop(key, None)
    cfg["metadata"] = {**(cfg.get("metadata") or {}), "config_source": str(yaml_path)}
    if splits is not None:
        cfg["custom_dataset"] = lambda **_: datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in splits.items()})
        cfg["training_split"] = None  # the local copy has no train split
    cfg["num_fewshot"] = shots
    return ConfigurableTask(config=cfg)


def _as_run_reads(loaded: Any, name: str) -> Any:
    """The task after everything a run does before lm-eval builds its requests (header included)."""
    run_plan.plan([loaded], LIMIT)
    return loaded.leaves[name]


def test_requests_with_few_shot_examples_equal_lm_evals(counted_task: Path) -> None:
    ours = _as_run_reads(load_tasks([TaskSpec("counted")], include_path=[counted_task]), "counted")
    reference = _lm_eval_task(counted_task / "counted.yaml", None, SHOTS)
    expected = _requests(reference, LIMIT)
    assert _requests(ours, LIMIT) == expected
    assert [doc_id for doc_id, _ in expected] == [d for d in range(LIMIT) for _ in range(2)]  # first 5 docs, 2 choices each
    assert all("TRAIN QUESTION" in context and "TEST QUESTION" in context for _, (context, _) in expected)  # shots from train


def test_hellaswag_requests_equal_lm_evals_on_the_same_records(shared_data: Path) -> None:
    raw = [json.loads(line) for line in (shared_data / "hellaswag" / "hellaswag_val_preprocessed.jsonl").read_text().splitlines()]
    records = []
    for item in raw:  # the Hub schema, by hand: "<activity>: <ctx>" split at the first ": ", ctx_b empty
        activity, _, ctx_a = item["ctx"].partition(": ")
        records.append({"activity_label": activity, "ctx_a": ctx_a, "ctx_b": "", "endings": item["endings"], "label": str(item["label"])})
    reference = _lm_eval_task(LM_EVAL_TASKS / "hellaswag" / "hellaswag.yaml", {"validation": records}, 0)
    loaded = load_tasks([TaskSpec("hellaswag", num_fewshot=0)], data_dir=shared_data)
    ours = _as_run_reads(loaded, "hellaswag")
    assert len(ours.eval_docs) == len(raw)
    assert _requests(ours, 100) == _requests(reference, 100)
    assert ours.dump_config()["process_docs"] == reference.dump_config()["process_docs"]  # the stored config names lm-eval's source


def test_no_progress_bar_before_the_run_header(shared_data: Path, tmp_path: Path) -> None:
    """Preparing HellaSwag drew unlabelled `Map: 10042` bars and the first-document check a `0/1` bar above the header."""
    result = CliRunner().invoke(
        app, ["run", "--model", "demo/pico-s", "--tasks", "hellaswag", "--limit", "2", "--data-dir", str(shared_data), "--db", str(tmp_path / "r.db")]
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    before_header = result.stderr[: result.stderr.index("will run 1 task on demo/pico-s:")]
    assert "it/s" not in before_header and "Map" not in before_header and "%|" not in before_header, before_header[-500:]
