"""Per-category ratings, `arena ratings` with the abuse-resistance options, and answer texts from the store.

Expected values come from the library functions applied by hand to the same battles
(the CLI must add nothing of its own) and from rows written through the store.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from evalsuite.arena import voting
from evalsuite.arena.battles import battles_from_records, filter_battles, read_battles
from evalsuite.arena.ratings import compute_ratings, ratings_by_category
from evalsuite.arena.report import ReportOptions, rating_report
from evalsuite.arena.style import compute_style_control
from evalsuite.cli.app import app
from evalsuite.store import arena_queries
from evalsuite.store.db import open_database

STRENGTH = {"m-low": -0.8, "m-mid": 0.0, "m-top": 0.9}
ANSWER_STYLE = {"m-low": "Short.", "m-mid": "# Plan\n- one\n- two\n**done**", "m-top": "A longer plain answer " * 5}


def _records(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    names = list(STRENGTH)
    out = []
    for i in range(n):
        a, b = rng.choice(3, 2, replace=False)
        p_a = 1.0 / (1.0 + np.exp(STRENGTH[names[b]] - STRENGTH[names[a]]))
        voter = "contrarian" if i % 10 == 0 else f"v{i % 4}"
        a_won = (rng.random() < p_a) != (voter == "contrarian" and rng.random() < 0.9)
        out.append({
            "model_a": names[a], "model_b": names[b], "winner": "model_a" if a_won else "model_b",
            "tstamp": 1.7e9 + i, "category": ("math", "code", "writing")[i % 3], "voter": voter,
            "battle_id": f"b{i}", "answer_a": ANSWER_STYLE[names[a]] + f" ({i})",
            "answer_b": ANSWER_STYLE[names[b]] + (" I was built by OpenAI." if i == 7 else ""),
        })
    return out


def test_per_category_ratings_equal_ratings_on_the_filtered_battles() -> None:
    battles = battles_from_records(_records(300, seed=1))
    per_category = ratings_by_category(battles, "bt", bootstrap_rounds=20, seed=3)
    assert [c.category for c in per_category] == ["code", "math", "writing"]
    for c in per_category:
        expected = compute_ratings(filter_battles(battles, category=c.category), "bt", bootstrap_rounds=20, seed=3,
                                   with_online_elo=False)
        assert c.table is not None and c.table.to_json_rows() == expected.to_json_rows()
        assert c.battles == 100
    lopsided = battles_from_records([
        {"model_a": "x", "model_b": "y", "winner": "model_a", "category": "one-sided"},
        {"model_a": "x", "model_b": "y", "winner": "model_b", "category": "fair"},
        {"model_a": "y", "model_b": "x", "winner": "model_b", "category": "fair"},
    ])
    notes = {c.category: c.note for c in ratings_by_category(lopsided, bootstrap_rounds=0)}
    assert notes["fair"] is None and "unbounded" in (notes["one-sided"] or "")


def test_ratings_cli_json_sections_equal_the_library(tmp_path: Path) -> None:
    file = tmp_path / "battles.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in _records(300, seed=2)))
    args = ["arena", "ratings", "--battles", str(file), "--json", "--bootstrap", "10", "--style-control",
            "--by-category", "--flag-outliers", "--outlier-min-votes", "5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    options = ReportOptions(bootstrap_rounds=10, style_control=True, by_category=True, flag_outliers=True,
                            outlier_min_votes=5)
    expected = json.loads(json.dumps(rating_report(read_battles(file), options).to_json()))
    assert json.loads(result.stdout) == expected
    assert expected["leaks"]["excluded"] == 1 and expected["leaks"]["answers"][0]["word"] == "openai"
    assert [v["voter"] for v in expected["outliers"]["voters"] if v["flagged"]] == ["contrarian"]
    assert {c["feature"] for c in expected["style_control"]["coefficients"]} == {"tokens", "headers", "lists", "bold"}


def test_ratings_cli_text_shows_every_section(tmp_path: Path) -> None:
    file = tmp_path / "battles.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in _records(150, seed=3)))
    words = tmp_path / "words.txt"
    words.write_text("openai\n")
    args = ["arena", "ratings", "--battles", str(file), "--bootstrap", "0", "--style-control", "--by-category",
            "--flag-outliers", "--outlier-min-votes", "5", "--leak-words", str(words)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Bradley–Terry ratings from 149 battles" in out and "Style Bradley–Terry" in out
    assert "leak filter: 1 of 150 battles excluded" in out and "b7" in out
    assert "style coefficients" in out and "ratings per prompt category" in out
    assert "outlier voters: 1 flagged of 5 tested" in out and "Holm" in out and "contrarian" in out
    plain = CliRunner().invoke(app, ["arena", "ratings", "--battles", str(file), "--bootstrap", "0", "--no-leak-filter"])
    assert "leak filter" not in plain.stdout and "Bradley–Terry ratings from 150 battles" in plain.stdout


def test_style_control_on_a_file_without_counts_fails_cleanly(tmp_path: Path) -> None:
    file = tmp_path / "bare.json"
    file.write_text(json.dumps([{"model_a": "x", "model_b": "y", "winner": "model_a"},
                                {"model_a": "y", "model_b": "x", "winner": "model_a"}]))
    result = CliRunner().invoke(app, ["arena", "ratings", "--battles", str(file), "--style-control"])
    assert result.exit_code == 1
    assert "style control needs answer lengths" in result.output and "Traceback" not in result.output


def _stored_arena(db: str) -> dict[str, str]:
    """Three models' answers to four prompts (one answer names its maker) and 24 votes; returns texts by key."""
    with open_database(db) as database:
        arena_queries.add_prompts(database, [arena_queries.PromptInput(f"question {i}", "math" if i % 2 else "code")
                                             for i in range(4)])
        texts = {}
        for prompt in arena_queries.list_prompts(database):
            for model in STRENGTH:
                text = ANSWER_STYLE[model] + f" [{prompt.id}]"
                if model == "m-low" and prompt.text == "question 0":
                    text = "As Claude, made by Anthropic: " + text
                arena_queries.add_completion(database, prompt.id, model, text)
                texts[f"{prompt.id}/{model}"] = text
        rng = np.random.default_rng(0)
        for i in range(24):
            battle = voting.issue_battle(database, f"voter-{i % 3}", rng)
            arena_queries.record_vote(database, battle.token, ("a", "b")[i % 2], f"voter-{i % 3}")
    return texts


def test_stored_votes_carry_their_answer_texts_and_leaks_are_excluded(db_url: str) -> None:
    _stored_arena(db_url)
    with open_database(db_url) as database:
        records = arena_queries.vote_records(database, with_answers=True)
        battles = voting.stored_battles(database, with_answers=True)
    assert len(records) == 24 and all("answer_a" in r and "answer_b" in r for r in records)
    for record in records:  # answer A is model_a's text, B model_b's
        assert record["answer_a"].startswith(("As Claude", ANSWER_STYLE[record["model_a"]]))
        assert record["answer_b"].startswith(("As Claude", ANSWER_STYLE[record["model_b"]]))
    leaking = [r for r in records if "Claude" in r["answer_a"] + r["answer_b"]]
    assert leaking  # the seeded draw shows the leaking answer at least once
    result = CliRunner().invoke(app, ["arena", "ratings", "--db", db_url, "--json", "--bootstrap", "0", "--style-control"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["leaks"]["excluded"] == len(leaking)
    assert all(leak["model"] == "m-low" for leak in out["leaks"]["answers"])
    kept = battles.take(np.array(["Claude" not in a + b for a, b in zip(battles.answer_a, battles.answer_b)]))  # type: ignore[arg-type]
    assert out["ratings"] == compute_ratings(kept.compact(), "bt", bootstrap_rounds=0).to_json_rows()
    # Style control on stored votes counts style from the stored texts.
    expected_style = compute_style_control(kept.compact(), bootstrap_rounds=0).to_json()
    assert out["style_control"] == json.loads(json.dumps(expected_style))
    assert expected_style["coefficients"][0]["feature_std"] > 0  # lengths differ, so the feature varies


def test_ratings_page_shows_leaks_style_categories_and_voters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    db = str(tmp_path / "arena.db")
    _stored_arena(db)
    with open_database(db) as database:
        expected = rating_report(
            voting.stored_battles(database, with_answers=True),
            ReportOptions(bootstrap_rounds=10, style_control=True, by_category=True, flag_outliers=True),
        )
    monkeypatch.setenv("EVALSUITE_DB", db)
    st.cache_data.clear()
    app = AppTest.from_file(str(Path(__file__).parents[2] / "leaderboard" / "app.py"), default_timeout=120)
    app.switch_page("views/arena_ratings.py")
    app.session_state["arena_rounds"] = 10  # one run with every section switched on
    for key in ("arena_style_control", "arena_by_category", "arena_outliers"):
        app.session_state[key] = True
    app.run()
    assert any("left out: an answer names a model" in e.label for e in app.expander)
    assert not app.exception, [e.value for e in app.exception]
    frames = [frame.value for frame in app.dataframe]
    style_frame = next(f for f in frames if "Plain Bradley–Terry" in f.columns)
    assert expected.style is not None
    assert style_frame["Bradley–Terry"].tolist() == [round(row.rating) for row in expected.style.table.rows]
    coefficients = next(f for f in frames if "coefficient" in f.columns)
    assert coefficients["coefficient"].tolist() == pytest.approx(list(expected.style.coefficients.values()))
    per_category = next(f for f in frames if "Category" in f.columns)
    assert sorted(set(per_category["Category"])) == ["code", "math"]
    assert expected.outliers is not None
    assert any(f"flagged of {len(expected.outliers.checks)} tested" in c.value for c in app.caption)
    st.cache_data.clear()


def test_report_cautions_on_few_battles_and_falls_back_to_online_elo_only_when_allowed() -> None:
    """Fewer than FEW_BATTLES battles: a caution per report; an unbounded Bradley–Terry: online Elo if allowed, else the error."""
    from evalsuite.arena.report import FEW_BATTLES
    from evalsuite.errors import ArenaError

    one_sided = battles_from_records([{"model_a": "x", "model_b": "y", "winner": "model_a"}] * 3)
    with pytest.raises(ArenaError, match="unbounded"):
        rating_report(one_sided, ReportOptions(bootstrap_rounds=0))
    report = rating_report(one_sided, ReportOptions(bootstrap_rounds=10, allow_unbounded=True))
    assert report.unbounded is not None and "(x never lost to another group; y never beat another group)" in report.unbounded
    assert report.style is None
    assert report.table.to_json_rows() == compute_ratings(one_sided, "elo", bootstrap_rounds=10).to_json_rows()
    cautions = report.cautions()
    assert len(cautions) == 2 and cautions[0].startswith("Bradley–Terry ratings are not bounded yet")
    assert cautions[1].startswith(f"2 of 2 models have fewer than {FEW_BATTLES} battles (x, y)")
    many = battles_from_records(_records(300, seed=4))  # about 200 battles per model
    assert rating_report(many, ReportOptions(bootstrap_rounds=0, allow_unbounded=True)).cautions() == []
