"""Model as judge: a language model votes on stored answer pairs, both orders, by log-likelihood.

For one prompt and two answers *x*, *y* the judge reads::

    [Question] … [Answer A] … [Answer B] …
    Which answer is better? Reply with one letter: A or B.

(through its chat template when it has one, as a single user turn) and we compare
``log p("A" | prompt)`` with ``log p("B" | prompt)`` — one forward pass per order,
no sampling, so a verdict is cheap and reproducible. Judges favour a position
(usually the first), so every pair is judged twice, with *x* shown as A and then
with *y* shown as A. A model wins only if it wins in **both** orders; if the two
orders disagree, or a log-likelihood is exactly equal, the vote is a tie.

Each verdict is stored like a human vote on a server-issued battle, with
``voter`` = the judge's name, ``voter_kind = "judge"`` and ``position_a = "both"``.
Ratings leave judge votes out unless asked (`--include-judges`). A judge never
rates pairs that contain its own answers (self-preference: the same model identity,
or the same name), and never judges the same (prompt, pair of model identities)
twice, so reruns continue where the last stopped. A pair whose judge prompt does not
fit the judge's context is skipped and counted, never judged from a cut prompt.

The judge loads through the one backend registry from the request's
:class:`BackendOptions`, exactly as `arena generate` and `evalsuite run` load models.

``--protocol pair-v2`` swaps the log-likelihood verdict for FastChat's written one
(:mod:`evalsuite.arena.pair_judge`: MT-Bench's pairwise prompts, ``[[A]]``/``[[B]]``/``[[C]]``,
the same two orders and tie rule); its votes are stored under the voter
``JUDGE (pair-v2)``, apart from the same model's log-likelihood votes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from tqdm import tqdm

from evalsuite.arena import pair_judge, voting
from evalsuite.arena.child import run_in_child
from evalsuite.arena.contestant import answer_model_key, has_chat_template
from evalsuite.backends import BackendOptions, check_backend_options, close_backend, load_backend, resolve
from evalsuite.backends.registry import DEFAULT_BACKEND, backend_entry
from evalsuite.errors import ArenaError
from evalsuite.store import arena_queries
from evalsuite.store.db import Database, open_database

JUDGE_PROMPT = (
    "Two assistants answered the same question. Decide which answer is more helpful, correct and clear.\n\n"
    "[Question]\n{question}\n\n[Answer A]\n{answer_a}\n\n[Answer B]\n{answer_b}\n\n"
    "Which answer is better? Reply with one letter: A or B."
)
PLAIN_SUFFIX = "\nVerdict:"
VERDICT_TOKENS = ("A", "B")
CHUNK_BATTLES = 8  # pairs scored together, then stored
LOGLIK = "loglik"
PROTOCOLS = (LOGLIK, pair_judge.PROTOCOL)


@dataclass(frozen=True)
class JudgeRequest:
    """One `evalsuite arena judge`: who judges, where the answers are, how the judge loads, how many pairs."""

    judge: str
    db: str
    options: BackendOptions = field(default_factory=lambda: BackendOptions(backend=DEFAULT_BACKEND))
    max_battles: int | None = None
    protocol: str = LOGLIK  # or "pair-v2": FastChat's written verdicts
    max_tokens: int = pair_judge.DEFAULT_MAX_TOKENS  # pair-v2: the judge's new tokens per verdict
    baseline: str | None = None  # judge only pairs with this model (its name)

    @property
    def voter(self) -> str:
        """Whose votes these are: the judge's name, with the protocol when it is not the default."""
        return self.judge if self.protocol == LOGLIK else f"{self.judge} ({self.protocol})"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JudgeRequest:
        """The inverse of ``dataclasses.asdict`` (the request crosses to a child process as JSON)."""
        return cls(**{**data, "options": BackendOptions.from_json(data["options"])})

    def check(self) -> None:
        """Plain values, checked before the database opens or a model loads."""
        backend_entry(self.options.backend, for_arena=True)
        self.options.check_values()
        if self.max_battles is not None and self.max_battles < 0:
            raise ArenaError(f"--max-battles must be 0 or more, got {self.max_battles}")
        if self.protocol not in PROTOCOLS:
            raise ArenaError(f"unknown --protocol {self.protocol!r}", f"choose one of: {', '.join(PROTOCOLS)}")
        if self.max_tokens < 1:
            raise ArenaError(f"--max-tokens must be 1 or more, got {self.max_tokens}", "e.g. --max-tokens 2048")


@dataclass(frozen=True)
class PairToJudge:
    """Two answers to one prompt; ``model_x``/``model_y`` are model keys (``Completion.model_key``)."""

    prompt_id: int
    question: str
    model_x: str
    model_y: str
    answer_x: str
    answer_y: str
    category: str | None = None


@dataclass(frozen=True)
class JudgeReport:
    judge: str
    judged: int
    wins_x: int
    wins_y: int
    ties: int
    skipped_own: int
    too_long: int = 0
    no_verdict: int = 0  # pair-v2: a judgment without [[A]], [[B]] or [[C]] (the pair is not stored)


def verdict_contexts(lm: Any, question: str, answer_a: str, answer_b: str) -> tuple[str, tuple[str, str]]:
    """The judge's context and the two continuations whose log-likelihoods decide."""
    text = JUDGE_PROMPT.format(question=question, answer_a=answer_a, answer_b=answer_b)
    if has_chat_template(lm):
        return str(lm.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True)), VERDICT_TOKENS
    return text + PLAIN_SUFFIX, tuple(f" {token}" for token in VERDICT_TOKENS)  # type: ignore[return-value]


def combine_orders(first: tuple[float, float], swapped: tuple[float, float]) -> str:
    """Outcome for (x, y) from log p(A), log p(B) with x as A (``first``) and with y as A (``swapped``).

    Returns ``"a"`` (x wins), ``"b"`` (y wins) or ``"tie"`` (the orders disagree or a score ties).
    """
    if first[0] == first[1] or swapped[0] == swapped[1]:
        return "tie"
    x_wins_first = first[0] > first[1]
    x_wins_swapped = swapped[1] > swapped[0]
    if x_wins_first and x_wins_swapped:
        return "a"
    if not x_wins_first and not x_wins_swapped:
        return "b"
    return "tie"


def pairs_to_judge(
    database: Database, judge: str, max_battles: int | None = None, judge_key: str | None = None,
    *, voter: str | None = None, baseline: str | None = None,
) -> tuple[list[PairToJudge], int]:
    """Unjudged (prompt, pair) combinations in prompt order, and how many contained the judge itself.

    The judge is itself when a contestant has its model key (``judge_key``) or its name.
    ``voter`` (default: the judge's name) is whose earlier votes count as done; with
    ``baseline`` only pairs with that model are judged.
    """
    done = arena_queries.judged_pairs(database, voter or judge)
    pairs: list[PairToJudge] = []
    skipped_own = 0
    for entry in arena_queries.prompts_with_answers(database):
        for x, y in combinations(sorted(entry.answers, key=lambda key: (entry.names[key], key)), 2):
            if judge_key in (x, y) or judge in (entry.names[x], entry.names[y]):
                skipped_own += 1
                continue
            if (entry.prompt_id, frozenset((x, y))) in done:
                continue
            if baseline is not None and baseline not in (entry.names[x], entry.names[y]):
                continue
            pairs.append(PairToJudge(entry.prompt_id, entry.text, x, y, entry.answers[x], entry.answers[y], entry.category))
    if max_battles is not None:
        pairs = pairs[:max_battles]
    return pairs, skipped_own


def judge_outcomes(lm: Any, pairs: Sequence[PairToJudge]) -> list[str]:
    """Score both orders of every pair in one loglikelihood call; one outcome per pair."""
    from lm_eval.api.instance import Instance

    requests: list[Instance] = []
    for pair in pairs:
        for answer_a, answer_b in ((pair.answer_x, pair.answer_y), (pair.answer_y, pair.answer_x)):
            context, continuations = verdict_contexts(lm, pair.question, answer_a, answer_b)
            for continuation in continuations:
                requests.append(Instance("loglikelihood", {}, (context, continuation), len(requests)))
    scores = [float(loglik) for loglik, _greedy in lm.loglikelihood(requests, disable_tqdm=True)]
    return [
        combine_orders((scores[4 * i], scores[4 * i + 1]), (scores[4 * i + 2], scores[4 * i + 3]))
        for i in range(len(pairs))
    ]


def run_judge(request: JudgeRequest, show_progress: bool = True) -> JudgeReport:
    """Judge unjudged pairs with ``request.judge`` and store the verdicts as judge votes."""
    request.check()
    if backend_entry(request.options.backend).capabilities.child_process:
        return JudgeReport(**run_in_child(judge_in_process, request))
    return judge_in_process(request, show_progress)


def judge_in_process(request: JudgeRequest, show_progress: bool) -> JudgeReport:
    """Judge in this interpreter; the backend's options are checked before the database opens."""
    check_backend_options(request.options)
    counts = {"a": 0, "b": 0, "tie": 0, "too_long": 0, "no_verdict": 0}
    with open_database(request.db) as database:
        spec = resolve(request.judge, request.options)
        pairs, skipped_own = pairs_to_judge(
            database, request.judge, request.max_battles, answer_model_key(spec), voter=request.voter, baseline=request.baseline
        )
        if pairs:
            lm = load_backend(spec, request.options)
            try:
                if request.protocol == LOGLIK:
                    _judge_all(database, request.judge, lm, pairs, counts, show_progress)
                else:
                    _judge_all_written(database, request, lm, pairs, counts, show_progress)
            finally:
                close_backend(lm)
    judged = counts["a"] + counts["b"] + counts["tie"]
    return JudgeReport(request.voter, judged, counts["a"], counts["b"], counts["tie"], skipped_own, counts["too_long"], counts["no_verdict"])


def fits_judge_context(lm: Any, pair: PairToJudge) -> bool:
    """Both orders' judge prompts (plus the verdict token) fit the judge's window uncut."""
    longest = max(
        len(lm.tok_encode(verdict_contexts(lm, pair.question, a, b)[0]))
        for a, b in ((pair.answer_x, pair.answer_y), (pair.answer_y, pair.answer_x))
    )
    return longest + 1 <= int(lm.max_length)


def _judge_all(database: Database, judge: str, lm: Any, pairs: list[PairToJudge], counts: dict[str, int], show_progress: bool) -> None:
    """Judge chunk by chunk, storing each verdict; pairs too long for the judge are counted, not judged."""
    with tqdm(total=len(pairs), desc=f"judging with {judge}", unit="pair", disable=not show_progress) as bar:
        for start in range(0, len(pairs), CHUNK_BATTLES):
            chunk = pairs[start : start + CHUNK_BATTLES]
            fitting = [pair for pair in chunk if fits_judge_context(lm, pair)]
            counts["too_long"] += len(chunk) - len(fitting)
            for pair, outcome in zip(fitting, judge_outcomes(lm, fitting) if fitting else [], strict=True):
                _store_verdict(database, judge, pair, outcome)
                counts[outcome] += 1
            bar.update(len(chunk))


def _judge_all_written(
    database: Database, request: JudgeRequest, lm: Any, pairs: list[PairToJudge], counts: dict[str, int], show_progress: bool
) -> None:
    """pair-v2: written verdicts in both orders, chunk by chunk; too long and verdict-less pairs are counted, not stored."""
    with tqdm(total=len(pairs), desc=f"judging with {request.voter}", unit="pair", disable=not show_progress) as bar:
        for start in range(0, len(pairs), CHUNK_BATTLES):
            chunk = pairs[start : start + CHUNK_BATTLES]
            for pair, judged in zip(chunk, pair_judge.judge_pairs(lm, chunk, request.max_tokens, request.judge), strict=True):
                if judged is None:
                    counts["too_long"] += 1
                elif judged.outcome is None:
                    counts["no_verdict"] += 1
                else:
                    outcome = {"x": "a", "y": "b"}.get(judged.outcome, "tie")
                    _store_verdict(database, request.voter, pair, outcome)
                    counts[outcome] += 1
            bar.update(len(chunk))


def _store_verdict(database: Database, judge: str, pair: PairToJudge, outcome: str) -> None:
    battle = voting.issue_battle_for(database, judge, pair.prompt_id, pair.model_x, pair.model_y)
    arena_queries.record_vote(database, battle.token, outcome, judge, voter_kind="judge", position_a="both")
