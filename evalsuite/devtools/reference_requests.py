"""Real task documents from ``../shared/data``, shaped as lm-eval requests for backend tests and benches.

The backend fidelity tests, the vLLM tests and the bench scripts score the same
kinds of requests; building them here keeps their prompts identical.

The data folder is ``$EVALSUITE_DATA_DIR`` if set, else ``shared/data`` next to the
repository checkout (the layout of the project's workspace); it is resolved at
each call, so a test or bench that sets the variable later still takes effect.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from lm_eval.api.instance import Instance

from evalsuite.settings import DATA_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
GSM8K_STOPS = ["Question:", "\n\n"]

Docs = list[tuple[str, list[str]]]  # (context, choices) per document


def data_dir() -> Path:
    """Where the local benchmark data lives (see the module docstring)."""
    return DATA_DIR.read() or REPO_ROOT.parent / "shared" / "data"


def jsonl(path: Path, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` JSON lines of ``path``."""
    with path.open() as handle:
        return [json.loads(line) for line in itertools.islice(handle, limit)]


def pubmedqa_docs(limit: int = 6) -> Docs:
    """lm-eval's PubMedQA prompt with its three one-token answers (long abstracts)."""
    records = json.loads((data_dir() / "pubmedqa" / "ori_pqal.json").read_text())
    docs = []
    for record in itertools.islice(records.values(), limit):
        prompt = "Abstract: {}\nQuestion: {}\nAnswer:".format("\n".join(record["CONTEXTS"]), record["QUESTION"])
        docs.append((prompt, [" yes", " no", " maybe"]))
    return docs


def hellaswag_docs(limit: int = 12) -> Docs:
    """Four multi-token endings per context (the preprocessed local copy)."""
    rows = jsonl(data_dir() / "hellaswag" / "hellaswag_val_preprocessed.jsonl", limit)
    return [(row["ctx"], [" " + ending for ending in row["endings"]]) for row in rows]


def arc_docs(limit: int = 12) -> Docs:
    """ARC-Easy test questions with lm-eval's ``Question: … Answer:`` prompt."""
    rows = jsonl(data_dir() / "arc" / "ARC-Easy-Test.jsonl", limit)
    return [(f"Question: {row['question']['stem']}\nAnswer:", [" " + c["text"] for c in row["question"]["choices"]]) for row in rows]


def choice_pairs(docs: Docs) -> list[tuple[str, str]]:
    """(context, choice) per choice, in document order."""
    return [(context, choice) for context, choices in docs for choice in choices]


def choice_requests(docs: Docs) -> list[Instance]:
    """One loglikelihood Instance per (context, choice), as lm-eval's multiple_choice builds them."""
    return [Instance("loglikelihood", {}, pair, index) for index, pair in enumerate(choice_pairs(docs))]


def gsm8k_requests(limit: int = 6, until: list[str] | None = None, max_gen_toks: int = 32) -> list[Instance]:
    """Greedy ``generate_until`` requests on GSM8K questions (lm-eval's stop strings by default)."""
    rows = jsonl(data_dir() / "gsm8k" / "test.jsonl", limit)
    settings = {"until": until or GSM8K_STOPS, "max_gen_toks": max_gen_toks, "do_sample": False}
    return [Instance("generate_until", {}, (f"Question: {row['question']}\nAnswer:", dict(settings)), i) for i, row in enumerate(rows)]


def wikitext_rows() -> list[str]:
    """The WikiText-2 raw test split, one string per row."""
    with (data_dir() / "wikitext2" / "wikitext-2-raw-v1_test_rows.jsonl").open() as handle:
        return [json.loads(line)["text"] for line in handle]


def wikitext_articles(limit: int = 3, max_chars: int | None = 2500) -> list[str]:
    """Whole articles (split at ' = Title = ' rows, as lm-eval's wikitext task does), optionally clipped."""
    rows = wikitext_rows()
    starts = [i for i, row in enumerate(rows) if row.startswith(" = ") and not row.startswith(" = =")]
    articles = ["".join(rows[a:b]) for a, b in itertools.pairwise(starts)]
    return [article[:max_chars] for article in articles[:limit]]


def bpe_training_text(limit_chars: int = 400_000) -> list[str]:
    """Real text for BPE merges: WikiText-2 test rows plus some HellaSwag and PubMedQA."""
    texts = wikitext_rows()
    texts += [" ".join([context, *choices]) for context, choices in hellaswag_docs(300)]
    texts += [context for context, _ in pubmedqa_docs(100)]
    kept, total = [], 0
    for text in texts:
        kept.append(text)
        total += len(text)
        if total > limit_chars:
            break
    return kept
