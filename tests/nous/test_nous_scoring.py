"""The Nous suite's definition and its rounding rule (LLM AutoEval's table.py), on hand-worked numbers."""

from __future__ import annotations

import pytest

from evalsuite.board import rules as board
from evalsuite.metrics.normalization import SuiteMetric, suite_score
from evalsuite.store.leaderboard_queries import BoardCell
from evalsuite.tasks.suites import suites


def test_nous_suite_is_autoevals_task_list_zero_shot() -> None:
    nous = suites()["nous"]
    assert nous.average and nous.benchmark_decimals == 2
    assert all(spec.num_fewshot == 0 and spec.limit is None for spec in nous.tasks)
    by_benchmark: dict[str, dict[str, str]] = {}
    for item in nous.metrics:
        by_benchmark.setdefault(item.benchmark, {})[item.task] = item.metric
        assert item.random_baseline == 0.0 and item.filter == "none"
    assert list(by_benchmark) == ["AGIEval", "GPT4All", "TruthfulQA", "Bigbench"]
    assert len(by_benchmark["AGIEval"]) == 8 and set(by_benchmark["AGIEval"].values()) == {"acc_norm"}
    assert by_benchmark["GPT4All"] == {  # acc_norm where the task reports it, else acc
        "hellaswag": "acc_norm", "openbookqa": "acc_norm", "winogrande": "acc", "arc_easy": "acc_norm",
        "arc_challenge": "acc_norm", "boolq": "acc", "piqa": "acc_norm",
    }  # fmt: skip
    assert by_benchmark["TruthfulQA"] == {"truthfulqa_mc": "mc2"}
    assert len(by_benchmark["Bigbench"]) == 18 and set(by_benchmark["Bigbench"].values()) == {"multiple_choice_grade"}


def test_benchmark_decimals_round_each_benchmark_before_the_average() -> None:
    """Four one-task benchmarks, raw 0.500049 x3 and 0.500149: x100 = 50.0049 (-> 50.0) x3 and 50.0149 (-> 50.01).
    AutoEval: round((50.0 * 3 + 50.01) / 4, 2) = round(50.0025, 2) = 50.0; unrounded: 50.0074."""
    metrics = [SuiteMetric(f"t{i}", "acc", benchmark=f"B{i}") for i in range(4)]
    raw = {("t0", "acc", "none"): 0.500049, ("t1", "acc", "none"): 0.500049, ("t2", "acc", "none"): 0.500049, ("t3", "acc", "none"): 0.500149}
    assert suite_score(metrics, raw).average == pytest.approx(50.0074)
    rounded = suite_score(metrics, raw, benchmark_decimals=2)
    assert rounded.benchmarks == {"B0": 50.0, "B1": 50.0, "B2": 50.0, "B3": 50.01}
    assert rounded.average == 50.0


def _nous_cell(task: str, metric: str, value: float) -> BoardCell:
    return BoardCell(1, "m", "a" * 64, None, 7, "transformers", "nous", task, metric, "none", value, 0.01, None, True, 10, False, 0, "1.0", 10)


def test_board_columns_round_each_benchmark_as_the_nous_score_does() -> None:
    """Hand-worked: AGIEval 0.25 -> 25.0, GPT4All 0.5 -> 50.0, TruthfulQA mc2 0.503349 -> 50.3349 -> 50.33 (2 decimals),
    Bigbench 0.4 -> 40.0; Nous score round((25 + 50 + 50.33 + 40) / 4, 2) = round(41.3325, 2) = 41.33.
    The TruthfulQA column shows the benchmark as the score counts it (50.33), not the unrounded 50.3349."""
    nous = suites()["nous"]
    value = {"AGIEval": 0.25, "GPT4All": 0.5, "TruthfulQA": 0.503349, "Bigbench": 0.4}
    cells = [_nous_cell(item.task, item.metric, value[item.benchmark]) for item in nous.metrics]
    view = board.suite_view(cells, nous)
    (record,) = board.view_records(view)
    assert record["nous score"] == pytest.approx(41.33, abs=1e-9)
    assert record["truthfulqa_mc · mc2"] == pytest.approx(50.33, abs=1e-9)
    assert record["truthfulqa_mc · mc2 stderr"] == pytest.approx(1.0)
    assert record["AGIEval"] == pytest.approx(25.0) and record["Bigbench"] == pytest.approx(40.0)
