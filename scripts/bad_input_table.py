"""Every bad input from issue 10 (items 2, 3, 4, 6), run through the real CLI, as a Markdown table.

For each input the table says what a user sees and what is left behind: the first line of the
message, the exit status, whether a traceback escaped, the seconds it took (an error after a
model load takes seconds, one before it a fraction), and what the database holds afterwards
(runs by status, or "no database created"). It prints what happens now, whatever that is: a
row that still crashes shows its traceback's exception, a row that succeeds shows exit 0.

Each input runs in its own temporary folder against a fresh database. The `results export`
rows start from a copy of a database holding one complete run (demo/pico-s, pubmedqa, 2
documents), so that they fail for the reason named and not because there is nothing to export.

Run (offline, ~1 minute on 2 cores)::

    HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python scripts/bad_input_table.py
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.identity.models import DEMO_MODELS_DIR

RUN = ["run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "2"]


@dataclass(frozen=True)
class BadInput:
    """One row: a label as a user would type it, and how to build its arguments in a folder.

    ``may_succeed`` marks inputs whose documented outcome may be success (an --output folder
    that does not exist yet is created, as `run --output` does; `MD` is the format `md`);
    every other row must fail cleanly.
    """

    label: str
    arguments: Callable[[Path, Path], list[str]]  # (folder, database) -> CLI arguments
    needs_complete_run: bool = False
    may_succeed: bool = False


@dataclass(frozen=True)
class Outcome:
    """What happened to one bad input."""

    label: str
    message: str
    exit_code: int
    traceback: bool
    seconds: float
    database: str
    may_succeed: bool


def _model_copy(folder: Path, size: Callable[[int], int]) -> Path:
    """demo/pico-s copied into ``folder`` with model.safetensors cut to ``size(original)`` bytes."""
    model = folder / "pico-s-copy"
    shutil.copytree(DEMO_MODELS_DIR / "pico-s", model)
    weights = model / "model.safetensors"
    with weights.open("r+b") as handle:
        handle.truncate(size(weights.stat().st_size))
    return model


def _under_a_file(folder: Path, name: str) -> Path:
    blocker = folder / "a-file"
    blocker.write_text("not a folder\n")
    return blocker / name


def _a_directory(folder: Path) -> Path:
    target = folder / "a-directory"
    target.mkdir()
    return target


BAD_INPUTS: tuple[BadInput, ...] = (
    BadInput("run --limit 0", lambda f, db: [*RUN[:-1], "0", "--db", str(db)]),
    BadInput("run --seed -1", lambda f, db: [*RUN, "--seed", "-1", "--db", str(db)]),
    BadInput("run --backend-arg max_length=banana", lambda f, db: [*RUN, "--backend-arg", "max_length=banana", "--db", str(db)]),
    BadInput(
        "run --tasks bleu --gen-kwarg max_gen_toks=-5",
        lambda f, db: ["run", "--model", "demo/pico-s", "--tasks", "bleu", "--limit", "2", "--gen-kwarg", "max_gen_toks=-5", "--db", str(db)],
    ),
    BadInput("run --output FILE/results.json (parent is a file)", lambda f, db: [*RUN, "--output", str(_under_a_file(f, "results.json")), "--db", str(db)]),
    BadInput("run --output DIR (a directory)", lambda f, db: [*RUN, "--output", str(_a_directory(f)), "--db", str(db)]),
    BadInput(
        "run --model COPY (model.safetensors truncated to half)",
        lambda f, db: ["run", "--model", str(_model_copy(f, lambda n: n // 2)), "--tasks", "pubmedqa", "--limit", "2", "--db", str(db)],
    ),
    BadInput(
        "run --model COPY (model.safetensors empty)",
        lambda f, db: ["run", "--model", str(_model_copy(f, lambda n: 0)), "--tasks", "pubmedqa", "--limit", "2", "--db", str(db)],
    ),
    BadInput(
        "results export --output MISSING/sub/out.csv",
        lambda f, db: ["results", "export", "--format", "csv", "--output", str(f / "missing" / "sub" / "out.csv"), "--db", str(db)],
        needs_complete_run=True,
        may_succeed=True,
    ),
    BadInput(
        "results export --output DIR (a directory)",
        lambda f, db: ["results", "export", "--format", "csv", "--output", str(_a_directory(f)), "--db", str(db)],
        needs_complete_run=True,
    ),
    BadInput("results export --run 999", lambda f, db: ["results", "export", "--run", "999", "--db", str(db)], needs_complete_run=True),
    # Format names are case-insensitive (issue 10 item 6), so `MD` is a Markdown export, not an error.
    BadInput("results export --format MD", lambda f, db: ["results", "export", "--format", "MD", "--db", str(db)], needs_complete_run=True, may_succeed=True),
    BadInput("results list --db typo.db (no such file)", lambda f, db: ["results", "list", "--db", str(f / "typo.db")]),
)


def database_state(folder: Path) -> str:
    """Runs by status in every database file the input left in ``folder``, or that none was created."""
    found = sorted(folder.glob("*.db"))
    if not found:
        return "no database created"
    states = []
    for path in found:
        try:
            with sqlite3.connect(path) as connection:
                rows = connection.execute("SELECT status, count(*) FROM run GROUP BY status ORDER BY status").fetchall()
        except sqlite3.DatabaseError as exc:
            states.append(f"{path.name}: unreadable ({exc})")
            continue
        summary = ", ".join(f"{status}: {count}" for status, count in rows) or "no runs"
        states.append(f"{path.name}: {summary}" if len(found) > 1 else summary)
    return "; ".join(states)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def run_one(bad: BadInput, folder: Path, template: Path | None) -> Outcome:
    """Invoke the CLI for ``bad`` in ``folder`` and describe what the user got.

    The message is the `error:` line when there is one (the run header comes before it),
    else the exception that escaped, else the first line printed.
    """
    db = folder / "evalsuite.db"
    if bad.needs_complete_run and template is not None:
        shutil.copy(template, db)
    arguments = bad.arguments(folder, db)
    started = time.perf_counter()
    result = CliRunner().invoke(app, arguments)
    seconds = time.perf_counter() - started
    escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
    printed = result.stderr + result.stdout
    if escaped:
        exception = result.exception
        message = f"Traceback: {type(exception).__name__}: {_first_line(str(exception))}"
    else:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        message = _first_line(errors[0] if errors else result.stderr) or _first_line(result.stdout) or "(nothing printed)"
    message = message.replace(str(folder), "…")  # the temporary folder, shortened
    return Outcome(
        label=bad.label,
        message=message,
        exit_code=result.exit_code,
        traceback=escaped or "Traceback" in printed,
        seconds=round(seconds, 2),
        database=database_state(folder),
        may_succeed=bad.may_succeed,
    )


def complete_run_database(folder: Path) -> tuple[Path | None, str]:
    """A database holding one complete run for the export rows, or None and why it failed."""
    db = folder / "template.db"
    result = CliRunner().invoke(app, [*RUN, "--db", str(db)])
    if result.exit_code == 0:
        return db, ""
    why = _first_line(next((line for line in result.stderr.splitlines() if line.startswith("error:")), ""))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        why = f"{type(result.exception).__name__}: {_first_line(str(result.exception))}"
    return None, f"note: the complete run for the export rows failed ({why}); they ran on an empty database\n\n"


def markdown(outcomes: list[Outcome]) -> str:
    """The table: input, first line of the message, exit code, traceback, seconds, database afterwards."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "| input | first line of the message | exit | traceback | seconds | database afterwards |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        lines.append(f"| `{cell(o.label)}` | {cell(o.message)} | {o.exit_code} | {'yes' if o.traceback else 'no'} | {o.seconds:.2f} | {cell(o.database)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of Markdown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evalsuite-bad-inputs-") as tmp:
        root = Path(tmp)
        template, note = complete_run_database(root)
        outcomes = []
        for number, bad in enumerate(BAD_INPUTS):
            folder = root / f"case-{number:02d}"
            folder.mkdir()
            outcomes.append(run_one(bad, folder, template))
    if args.json:
        print(note, end="", file=sys.stderr)
        print(json.dumps([asdict(o) for o in outcomes], indent=2, ensure_ascii=False))
    else:
        print(note + markdown(outcomes), end="")


if __name__ == "__main__":
    main()
