"""`evalsuite metrics agreement` on SummEval: the printed table, cells recomputed with scipy from the data (and from a judge's stored
samples), BERTScore with a local encoder and offline without one."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import bert_score
import huggingface_hub.constants
import numpy as np
import pytest
from rouge_score import rouge_scorer
from scipy.stats import kendalltau, spearmanr
from typer.testing import CliRunner

from evalsuite.agreement import geval, summeval
from evalsuite.cli.app import app
from evalsuite.devtools.tiny_models import save_random_encoder
from evalsuite.store import queries
from evalsuite.store.db import open_database

DOCS = 4


def _printed(output: str, title: str) -> dict[str, list[float | None]]:
    """Rows of the printed table whose title starts with ``title``: metric -> the point values, in column order."""
    head = title.removeprefix("SummEval, ")
    block = next(part for part in output.split("SummEval, ")[1:] if " ".join(part.split()).startswith(head))  # titles may wrap
    rows = {}
    for line in block.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) >= 2 and cells[0] not in ("metric", ""):
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


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, ["metrics", "agreement", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def _scipy(method: str, x: list[float], y: list[float]) -> float | None:
    """scipy's coefficient, None where it is undefined (fewer than 3 points or a constant list: NaN)."""
    if len(x) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on constant input and returns NaN
        value = float((spearmanr if method == "spearman" else kendalltau)(x, y).statistic)
    return None if np.isnan(value) else value


def _first_rating(answer: str | None) -> float | None:
    """G-Eval form's score read independently: the first number of the answer, kept only within 1-5."""
    match = re.search(r"[0-9]+(?:[.][0-9]+)?", answer or "")
    return float(match.group(0)) if match and 1 <= float(match.group(0)) <= 5 else None


def test_the_judge_row_equals_scipy_over_the_judge_scores_stored_as_samples(shared_data: Path, tmp_path: Path) -> None:
    """16 judgments (1 document x 16 systems, fluency) by the demo judge, stored; its row recomputed from the stored rows."""
    db = tmp_path / "judge.db"
    output = _invoke("--data-dir", str(shared_data), "--judge", "demo/pico-judge", "--limit", "1", "--dimension", "fluency",
                     "--rounds", "0", "--no-bertscore", "--device", "cpu", "--db", str(db))
    (document,) = _documents(shared_data)[:1]
    with open_database(db) as database:
        (run,) = queries.list_runs(database)
        samples = queries.run_samples(database, run.id, geval.TASK)
    assert run.status == "complete" and len(samples) == 16
    ratings: dict[str, float | None] = {}
    for sample in samples:
        system = sample.metrics["system"]
        assert sample.filter == "fluency" and document["sys_summs"][system]["sys_summ"] in (sample.prompt or "")
        assert sample.metrics["rating"] == _first_rating(sample.responses[0])
        ratings[system] = sample.metrics["rating"]
    assert set(ratings) == set(document["sys_summs"])
    missing = sum(rating is None for rating in ratings.values())
    assert f"run {run.id}, {missing} judgments without a score 1-5 (left out)" in output
    scored = sorted(system for system, rating in ratings.items() if rating is not None)
    judge = [float(ratings[system] or 0) for system in scored]
    people = [document["sys_summs"][system]["scores"]["fluency"] for system in scored]
    for level in ("summary", "system"):  # one document: both levels correlate the same 16 (scored) pairs
        for method, name in (("spearman", "Spearman"), ("kendall", "Kendall")):
            (shown,) = _printed(output, f"SummEval, {level} level, {name}")["judge demo/pico-judge"]
            expected = _scipy(method, judge, people)
            assert shown == (None if expected is None else pytest.approx(expected, abs=5e-4)), (level, method, ratings)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight RoBERTa with its tokenizer, saved locally: BERTScore runs offline on it."""
    return save_random_encoder(tmp_path_factory.mktemp("bertscore") / "tiny-roberta", layers=2)


def test_bertscore_from_a_local_encoder_equals_bert_score_called_directly(shared_data: Path, encoder: Path) -> None:
    data = summeval.load(shared_data, 1)
    direct = bert_score.score(data.flat_summaries(), [list(refs) for refs in data.flat_references()], model_type=str(encoder), num_layers=2)[2]
    ours = summeval.bertscore(data, summeval.BertScoreModel(str(encoder), 2))
    assert ours.shape == (1, len(data.systems))
    assert ours.ravel().tolist() == pytest.approx([float(value) for value in direct], abs=1e-6)
    output = _invoke("--data-dir", str(shared_data), "--limit", "1", "--dimension", "relevance", "--rounds", "0",
                     "--bertscore-model", str(encoder), "--bertscore-layers", "2")
    (shown,) = _printed(output, "SummEval, summary level, Spearman")[summeval.BERTSCORE]
    assert shown == pytest.approx(_scipy("spearman", [float(value) for value in direct], list(data.human["relevance"][0])), abs=5e-4)
    assert "unavailable" not in output


def test_bertscore_offline_without_its_model_is_unavailable_never_zero(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    output = _invoke("--data-dir", str(shared_data), "--limit", "1", "--dimension", "relevance", "--rounds", "0")
    assert _printed(output, "SummEval, summary level, Spearman")[summeval.BERTSCORE] == [None]
    assert "BERTScore-F1: unavailable — its model roberta-large is not in the local Hugging Face cache" in output


def test_a_local_encoder_without_its_layer_is_refused_in_one_line(shared_data: Path, encoder: Path) -> None:
    result = CliRunner().invoke(app, ["metrics", "agreement", "--data-dir", str(shared_data), "--bertscore-model", str(encoder)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"error: --bertscore-model {encoder} needs --bertscore-layers — hint:" in " ".join(result.output.split())
