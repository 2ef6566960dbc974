"""`evalsuite run --tasks mt_bench --judge J` end to end, on real tiny models and a loopback judge.

* demo/pico-s answers, demo/pico-judge judges (both real; the judge in-process and through
  vLLM): the demo judge writes "Rating: [[N]]", the run completes, and its stored scores
  equal the mean of the ratings recomputed here from the stored judgments.
* demo/pico-s answers, a loopback OpenAI-compatible stand-in judges (``--judge-backend
  openai``): the plumbing. The stand-in records what it is sent (FastChat's system and
  user prompts, rebuilt here from FastChat's raw files) and answers with ratings the test
  chooses, one of them missing; stored scores equal the mean of what it sent.
* a second judge makes a second board column; bad input is refused before anything is stored.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from judge_stand_in import JudgeStandIn, judge_server
from typer.testing import CliRunner

from evalsuite.board import rules as board
from evalsuite.cli.app import app
from evalsuite.store import leaderboard_queries
from evalsuite.store.db import open_database

cli = CliRunner()
REPO_ROOT = Path(__file__).resolve().parents[2]
LIMIT = 3
FAST = ["--gen-kwarg", "max_gen_toks=16"]  # short answers keep the tiny model's generation quick
MULTI_TURN_MARK = "<|The Start of Assistant A's Conversation with User|>"
UNRATED_QUESTION = "Draft a professional email"  # the stand-in gives no rating to turn 1 of question 82


def _run(db: Path, *args: str) -> Any:
    return cli.invoke(app, ["run", "--model", "demo/pico-s", "--tasks", "mt_bench", "--limit", str(LIMIT), "--db", str(db), *FAST, *args])


def _rows(db: Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        return connection.execute(sql, params).fetchall()


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    return lines[0]


# ----------------------------------------------------------------- a real demo judge


DEMO_LIMIT = 3
# As a user runs it: pico-s's full-length answers (up to 1024 new tokens), the judge's default budget.
DEMO_JUDGE_ARGS = ["--model", "demo/pico-s", "--tasks", "mt_bench", "--judge", "demo/pico-judge", "--limit", str(DEMO_LIMIT)]
# FastChat's single-answer rule, written out here: the first [[n]], else the first [n].
OWN_RATING, OWN_RATING_FALLBACK = re.compile(r"\[\[(\d+(?:\.\d*)?)\]\]"), re.compile(r"\[(\d+(?:\.\d*)?)\]")


@dataclass
class DemoJudgeRuns:
    db: Path
    transformers: Any  # CliRunner result
    vllm: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def demo_judge_runs(tmp_path_factory: pytest.TempPathFactory) -> DemoJudgeRuns:
    """The same MT-Bench run judged by demo/pico-judge in-process (transformers) and through vLLM (a subprocess:
    its workers spawn), on one database: the model's answers are computed once, each judge's judgments apart."""
    db = tmp_path_factory.mktemp("demo-judge") / "pico.db"
    in_process = cli.invoke(app, ["run", *DEMO_JUDGE_ARGS, "--db", str(db)])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "VLLM_LOGGING_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "evalsuite.cli.app", "run", *DEMO_JUDGE_ARGS, "--judge-backend", "vllm", "--db", str(db)]
    served = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    return DemoJudgeRuns(db, in_process, served)


def _judge_outputs(db: Path, judge_identity_key: str) -> list[str]:
    return sorted(json.loads(row["response"])[0] for row in _rows(db, "SELECT response FROM request_cache WHERE model_key = ?", judge_identity_key))


def _own_rating(text: str) -> float | None:
    match = OWN_RATING.search(text) or OWN_RATING_FALLBACK.search(text)
    return float(match.group(1)) if match else None


def test_demo_judge_rates_pico_s_and_the_run_stores_the_mean_of_its_ratings(demo_judge_runs: DemoJudgeRuns) -> None:
    """demo/pico-judge answers FastChat's single-answer prompts with 'Rating: [[N]]': the run completes, and every
    stored figure is recomputed here from the stored judgments (the judge's raw texts, this file's own regex)."""
    db, result = demo_judge_runs.db, demo_judge_runs.transformers
    assert result.exit_code == 0, result.output
    run = _rows(db, "SELECT id, status, config FROM run ORDER BY id")[0]
    assert run["status"] == "complete"
    samples = _rows(db, "SELECT filter, responses, metrics FROM sample WHERE run_id = ? AND task = 'mt_bench'", run["id"])
    judged = [(int(s["filter"][-1]), json.loads(s["responses"])[0]) for s in samples if not json.loads(s["metrics"])["too_long"]]
    too_long = 2 * DEMO_LIMIT - len(judged)
    ratings = [(turn, _own_rating(text)) for turn, text in judged]
    assert [json.loads(s["metrics"])["rating"] for s in samples if not json.loads(s["metrics"])["too_long"]] == [r for _, r in ratings]
    rated = [r for _, r in ratings if r is not None]
    turn1, turn2 = ([r for t, r in ratings if t == turn and r is not None] for turn in (1, 2))
    no_rating = len(ratings) - len(rated)
    assert len(judged) >= DEMO_LIMIT and no_rating <= 1, judged  # nearly every judgment fits and carries a rating
    assert all(1 <= r <= 10 for r in rated)
    stored = {row["metric"]: row["value"] for row in _rows(db, "SELECT metric, value FROM metric WHERE run_id = ?", run["id"])}
    assert stored["score"] == pytest.approx(statistics.mean(rated))
    if turn1:
        assert stored["score_turn1"] == pytest.approx(statistics.mean(turn1))
    if turn2:
        assert stored["score_turn2"] == pytest.approx(statistics.mean(turn2))
    assert (stored["judgments"], stored["no_rating"], stored["too_long"]) == (len(judged), no_rating, too_long)
    # The CLI shows the failed extractions (and the too-long turns) next to the score.
    assert f"from {len(rated)} rated judgments; {no_rating} without a rating (not scored); {too_long} turn(s) too long" in result.output
    assert re.search(rf"mt_bench\s+│\s+no_rating\s+│\s+none\s+│\s+{no_rating}\.0000", result.output), result.output
    # The cache holds what the judge really said: the stored judgments, most of them FastChat's format exactly.
    said = _judge_outputs(db, json.loads(run["config"])["judge_identity_key"])
    assert said == sorted(text for _, text in judged)
    assert sum(re.fullmatch(r"Rating: \[\[\d+(\.\d+)?\]\]", text) is not None for text in said) > len(said) // 2, said


def test_vllm_judge_gives_the_same_greedy_judgments(demo_judge_runs: DemoJudgeRuns) -> None:
    """--judge-backend vllm: the same judge texts as the transformers backend's, so the same score."""
    served = demo_judge_runs.vllm
    assert served.returncode == 0, served.stderr[-3000:]
    runs = _rows(demo_judge_runs.db, "SELECT id, config, requests_computed, requests_cached FROM run ORDER BY id")
    assert len(runs) == 2  # another judge: another run, never a resumed one
    keys = [json.loads(run["config"])["judge_identity_key"] for run in runs]
    assert keys[0] != keys[1]
    assert _judge_outputs(demo_judge_runs.db, keys[1]) == _judge_outputs(demo_judge_runs.db, keys[0])
    judged = len(_judge_outputs(demo_judge_runs.db, keys[0]))
    assert (runs[1]["requests_computed"], runs[1]["requests_cached"]) == (judged, 2 * DEMO_LIMIT)  # judgments new, answers cached
    model_keys = {row["model_key"] for row in _rows(demo_judge_runs.db, "SELECT model_key FROM request_cache")} - set(keys)
    assert len(model_keys) == 1  # one model identity answered, for both judges
    scores = [_rows(demo_judge_runs.db, "SELECT value FROM metric WHERE run_id = ? AND metric = 'score'", run["id"])[0]["value"] for run in runs]
    assert scores[0] == pytest.approx(scores[1])


# ----------------------------------------------------------------- a loopback judge


@dataclass
class JudgedRun:
    db: Path
    judge: JudgeStandIn
    output: str
    exit_code: int
    sent: list[tuple[int, float | None, str]]  # (turn, rating sent or None, user prompt)
    second: JudgeStandIn  # the same served name on another port: another judge identity
    second_output: str
    second_exit_code: int


def _rater(sent: list[tuple[int, float | None, str]]) -> Any:
    def rate(messages: list[dict[str, str]]) -> str:
        user = messages[-1]["content"]
        turn = 2 if user.startswith(MULTI_TURN_MARK) else 1
        if turn == 1 and UNRATED_QUESTION in user:
            sent.append((turn, None, user))
            return "I cannot decide on this one."
        rating = float(len(user) % 9 + 1)  # 1..9, fixed by the prompt
        sent.append((turn, rating, user))
        return f"A short explanation.\n\nRating: [[{int(rating)}]]"

    return rate


@pytest.fixture(scope="module")
def judged_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JudgedRun]:
    db = tmp_path_factory.mktemp("judged") / "mt.db"
    sent: list[tuple[int, float | None, str]] = []
    with judge_server(_rater(sent)) as judge, judge_server(_rater([])) as second:
        result = _run(db, "--judge", judge.served, "--judge-backend", "openai", "--judge-base-url", judge.url, "--output", str(db.with_suffix(".json")))
        again = _run(db, "--judge", second.served, "--judge-backend", "openai", "--judge-base-url", second.url)
        yield JudgedRun(db, judge, result.output, result.exit_code, sent, second, again.output, again.exit_code)


def test_endpoint_judge_run_stores_the_mean_of_the_ratings_it_was_sent(judged_run: JudgedRun) -> None:
    assert judged_run.exit_code == 0, judged_run.output
    turn1 = [rating for turn, rating, _ in judged_run.sent if turn == 1 and rating is not None]
    turn2 = [rating for turn, rating, _ in judged_run.sent if turn == 2 and rating is not None]
    assert (len(turn1), len(turn2)) == (LIMIT - 1, LIMIT)
    first_run = _rows(judged_run.db, "SELECT min(id) AS id FROM run")[0]["id"]
    stored = {row["metric"]: row for row in _rows(judged_run.db, "SELECT * FROM metric WHERE task = 'mt_bench' AND run_id = ?", first_run)}
    assert stored["score_turn1"]["value"] == pytest.approx(statistics.mean(turn1))
    assert stored["score_turn2"]["value"] == pytest.approx(statistics.mean(turn2))
    assert stored["score"]["value"] == pytest.approx(statistics.mean(turn1 + turn2))
    assert stored["score"]["stderr"] == pytest.approx(statistics.stdev(turn1 + turn2) / len(turn1 + turn2) ** 0.5)
    assert (stored["no_rating"]["value"], stored["judgments"]["value"], stored["too_long"]["value"]) == (1, 2 * LIMIT, 0)
    assert stored["no_rating"]["higher_is_better"] is None  # a tally, not a score
    assert {row["n_samples"] for row in stored.values()} == {LIMIT} and {row["n_total_docs"] for row in stored.values()} == {80}
    assert all(row["task_version"] == "1.0" for row in stored.values())
    written = json.loads(judged_run.db.with_suffix(".json").read_text())  # --output: lm-eval's results layout
    assert written["results"]["mt_bench"]["score,none"] == stored["score"]["value"]
    assert written["n-samples"]["mt_bench"] == {"original": 80, "effective": LIMIT}
    assert written["configs"]["mt_bench"]["judge"] == json.loads(_rows(judged_run.db, "SELECT config FROM run WHERE id = ?", first_run)[0]["config"])["judge_label"]


def test_failed_extractions_are_shown_by_the_cli(judged_run: JudgedRun) -> None:
    assert f"from {2 * LIMIT - 1} rated judgments; 1 without a rating (not scored)" in judged_run.output
    assert re.search(r"mt_bench\s+│\s+no_rating\s+│\s+none\s+│\s+1\.0000", judged_run.output), judged_run.output  # a count: no direction


def test_every_judgment_is_a_sample_with_prompt_output_and_rating(judged_run: JudgedRun) -> None:
    samples = _rows(judged_run.db, "SELECT * FROM sample WHERE task = 'mt_bench' ORDER BY filter, doc_id")
    answered = {request["messages"][-1]["content"]: text for request, text in zip(judged_run.judge.requests, judged_run.judge.answers)}
    first_run = _rows(judged_run.db, "SELECT min(id) AS id FROM run")[0]["id"]
    samples = [sample for sample in samples if sample["run_id"] == first_run]
    assert len(samples) == 2 * LIMIT
    for sample in samples:
        metrics = json.loads(sample["metrics"])
        output = json.loads(sample["responses"])[0]
        assert answered[sample["prompt"]] == output  # the judge's answer to exactly this prompt
        assert metrics["rating"] == (None if "Rating: [[" not in output else float(output.rsplit("[[", 1)[1].split("]]")[0]))
    assert [json.loads(s["metrics"])["rating"] is None for s in samples].count(True) == 1


def test_endpoint_judge_is_sent_fastchats_prompts(judged_run: JudgedRun, shared_data: Path) -> None:
    """System and user prompts rebuilt from FastChat's raw files and the model's stored answers; greedy, 2048 tokens."""
    source = shared_data / "mt_bench"
    prompts = {row["name"]: row for row in map(json.loads, (source / "judge_prompts.jsonl").read_text().splitlines())}
    questions = [json.loads(line) for line in (source / "question.jsonl").read_text().splitlines()][:LIMIT]
    answers: dict[tuple[int, str], str] = {
        (row["doc_id"], row["filter"]): json.loads(row["metrics"])["answer"]
        for row in _rows(judged_run.db, "SELECT doc_id, filter, metrics FROM sample WHERE task = 'mt_bench'")
    }
    expected = []
    for q in questions:
        a1, a2 = answers[(q["question_id"], "turn1")], answers[(q["question_id"], "turn2")]
        one, multi = prompts["single-v1"], prompts["single-v1-multi-turn"]  # the first questions are writing: no references
        expected.append([{"role": "system", "content": one["system_prompt"]},
                         {"role": "user", "content": one["prompt_template"].format(question=q["turns"][0], answer=a1)}])
        expected.append([{"role": "system", "content": multi["system_prompt"]},
                         {"role": "user", "content": multi["prompt_template"].format(
                             question_1=q["turns"][0], question_2=q["turns"][1], answer_1=a1, answer_2=a2)}])
    sent = [request["messages"] for request in judged_run.judge.requests]
    assert sorted(map(json.dumps, sent)) == sorted(map(json.dumps, expected))
    for request in judged_run.judge.requests:
        assert (request["model"], request["temperature"], request["max_tokens"]) == (judged_run.judge.served, 0, 2048)


def test_a_second_judge_grades_the_cached_answers(judged_run: JudgedRun) -> None:
    """Another judge endpoint is asked every judgment again; the model's answers come from the cache."""
    assert judged_run.second_exit_code == 0, judged_run.second_output
    assert len(judged_run.second.requests) == len(judged_run.judge.requests) == 2 * LIMIT
    assert f": {2 * LIMIT} requests computed, {2 * LIMIT} from cache" in judged_run.second_output
    answers = _rows(judged_run.db, "SELECT run_id, doc_id, filter, metrics FROM sample ORDER BY run_id, filter, doc_id")
    first, second = (
        [(row["doc_id"], row["filter"], json.loads(row["metrics"])["answer"]) for row in answers if row["run_id"] == run]
        for run in sorted({row["run_id"] for row in answers})
    )
    assert first == second


def test_two_judges_never_share_a_board_column(judged_run: JudgedRun) -> None:
    """One model judged by two endpoints: two score columns, each keyed by its judge."""
    with open_database(judged_run.db, create=False) as database:
        cells = list(leaderboard_queries.leaderboard_cells(database))
    view = board.all_tasks_view([cell for cell in cells if cell.task == "mt_bench"])
    columns = [column for column in view.columns if column.metric == "score"]
    assert len(columns) == 2, [c.label for c in view.columns]
    judges = {re.search(r"(?:^|· )judge (.+)$", key.scoring).group(1) for column in columns for key in column.keys if key.scoring}  # type: ignore[union-attr]
    labels = {json.loads(row["config"])["judge_label"] for row in _rows(judged_run.db, "SELECT config FROM run WHERE status = 'complete'")}
    assert judges == labels and len(labels) == 2


def test_counts_are_stored_without_a_direction_and_never_become_board_columns(judged_run: JudgedRun) -> None:
    """judgments / no_rating / too_long are tallies, not scores: no arrow in the run's table, no board column."""
    counts = ("judgments", "no_rating", "too_long")
    stored = _rows(judged_run.db, "SELECT metric, higher_is_better FROM metric WHERE task = 'mt_bench'")
    assert {row["metric"]: row["higher_is_better"] for row in stored if row["metric"] in counts} == dict.fromkeys(counts)
    table = [line for line in judged_run.output.splitlines() if line.startswith("│") and any(f" {name} " in line for name in counts)]
    assert len(table) == 3 and not any("↑" in line or "↓" in line for line in table), table
    with open_database(judged_run.db, create=False) as database:
        cells = list(leaderboard_queries.leaderboard_cells(database))
    metrics = {column.metric for column in board.all_tasks_view(cells).columns}
    assert metrics == {"score", "score_turn1", "score_turn2"}


# ----------------------------------------------------------------- bad input


def _no_runs(db: Path) -> bool:
    return not db.exists() or _rows(db, "SELECT count(*) AS n FROM run")[0]["n"] == 0


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        ([], "error: --tasks mt_bench needs a judge", "hint: add --judge MODEL"),
        (["--judge", "demo/pico-judge", "--tasks", "mt_bench,pubmedqa"], "error: --judge grades judged tasks only (mt_bench), not pubmedqa", "hint: run judged tasks alone"),
        (["--judge", "demo/pico-judge", "--gen-kwarg", "temperature=0.5"], "error: --gen-kwarg temperature cannot be set for mt_bench", "hint: drop it"),
        (["--judge", "demo/no-such-judge"], "error: judge: unknown demo model 'demo/no-such-judge'", "hint: shipped demo models:"),
        (["--judge", "demo/pico-judge", "--judge-max-tokens", "0"], "error: --judge-max-tokens must be 1 or more, got 0", "hint:"),
    ],
)
def test_bad_judge_input_is_one_line_and_stores_nothing(tmp_path: Path, args: list[str], message: str, hint: str) -> None:
    db = tmp_path / "bad.db"
    base = ["run", "--model", "demo/pico-s", "--tasks", "mt_bench", "--db", str(db)]
    if "--tasks" in args:
        base = base[:3] + base[5:]
    result = cli.invoke(app, [*base, *args])
    assert result.exit_code == 1
    line = _one_error_line(result.output)
    assert line.startswith(message) and hint in line, line
    assert _no_runs(db)


def test_judge_without_tasks_to_judge_is_refused(tmp_path: Path) -> None:
    result = cli.invoke(app, ["run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--judge", "demo/pico-judge", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert _one_error_line(result.output).startswith("error: --judge grades judged tasks only (mt_bench), not pubmedqa")


def test_unreachable_judge_endpoint_fails_before_anything_is_stored(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again at once: nothing listens there
    db = tmp_path / "down.db"
    result = _run(db, "--judge", "gpt-judge", "--judge-backend", "openai", "--judge-base-url", f"http://127.0.0.1:{port}/v1")
    assert result.exit_code == 1
    assert f"127.0.0.1:{port}" in _one_error_line(result.output)
    assert _no_runs(db)


def test_model_without_chat_template_is_refused(tmp_path: Path, tiny_llama: Path) -> None:
    db = tmp_path / "plain.db"
    result = cli.invoke(app, ["run", "--model", str(tiny_llama), "--tasks", "mt_bench", "--judge", "demo/pico-judge", "--db", str(db)])
    assert result.exit_code == 1
    line = _one_error_line(result.output)
    assert line.startswith(f"error: the model {tiny_llama} has no chat template, which MT-Bench needs") and "hint: use a chat (instruct) model" in line
    assert _no_runs(db)


def test_dry_run_counts_answers_and_judgments(tmp_path: Path) -> None:
    result = cli.invoke(app, ["run", "--model", "demo/pico-s", "--tasks", "mt_bench", "--judge", "demo/pico-judge", "--limit", "5", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert re.search(r"mt_bench \(answers\)\s+│\s+10", result.output) and re.search(r"mt_bench \(judgments\)\s+│\s+10", result.output)
    assert "mt_bench: 0-shot, 5 of 80 documents" in result.output


def test_endpoint_judge_with_a_known_tokenizer_gets_the_room_its_window_leaves(tmp_path: Path) -> None:
    """A served model whose /v1/models names its folder (vLLM's ``root``) and a 1200-token window:
    each judgment asks for the tokens left after its prompt (measured here with that model's chat template), not 2048."""
    from transformers import AutoTokenizer

    from evalsuite.identity.models import resolve_model

    folder = resolve_model("demo/pico-judge").path
    with judge_server(lambda _messages: "Rating: [[5]]", served="pico-judge", root=str(folder), max_model_len=1200) as judge:
        result = cli.invoke(app, [
            "run", "--model", "demo/pico-s", "--tasks", "mt_bench", "--limit", "1", "--db", str(tmp_path / "room.db"), *FAST,
            "--judge", judge.served, "--judge-backend", "openai", "--judge-base-url", judge.url,
        ])
    assert result.exit_code == 0, result.output
    tokenizer = AutoTokenizer.from_pretrained(folder)
    window = 1200 - 2  # the endpoint backend's rule: the server's max_model_len less two
    for request in judge.requests:
        text = tokenizer.apply_chat_template(request["messages"], add_generation_prompt=True, tokenize=False)
        assert request["max_tokens"] == window - len(tokenizer.encode(text, add_special_tokens=False))
    assert len(judge.requests) == 2


def test_judge_failing_mid_run_leaves_a_failed_run_that_resumes_from_the_cache(tmp_path: Path) -> None:
    """The judge endpoint answers 500: the run fails in one line, nothing is stored as complete; the same
    command later resumes that run, answers come from the cache and only the judgments are computed."""
    healthy = {"up": False}

    def rate(_messages: list[dict[str, str]]) -> str:
        if not healthy["up"]:
            raise RuntimeError("judge overloaded")
        return "Rating: [[6]]"

    db = tmp_path / "resume.db"
    with judge_server(rate) as judge:
        args = ["--limit", "1", "--judge", judge.served, "--judge-backend", "openai", "--judge-base-url", judge.url, "--judge-arg", "max_retries=0"]
        failed = _run(db, *args)
        assert failed.exit_code == 1
        assert "500" in _one_error_line(failed.output)
        assert [row["status"] for row in _rows(db, "SELECT status FROM run")] == ["failed"]
        assert _rows(db, "SELECT * FROM metric") == []
        healthy["up"] = True
        resumed = _run(db, *args)
    assert resumed.exit_code == 0, resumed.output
    (run,) = _rows(db, "SELECT id, status, requests_computed, requests_cached FROM run")
    assert (run["status"], run["requests_computed"], run["requests_cached"]) == ("complete", 2, 2)  # 2 judgments new, 2 answers cached
    assert len(_rows(db, "SELECT * FROM run_attempt WHERE run_id = ?", run["id"])) == 2
    assert _rows(db, "SELECT value FROM metric WHERE metric = 'score'")[0]["value"] == 6.0


def test_tasks_command_lists_mt_bench_as_a_judged_task() -> None:
    result = cli.invoke(app, ["tasks"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("│ mt_bench "))
    assert "judged task" in row and "score" in row


def test_turn_two_is_asked_after_turn_one_with_fastchats_sampling(judged_run: JudgedRun, shared_data: Path) -> None:
    """The model's cached requests are exactly: turn 1 alone, then turn 1's question and stored answer and turn 2,
    through pico-s's chat template, sampled at writing's 0.7 with the 16 new tokens asked for."""
    from transformers import AutoTokenizer

    from evalsuite.backends.cache import request_key
    from evalsuite.identity.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("demo/pico-s").path)
    first_run = _rows(judged_run.db, "SELECT min(id) AS id FROM run")[0]["id"]
    namespace = _rows(judged_run.db, "SELECT i.key FROM run r JOIN model_identity i ON i.id = r.identity_id WHERE r.id = ?", first_run)[0]["key"]
    cached = {row["key"] for row in _rows(judged_run.db, "SELECT key FROM request_cache WHERE model_key = ?", namespace)}
    answers = {(row["doc_id"], row["filter"]): json.loads(row["metrics"])["answer"]
               for row in _rows(judged_run.db, "SELECT doc_id, filter, metrics FROM sample WHERE run_id = ?", first_run)}
    settings = {"until": [], "max_gen_toks": 16, "do_sample": True, "temperature": 0.7}  # FastChat: writing samples at 0.7
    expected = set()
    for question in [json.loads(line) for line in (shared_data / "mt_bench" / "question.jsonl").read_text().splitlines()][:LIMIT]:
        assert question["category"] == "writing"
        turn1 = [{"role": "user", "content": question["turns"][0]}]
        turn2 = [*turn1, {"role": "assistant", "content": answers[(question["question_id"], "turn1")]}, {"role": "user", "content": question["turns"][1]}]
        for messages in (turn1, turn2):
            context = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            expected.add(request_key(namespace, "generate_until", (context, settings)))
    assert cached == expected
