"""`evalsuite run` on a real tiny model: stored rows, lm-eval-identical numbers, sacrebleu-identical BLEU."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalsuite.cli import app
from evalsuite.models import DEMO_MODELS_DIR

REPO = Path(__file__).resolve().parent.parent
PICO_S = DEMO_MODELS_DIR / "pico-s"
runner = CliRunner()


def _evalsuite(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output + (repr(result.exception) if result.exception else "")
    return result.stdout


@pytest.fixture(scope="module")
def lm_eval_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The reference: lm-eval's own CLI with its `hf` model on our task YAML."""
    out = tmp_path_factory.mktemp("lm-eval-out")
    command = [
        sys.executable, "-m", "lm_eval", "--model", "hf",
        "--model_args", f"pretrained={PICO_S},dtype=float32",
        "--tasks", "pubmedqa,perplexity", "--include_path", str(REPO / "tasks" / "yaml"),
        "--limit", "60", "--batch_size", "8", "--output_path", str(out),
    ]
    subprocess.run(command, check=True, cwd=REPO, capture_output=True, text=True)
    return json.loads(next(out.rglob("results_*.json")).read_text())


@pytest.fixture(scope="module")
def evalsuite_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    folder = tmp_path_factory.mktemp("evalsuite-out")
    db, output = folder / "r.db", folder / "results.json"
    _evalsuite("run", "--model", "demo/pico-s", "--tasks", "pubmedqa,perplexity", "--limit", "60", "--dtype", "float32", "--db", str(db), "--output", str(output))
    return json.loads(output.read_text()), db


def test_output_equals_lm_eval_cli(lm_eval_run: dict, evalsuite_run: tuple[dict, Path]) -> None:
    ours, theirs = evalsuite_run[0]["results"], lm_eval_run["results"]
    assert ours["pubmedqa"]["acc,none"] == theirs["pubmedqa"]["acc,none"]
    for metric in ("word_perplexity,none", "byte_perplexity,none", "bits_per_byte,none"):
        assert math.isclose(ours["perplexity"][metric], theirs["perplexity"][metric], rel_tol=1e-6), metric
    for section in ("configs", "versions", "n-shot", "higher_is_better", "n-samples"):
        assert set(evalsuite_run[0][section]) >= {"pubmedqa", "perplexity"}, section


def test_run_rows_are_stored(evalsuite_run: tuple[dict, Path]) -> None:
    results, db = evalsuite_run
    connection = sqlite3.connect(db)
    status, seed, versions = connection.execute("SELECT status, seed, versions FROM run").fetchone()
    assert status == "complete" and seed == 0 and "lm_eval" in json.loads(versions)
    stored = dict(connection.execute("SELECT metric, value FROM metric WHERE task='pubmedqa'").fetchall())
    assert stored["acc"] == results["results"]["pubmedqa"]["acc,none"]
    samples = connection.execute("SELECT count(*), sum(correct) FROM sample WHERE task='pubmedqa'").fetchone()
    assert samples[0] == 60 and samples[1] == round(stored["acc"] * 60)
    name, sha = connection.execute("SELECT name, weights_sha256 FROM model").fetchone()
    assert name == "demo/pico-s" and len(sha) == 64


def test_token_perplexity_matches_an_independent_count(evalsuite_run: tuple[dict, Path]) -> None:
    """exp(-Σ loglik / Σ tokens) from the stored per-document logliks and the tokenizer."""
    from transformers import AutoTokenizer

    _, db = evalsuite_run
    tokenizer = AutoTokenizer.from_pretrained(PICO_S)
    connection = sqlite3.connect(db)
    rows = connection.execute("SELECT prompt, logliks FROM sample WHERE task='perplexity'").fetchall()
    total_ll = sum(json.loads(logliks)[0] for _, logliks in rows)
    total_tokens = sum(len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text, _ in rows)
    stored = connection.execute("SELECT value FROM metric WHERE task='perplexity' AND metric='token_perplexity'").fetchone()[0]
    assert math.isclose(stored, math.exp(-total_ll / total_tokens), rel_tol=1e-9)


def test_bleu_equals_sacrebleu_on_the_same_files(tmp_path: Path) -> None:
    db = tmp_path / "bleu.db"
    _evalsuite("run", "--model", "demo/pico-m", "--tasks", "bleu", "--limit", "12", "--db", str(db))
    connection = sqlite3.connect(db)
    rows = connection.execute("SELECT target, metrics FROM sample WHERE task='wmt22_en_de' ORDER BY doc_id").fetchall()
    hyps = [json.loads(metrics)["filtered_response"][0] for _, metrics in rows]
    (tmp_path / "hyp.txt").write_text("\n".join(h.replace("\n", " ") for h in hyps) + "\n")
    (tmp_path / "ref.txt").write_text("\n".join(target.strip() for target, _ in rows) + "\n")
    cli = subprocess.run(
        [sys.executable, "-m", "sacrebleu", str(tmp_path / "ref.txt"), "-i", str(tmp_path / "hyp.txt"), "-m", "bleu", "chrf", "ter", "-b", "-f", "text"],
        check=True, capture_output=True, text=True,
    )
    expected = [float(line) for line in cli.stdout.split()]
    stored = dict(connection.execute("SELECT metric, value FROM metric WHERE task='wmt22_en_de'").fetchall())
    assert [stored["bleu"], stored["chrf"], stored["ter"]] == pytest.approx(expected, abs=0.05)
    signature = connection.execute("SELECT details FROM metric WHERE task='wmt22_en_de' AND metric='bleu'").fetchone()[0]
    assert "tok:13a" in json.loads(signature)["sacrebleu_signature"]


def test_dry_run_counts_requests_without_loading_a_model(tmp_path: Path) -> None:
    out = _evalsuite("run", "--model", "no-such/model-never-loaded", "--tasks", "pubmedqa", "--limit", "7", "--dry-run", "--db", str(tmp_path / "x.db"))
    assert "pubmedqa" in out and "21" in out
    assert not (tmp_path / "x.db").exists()


def test_results_list_show_and_export(evalsuite_run: tuple[dict, Path], tmp_path: Path) -> None:
    _, db = evalsuite_run
    assert "demo/pico-s" in _evalsuite("results", "list", "--db", str(db))
    assert "word_perplexity" in _evalsuite("results", "show", "1", "--db", str(db))
    md = _evalsuite("results", "export", "--format", "md", "--db", str(db))
    assert md.startswith("| run | model |") and "pubmedqa acc" in md
    rows = json.loads(_evalsuite("results", "export", "--format", "json", "--db", str(db)))
    assert {row["task"] for row in rows} >= {"pubmedqa", "perplexity"}
    csv_text = _evalsuite("results", "export", "--format", "csv", "--db", str(db))
    assert csv_text.splitlines()[0].startswith("run_id,model,backend")
