"""Random-baseline normalisation and suite averages, against hand-worked values and lm-eval's YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsuite.metrics.normalization import (
    SuiteMetric,
    normalize_to_random_baseline,
    random_baseline,
    suite_score,
)
from evalsuite.tasks.loading import suites

LM_EVAL_TASKS = Path(__import__("lm_eval.tasks", fromlist=["x"]).__file__).parent


def test_normalization_hand_worked() -> None:
    # 4 choices, 55% raw: (0.55 - 0.25) / 0.75 = 0.4 -> 40
    assert normalize_to_random_baseline(0.55, random_baseline(4)) == pytest.approx(40.0)
    # 2 choices, 50% raw = chance -> 0; below chance is clamped to 0
    assert normalize_to_random_baseline(0.5, random_baseline(2)) == 0.0
    assert normalize_to_random_baseline(0.3, random_baseline(2)) == 0.0
    # generative (b = 0): raw * 100
    assert normalize_to_random_baseline(0.123, 0.0) == pytest.approx(12.3)
    assert normalize_to_random_baseline(1.0, random_baseline(10)) == pytest.approx(100.0)


def test_invalid_baselines_are_rejected() -> None:
    with pytest.raises(ValueError):
        random_baseline(0)
    with pytest.raises(ValueError):
        normalize_to_random_baseline(0.5, 1.0)


def test_suite_score_averages_within_then_across_benchmarks() -> None:
    metrics = [
        SuiteMetric("bbh_a", "acc_norm", benchmark="BBH", random_baseline=0.5),
        SuiteMetric("bbh_b", "acc_norm", benchmark="BBH", random_baseline=0.25),
        SuiteMetric("ifeval", "prompt_level_strict_acc", benchmark="IFEval"),
    ]
    values = {("bbh_a", "acc_norm", "none"): 0.75, ("bbh_b", "acc_norm", "none"): 0.25,
              ("ifeval", "prompt_level_strict_acc", "none"): 0.3}  # fmt: skip
    score = suite_score(metrics, values)
    # BBH: mean(50, 0) = 25; IFEval: 30; average 27.5
    assert score.benchmarks == {"BBH": pytest.approx(25.0), "IFEval": pytest.approx(30.0)}
    assert score.average == pytest.approx(27.5)
    assert score.missing == ()


def test_partial_results_give_no_average() -> None:
    metrics = [SuiteMetric("a", "acc"), SuiteMetric("b", "acc")]
    score = suite_score(metrics, {("a", "acc", "none"): 0.5})
    assert score.average is None and score.missing == (("b", "acc", "none"),)
    assert score.benchmarks == {"a": pytest.approx(50.0)}


def test_open_llm_v1_average_is_mean_of_raw_scores() -> None:
    suite = suites()["open-llm-v1"]
    raw = [0.6, 0.8, 0.65, 0.45, 0.75, 0.3]
    values = {m.key: v for m, v in zip(suite.metrics, raw)}
    assert suite_score(suite.metrics, values).average == pytest.approx(sum(raw) / 6 * 100)


def test_open_llm_v2_baselines_match_lm_eval_choice_counts() -> None:
    """Each BBH subtask's 1/k equals 1 / len(doc_to_choice) in lm-eval's leaderboard YAML."""
    import yaml

    suite = suites()["open-llm-v2"]
    bbh = {m.task: m.random_baseline for m in suite.metrics if m.benchmark == "BBH"}
    assert len(bbh) == 24
    for path in sorted((LM_EVAL_TASKS / "leaderboard" / "bbh_mc").glob("[a-z]*.yaml")):
        config = yaml.load(path.read_text(), Loader=yaml.BaseLoader)
        assert bbh[config["task"]] == pytest.approx(1 / len(config["doc_to_choice"])), path.name
    by_task = {m.task: m for m in suite.metrics}
    assert by_task["leaderboard_mmlu_pro"].random_baseline == pytest.approx(0.1)
    assert by_task["leaderboard_gpqa_main"].random_baseline == pytest.approx(0.25)
    assert by_task["leaderboard_math_algebra_hard"].random_baseline == 0.0
    assert {m.benchmark for m in suite.metrics} == {"IFEval", "BBH", "MATH Lvl 5", "GPQA", "MuSR", "MMLU-Pro"}


def test_open_llm_v2_scores_cover_every_leaderboard_subtask() -> None:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: None)
    leaves = set()
    for path in (LM_EVAL_TASKS / "leaderboard").rglob("*.yaml"):
        config = yaml.load(path.read_text(), Loader=Loader)
        if isinstance(config.get("task"), str) and "group" not in config:
            leaves.add(config["task"])
    assert {m.task for m in suites()["open-llm-v2"].metrics} == leaves
