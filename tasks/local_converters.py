"""Converters from local copies of benchmark files to the Hugging Face Hub schema.

Referenced from ``tasks/local_sources.yaml`` (``converter: !function local_converters.NAME``).
Each takes one local file and returns its records as the Hub dataset's rows, so lm-eval's own
templates (``doc_to_text``, ``doc_to_choice``, ``process_docs``...) run on them unchanged. A
record lacking a field raises TaskFileError naming the file, the record and the field.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from evalsuite.errors import TaskFileError

Record = dict[str, Any]


def _field(record: Mapping[str, Any], name: str, path: Path, where: str) -> Any:
    """``record[name]``, or a TaskFileError naming the file, the record and the missing field."""
    if not isinstance(record, Mapping) or name not in record:
        raise TaskFileError(
            f"{path}: {where} lacks the required field '{name}'",
            hint="restore the original file from the benchmark's release (see the data README)",
        )
    return record[name]


def _jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield f"line {number}", json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskFileError(f"{path}: line {number} is not valid JSON ({exc.msg})") from exc


def arc_jsonl(path: Path) -> list[Record]:
    """AI2 original ``{id, question: {stem, choices: [{text, label}]}, answerKey}`` → ``allenai/ai2_arc``."""
    rows: list[Record] = []
    for where, item in _jsonl(path):
        question = _field(item, "question", path, where)
        choices = _field(question, "choices", path, where + " question")
        rows.append(
            {
                "id": _field(item, "id", path, where),
                "question": _field(question, "stem", path, where + " question"),
                "choices": {
                    "text": [_field(c, "text", path, where + " choice") for c in choices],
                    "label": [_field(c, "label", path, where + " choice") for c in choices],
                },
                "answerKey": _field(item, "answerKey", path, where),
            }
        )
    return rows


def mmlu_csv(path: Path) -> list[Record]:
    """``question,choice0..choice3,answer`` CSV (with header) → ``cais/mmlu`` rows.

    The Hub rows also carry ``subject``; it is the file's stem without ``_test``/``_dev``.
    """
    subject = re.sub(r"_(test|dev|val)$", "", path.stem)
    rows: list[Record] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for number, item in enumerate(csv.DictReader(handle), start=2):
            where = f"row {number}"
            answer = _field(item, "answer", path, where)
            try:
                answer_index = int(answer)
            except ValueError as exc:
                raise TaskFileError(f"{path}: {where} has answer {answer!r}, expected 0-3") from exc
            rows.append(
                {
                    "question": _field(item, "question", path, where),
                    "subject": subject,
                    "choices": [_field(item, f"choice{i}", path, where) for i in range(4)],
                    "answer": answer_index,
                }
            )
    return rows


def gsm8k_jsonl(path: Path) -> list[Record]:
    """``{question, answer}`` JSONL is already the ``openai/gsm8k`` schema; checked and copied."""
    return [
        {"question": _field(item, "question", path, where), "answer": _field(item, "answer", path, where)}
        for where, item in _jsonl(path)
    ]


def winogrande_jsonl(path: Path) -> list[Record]:
    """``{sentence, option1, option2, answer}`` JSONL is the ``allenai/winogrande`` schema; checked, answer as text."""
    names = ("sentence", "option1", "option2", "answer")
    return [{name: str(_field(item, name, path, where)) for name in names} for where, item in _jsonl(path)]


def _mc_targets(targets: Mapping[str, int]) -> dict[str, list[Any]]:
    """``{answer text: 0|1}`` (file order kept) → ``{"choices": [...], "labels": [...]}``."""
    return {"choices": list(targets.keys()), "labels": [int(v) for v in targets.values()]}


def truthfulqa_mc_json(path: Path) -> list[Record]:
    """TruthfulQA ``mc_task.json`` → ``truthfulqa/truthful_qa`` (multiple_choice) rows."""
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TaskFileError(f"{path}: not valid JSON ({exc.msg})") from exc
    rows: list[Record] = []
    for number, item in enumerate(items):
        where = f"item {number}"
        rows.append(
            {
                "question": _field(item, "question", path, where),
                "mc1_targets": _mc_targets(_field(item, "mc1_targets", path, where)),
                "mc2_targets": _mc_targets(_field(item, "mc2_targets", path, where)),
            }
        )
    return rows


def boolq_jsonl(path: Path) -> list[Record]:
    """SuperGLUE BoolQ (label ``"true"/"false"`` or bool) → ``aps/super_glue`` boolq (label 0/1)."""
    rows: list[Record] = []
    for where, item in _jsonl(path):
        label = _field(item, "label", path, where)
        rows.append(
            {
                "question": _field(item, "question", path, where),
                "passage": _field(item, "passage", path, where),
                "idx": _field(item, "idx", path, where),
                "label": 1 if str(label).lower() in ("true", "1") else 0,
            }
        )
    return rows


_OBQA_CHOICE = re.compile(r"\(([A-Z])\)\s*")


def openbookqa_tsv(path: Path) -> list[Record]:
    """OpenBookQA TSV (``ID, Question Stem, Choices "(A) .. (B) ..", ..., Answer Key``) → ``allenai/openbookqa``."""
    rows: list[Record] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for number, item in enumerate(csv.DictReader(handle, delimiter="\t"), start=2):
            where = f"row {number}"
            parts = _OBQA_CHOICE.split(_field(item, "Choices", path, where))
            labels, texts = parts[1::2], [text.strip() for text in parts[2::2]]
            if not labels:
                raise TaskFileError(f"{path}: {where} has no '(A) ...' choices in field 'Choices'")
            rows.append(
                {
                    "id": _field(item, "ID", path, where),
                    "question_stem": _field(item, "Question Stem", path, where),
                    "choices": {"text": texts, "label": labels},
                    "answerKey": _field(item, "Answer Key", path, where),
                }
            )
    return rows


def hellaswag_preprocessed_jsonl(path: Path) -> list[Record]:
    """Preprocessed ``{ctx, label, endings}`` → ``Rowan/hellaswag`` rows, as closely as possible.

    The local ``ctx`` is ``"<activity label>: <ctx_a> <ctx_b>"`` already; it is split at the
    first ``": "`` into ``activity_label`` and ``ctx_a`` with an empty ``ctx_b``. lm-eval's
    ``process_docs`` then rebuilds the same query, except that the Hub task capitalises the first
    letter of ``ctx_b``, which the local copy cannot (the ctx_a/ctx_b boundary is lost).
    """
    rows: list[Record] = []
    for where, item in _jsonl(path):
        activity_label, _, ctx_a = str(_field(item, "ctx", path, where)).partition(": ")
        rows.append(
            {
                "activity_label": activity_label,
                "ctx_a": ctx_a,
                "ctx_b": "",
                "endings": list(_field(item, "endings", path, where)),
                "label": str(_field(item, "label", path, where)),
            }
        )
    return rows


_AGIEVAL_LETTERS = "ABCDEFG"


def agieval_jsonl(path: Path) -> list[Record]:
    """AGIEval ``data/v1`` (``passage, question, options, label``) → ``{query, choices, gold}``.

    The Hub copies' schema (``hails/agieval-*``, ``dmayhem93/agieval-*``): query = passage (or
    nothing) + ``"Q: "`` + question + ``" Answer Choices: "`` + the options joined by spaces +
    ``"\\nA: Among A through "`` + the last option's letter + ``", the answer is"``; choices = the
    options as written (``(A)`` prefix kept); gold = ``[index of the label letter]``.
    """
    rows: list[Record] = []
    for where, item in _jsonl(path):
        options = list(_field(item, "options", path, where))
        label = str(_field(item, "label", path, where))
        if not options or len(options) > len(_AGIEVAL_LETTERS) or label not in _AGIEVAL_LETTERS:
            raise TaskFileError(f"{path}: {where} has options {options!r} and label {label!r}, expected A-G")
        query = (
            (_field(item, "passage", path, where) or "") + "Q: " + _field(item, "question", path, where)
            + " Answer Choices: " + " ".join(options)
            + "\nA: Among A through " + _AGIEVAL_LETTERS[len(options) - 1] + ", the answer is"
        )  # fmt: skip
        rows.append({"query": query, "choices": options, "gold": [_AGIEVAL_LETTERS.index(label)]})
    return rows


def piqa_jsonl(path: Path) -> list[Record]:
    """PIQA ``valid.jsonl`` (``goal, sol1, sol2``) + the line-aligned ``valid-labels.lst`` → Hub rows with ``label``."""
    labels_path = path.with_name(f"{path.stem}-labels.lst")
    if not labels_path.is_file():
        raise TaskFileError(f"{path}: its labels file {labels_path.name} is missing beside it")
    labels = [line.strip() for line in labels_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = list(_jsonl(path))
    if len(labels) != len(items):
        raise TaskFileError(f"{path}: {len(items)} records but {len(labels)} labels in {labels_path.name}")
    return [
        {
            "goal": _field(item, "goal", path, where),
            "sol1": _field(item, "sol1", path, where),
            "sol2": _field(item, "sol2", path, where),
            "label": int(label),
        }
        for (where, item), label in zip(items, labels)
    ]


def bbh_json(path: Path) -> list[Record]:
    """BIG-Bench Hard ``<task>.json`` (``{"examples": [{input, target}]}``) → ``lukaemon/bbh`` rows."""
    try:
        examples = _field(json.loads(path.read_text(encoding="utf-8")), "examples", path, "the file")
    except json.JSONDecodeError as exc:
        raise TaskFileError(f"{path}: not valid JSON ({exc.msg})") from exc
    return [
        {"input": _field(item, "input", path, f"example {n}"), "target": _field(item, "target", path, f"example {n}")}
        for n, item in enumerate(examples)
    ]


def summeval_articles_jsonl(path: Path) -> list[Record]:
    """A SummEval per-system file (``id, text, references`` per article) → ``mteb/summeval`` rows.

    Only the article fields are kept (``id``, ``text``, ``human_summaries`` = the 11 references,
    ``references[0]`` the highlights); the system's summary and its annotations are not the task's.
    """
    rows: list[Record] = []
    for where, item in _jsonl(path):
        references = list(_field(item, "references", path, where))
        if not references:
            raise TaskFileError(f"{path}: {where} has no references")
        rows.append({"id": str(_field(item, "id", path, where)), "text": _field(item, "text", path, where), "human_summaries": references})
    return rows


def xsum_jsonl(path: Path) -> list[Record]:
    """``{document, summary, id}`` JSONL is the ``EdinburghNLP/xsum`` schema; checked, id as text (as on the Hub)."""
    return [
        {
            "document": _field(item, "document", path, where),
            "summary": _field(item, "summary", path, where),
            "id": str(_field(item, "id", path, where)),
        }
        for where, item in _jsonl(path)
    ]
