"""Rebuild the small data slices shipped in ``tasks/data/`` from full local copies.

Run from the repository root (needs the full copies, e.g. ``/work/shared/data``)::

    python tasks/data/build_slices.py /work/shared/data

The slices are committed, so users never run this; it exists so that anyone can check
exactly which records were taken (always the FIRST records of a split, no sampling).
Each output is JSONL in the Hugging Face Hub schema the matching lm-eval task expects.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent

WIKITEXT_ARTICLES = 8
WMT_TEST_SEGMENTS = 100
WMT_FEWSHOT_SEGMENTS = 10
ARC_EASY_TEST_QUESTIONS = 200
ARC_EASY_TRAIN_QUESTIONS = 50
PUBMEDQA_FEWSHOT_QUESTIONS = 20


def write_jsonl(path: Path, records: Iterable[dict]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def is_article_title(row_text: str) -> bool:
    """A WikiText article starts at a row `` = Title = `` (one ``=`` each side, not ``= =``)."""
    return row_text.startswith(" = ") and not row_text.startswith(" = = ")


def wikitext_articles(rows_path: Path, n_articles: int) -> list[dict]:
    """First ``n_articles`` articles; ``page`` = the article's rows joined by newlines.

    The rows are the Hub's ``wikitext-2-raw-v1`` lines (each non-empty row ends with
    ``\\n``, empty rows are ``""``), so the page is the raw file's text for that article.
    """
    articles: list[list[str]] = []
    with rows_path.open(encoding="utf-8") as handle:
        for line in handle:
            text = json.loads(line)["text"]
            if is_article_title(text):
                if len(articles) == n_articles:
                    break
                articles.append([])
            if articles:
                articles[-1].append(text.rstrip("\n"))
    return [{"page": "\n".join(rows).strip("\n") + "\n"} for rows in articles]


def pubmedqa_records(source: Path) -> tuple[list[dict], list[dict]]:
    """The 500 official test questions (by PubMed id), plus the first non-test ones as a few-shot source."""
    labelled = json.loads((source / "ori_pqal.json").read_text(encoding="utf-8"))
    test_ids = json.loads((source / "test_ground_truth.json").read_text(encoding="utf-8"))

    def record(pubid: str) -> dict:
        item = labelled[pubid]
        return {
            "pubid": pubid,
            "QUESTION": item["QUESTION"],
            "CONTEXTS": item["CONTEXTS"],
            "final_decision": item["final_decision"],
        }

    # The official file lists all "yes" questions first, then "no", then "maybe"; a --limit over
    # that order would see one label only. Order by PubMed id instead (deterministic, label-blind).
    test = [record(pubid) for pubid in sorted(test_ids, key=int)]
    train_ids = [pubid for pubid in labelled if pubid not in test_ids]
    return test, [record(pubid) for pubid in train_ids[:PUBMEDQA_FEWSHOT_QUESTIONS]]


def wmt22_records(source: Path, start: int, stop: int) -> list[dict]:
    src = (source / "generaltest2022.en-de.src.en").read_text(encoding="utf-8").splitlines()
    ref = (source / "generaltest2022.en-de.ref.A.de").read_text(encoding="utf-8").splitlines()
    return [{"translation": {"en": src[i], "de": ref[i]}} for i in range(start, stop)]


def arc_records(path: Path, n_questions: int) -> list[dict]:
    """ARC in the Hub schema of ``allenai/ai2_arc`` (question str, choices {text, label})."""
    out: list[dict] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if len(out) == n_questions:
                break
            item = json.loads(line)
            choices = item["question"]["choices"]
            out.append(
                {
                    "id": item["id"],
                    "question": item["question"]["stem"],
                    "choices": {
                        "text": [c["text"] for c in choices],
                        "label": [c["label"] for c in choices],
                    },
                    "answerKey": item["answerKey"],
                }
            )
    return out


def main(shared: Path) -> None:
    write_jsonl(
        HERE / "wikitext2" / "test_first8_articles.jsonl",
        wikitext_articles(shared / "wikitext2" / "wikitext-2-raw-v1_test_rows.jsonl", WIKITEXT_ARTICLES),
    )
    test, train = pubmedqa_records(shared / "pubmedqa")
    write_jsonl(HERE / "pubmedqa" / "test.jsonl", test)
    write_jsonl(HERE / "pubmedqa" / "train_fewshot.jsonl", train)
    wmt = shared / "wmt22_en_de"
    write_jsonl(HERE / "wmt22_en_de" / "test.jsonl", wmt22_records(wmt, 0, WMT_TEST_SEGMENTS))
    write_jsonl(
        HERE / "wmt22_en_de" / "validation_fewshot.jsonl",
        wmt22_records(wmt, WMT_TEST_SEGMENTS, WMT_TEST_SEGMENTS + WMT_FEWSHOT_SEGMENTS),
    )
    arc = shared / "arc"
    write_jsonl(HERE / "arc_easy" / "test.jsonl", arc_records(arc / "ARC-Easy-Test.jsonl", ARC_EASY_TEST_QUESTIONS))
    write_jsonl(HERE / "arc_easy" / "train.jsonl", arc_records(arc / "ARC-Easy-Train.jsonl", ARC_EASY_TRAIN_QUESTIONS))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"))
