"""Turning lm-eval scoring requests into as few vLLM prompts as possible.

lm-eval's HFLM scores ``(context, continuation)`` by feeding
``(context + continuation)[-(max_length + 1):][:-1]`` and reading the
log-probability of each continuation token at the positions that predict it.
vLLM has no "score these tokens" call, but two 0.32 sampling options cover it
exactly, with no position beyond ``max_length``:

* ``logprob_token_ids``: with ``max_tokens=1`` the engine returns the
  log-probabilities of *given* token ids at the next position (plus the greedy
  token, which tells whether the continuation is the argmax). This scores the
  LAST continuation token — and for a one-token continuation (PubMedQA's
  yes/no/maybe, MMLU's A-D) it is the whole job: one prompt per distinct
  context, every choice's token asked for at once, nothing else computed.
* ``prompt_logprobs=0``: the log-probability and rank of every prompt token.
  This scores the continuation's other tokens, which sit at the end of the
  prompt ``(context + continuation)[:-1]``.

So each request maps to one prompt, requests with the same prompt share it::

    prompt (fed)     c0 c1 c2 c3 a0 a1          request: context c0..c3, continuation a0 a1 a2
    prompt logprobs              ^  ^           a0, a1: logprob and rank (rank 1 = greedy)
    next token                         a2       logprob_token_ids=[a2]; greedy token == a2?

This module is vLLM-free: planning and reading results only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# vLLM's cap on ``SamplingParams.logprob_token_ids`` (vllm.sampling_params.MAX_LOGPROB_TOKEN_IDS).
MAX_TARGET_IDS = 128


@dataclass(frozen=True)
class Continuation:
    """One request's continuation as it is scored against a shared prompt.

    Attributes:
        key: the caller's index of the request.
        tokens: continuation token ids (at least one); all but the last are the
            last ``len(tokens) - 1`` tokens of the prompt.
    """

    key: int
    tokens: tuple[int, ...]


@dataclass
class PromptJob:
    """One vLLM prompt and the continuations it scores.

    Attributes:
        prompt: token ids fed to the engine (at most ``max_length`` of them).
        context: the request's context tokens (after truncation); jobs with the
            same context share a KV-cache prefix.
        members: the continuations scored from this prompt.
    """

    prompt: tuple[int, ...]
    context: tuple[int, ...]
    members: list[Continuation] = field(default_factory=list)

    @property
    def target_ids(self) -> list[int]:
        """Distinct last tokens whose next-position log-probability is needed."""
        return sorted({member.tokens[-1] for member in self.members})

    @property
    def first_scored_token(self) -> int | None:
        """Index of the first prompt token whose prompt log-probability is needed, or None.

        Its log-probability is computed at position ``index - 1``, so a prefix-cache
        hit must not cover that position (see ``JobResult.is_valid``).
        """
        prompt_tokens = [len(self.prompt) - (len(m.tokens) - 1) for m in self.members if len(m.tokens) > 1]
        return min(prompt_tokens) if prompt_tokens else None


@dataclass(frozen=True)
class TokenScore:
    """Log-probability of one token and whether it is the most likely one there."""

    logprob: float
    is_greedy: bool


@dataclass
class JobResult:
    """What the engine returned for one ``PromptJob``.

    Attributes:
        next_token: log-probabilities of the job's ``target_ids`` at the next position.
        greedy_token: the argmax token at the next position (temperature 0).
        prompt_scores: per prompt index, the prompt token's score (None where not computed).
        cached_tokens: prompt tokens served from the prefix cache (their positions
            were not computed, so their prompt log-probabilities are absent).
    """

    next_token: Mapping[int, float]
    greedy_token: int
    prompt_scores: Sequence[TokenScore | None] | None
    cached_tokens: int

    def is_valid_for(self, job: PromptJob) -> bool:
        """True unless a prefix-cache hit skipped a position whose log-probability is needed."""
        first = job.first_scored_token
        if first is None:
            return True
        return self.prompt_scores is not None and self.cached_tokens <= first - 1


@dataclass
class ScoringStats:
    """Running totals of the work sent to vLLM (for benchmarks and tests).

    Attributes:
        prompts: prompts scored (reruns included).
        prompt_tokens: tokens in those prompts.
        cached_tokens: of those, tokens read from the prefix cache instead of computed.
        reruns: prompts rerun because a cache hit covered a position that had to be scored.
        warmup_prompts: contexts computed ahead, without log-probabilities (see ``warmup_prefixes``).
    """

    prompts: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    reruns: int = 0
    warmup_prompts: int = 0

    def add(self, jobs: Sequence[PromptJob], results: Sequence[JobResult]) -> None:
        self.prompts += len(jobs)
        self.prompt_tokens += sum(len(job.prompt) for job in jobs)
        self.cached_tokens += sum(result.cached_tokens for result in results)


@dataclass(frozen=True)
class ScoredRequest:
    key: int
    logprob: float
    is_greedy: bool


def truncate_request(context: Sequence[int], continuation: Sequence[int], max_length: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """HFLM's left truncation: keep the last ``max_length + 1`` tokens of context + continuation.

    Returns the (possibly shortened) context and the continuation; the caller has
    already refused continuations longer than ``max_length``.
    """
    whole = (list(context) + list(continuation))[-(max_length + 1) :]
    return tuple(whole[: len(whole) - len(continuation)]), tuple(continuation)


def plan_jobs(requests: Iterable[tuple[int, Sequence[int], Sequence[int]]], max_length: int) -> list[PromptJob]:
    """Group ``(key, context_tokens, continuation_tokens)`` requests by the prompt they need.

    Requests whose prompts coincide (every choice of a one-token multiple-choice
    question) become one job; a job is split when it would ask for more than
    ``MAX_TARGET_IDS`` next-token ids.
    """
    by_prompt: dict[tuple[int, ...], PromptJob] = {}
    for key, context, continuation in requests:
        kept_context, tokens = truncate_request(context, continuation, max_length)
        prompt = kept_context + tokens[:-1]
        job = by_prompt.setdefault(prompt, PromptJob(prompt, kept_context))
        job.members.append(Continuation(key, tokens))
    return [part for job in by_prompt.values() for part in _split_by_target_count(job)]


def _split_by_target_count(job: PromptJob) -> list[PromptJob]:
    if len(job.target_ids) <= MAX_TARGET_IDS:
        return [job]
    parts: list[PromptJob] = []
    allowed: set[int] = set()
    for member in sorted(job.members, key=lambda m: m.tokens[-1]):
        if not parts or (member.tokens[-1] not in allowed and len(allowed) == MAX_TARGET_IDS):
            parts.append(PromptJob(job.prompt, job.context))
            allowed = set()
        allowed.add(member.tokens[-1])
        parts[-1].members.append(member)
    return parts


def warmup_prefixes(jobs: Sequence[PromptJob], block_size: int) -> list[tuple[int, ...]]:
    """Context prefixes to compute (and so cache) before the jobs that need prompt log-probabilities.

    vLLM computes prompt log-probabilities at every position it computes, i.e. every
    position after the prefix-cache hit. Computing each context first, without
    log-probabilities, leaves only the continuation (plus less than one KV block of
    context) to compute with them, and lets a context's choices share it. A warm-up
    stops one token short of its context, so its cached blocks never cover the position
    that predicts the first continuation token. Contexts shorter than a block are skipped:
    nothing of them could be cached.
    """
    prefixes: dict[tuple[int, ...], None] = {}
    for job in jobs:
        if job.first_scored_token is not None and len(job.context) - 1 >= block_size:
            prefixes.setdefault(job.context[:-1], None)
    return list(prefixes)


def score_job(job: PromptJob, result: JobResult) -> list[ScoredRequest]:
    """Sum each member's token log-probabilities; greedy iff every token is the argmax.

    ``log P(continuation | context) = sum_i log p(a_i | context, a_<i)``: the last
    token from the next-position log-probabilities, the others from prompt ones.
    """
    scored = []
    for member in job.members:
        last = member.tokens[-1]
        logprob = result.next_token[last]
        greedy = result.greedy_token == last
        first = len(job.prompt) - (len(member.tokens) - 1)
        for index in range(first, len(job.prompt)):
            score = result.prompt_scores[index] if result.prompt_scores is not None else None
            if score is None:
                raise RuntimeError(f"vLLM returned no prompt log-probability at position {index}")
            logprob += score.logprob
            greedy = greedy and score.is_greedy
        scored.append(ScoredRequest(member.key, logprob, greedy))
    return scored
