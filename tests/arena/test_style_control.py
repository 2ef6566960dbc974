"""Style control checked against planted effects, plain Bradley–Terry, statsmodels and hand arithmetic."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm

from evalsuite.arena.battles import Battles, battles_from_records, read_battles, write_battles
from evalsuite.arena.markdown import count_style, counts_from_metadata
from evalsuite.arena.ratings import bradley_terry
from evalsuite.arena.style import compute_style_control, fit_style_bt, style_counts, style_features
from evalsuite.errors import ArenaError

# True strengths in natural logits; the long-winded, heavily formatted models are not the best.
STRENGTH = {"m0": 0.9, "m1": 0.5, "m2": 0.0, "m3": -0.3, "m4": -1.1}
MEAN_TOKENS = {"m0": 150, "m1": 400, "m2": 250, "m3": 600, "m4": 200}
MEAN_HEADERS = {"m0": 0.5, "m1": 3.0, "m2": 1.0, "m3": 0.2, "m4": 2.0}
PLANTED = {"tokens": 0.6, "headers": 0.3, "lists": 0.0, "bold": 0.0}
POINTS_PER_LOGIT = 400.0 / math.log(10.0)


def _answer_counts(rng: np.random.Generator, models: list[str]) -> np.ndarray:
    """(tokens, headers, list items, bold) per answer; lengths spread widely within a model
    (lognormal), so length is not just a proxy for the model."""
    tokens = np.array([MEAN_TOKENS[m] for m in models]) * rng.lognormal(0.0, 0.8, len(models))
    headers = rng.poisson([MEAN_HEADERS[m] for m in models])
    return np.column_stack([tokens.astype(int), headers, rng.poisson(1.5, len(models)), rng.poisson(1.0, len(models))])


def _fastchat_metadata(side: str, counts: np.ndarray, split: np.ndarray) -> dict:
    """FastChat's conv_metadata layout: header/list/bold counts split into sub-dicts."""
    tokens, headers, lists, bold = (int(c) for c in counts)
    h1, ordered, stars = (int(c) for c in split)
    return {
        f"sum_assistant_{side}_tokens": tokens,
        f"header_count_{side}": {"h1": h1, "h2": headers - h1, "h3": 0, "h4": 0, "h5": 0, "h6": 0},
        f"list_count_{side}": {"ordered": ordered, "unordered": lists - ordered},
        f"bold_count_{side}": {"**": stars, "__": bold - stars},
    }


def planted_battles_file(path: Path, n: int, seed: int, tie_rate: float = 0.0) -> Path:
    """Battles whose outcomes follow σ(θ_a - θ_b + β·z), z computed here with numpy (FastChat's recipe)."""
    rng = np.random.default_rng(seed)
    names = list(STRENGTH)
    a = rng.integers(0, len(names), n)
    b = (a + rng.integers(1, len(names), n)) % len(names)
    counts_a = _answer_counts(rng, [names[i] for i in a]).astype(float)
    counts_b = _answer_counts(rng, [names[i] for i in b]).astype(float)
    split_a = rng.integers(0, counts_a[:, 1:] + 1)  # how each count divides into FastChat's sub-counts
    split_b = rng.integers(0, counts_b[:, 1:] + 1)
    ratio = (counts_a - counts_b) / (counts_a + counts_b + 1.0)
    z = (ratio - ratio.mean(axis=0)) / ratio.std(axis=0)
    theta = np.array([STRENGTH[m] for m in names])
    logit = theta[a] - theta[b] + z @ np.array(list(PLANTED.values()))
    a_won = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    tie = rng.random(n) < tie_rate
    with path.open("w") as out:
        for i in range(n):
            meta = _fastchat_metadata("a", counts_a[i], split_a[i]) | _fastchat_metadata("b", counts_b[i], split_b[i])
            winner = "tie" if tie[i] else "model_a" if a_won[i] else "model_b"
            record = {"model_a": names[a[i]], "model_b": names[b[i]], "winner": winner,
                      "tstamp": 1.7e9 + i, "conv_metadata": meta}
            out.write(json.dumps(record) + "\n")
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Battles:
    return read_battles(planted_battles_file(tmp_path_factory.mktemp("style") / "planted.jsonl", 20_000, seed=1))


def test_style_control_recovers_planted_length_and_markdown_effects(planted: Battles) -> None:
    result = compute_style_control(planted, bootstrap_rounds=0)
    for name, beta in PLANTED.items():
        # Standard errors here are 0.016-0.024 (statsmodels GLM on this design); 0.08 is >= 3.3 of them.
        assert result.coefficients[name] == pytest.approx(beta, abs=0.08), name
    centre = np.mean(list(STRENGTH.values()))
    style_error = max(abs(result.table[m].rating - (1000 + POINTS_PER_LOGIT * (s - centre))) for m, s in STRENGTH.items())
    plain = bradley_terry(planted)
    plain_error = max(abs(plain[m] - (1000 + POINTS_PER_LOGIT * (s - centre))) for m, s in STRENGTH.items())
    assert style_error < 20.0
    assert plain_error > 2 * style_error  # plain BT credits the long, formatted models with their style


def test_plain_part_equals_bradley_terry_when_features_carry_nothing(planted: Battles) -> None:
    # Same outcomes; every answer given identical counts on both sides, then all zeros.
    for counts in (np.zeros((len(planted), 4)), np.tile([120.0, 2.0, 3.0, 1.0], (len(planted), 1))):
        flat = Battles(**{**vars(planted), "style_a": counts, "style_b": counts.copy()})
        result = compute_style_control(flat, bootstrap_rounds=0)
        assert result.coefficients == {"tokens": 0.0, "headers": 0.0, "lists": 0.0, "bold": 0.0}
        plain = bradley_terry(flat)
        for model in flat.models:  # to 1e-6 in natural log-odds (1.7e-4 rating points; measured ~2e-6 points)
            assert abs(result.table[model].rating - plain[model]) <= 1e-6 * POINTS_PER_LOGIT


def test_style_fit_matches_statsmodels_logistic_regression(tmp_path: Path) -> None:
    battles = read_battles(planted_battles_file(tmp_path / "small.jsonl", 3_000, seed=2, tie_rate=0.15))
    features = style_features(*style_counts(battles)).matrix
    theta, beta = fit_style_bt(battles, features)
    # Independent fit: one row per battle, +1/-1 model columns without the last model
    # (its θ is the reference 0), the four features; ties as a won and a lost row of weight 1/2.
    n, m = len(battles), len(battles.models)
    design = np.zeros((n, m))
    design[np.arange(n), battles.model_a] = 1.0
    design[np.arange(n), battles.model_b] = -1.0
    x = np.hstack([design[:, : m - 1], features])
    decided = battles.winner < 2
    rows = np.concatenate([np.flatnonzero(decided), np.flatnonzero(~decided), np.flatnonzero(~decided)])
    y = np.concatenate([(battles.winner[decided] == 0).astype(float), np.ones((~decided).sum()), np.zeros((~decided).sum())])
    weight = np.concatenate([np.ones(decided.sum()), np.full(2 * (~decided).sum(), 0.5)])
    fit = sm.GLM(y, x[rows], family=sm.families.Binomial(), freq_weights=weight).fit(tol=1e-14)
    reference_theta = np.append(fit.params[: m - 1], 0.0)
    np.testing.assert_allclose(theta, reference_theta - reference_theta.mean(), atol=1e-6)
    np.testing.assert_allclose(beta, fit.params[m - 1 :], atol=1e-6)


def test_features_follow_fastchat_normalisation_hand_computed() -> None:
    # Token counts (a, b) in three battles: (10, 5), (0, 0), (3, 9); other counts zero.
    # ratio = (a - b) / (a + b + 1) = 5/16, 0/1, -6/13; mean = (5/16 - 6/13) / 3 = -31/624.
    # Deviations 226/624, 31/624, -257/624; population variance = (226² + 31² + 257²) / 3 / 624²
    # = 39362 / 624², so std = sqrt(39362) / 624 and z = 226 / sqrt(39362), ...
    counts_a = np.array([[10, 0, 0, 0], [0, 0, 0, 0], [3, 0, 0, 0]], dtype=float)
    counts_b = np.array([[5, 0, 0, 0], [0, 0, 0, 0], [9, 0, 0, 0]], dtype=float)
    features = style_features(counts_a, counts_b)
    assert features.ratio[:, 0].tolist() == pytest.approx([5 / 16, 0.0, -6 / 13])
    assert features.mean[0] == pytest.approx(-31 / 624)
    assert features.std[0] == pytest.approx(math.sqrt(39362) / 624)
    root = math.sqrt(39362)
    assert features.matrix[:, 0].tolist() == pytest.approx([226 / root, 31 / root, -257 / root])
    assert features.matrix[:, 1:].tolist() == [[0.0] * 3] * 3  # no variation: zero columns, not NaN


def test_markdown_counts_use_fastchat_patterns_outside_code() -> None:
    text = (
        "# Title\n## Part\n#hashtag is no header\n"
        "1. first\n2. second\n- dash\n  * nested star\n"
        "Some **bold** and __also bold__ and ** not bold\n"
        "```python\n# a comment, not a header\n- not a list\n**not bold**\n```\n"
    )
    tokens, headers, lists, bold = count_style(text)
    assert (headers, lists, bold) == (2, 4, 2)
    # Word pieces: runs of \w, and each other non-space character alone (code included).
    assert tokens == len([p for p in __import__("re").findall(r"\w+|[^\w\s]", text)])
    assert count_style("Hello, world!")[0] == 4  # Hello , world !
    assert count_style("# H\n- a\n**b**")[0] == 9  # # H - a * * b * *
    meta = {"sum_assistant_a_tokens": 7, "header_count_a": {"h1": 1, "h2": 2}, "list_count_a": 3,
            "bold_count_a": {"**": 1, "__": 1}}
    assert counts_from_metadata(meta, "a") == (7.0, 3.0, 3.0, 2.0)
    assert counts_from_metadata(meta, "b") is None


def test_style_counts_come_from_answer_texts_and_round_trip_through_files(tmp_path: Path) -> None:
    records = [
        {"model_a": "x", "model_b": "y", "winner": "model_a", "answer_a": "# H\n- a\n- b\n**b**", "answer_b": "plain"},
        {"model_a": "y", "model_b": "x", "winner": "model_b",
         "conversation_a": [{"role": "user", "content": "# q"}, {"role": "assistant", "content": "## two"}],
         "conversation_b": [{"role": "assistant", "content": "one two"}]},
    ]
    battles = battles_from_records(records)
    counts_a, counts_b = style_counts(battles)
    assert counts_a.tolist() == [[11.0, 1.0, 2.0, 1.0], [3.0, 1.0, 0.0, 0.0]]  # "## two": # # two
    assert counts_b.tolist() == [[1.0, 0.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0]]
    write_battles(battles, tmp_path / "b.jsonl")
    again = read_battles(tmp_path / "b.jsonl")
    assert again.answer_a is not None and again.answer_a.tolist() == battles.answer_a.tolist()  # type: ignore[union-attr]


def test_style_control_without_counts_or_texts_says_what_is_missing() -> None:
    battles = battles_from_records([{"model_a": "x", "model_b": "y", "winner": "model_a"},
                                    {"model_a": "y", "model_b": "x", "winner": "model_a"}])
    with pytest.raises(ArenaError, match="2 of 2 battles have none"):
        compute_style_control(battles, bootstrap_rounds=0)
    with pytest.raises(ArenaError, match="conv_metadata needs"):
        battles_from_records([{"model_a": "x", "model_b": "y", "winner": "tie", "conv_metadata": {"header_count_a": 1}}])


def test_style_bootstrap_is_seeded_and_brackets_the_estimate(tmp_path: Path) -> None:
    battles = read_battles(planted_battles_file(tmp_path / "boot.jsonl", 2_000, seed=3))
    first = compute_style_control(battles, bootstrap_rounds=30, seed=1)
    again = compute_style_control(battles, bootstrap_rounds=30, seed=1)
    assert first.to_json() == again.to_json()
    for name, beta in first.coefficients.items():
        assert first.coefficient_lower[name] < beta < first.coefficient_upper[name]
    for row in first.table.rows:
        assert row.lower <= row.rating <= row.upper
