"""What the CLI says when things go wrong or need saying (issue 20: item 6 and the message items).

Each test asserts the exact new line, against a real database, real tiny models and the real CLI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.identity.models import DEMO_MODELS_DIR

runner = CliRunner()


def _runs(db: Path) -> list[tuple[str, str | None]]:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT status, error FROM run ORDER BY id").fetchall()


def test_config_that_does_not_match_the_weights_is_a_user_error_stored_as_failed(tmp_path: Path) -> None:
    """A copy of a model whose config.json says hidden_size 2x: one error line naming a tensor, the run failed."""
    model = tmp_path / "pico-doubled"
    shutil.copytree(DEMO_MODELS_DIR / "pico-s", model)
    config = json.loads((model / "config.json").read_text())
    hidden = config["hidden_size"]
    config["hidden_size"] = 2 * hidden
    (model / "config.json").write_text(json.dumps(config))
    db = tmp_path / "r.db"
    result = runner.invoke(app, ["run", "--model", str(model), "--tasks", "pubmedqa", "--limit", "1", "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    vocab = config["vocab_size"]
    expected = (
        f"the config.json of {str(model)!r} does not match its weights: "
        f"model.embed_tokens.weight is [{vocab}, {hidden}] "
        f"in the weights but [{vocab}, {2 * hidden}] by the config"
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines == [f"error: {expected} — hint: use the config.json saved with these weights (hidden_size, layer, head and vocabulary counts set every tensor's shape)"]
    [(status, error)] = _runs(db)
    assert status == "failed" and error is not None and error.startswith(expected)


def test_a_value_of_the_wrong_type_is_one_error_line_exit_1(tmp_path: Path) -> None:
    """`--limit 1.5` was Typer's boxed message with exit 2; now the one line every refusal uses, exit 1."""
    result = runner.invoke(app, ["run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "1.5", "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 1, result.output
    assert result.stderr == "error: invalid value for --limit '1.5': input should be a valid integer — hint: see `evalsuite run --help` for the values --limit takes\n"
    assert not (tmp_path / "r.db").exists()


def test_an_unknown_option_of_a_nested_command_is_one_error_line() -> None:
    result = runner.invoke(app, ["arena", "ratings", "--include-judge"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: No such option: --include-judge") and result.stderr.endswith("— hint: see `evalsuite arena ratings --help`\n")
    assert "╭" not in result.output


def test_version() -> None:
    from importlib import metadata

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"evalsuite {metadata.version('evalsuite')}\n"


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`evalsuite` in its own process (a kill -9 must not take the test with it); this checkout's code first."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EVALSUITE_FAULT")}
    environment.update(PYTHONPATH=str(Path(__file__).resolve().parents[1]), **env)
    return subprocess.run([sys.executable, "-m", "evalsuite.cli.app", *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=300)


def test_rerun_after_kill_9_says_why_it_starts_a_new_run_then_resumes_once_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    args = ["run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "2", "--db", str(db)]
    killed = _cli(args, tmp_path, EVALSUITE_FAULT_AT="task_started", EVALSUITE_FAULT_KIND="kill")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with sqlite3.connect(db) as connection:
        host, pid = connection.execute("SELECT host, pid FROM run WHERE id = 1").fetchone()

    rerun = _cli(args, tmp_path)  # at once: run 1's heartbeat is seconds old, the default timeout is 180 s
    assert rerun.returncode == 0, rerun.stderr
    pattern = (
        rf"run 1 has this configuration and is still marked running on {re.escape(host)} \(pid {pid}\); "
        r"its last heartbeat is (\d+) s old and a run is taken over only after 180 s without one, so this is a new run\. "
        r"If that process is gone \(kill -9\), stop this one and resume run 1 with `--resume 1` once "
        r"`evalsuite results list` shows it interrupted\n"
    )
    found = re.search(pattern, rerun.stderr)
    assert found is not None and int(found[1]) < 180, rerun.stderr
    assert "run 2 complete" in rerun.stderr

    # A short heartbeat timeout: run 1 now counts as interrupted and the same command takes it over.
    resumed = _cli(args, tmp_path, EVALSUITE_HEARTBEAT_S="0.5", EVALSUITE_HEARTBEAT_TIMEOUT_S="1")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming run 1 (attempt 2): finished requests come from the cache\n" in resumed.stderr
    assert "run 1 complete" in resumed.stderr and "still marked running" not in resumed.stderr


def test_resume_with_another_limit_says_what_differs(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    first = runner.invoke(app, ["run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "1", "--db", str(db)])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "2", "--num-fewshot", "0", "--db", str(db), "--resume", "1"])
    assert again.exit_code == 1, again.output
    assert again.stderr.splitlines()[-1] == (
        "error: run 1 was made with other options: --limit 1 then, 2 now; --num-fewshot unset then, 0 now"
        " — hint: repeat the original command with --resume, or start a new run without it"
    )


def _lm_eval_yaml(relative: str) -> dict:
    """A task YAML of the installed lm-eval, its includes merged (read here, independently of evalsuite's index)."""
    import lm_eval.tasks
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))
    path = Path(lm_eval.tasks.__file__).parent / relative
    config = yaml.load(path.read_text(), Loader=Loader)
    include = config.pop("include", None)
    return {**(_lm_eval_yaml(str(Path(relative).parent / include)) if include else {}), **config}


def test_tasks_lists_kind_and_metrics_of_lm_eval_tasks_and_groups_without_an_index(tmp_path: Path, monkeypatch) -> None:
    """A fresh clone (no lm-eval index cached) showed blank output and metrics for these tasks, and mmlu as a task."""
    monkeypatch.setenv("EVALSUITE_CACHE", str(tmp_path / "no-cache-yet"))
    result = runner.invoke(app, ["tasks"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    rows = {cells[0]: cells[1:4] for line in result.stdout.splitlines() if (cells := [c.strip() for c in line.strip("│ ").split("│")]) and len(cells) >= 4}
    files = {
        "hellaswag": "hellaswag/hellaswag.yaml", "arc_challenge": "arc/arc_challenge.yaml", "gsm8k": "gsm8k/gsm8k.yaml",
        "winogrande": "winogrande/default.yaml", "truthfulqa_mc2": "truthfulqa/truthfulqa_mc2.yaml",
    }  # fmt: skip
    for name, relative in files.items():
        config = _lm_eval_yaml(relative)
        assert rows[name] == ["task", config["output_type"], ", ".join(m["metric"] for m in config["metric_list"])], (name, rows[name])
    leaf = _lm_eval_yaml("mmlu/default/_default_template_yaml")  # every mmlu subject includes it
    group = _lm_eval_yaml("mmlu/default/_mmlu.yaml")
    assert rows["mmlu"] == ["group", leaf["output_type"], ", ".join(m["metric"] for m in group["aggregate_metric_list"])]


def test_ctrl_c_in_results_export_does_not_talk_about_resuming_a_run(tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C lands while the export is rendered (raised where the signal would land: no run is involved)."""
    from evalsuite.formats import export
    from evalsuite.store.db import open_database

    db = tmp_path / "r.db"
    open_database(db).close()

    def interrupted(*_args: object, **_kwargs: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "render", interrupted)
    result = runner.invoke(app, ["results", "export", "--db", str(db)])
    assert result.exit_code == 130
    assert result.stderr == "interrupted — the command stopped before it finished; nothing was half-written: run it again\n"


def test_results_show_names_no_cache_sources_for_a_run_that_used_no_cached_answer(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    base = ["run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "1", "--db", str(db)]
    other_task = ["run", "--model", "demo/pico-s", "--tasks", "arc_easy_200", "--limit", "1", "--db", str(db)]
    for args in (base, other_task, base):  # run 2: same model identity, other requests (none cached); run 3 reuses run 1's
        assert runner.invoke(app, args).exit_code == 0
    fresh = runner.invoke(app, ["results", "show", "2", "--db", str(db)])
    assert "0 from cache" in fresh.stdout and "cached answers" not in fresh.stdout, fresh.stdout
    reused = runner.invoke(app, ["results", "show", "3", "--db", str(db)])
    assert "requests: 0 computed, 3 from cache" in reused.stdout, reused.stdout
    assert "cached answers for this model identity from earlier runs — run 1: 3" in reused.stdout, reused.stdout


def test_an_empty_database_file_is_named_as_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    result = runner.invoke(app, ["results", "list", "--db", str(empty)])
    assert result.exit_code == 1
    assert result.stderr == f"error: the database file {empty} is empty (0 bytes): it holds no runs yet — hint: check --db (or EVALSUITE_DB); `evalsuite run` creates a new database\n"


def test_leaderboard_on_a_busy_port_says_so(tmp_path: Path) -> None:
    import socket

    from evalsuite.store.db import open_database

    db = tmp_path / "r.db"
    open_database(db).close()
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        done = _cli(["leaderboard", "--db", str(db), "--host", "127.0.0.1", "--port", str(port)], tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        f"error: port {port} on 127.0.0.1 is already in use by another program — hint: pass --port with a free port "
        f"(e.g. --port {port + 1}), or stop the program that holds {port}\n"
    )


def test_too_many_shots_names_num_fewshot_not_the_templates(tmp_path: Path) -> None:
    """pubmedqa draws its examples from the 20-row train_fewshot.jsonl (counted here from the file)."""
    from evalsuite.tasks.index import TASKS_ROOT

    pool = len((TASKS_ROOT / "data" / "pubmedqa" / "train_fewshot.jsonl").read_text().splitlines())
    args = ["run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "1", "--dry-run", "--db", str(tmp_path / "r.db")]
    refused = runner.invoke(app, [*args, "--num-fewshot", "100000"])
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[-1] == (
        f"error: --num-fewshot 100000 asks for more examples than task 'pubmedqa' has to draw few-shot examples from ({pool})"
        f" — hint: pass --num-fewshot {pool} or fewer"
    )
    assert runner.invoke(app, [*args, "--num-fewshot", str(pool)]).exit_code == 0


def test_rescore_after_the_text_file_changed_names_the_file_not_the_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = Path("mine.txt")
    original = "The quick brown fox jumps over the lazy dog.\nA second line of text.\n"
    text.write_text(original)
    db = str(tmp_path / "r.db")
    assert runner.invoke(app, ["run", "--model", "demo/pico-s", "--text-file", str(text), "--db", db]).exit_code == 0
    text.write_text("Entirely different words now.\n")
    changed = runner.invoke(app, ["rescore", "1", "--db", db])
    assert changed.exit_code == 1
    assert changed.stderr.splitlines()[-1] == (
        "error: run 1 measured perplexity on --text-file mine.txt, which has changed since (its text makes other requests); "
        "1 loglikelihood_rolling requests are not in the cache — hint: put the file back as it was for run 1, "
        "or measure the new text with `evalsuite run --text-file mine.txt`"
    )
    text.write_text(original)  # the same text again: rescoring works, so the file was the whole cause
    assert runner.invoke(app, ["rescore", "1", "--db", db]).exit_code == 0
