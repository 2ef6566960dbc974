"""An LLM judge scores SummEval's summaries, G-Eval style, one dimension at a time; its scores are stored as samples.

G-Eval (Liu et al., 2023, "G-Eval: NLG Evaluation using GPT-4 with Better Human Alignment")
gives the judge, per dimension, a prompt in four parts: a task introduction, the evaluation
criteria with the score range, evaluation steps (written once, chain-of-thought style), and
the inputs, ending in a form the judge fills with the score alone. The prompts below follow
that structure in our own words, with a 1–5 range for every dimension (the experts' range
in this copy of SummEval). G-Eval weights each score by its probability (GPT-4 sampled 20
times); here the judge answers once, greedily, so any backend that generates can judge
(transformers, vLLM, an OpenAI-compatible endpoint), and the score is the first number
1–5 in its answer (none: no score, counted and left out, never 0).

The judge goes through the MT-Bench judge path: resolved and fingerprinted by
:func:`evalsuite.judged.session.judge_setup`, loaded and cached by
:class:`evalsuite.judged.session.JudgeHandle` (a second command re-serves its answers),
prompts through its chat template. Each judgment is a :class:`SampleRecord` of a run of the
judge model under the task ``summeval_geval`` (``filter`` = the dimension, ``doc_id`` = the
document's position, ``metrics`` = rating, system, document id); the agreement table reads
the judge's scores back from those rows.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalsuite.agreement.summeval import DIMENSIONS, SummEvalData
from evalsuite.identity import environment
from evalsuite.judged.base import chat_context, generate_texts, generation_room
from evalsuite.judged.session import JudgeHandle, JudgeSetup
from evalsuite.store import queries
from evalsuite.store.db import Database
from evalsuite.store.schema import SampleRecord

TASK = "summeval_geval"
PROMPT_SET = "evalsuite-geval-v1"  # part of the judge's key: new wording, new key
DEFAULT_MAX_TOKENS = 16
SCORE = re.compile(r"\d+(?:\.\d+)?")
SYSTEM_PROMPT = "You are a careful annotator of news summaries. You answer with a number only."

INTRODUCTION = (
    "Below is a news article and one summary of it. Rate the summary on a single quality, {name}, "
    "using the description and the steps below. Keep the article open while you read the summary."
)
CRITERIA = {
    "coherence": "Coherence (1-5): does the summary read as one well-organised whole, each sentence following from the last, "
    "rather than a heap of facts? A summary whose sentences could be shuffled without loss scores low.",
    "consistency": "Consistency (1-5): is every claim in the summary supported by the article? Invented facts, "
    "wrong names, numbers or relations each lower the score.",
    "fluency": "Fluency (1-5): is each sentence well formed: grammar, spelling, punctuation, word choice? "
    "Judge the sentences themselves, not whether they are true.",
    "relevance": "Relevance (1-5): does the summary keep the article's main points and leave out what is minor "
    "or repeated? Missing the point or padding with detail scores low.",
}
STEPS = {
    "coherence": "1. Find the article's main topic and how it unfolds.\n2. Read the summary and check that it follows one "
    "clear order.\n3. Give 1 to 5.",
    "consistency": "1. List the summary's claims.\n2. Look each one up in the article.\n3. Give 1 to 5, lower for every "
    "claim the article does not support.",
    "fluency": "1. Read each sentence of the summary.\n2. Note errors that make it hard to read.\n3. Give 1 to 5.",
    "relevance": "1. Note the article's key points.\n2. Check which of them the summary covers and what it adds that is "
    "not key.\n3. Give 1 to 5.",
}
FORM = "Article:\n{source}\n\nSummary:\n{summary}\n\nScore (a number only)\n- {name}:"


def prompt(dimension: str, source: str, summary: str) -> str:
    """The user prompt for one (summary, dimension): introduction, criteria, steps, inputs, form."""
    name = dimension.capitalize()
    parts = (INTRODUCTION.format(name=name), "Criteria:\n" + CRITERIA[dimension], "Steps:\n" + STEPS[dimension], FORM.format(source=source, summary=summary, name=name))
    return "\n\n".join(parts)


def read_score(answer: str) -> float | None:
    """The first number in the judge's answer when it is within 1–5; None otherwise."""
    match = SCORE.search(answer)
    if match is None:
        return None
    value = float(match.group(0))
    return value if 1.0 <= value <= 5.0 else None


@dataclass(frozen=True)
class JudgeCall:
    doc: int
    system: str
    dimension: str
    user_prompt: str


def calls(data: SummEvalData, dimensions: Sequence[str] = DIMENSIONS) -> list[JudgeCall]:
    return [
        JudgeCall(doc, system, dimension, prompt(dimension, data.sources[doc], data.summaries[doc][index]))
        for dimension in dimensions
        for doc in range(len(data.doc_ids))
        for index, system in enumerate(data.systems)
    ]


def _answers(lm: Any, pending: Sequence[JudgeCall], max_tokens: int, label: str) -> list[str | None]:
    """Greedy answers through the judge's chat template; None where the prompt leaves no room (never cut)."""
    items: list[tuple[str, dict[str, Any]]] = []
    fitting: list[int] = []
    for index, call in enumerate(pending):
        context = chat_context(lm, [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": call.user_prompt}], label)
        room = generation_room(lm, context, max_tokens)
        if room >= 1:
            fitting.append(index)
            items.append((context, {"until": ["\n"], "max_gen_toks": room, "do_sample": False, "temperature": 0.0}))
    answers: list[str | None] = [None] * len(pending)
    for index, text in zip(fitting, generate_texts(lm, items, None), strict=True):
        answers[index] = text
    return answers


def _sample(run_id: int, data: SummEvalData, call: JudgeCall, answer: str | None) -> SampleRecord:
    return SampleRecord(
        run_id=run_id, task=TASK, doc_id=call.doc, filter=call.dimension, prompt=call.user_prompt, responses=[answer],
        metrics={"rating": read_score(answer) if answer is not None else None, "system": call.system,
                 "document": data.doc_ids[call.doc], "too_long": answer is None},
    )


def _start_run(database: Database, setup: JudgeSetup, data: SummEvalData, max_tokens: int, dimensions: Sequence[str]) -> int:
    spec = setup.spec
    model = queries.get_or_create_model(
        database, name=spec.name, source=spec.stored_source, revision=spec.revision, weights_sha256=spec.weights_sha256,
        tokenizer_sha256=spec.tokenizer_sha256, config_sha256=spec.config_sha256, params=spec.params,
        dtype=setup.options.dtype, architecture=spec.architecture,
    )
    identity = queries.get_or_create_identity(database, setup.identity.key, setup.identity.as_columns())
    config = {"task": TASK, "documents": list(data.doc_ids), "dimensions": list(dimensions), "systems": list(data.systems), "max_tokens": max_tokens, **setup.stored_config()}
    run = queries.create_run(
        database, model_id=model.id, identity_id=identity.id, backend=setup.options.backend, config=config,
        config_hash=hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest(), tasks=[TASK],
        apply_chat_template=True, versions=environment.package_versions(),
    )
    return int(run.id or 0)


def judge_and_store(
    database: Database, setup: JudgeSetup, data: SummEvalData, *, max_tokens: int = DEFAULT_MAX_TOKENS,
    dimensions: Sequence[str] = DIMENSIONS, report: Callable[[str], None] = print,
) -> int:
    """Score every (document, system, dimension) with the judge, store the judgments as samples of a new run; its id."""
    run_id = _start_run(database, setup, data, max_tokens, dimensions)
    handle = JudgeHandle(setup, database, run_id, show_progress=False)
    try:
        pending = calls(data, dimensions)
        report(f"{TASK}: {len(pending)} judgments by {setup.label} (run {run_id})")
        answers = _answers(handle.lm(), pending, max_tokens, setup.label)
        queries.save_task_results(database, run_id, [TASK], [], [_sample(run_id, data, c, a) for c, a in zip(pending, answers, strict=True)])
        queries.finish_run(database, run_id, computed=handle.computed, cached=handle.cached)
    except BaseException as exc:
        queries.fail_run(database, run_id, str(exc).splitlines()[0] if str(exc) else type(exc).__name__, computed=handle.computed, cached=handle.cached)
        raise
    finally:
        handle.close()
    return run_id


def stored_scores(database: Database, run_id: int, data: SummEvalData) -> tuple[dict[str, np.ndarray], int]:
    """The judge's stored ratings as (documents, systems) matrices per dimension, and how many judgments had none."""
    position = {system: index for index, system in enumerate(data.systems)}
    scores = {dimension: np.full((len(data.doc_ids), len(data.systems)), np.nan) for dimension in DIMENSIONS}
    missing = 0
    for sample in queries.run_samples(database, run_id, TASK):
        rating = (sample.metrics or {}).get("rating")
        if rating is None:
            missing += 1
            continue
        scores[sample.filter][sample.doc_id, position[(sample.metrics or {})["system"]]] = float(rating)
    return scores, missing
