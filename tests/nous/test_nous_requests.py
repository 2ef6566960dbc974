"""The Nous suite asks the model what LLM AutoEval's lm-eval fork asks, and scores the answers alike.

The reference is the fork's own task code (``../shared/reference/nous-suite/fork_*.py``, executed
with a v0.3 API shim by ``fork_v03_render``), fed the same documents: the Hub-schema rows our
tasks read (AGIEval, GPT4All, TruthfulQA), or the fork's BigBench JSON files read by the fork.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fork_v03_render import eval_docs, load_fork_module, requests_for

from evalsuite.tasks.loading import LoadedTasks, load_tasks, select_tasks
from evalsuite.tasks.suites import suites

DOCS = [0, 1, 2]
NOUS_TASKS = [spec.name for spec in suites()["nous"].tasks]
# The fork asks " yes" before " no"; lm-eval 0.4's boolq (choices ["no", "yes"]) the other way
# round. Same requests, same acc: (ll_yes > ll_no) == label vs argmax([ll_no, ll_yes]) == label.
ORDER_DIFFERS = {"boolq"}


@pytest.fixture(scope="module")
def reference_dir(shared_data: Path) -> Path:
    return shared_data.parent / "reference" / "nous-suite"


@pytest.fixture(scope="module")
def nous(shared_data: Path) -> LoadedTasks:
    return load_tasks(select_tasks(None, "nous"), data_dir=shared_data)


def _rows(task: Any, count: int) -> list[dict[str, Any]]:
    split = task.config.test_split or task.config.validation_split
    return [dict(task.dataset[split][i]) for i in range(count)]


def _fork_task(name: str, reference: Path, data: Path, ours: Any) -> Any:
    """The fork's task object for ``name``, holding the same documents as ours."""
    if name.startswith("bigbench_"):
        module = load_fork_module(reference / "fork_bigbench.py")
        json_path = data / "bigbench" / "lm_eval_v0.3_bigbench_resources" / f"{name.removeprefix('bigbench_')}.json"
        return module["BigBenchJsonTask"](str(json_path))  # reads the JSON itself, as the fork does
    if name.startswith("agieval_"):
        subset = name.removeprefix("agieval_").replace("_", "-")
        task = load_fork_module(reference / "fork_agieval.py")["create_task_from_split"](subset)()
    else:
        file, cls = {
            "hellaswag": ("fork_hellaswag.py", "HellaSwag"), "openbookqa": ("fork_openbookqa.py", "OpenBookQA"),
            "winogrande": ("fork_winogrande.py", "Winogrande"), "arc_easy": ("fork_arc.py", "ARCEasy"),
            "arc_challenge": ("fork_arc.py", "ARCChallenge"), "boolq": ("fork_superglue.py", "BoolQ"),
            "piqa": ("fork_piqa.py", "PiQA"), "truthfulqa_mc": ("fork_truthfulqa.py", "TruthfulQAMultipleChoice"),
        }[name]  # fmt: skip
        task = load_fork_module(reference / file)[cls]()
    split = "test" if task.has_test_docs() else "validation"
    task.dataset = {split: _rows(ours, len(DOCS))}
    return task


def _our_requests(task: Any) -> list[list[tuple[str, str]]]:
    task.build_all_requests(samples=DOCS, rank=0, world_size=1)
    by_doc: dict[int, list[Any]] = {}
    for instance in task.instances:
        by_doc.setdefault(instance.doc_id, []).append(instance)
    return [[tuple(i.arguments) for i in sorted(by_doc[d], key=lambda i: i.idx)] for d in sorted(by_doc)]


@pytest.mark.parametrize("name", NOUS_TASKS)
def test_requests_equal_the_forks(name: str, nous: LoadedTasks, reference_dir: Path, shared_data: Path) -> None:
    ours = nous.leaves[name]
    fork = _fork_task(name, reference_dir, shared_data, ours)
    rendered = requests_for(fork, eval_docs(fork)[: len(DOCS)])
    generation = [r for doc in rendered for r in doc if r[0] != "loglikelihood"]
    # geometric_shapes' JSON also lists exact_str_match: the fork adds one greedy generation per
    # document, which the Nous score never reads; we run multiple_choice_grade only (tasks/README.md).
    assert len(generation) == (len(DOCS) if name == "bigbench_geometric_shapes" else 0)
    expected = [[(context, continuation) for kind, context, continuation in doc if kind == "loglikelihood"] for doc in rendered]
    got = _our_requests(ours)
    assert len(got) == len(expected) == len(DOCS)
    if name in ORDER_DIFFERS:
        got, expected = [sorted(doc) for doc in got], [sorted(doc) for doc in expected]
    assert got == expected


@pytest.mark.parametrize("name", NOUS_TASKS)
def test_scores_equal_the_forks(name: str, nous: LoadedTasks, reference_dir: Path, shared_data: Path) -> None:
    """Log-likelihoods scored by both codes: random ones, and ties (BigBench breaks them pseudo-randomly)."""
    ours = nous.leaves[name]
    fork = _fork_task(name, reference_dir, shared_data, ours)
    fork_docs = eval_docs(fork)
    our_docs = [ours.eval_docs[index] for index in DOCS]  # eval_docs re-runs process_docs on each access
    rng = np.random.default_rng(0)
    for trial in range(20):
        for index in DOCS:
            count = len(ours.doc_to_choice(our_docs[index]))
            draws = rng.choice([-1.0, -2.0, -3.5], size=count) if trial % 2 else rng.normal(-5.0, 2.0, size=count)
            lls = [float(x) for x in draws]
            ours_scored = ours.process_results(our_docs[index], [(ll, False) for ll in lls])
            fork_order = lls[::-1] if name in ORDER_DIFFERS else lls  # boolq: the fork asks " yes" first
            if name == "bigbench_geometric_shapes":  # the fork's last result is its generation (exact_str_match)
                fork_order = [*fork_order, ""]
            fork_scored = fork.process_results(fork_docs[index], fork_order)
            fork_scored.pop("exact_str_match", None)
            assert set(ours_scored) == set(fork_scored)
            for key, value in ours_scored.items():
                assert value == pytest.approx(float(fork_scored[key]), abs=1e-12), (key, trial, index)


def test_sat_en_is_the_forks_pre_442e251_copy(nous: LoadedTasks) -> None:
    """dmayhem93/agieval-sat-en (the fork's data) predates AGIEval 442e251: three questions with
    three options, one of them answered D, so that gold can never be scored right (data README)."""
    docs = list(nous.leaves["agieval_sat_en"].eval_docs)
    short = [doc for doc in docs if len(doc["choices"]) == 3]
    assert len(short) == 3
    assert [doc["gold"] for doc in short].count([3]) == 1
    assert len(docs) == 206


def test_tracking_shuffled_three_objects_is_the_forks_logical_deduction_copy(nous: LoadedTasks) -> None:
    """In the fork, tracking_shuffled_objects_three_objects.json is a copy of logical_deduction_three_objects.json."""
    tracking = nous.leaves["bigbench_tracking_shuffled_objects_three_objects"].eval_docs
    deduction = nous.leaves["bigbench_logical_deduction_three_objects"].eval_docs
    assert list(tracking) == list(deduction)


def test_piqa_offline_labels_come_from_the_labels_file(nous: LoadedTasks, shared_data: Path) -> None:
    """The local PIQA keeps labels in the line-aligned valid-labels.lst; each row gets its own."""
    labels = (shared_data / "piqa" / "valid-labels.lst").read_text(encoding="utf-8").split()
    task = nous.leaves["piqa"]
    assert [task.doc_to_target(doc) for doc in task.eval_docs] == [int(label) for label in labels]
    assert len(labels) == 1838
