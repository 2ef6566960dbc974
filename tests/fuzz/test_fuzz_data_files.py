"""Fuzz every reader a user's data file goes through.

* local copies under ``--data-dir`` (``tasks/local_sources.yaml``): each converter, as the
  task loader calls it (``LocalCopy``: converter, then a ``datasets.Dataset``);
* ``jsonl_dataset``: the JSONL data files a user's task YAML names;
* ``text_file_dataset``: ``--text-file`` for perplexity (also through ``evalsuite run --dry-run``).
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from fuzz_support import (
    MAX_EXAMPLES,
    cli_fails_cleanly,
    dumps,
    encode,
    file_bytes,
    json_values,
    succeeds_or_project_error,
    text,
    trial,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from evalsuite.errors import TaskFileError
from evalsuite.tasks.loading import LocalCopy, jsonl_dataset, local_sources, text_file_dataset

# Every field some converter reads, so records are near misses of one schema or another.
FIELDS = (
    "id", "question", "stem", "choices", "text", "label", "answerKey", "answer", "sentence", "option1", "option2",
    "passage", "idx", "ctx", "endings", "options", "goal", "sol1", "sol2", "input", "target", "examples", "metrics",
    "target_scores", "mc1_targets", "mc2_targets", "choice0", "choice1", "choice2", "choice3",
    "ID", "Question Stem", "Choices", "Answer Key",
)  # fmt: skip
leaf = st.one_of(text, st.sampled_from(["A", "B", "(A) x (B) y", "0", "1", "true", "multiple_choice_grade"]), st.integers(-3, 3), st.none(), st.booleans())
field_value = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | text, inner, max_size=4),
    max_leaves=10,
)
record = st.dictionaries(st.sampled_from(FIELDS), field_value, max_size=8) | json_values


@st.composite
def document(draw: st.DrawFn, suffix: str) -> str:
    """A near-miss file of the kind ``suffix`` names: JSON lines, one JSON document, or CSV/TSV rows."""
    if suffix in (".csv", ".tsv"):
        out = io.StringIO()
        writer = csv.writer(out, delimiter="\t" if suffix == ".tsv" else ",")
        header = draw(st.lists(st.sampled_from(FIELDS) | text, max_size=7, unique=True))
        writer.writerow(header)
        for row in draw(st.lists(st.lists(leaf.map(str), max_size=len(header) + 2), max_size=4)):
            writer.writerow(row)
        return out.getvalue()
    records = draw(st.lists(record, max_size=5))
    if suffix == ".json":
        return dumps(draw(st.sampled_from([records, {"examples": records, "metrics": ["multiple_choice_grade"]}, records[:1]])))
    return "\n".join(dumps(r) for r in records) + draw(st.sampled_from(["\n", "", "\r\n", "\n\n"]))


# One well-formed record per converter (the layout of the benchmark's own release files).
VALID_RECORDS: dict[str, Any] = {
    "arc_jsonl": {"id": "q1", "question": {"stem": "Which?", "choices": [{"text": "a", "label": "A"}, {"text": "b", "label": "B"}]}, "answerKey": "A"},
    "gsm8k_jsonl": {"question": "1+1?", "answer": "1+1=2\n#### 2"},
    "winogrande_jsonl": {"sentence": "The _ fell.", "option1": "cup", "option2": "plate", "answer": "1"},
    "boolq_jsonl": {"question": "is it", "passage": "It is.", "idx": 0, "label": True},
    "hellaswag_preprocessed_jsonl": {"ctx": "Cooking: a man", "endings": ["a", "b", "c", "d"], "label": "0"},
    "agieval_jsonl": {"passage": None, "question": "q?", "options": ["(A)x", "(B)y"], "label": "A"},
    "piqa_jsonl": {"goal": "g", "sol1": "a", "sol2": "b"},
    "truthfulqa_mc_json": {"question": "q?", "mc1_targets": {"a": 1, "b": 0}, "mc2_targets": {"a": 1, "b": 0}},
    "bbh_json": {"input": "i", "target": "t"},
    "local_json": {"input": "i", "target_scores": {"a": 1, "b": 0}},
    "mmlu_csv": {"question": "q?", "choice0": "a", "choice1": "b", "choice2": "c", "choice3": "d", "answer": "0"},
    "openbookqa_tsv": {"ID": "1", "Question Stem": "q?", "Choices": "(A) x (B) y", "Answer Key": "A"},
    "summeval_articles_jsonl": {"id": "dm-test-1", "text": "An article.", "references": ["A summary.", "Another."], "decoded": "s", "model_id": "M8"},
    "xsum_jsonl": {"document": "An article.", "summary": "A summary.", "id": 1},
}


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with one place in it (a field, an item, at any depth) replaced or removed."""
    if isinstance(value, dict) and value and draw(st.integers(0, 3)) > 0:
        key = draw(st.sampled_from(sorted(value)))
        out = dict(value)
        if draw(st.integers(0, 3)) == 0:
            del out[key]
        else:
            out[key] = draw(mutated(value[key]))
        return out
    if isinstance(value, list) and value and draw(st.integers(0, 3)) > 0:
        index = draw(st.integers(0, len(value) - 1))
        return [draw(mutated(item)) if i == index else item for i, item in enumerate(value)]
    return draw(field_value)


def release_file(converter: str, records: list[Any], suffix: str) -> str:
    """``records`` written as the benchmark's release writes them (JSON lines, one JSON file, CSV or TSV)."""
    if suffix in (".csv", ".tsv"):
        out = io.StringIO()
        header = list(VALID_RECORDS[converter])
        writer = csv.writer(out, delimiter="\t" if suffix == ".tsv" else ",")
        writer.writerow(header)
        for record in records:
            writer.writerow([record.get(name, "") for name in header] if isinstance(record, dict) else [str(record)])
        return out.getvalue()
    if converter == "truthfulqa_mc_json":
        return dumps(records)
    if converter in ("bbh_json", "local_json"):
        return dumps({"examples": records, "metrics": ["multiple_choice_grade"]})
    return "\n".join(dumps(r) for r in records) + "\n"


def _one_source_per_converter() -> list[Any]:
    sources: dict[str, Any] = {}
    for source in local_sources():
        sources.setdefault(source.converter.__name__, source)
    return [sources[name] for name in sorted(sources)]


SOURCES = _one_source_per_converter()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import datasets  # noqa: F401 - imported once, outside the examples' deadline

    return tmp_path_factory.mktemp("fuzz-data")


def _write(path: Path, data: bytes) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@settings(max_examples=MAX_EXAMPLES["data_files"])
@given(data=st.data(), source_index=st.integers(0, len(SOURCES) - 1), labels=st.lists(st.sampled_from(["0", "1", "2", "x", ""]), max_size=4))
def test_any_local_copy_is_converted_or_refused_naming_the_file(data_dir: Path, data: st.DataObject, source_index: int, labels: list[str]) -> None:
    source = SOURCES[source_index]
    files = source.files(data_dir, "subset")
    for path in files.values():
        _write(path, data.draw(file_bytes(document(path.suffix)), label=path.name))
        _write(path.with_name(f"{path.stem}-labels.lst"), "\n".join(labels).encode())  # PIQA reads labels beside its file
    with trial("data_files"):
        outcome = succeeds_or_project_error(lambda: LocalCopy(source, files)())
    if isinstance(outcome, TaskFileError):
        assert any(str(path) in outcome.message for path in files.values()), outcome.message
    else:
        assert set(outcome) == set(files) and all(len(split) > 0 for split in outcome.values())


@settings(max_examples=MAX_EXAMPLES["data_files"])
@given(data=st.data(), source_index=st.integers(0, len(SOURCES) - 1), count=st.integers(1, 4), broken=st.booleans())
def test_release_files_with_one_wrong_value_are_converted_or_refused(data_dir: Path, data: st.DataObject, source_index: int, count: int, broken: bool) -> None:
    """Near misses of each converter's own layout; the unbroken file (the control) converts to one row per record."""
    source = SOURCES[source_index]
    name = source.converter.__name__
    records = [VALID_RECORDS[name]] * count
    if broken:
        records[data.draw(st.integers(0, count - 1))] = data.draw(mutated(VALID_RECORDS[name]))
    files = source.files(data_dir, "subset")
    for path in files.values():
        _write(path, encode(release_file(name, records, path.suffix), "utf-8"))  # a lone surrogate stays: not UTF-8
        _write(path.with_name(f"{path.stem}-labels.lst"), b"0\n" * count)
    with trial("data_files"):
        outcome = succeeds_or_project_error(lambda: LocalCopy(source, files)())
    if isinstance(outcome, TaskFileError):
        assert broken, outcome.message
        assert any(str(path) in outcome.message for path in files.values()), outcome.message
    else:  # the BIG-bench reader drops repeated examples, as the fork does
        expected = 1 if name == "local_json" and not broken else count
        assert all(len(split) == expected for split in outcome.values()) or broken


@settings(max_examples=MAX_EXAMPLES["data_files"])
@given(data=file_bytes(st.lists(record, max_size=5).map(lambda rs: "\n".join(dumps(r) for r in rs))), as_directory=st.booleans())
@example(data='{"q": "a\u2028b"}\n'.encode(), as_directory=False)  # found by fuzzing: a JSON-legal line separator was cut
def test_any_task_data_file_is_read_or_refused_naming_the_file(data_dir: Path, data: bytes, as_directory: bool) -> None:
    """``custom_dataset: !function evalsuite.tasks.jsonl_dataset`` reading a user's JSONL file."""
    yaml_path = data_dir / "user-task" / "task.yaml"
    path = yaml_path.parent / "data" / "test.jsonl"
    if as_directory:  # a data_files entry naming a folder
        if path.is_file():
            path.unlink()
        path.mkdir(parents=True, exist_ok=True)
    else:
        _write(path, data)
    with trial("data_files"):
        outcome = succeeds_or_project_error(lambda: jsonl_dataset({"test": "data/test.jsonl"}, config_source=str(yaml_path)))
    if isinstance(outcome, TaskFileError):
        assert str(path) in outcome.message, outcome.message
    else:  # every non-blank line became one row
        assert len(outcome["test"]) == sum(1 for line in data.decode("utf-8").split("\n") if line.strip())


text_document = st.text(max_size=200) | st.sampled_from(["", "\n\n", "   ", "\ufeff", "a\u2028b", "\x00"])


@settings(max_examples=MAX_EXAMPLES["data_files"] // 2)
@given(data=file_bytes(text_document), kind=st.sampled_from(["file", "file", "file", "directory", "missing"]))
def test_any_text_file_is_read_or_refused_naming_the_file(data_dir: Path, data: bytes, kind: str) -> None:
    """``--text-file PATH`` (the perplexity_file task's reader)."""
    path = data_dir / "text" / "notes.txt"
    path.parent.mkdir(exist_ok=True)
    if path.is_dir():
        path.rmdir()
    path.unlink(missing_ok=True)
    if kind == "file":
        path.write_bytes(data)
    elif kind == "directory":
        path.mkdir()
    with trial("data_files"):
        outcome = succeeds_or_project_error(lambda: text_file_dataset(str(path)))
    if isinstance(outcome, TaskFileError):
        assert str(path) in outcome.message, outcome.message
    else:
        assert outcome["test"][0]["page"] == data.decode("utf-8")


@pytest.fixture(scope="module")
def cli_text_file(data_dir: Path) -> Path:
    """The CLI's first run imports lm-eval and indexes the tasks: done here, outside the examples' deadline."""
    path = data_dir / "cli" / "bad.txt"
    path.parent.mkdir()
    path.write_bytes(b"")
    cli_fails_cleanly(["run", "--model", "demo/pico-s", "--text-file", str(path), "--dry-run"])
    return path


def _unreadable(data: bytes) -> bool:
    """Not UTF-8, or nothing but whitespace: no text to measure."""
    try:
        return not data.decode("utf-8").strip()
    except UnicodeDecodeError:
        return True


@settings(max_examples=MAX_EXAMPLES["data_files"] // 10)
@given(data=st.sampled_from([b"", b"\n \n", b"\xff\xfe\x00", "caf\xe9".encode("latin-1"), b"\x80" * 10]) | st.binary(max_size=40).filter(_unreadable))
def test_cli_run_refuses_an_unreadable_text_file(cli_text_file: Path, data: bytes) -> None:
    path = cli_text_file
    path.write_bytes(data)
    with trial("data_files"):
        output = cli_fails_cleanly(["run", "--model", "demo/pico-s", "--text-file", str(path), "--dry-run"])
    assert path.name in output
