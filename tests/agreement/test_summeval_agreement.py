"""`evalsuite metrics agreement` on SummEval: the printed table, two of its cells recomputed with scipy from the data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from rouge_score import rouge_scorer
from scipy.stats import kendalltau, spearmanr
from typer.testing import CliRunner

from evalsuite.cli.app import app

DOCS = 4


def _printed(output: str, title: str) -> dict[str, list[float | None]]:
    """Rows of the printed table whose title starts with ``title``: metric -> the point values, in column order."""
    block = output.split(title, 1)[1].split("SummEval,", 1)[0]
    rows = {}
    for line in block.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == 3 and cells[0] not in ("metric", ""):
            rows[cells[0]] = [None if c in ("n/a", "unavailable") else float(c.split(" [")[0]) for c in cells[1:]]
    return rows


@pytest.fixture(scope="module")
def printed(shared_data: Path) -> str:
    args = ["metrics", "agreement", "--data-dir", str(shared_data), "--limit", str(DOCS), "--rounds", "50",
            "--dimension", "coherence", "--dimension", "relevance", "--no-bertscore"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def _documents(shared_data: Path) -> list[dict]:
    raw = json.loads((shared_data / "summeval" / "bartscore_SummEval_data.json").read_text(encoding="utf-8"))
    return [raw[key] for key in sorted(raw)[:DOCS]]


def test_the_table_has_every_metric_and_says_bertscore_was_left_out(printed: str) -> None:
    for title in ("SummEval, summary level, Spearman", "SummEval, summary level, Kendall", "SummEval, system level, Spearman", "SummEval, system level, Kendall"):
        rows = _printed(printed, title)
        assert list(rows) == ["ROUGE-1", "ROUGE-2", "ROUGE-L", "BLEU", "chrF", "length", "BERTScore-F1"]
        assert rows["BERTScore-F1"] == [None, None]  # never 0
        assert all(value is not None and -1 <= value <= 1 for metric, values in rows.items() if metric != "BERTScore-F1" for value in values)
    assert "BERTScore-F1: unavailable — not asked for (--no-bertscore)" in printed


def test_system_level_spearman_of_length_with_coherence_equals_scipy(printed: str, shared_data: Path) -> None:
    documents = _documents(shared_data)
    systems = sorted(documents[0]["sys_summs"])
    length = [np.mean([len(doc["sys_summs"][s]["sys_summ"].split()) for doc in documents]) for s in systems]
    coherence = [np.mean([doc["sys_summs"][s]["scores"]["coherence"] for doc in documents]) for s in systems]
    expected = spearmanr(length, coherence).statistic
    shown = _printed(printed, "SummEval, system level, Spearman")["length"][0]
    assert shown == pytest.approx(expected, abs=5e-4)


def test_summary_level_kendall_of_rouge2_with_relevance_equals_scipy(printed: str, shared_data: Path) -> None:
    """ROUGE-2 straight from rouge-score (mean F over the 11 references), τ per document by scipy, then the mean."""
    scorer = rouge_scorer.RougeScorer(["rouge2"], use_stemmer=True)
    taus = []
    for doc in _documents(shared_data):
        systems = sorted(doc["sys_summs"])
        rouge2 = [np.mean([scorer.score(ref, doc["sys_summs"][s]["sys_summ"])["rouge2"].fmeasure for ref in doc["ref_summs"]]) for s in systems]
        relevance = [doc["sys_summs"][s]["scores"]["relevance"] for s in systems]
        taus.append(kendalltau(rouge2, relevance).statistic)
    shown = _printed(printed, "SummEval, summary level, Kendall")["ROUGE-2"][1]
    assert shown == pytest.approx(float(np.mean(taus)), abs=5e-4)


def test_an_unknown_dimension_is_refused_in_one_line(shared_data: Path) -> None:
    result = CliRunner().invoke(app, ["metrics", "agreement", "--data-dir", str(shared_data), "--dimension", "wit"])
    assert result.exit_code != 0
    assert re.search(r"error: unknown --dimension wit — hint: choose from: coherence", result.output)
    assert "Traceback" not in result.output
