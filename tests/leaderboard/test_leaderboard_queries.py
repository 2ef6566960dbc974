"""The leaderboard's SQL reads, checked against brute-force Python over the same records."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from evalsuite.store import leaderboard_queries as lq
from evalsuite.store import queries
from evalsuite.store.db import Database, open_database
from evalsuite.store.schema import MetricRecord, SampleRecord

TASKS = ("arc_easy", "pubmedqa", "boolq")


def _add_run(
    database: Database, model: str, *, tasks: tuple[str, ...], status: str = "complete", suite: str | None = None,
    backend: str = "transformers", seed: int = 0, samples: int = 0,
) -> tuple[int, dict[str, float]]:
    rng = random.Random(seed)
    model_row = queries.get_or_create_model(database, name=model, source="test", weights_sha256=f"sha-{model}")
    run = queries.create_run(
        database, model_id=model_row.id, backend=backend, config={}, config_hash=f"h{seed}", tasks=list(tasks),
        suite=suite,
    )
    run_id = int(run.id or 0)
    values = {task: rng.random() for task in tasks}
    metrics = [
        MetricRecord(run_id=run_id, task=t, metric="acc", value=v, stderr=0.01, higher_is_better=True)
        for t, v in values.items()
    ]
    rows = [
        SampleRecord(
            run_id=run_id, task=t, doc_id=d, prompt=f"prompt {t} {d}", target="yes",
            responses=["yes" if d % 3 else "no"], metrics={"acc": float(d % 3 != 0)}, correct=d % 3 != 0,
        )
        for t in tasks for d in range(samples)
    ]
    queries.save_task_results(database, run_id, list(tasks), metrics, rows)
    if status == "complete":
        queries.finish_run(database, run_id, computed=1, cached=0)
    elif status == "failed":
        queries.fail_run(database, run_id, "boom")
    return run_id, values


@pytest.fixture
def database(tmp_path: Path) -> Database:
    return open_database(tmp_path / "board.db")


def test_latest_complete_run_per_model_and_task(database: Database) -> None:
    first, first_values = _add_run(database, "m1", tasks=("arc_easy", "pubmedqa"), seed=1)
    second, second_values = _add_run(database, "m1", tasks=("arc_easy",), seed=2)
    _add_run(database, "m1", tasks=("arc_easy", "pubmedqa"), status="failed", seed=3)
    other, other_values = _add_run(database, "m2", tasks=TASKS, seed=4)
    cells = {(c.model, c.task): (c.run_id, c.value) for c in lq.leaderboard_cells(database)}
    assert cells == {
        ("m1", "arc_easy"): (second, second_values["arc_easy"]),
        ("m1", "pubmedqa"): (first, first_values["pubmedqa"]),
        **{("m2", t): (other, other_values[t]) for t in TASKS},
    }


def test_pinned_run_replaces_the_models_latest_runs(database: Database) -> None:
    first, first_values = _add_run(database, "m1", tasks=("arc_easy", "pubmedqa"), seed=1)
    _add_run(database, "m1", tasks=("arc_easy",), seed=2)
    other, _ = _add_run(database, "m2", tasks=("arc_easy",), seed=4)
    cells = lq.leaderboard_cells(database, lq.BoardFilter(pinned_runs=(first,)))
    by_model = {(c.model, c.task): c.run_id for c in cells}
    assert by_model == {("m1", "arc_easy"): first, ("m1", "pubmedqa"): first, ("m2", "arc_easy"): other}
    assert {c.value for c in cells if c.model == "m1"} == set(first_values.values())


def test_filters_by_suite_backend_task_and_model_name(database: Database) -> None:
    _add_run(database, "org/alpha", tasks=TASKS, suite="quick", backend="transformers", seed=1)
    _add_run(database, "org/beta_100%", tasks=TASKS, suite="open-llm-v1", backend="vllm", seed=2)
    _add_run(database, "org/gamma", tasks=TASKS, suite="quick", backend="vllm", seed=3)

    def models(board_filter: lq.BoardFilter) -> set[str]:
        return {c.model for c in lq.leaderboard_cells(database, board_filter)}

    assert models(lq.BoardFilter(suites=("quick",))) == {"org/alpha", "org/gamma"}
    assert models(lq.BoardFilter(backends=("vllm",))) == {"org/beta_100%", "org/gamma"}
    assert models(lq.BoardFilter(suites=("quick",), backends=("vllm",))) == {"org/gamma"}
    assert models(lq.BoardFilter(model_search="100%")) == {"org/beta_100%"}
    assert models(lq.BoardFilter(model_search="a_1")) == {"org/beta_100%"}  # "_" is literal, not a wildcard
    assert {c.task for c in lq.leaderboard_cells(database, lq.BoardFilter(tasks=("boolq",)))} == {"boolq"}
    options = lq.filter_options(database)
    assert options.suites == ["open-llm-v1", "quick"]
    assert options.backends == ["transformers", "vllm"]
    assert options.tasks == sorted(TASKS)


def test_sample_page_paginates_filters_and_counts_like_python(database: Database) -> None:
    run_id, _ = _add_run(database, "m1", tasks=("arc_easy", "pubmedqa"), samples=45)
    everything = queries.run_samples(database, run_id)
    wanted = [s for s in everything if s.task == "pubmedqa" and s.correct is False and "1" in (s.prompt or "")]
    query = lq.SampleQuery(run_id=run_id, task="pubmedqa", only_wrong=True, search="1", page=0, page_size=4)
    page = lq.sample_page(database, query)
    assert page.total == len(wanted)
    assert page.pages == -(-len(wanted) // 4)
    assert [s.doc_id for s in page.rows] == [s.doc_id for s in wanted[:4]]
    last = lq.sample_page(database, lq.SampleQuery(run_id=run_id, page=(90 - 1) // 7, page_size=7))
    assert [s.doc_id for s in last.rows] == [s.doc_id for s in everything[-(90 % 7) :]]
    assert lq.sample_tasks(database, run_id) == ["arc_easy", "pubmedqa"]


def test_paired_scores_join_on_task_doc_and_filter(database: Database) -> None:
    run_a, _ = _add_run(database, "m1", tasks=("arc_easy",), samples=10, seed=1)
    run_b, _ = _add_run(database, "m2", tasks=("arc_easy",), samples=6, seed=2)
    paired = lq.paired_sample_scores(database, run_a, run_b, "arc_easy", "none", "acc")
    assert paired.doc_ids == list(range(6))
    assert paired.a == paired.b == [float(d % 3 != 0) for d in range(6)]
    assert lq.shared_sample_tasks(database, run_a, run_b) == [("arc_easy", "none")]
    assert lq.sample_metric_names(database, run_a, "arc_easy") == ["acc", "correct"]
    pairs = lq.sample_pairs(database, run_a, run_b, "arc_easy", "none", [1, 4])
    assert [(p.doc_id, p.prompt) for p in pairs] == [(1, "prompt arc_easy 1"), (4, "prompt arc_easy 4")]


def test_board_version_changes_when_a_run_completes_or_is_rescored(database: Database) -> None:
    empty = lq.board_version(database)
    run_id, _ = _add_run(database, "m1", tasks=("arc_easy",), status="running")
    running = lq.board_version(database)
    queries.finish_run(database, run_id, computed=1, cached=0)
    complete = lq.board_version(database)
    queries.save_task_results(
        database, run_id, ["arc_easy"], [MetricRecord(run_id=run_id, task="arc_easy", metric="acc", value=0.1)], []
    )
    assert len({empty, running, complete, lq.board_version(database)}) == 4
    assert lq.board_version(database) == lq.board_version(database)


def _add_scored(database: Database, model: str, task: str, value: float, *, n: int, total: int, shots: int = 0) -> int:
    """A complete run with one score of ``task`` over ``n`` of ``total`` documents."""
    model_row = queries.get_or_create_model(database, name=model, source="test", weights_sha256=f"sha-{model}")
    run = queries.create_run(database, model_id=model_row.id, backend="transformers", config={}, config_hash=f"{n}",
                             tasks=[task], suite=None)
    run_id = int(run.id or 0)
    metric = MetricRecord(run_id=run_id, task=task, metric="acc", value=value, n_samples=n, n_total_docs=total,
                          n_shot=shots, task_version="1.0", higher_is_better=True)
    queries.save_task_results(database, run_id, [task], [metric], [])
    queries.finish_run(database, run_id, computed=1, cached=0)
    return run_id


def test_a_later_limited_run_does_not_replace_a_full_one(database: Database) -> None:
    full = _add_scored(database, "m1", "arc_easy", 0.4, n=100, total=100)
    old_limited = _add_scored(database, "m1", "arc_easy", 0.9, n=5, total=100)
    limited = _add_scored(database, "m1", "arc_easy", 0.8, n=5, total=100)
    five_shot = _add_scored(database, "m1", "arc_easy", 0.5, n=100, total=100, shots=5)
    cells = {(c.run_id, c.n_samples, c.n_total_docs, c.n_shot) for c in lq.leaderboard_cells(database)}
    assert cells == {(full, 100, 100, 0), (limited, 5, 100, 0), (five_shot, 100, 100, 5)}  # latest per setting
    assert old_limited not in {run for run, *_ in cells}
