"""The third demo model, ``demo/pico-judge``: a tiny model taught to answer evalsuite's judge prompt.

Why it exists: the README's arena flow answers prompts with ``demo/pico-s`` and
``demo/pico-m`` and then lets a model judge them. A judge never rates pairs that
contain its own answers, so the judge must be a third model. ``pico-judge`` starts
from the chat-tuned ``pico-s`` weights and is then trained on the exact prompt
``evalsuite arena judge`` shows (``evalsuite.arena.judge.JUDGE_PROMPT``, through the
chat template), with the verdict letter as the only supervised token.

Training pairs come from GSM8K train problems that the other models' chat phase did not
use: the real worked answer against a worse one (an empty answer, another problem's
answer, or the first quarter of the real answer), the better answer shown first in half
of the pairs. Held-out check: the same kinds of pairs built from the GSM8K *test* split,
judged in both orders exactly as ``evalsuite arena judge`` does (a side wins only if it
wins in both orders).

Imported by ``scripts/train_demo_models.py``; not a separate entry point.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from evalsuite.arena.judge import JUDGE_PROMPT, VERDICT_TOKENS

JUDGE_NAME = "pico-judge"
JUDGE_BASE = "pico-s"
TRAIN_PROBLEMS = slice(3000, 4800)  # GSM8K train rows after the 3000 used as chat turns
HELDOUT_PROBLEMS = 150  # first GSM8K test rows, for the held-out verdict accuracy
STEPS = 300  # 80 steps left every verdict a tie (loss stuck at ln 2); 300 learn the cues
BATCH = 16
PEAK_LR = 3e-3
MAX_TOKENS = 1024
BAD_KINDS = ("empty", "other problem's answer", "first quarter")


@dataclass(frozen=True)
class JudgeExample:
    """One supervised verdict: prompt token ids and the verdict letter's token id."""

    context: list[int]
    target: list[int]


@dataclass(frozen=True)
class JudgeScore:
    """Held-out verdicts on (better, worse) pairs, both orders: how often each side won."""

    pairs: int
    better_wins: int
    worse_wins: int
    ties: int
    seconds: float

    @property
    def accuracy(self) -> float:
        return self.better_wins / self.pairs


def worse_answer(kind: str, answer: str, other: str) -> str:
    """The worse side of a pair: empty, off-topic (another problem's answer), or cut short."""
    if kind == "empty":
        return ""
    if kind == "first quarter":
        words = answer.split()
        return " ".join(words[: max(1, len(words) // 4)])
    return other


def judge_pairs(problems: list[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """(question, better, worse, kind) per problem, the kinds in turn."""
    pairs = []
    for i, (question, answer) in enumerate(problems):
        kind = BAD_KINDS[i % len(BAD_KINDS)]
        other = problems[(i + 7) % len(problems)][1]
        pairs.append((question, answer, worse_answer(kind, answer, other), kind))
    return pairs


def judge_context(tokenizer: PreTrainedTokenizerFast, question: str, answer_a: str, answer_b: str) -> str:
    """The prompt `evalsuite arena judge` builds for a chat-template model (one user turn)."""
    text = JUDGE_PROMPT.format(question=question, answer_a=answer_a, answer_b=answer_b)
    return str(
        tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
    )


def judge_examples(tokenizer: PreTrainedTokenizerFast, problems: list[tuple[str, str]]) -> list[JudgeExample]:
    """Supervised verdicts; the better answer is A in pairs 0-2, 6-8, ... and B in the others."""
    examples = []
    for i, (question, better, worse, _kind) in enumerate(judge_pairs(problems)):
        better_first = (i // len(BAD_KINDS)) % 2 == 0
        a, b = (better, worse) if better_first else (worse, better)
        context = tokenizer(judge_context(tokenizer, question, a, b), add_special_tokens=False)["input_ids"]
        verdict = VERDICT_TOKENS[0] if better_first else VERDICT_TOKENS[1]
        target = tokenizer(verdict, add_special_tokens=False)["input_ids"]
        if len(context) + len(target) <= MAX_TOKENS:
            examples.append(JudgeExample(context, target))
    return examples


def _batch(examples: list[JudgeExample], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ids, attention mask, and labels that supervise only the verdict letter."""
    width = max(len(e.context) + len(e.target) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n, m = len(example.context), len(example.target)
        ids[row, : n + m] = torch.tensor(example.context + example.target)
        labels[row, n : n + m] = torch.tensor(example.target)
        mask[row, : n + m] = 1
    return ids, mask, labels


def train_judge(model: LlamaForCausalLM, examples: list[JudgeExample], pad_id: int, seed: int) -> tuple[float, float]:
    """AdamW on the verdict tokens only; returns (seconds, mean loss of the last 10 steps)."""
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=PEAK_LR, betas=(0.9, 0.95), weight_decay=0.0)  # no decay: few steps
    model.train()
    started, recent = time.perf_counter(), []
    for step in range(STEPS):
        for group in optimizer.param_groups:  # cosine from the peak to 10% of it
            group["lr"] = PEAK_LR * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / STEPS)))
        ids, mask, labels = _batch(rng.sample(examples, BATCH), pad_id)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        recent = (recent + [loss.item()])[-10:]
        if step % 20 == 0 or step == STEPS - 1:
            print(f"  {JUDGE_NAME} step {step:4d} loss {loss.item():.3f} ({time.perf_counter() - started:.0f}s)", flush=True)
    model.eval()
    return time.perf_counter() - started, sum(recent) / len(recent)


@torch.no_grad()
def _letter_logprobs(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, context: str) -> tuple[float, float]:
    ids = torch.tensor([tokenizer(context, add_special_tokens=False)["input_ids"]])
    log_probs = torch.log_softmax(model(input_ids=ids).logits[0, -1].double(), dim=-1)
    a, b = (tokenizer.convert_tokens_to_ids(letter) for letter in VERDICT_TOKENS)
    return float(log_probs[a]), float(log_probs[b])


def score_judge(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, problems: list[tuple[str, str]]) -> JudgeScore:
    """Both orders per pair; the better answer wins only if it wins in both (else a tie)."""
    started = time.perf_counter()
    better_wins = worse_wins = ties = 0
    for question, better, worse, _kind in judge_pairs(problems):
        first = _letter_logprobs(model, tokenizer, judge_context(tokenizer, question, better, worse))
        swapped = _letter_logprobs(model, tokenizer, judge_context(tokenizer, question, worse, better))
        if first[0] > first[1] and swapped[1] > swapped[0]:
            better_wins += 1
        elif first[0] < first[1] and swapped[1] < swapped[0]:
            worse_wins += 1
        else:
            ties += 1
    return JudgeScore(len(problems), better_wins, worse_wins, ties, time.perf_counter() - started)


def judge_card_section(trained: JudgeScore, untrained: JudgeScore, seconds: float, loss: float) -> str:
    """The model card's judge section (held-out verdict accuracy against the model it started from)."""
    return f"""## Judge training

Starts from the chat-tuned `demo/{JUDGE_BASE}` weights, then {STEPS} AdamW steps (no weight decay, peak learning rate {PEAK_LR},
cosine decay to 10%, batches of {BATCH}) on `evalsuite arena judge`'s own prompt through the chat template,
supervising only the verdict letter: GSM8K train problems {TRAIN_PROBLEMS.start}–{TRAIN_PROBLEMS.stop - 1}, the real worked
answer against a worse one ({", ".join(BAD_KINDS)}, in turn), the better answer shown as A in half of the
pairs. {seconds:.0f} s on 1 CPU thread; final loss {loss:.3f}.

## Held-out verdicts

The first {HELDOUT_PROBLEMS} GSM8K *test* problems as the same kinds of pairs, each judged in both orders as
`evalsuite arena judge` does (log p("A") against log p("B"); a side wins only if it wins in both orders):

| judge | better answer wins | worse answer wins | ties (orders disagree) |
|---|---|---|---|
| demo/{JUDGE_NAME} | {trained.better_wins} | {trained.worse_wins} | {trained.ties} |
| demo/{JUDGE_BASE} (before judge training) | {untrained.better_wins} | {untrained.worse_wins} | {untrained.ties} |

It learned surface cues (an answer is there, is long enough, ends in `#### number`), not correctness: a demo
of the judging machinery, never a real judge.
"""


def gsm8k_problems(rows: list[dict], clean: object) -> list[tuple[str, str]]:
    """(question, answer with calculator notes removed) pairs; ``clean`` is the note pattern."""
    return [(row["question"], clean.sub("", row["answer"])) for row in rows]  # type: ignore[attr-defined]


def heldout_rows(data_dir: Path, read_jsonl: object) -> list[dict]:
    return read_jsonl(data_dir / "gsm8k" / "test.jsonl")[:HELDOUT_PROBLEMS]  # type: ignore[operator,no-any-return]
