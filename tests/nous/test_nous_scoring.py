"""The Nous suite's definition and its rounding rule (LLM AutoEval's table.py), on hand-worked numbers."""

from __future__ import annotations

import pytest

from evalsuite.metrics.normalization import SuiteMetric, suite_score
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
