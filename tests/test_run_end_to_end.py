"""`evalsuite run` on a real tiny model: stored rows, lm-eval-identical numbers, sacrebleu-identical BLEU."""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.identity.models import DEMO_MODELS_DIR
from tests.conftest import evalsuite_ok as _evalsuite

REPO = Path(__file__).resolve().parent.parent
PICO_S = DEMO_MODELS_DIR / "pico-s"
runner = CliRunner()


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
    result = runner.invoke(app, ["run", "--model", "no-such/model-never-loaded", "--tasks", "pubmedqa", "--limit", "7", "--dry-run", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 0, result.output
    assert "pubmedqa" in result.stdout and "21" in result.stdout  # 7 questions x 3 answers
    assert "  pubmedqa: 0-shot, 7 of 500 documents, from shipped file " in result.stderr  # the run's own header
    assert not (tmp_path / "x.db").exists()


def test_results_list_show_and_export(evalsuite_run: tuple[dict, Path], tmp_path: Path) -> None:
    """The read commands find the run; every export format names the model and both tasks
    (the layout of each format is tested with the board rules in tests/leaderboard/)."""
    _, db = evalsuite_run
    assert "demo/pico-s" in _evalsuite("results", "list", "--db", str(db))
    assert "word_perplexity" in _evalsuite("results", "show", "1", "--db", str(db))
    exports = {fmt: _evalsuite("results", "export", "--format", fmt, "--db", str(db)) for fmt in ("md", "json", "csv")}
    json.loads(exports["json"])
    for fmt, text in exports.items():
        assert all(word in text for word in ("demo/pico-s", "pubmedqa", "perplexity", "acc")), fmt


def _jsonl_rows(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def test_run_header_says_what_will_run_before_the_model_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shots as the run uses them (perplexity's config fixes 0 despite --num-fewshot 2), documents
    after --limit out of the files' own line counts, and where the documents come from."""
    monkeypatch.chdir(tmp_path)  # paths under the repository are then shown absolute
    db = tmp_path / "r.db"
    result = runner.invoke(app, ["run", "--model", "demo/pico-s", "--tasks", "pubmedqa,perplexity", "--num-fewshot", "2", "--limit", "1", "--db", str(db)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    data = REPO / "tasks" / "data"
    pubmedqa, wikitext = data / "pubmedqa" / "test.jsonl", data / "wikitext2" / "test_first8_articles.jsonl"
    lines = result.stderr.splitlines()
    start = lines.index("will run 2 tasks on demo/pico-s:")
    assert lines[start + 1 : start + 3] == [
        f"  pubmedqa: 2-shot, 1 of {_jsonl_rows(pubmedqa)} documents, from shipped file {pubmedqa}",
        f"  perplexity: 0-shot, 1 of {_jsonl_rows(wikitext)} documents, from shipped file {wikitext}",
    ]
    assert start < next(i for i, line in enumerate(lines) if line.startswith("run 1:"))  # before the model loads
    stored = dict(sqlite3.connect(db).execute("SELECT DISTINCT task, n_shot FROM metric").fetchall())
    assert stored == {"pubmedqa": 2, "perplexity": 0}
    # The footer: 3 answer choices of one PubMedQA question + 1 WikiText article, and how to read them back.
    assert lines[-1] == f"run 1 complete: 4 requests computed, 0 from cache; stored in {db} (evalsuite results show 1 --db {db})"


def test_run_header_names_a_text_file_task_as_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a file in the working directory is shown as typed
    notes = tmp_path / "my notes [draft].txt"  # brackets: printed as text, not read as rich markup
    notes.write_text("A short note about foxes.\n\nAnd a second paragraph about dogs.\n", encoding="utf-8")
    result = runner.invoke(app, ["run", "--model", "demo/pico-s", "--text-file", notes.name, "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    lines = result.stderr.splitlines()
    start = lines.index("will run 1 task on demo/pico-s:")
    assert lines[start + 1] == f"  {notes.name} (perplexity of --text-file): 0-shot, all 1 document, from your file {notes.name}"


def test_run_outside_a_git_checkout_prints_no_git_errors(tmp_path: Path) -> None:
    """lm-eval asks git for a commit hash after every task; outside a checkout git said `fatal:` each time."""
    workdir = tmp_path / "not-a-checkout"
    workdir.mkdir()
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path), "OMP_NUM_THREADS": "1"}  # git may not look above
    if shutil.which("git"):  # (without git there is nothing to complain; the run must still be quiet)
        probe = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=workdir, env=env, capture_output=True, text=True)
        assert probe.returncode != 0 and "fatal: not a git repository" in probe.stderr  # the setting the bug needs
    command = [sys.executable, "-m", "evalsuite.cli.app", "run", "--model", "demo/pico-s", "--tasks", "pubmedqa,arc_easy_200",
               "--limit", "2", "--db", str(tmp_path / "r.db"), "--output", str(tmp_path / "out.json")]  # fmt: skip
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "fatal:" not in done.stderr + done.stdout
    assert json.loads((tmp_path / "out.json").read_text())["git_hash"] is None  # what lm-eval records outside a checkout
