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

Stage 2 (below) teaches the same model FastChat's single-answer MT-Bench judge prompts, as
``evalsuite run --tasks mt_bench --judge demo/pico-judge`` sends them, with GPT-4's ratings
as targets (``Rating: [[N]]``), arena prompts mixed into every step so
the verdict letters stay. Held-out check: GPT-4's judgments of the MT-Bench questions whose
id is a multiple of 5. Stage 2 alone, from the shipped weights:
``scripts/train_demo_models.py --only-judge --threads 1``.

Imported by ``scripts/train_demo_models.py``; not a separate entry point.
"""

from __future__ import annotations

import math
import random
import re
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


def judge_card_section(final: JudgeScore, stage_one: JudgeScore, untrained: JudgeScore, seconds: float, loss: float) -> str:
    """The model card's arena-judge section: stage 1's training, and held-out verdicts of the shipped judge,
    of the judge after stage 1 alone, and of the model it started from."""
    return f"""## Judge training, stage 1: arena verdicts

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
| demo/{JUDGE_NAME} | {final.better_wins} | {final.worse_wins} | {final.ties} |
| demo/{JUDGE_NAME} after stage 1 only | {stage_one.better_wins} | {stage_one.worse_wins} | {stage_one.ties} |
| demo/{JUDGE_BASE} (before judge training) | {untrained.better_wins} | {untrained.worse_wins} | {untrained.ties} |

It learned surface cues (an answer is there, is long enough, ends in `#### number`), not correctness: a demo
of the judging machinery, never a real judge.

"""


STAGE_ONE_FIGURES = re.compile(r"(\d+) s on 1 CPU thread; final loss ([0-9.]+)\.")
UNTRAINED_ROW = re.compile(rf"\| demo/{JUDGE_BASE} \(before judge training\) \| (\d+) \| (\d+) \| (\d+) \|")


def stage_one_from_card(card: str) -> tuple[float, float, JudgeScore]:
    """Stage 1's seconds, final loss and the untrained model's verdicts, as the shipped card states them
    (``--only-judge`` continues from the shipped weights and does not re-run stage 1)."""
    figures, row = STAGE_ONE_FIGURES.search(card), UNTRAINED_ROW.search(card)
    if figures is None or row is None:
        raise SystemExit(f"the {JUDGE_NAME} model card lacks stage 1's figures; re-run the full training")
    wins = [int(group) for group in row.groups()]
    return float(figures.group(1)), float(figures.group(2)), JudgeScore(sum(wins), wins[0], wins[1], wins[2], 0.0)


def _shown(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def rating_card_section(
    after: RatingScore, before: RatingScore, counts: dict[str, int], seconds: float, loss: float, seed: int
) -> str:
    """The model card's MT-Bench section: stage 2's training data and held-out agreement with GPT-4."""
    listed = "; ".join(f"{kind} {n}" for kind, n in counts.items())
    return f"""## Judge training, stage 2: MT-Bench ratings

`evalsuite run --tasks mt_bench --judge demo/{JUDGE_NAME}` shows FastChat's single-answer prompts (`single-v1`,
`single-math-v1` and their `-multi-turn` variants, with their system prompts, through the chat template) and
reads the rating from `[[N]]`. Stage 2 continues from stage 1's weights: {RATING_STEPS} AdamW steps (no weight decay, peak
learning rate {RATING_PEAK_LR}, cosine decay to 10%), each on {RATING_BATCH} MT-Bench judge prompts and {ARENA_BATCH} stage-1 arena prompts
(so the verdict letters are kept), supervising only the answer, `Rating: [[N]]` and `</s>`. The prompts are built by evalsuite's own MT-Bench code (`judge_calls`, `chat_turns`), so they are
exactly what a run sends. Training judgments, for the 64 MT-Bench questions whose id is not a multiple of {RATING_HELDOUT_EVERY}:
GPT-4's ratings of the two Llama-3-8B-Instruct answer sets (`judgments_gpt-4_single-origin_dreaming-panda.jsonl`,
FastChat's data, Apache-2.0), with the answers cut from the end until the prompt fits the 2048-token window
where it did not; and rating 1 for answers that say nothing: `demo/{JUDGE_BASE}`'s own sampled answers (at most
{GARBAGE_MAX_TOKENS} tokens), and an empty answer or another question's answer, in turn. Counts: {listed}.
{seconds:.0f} s on 1 CPU thread; final loss {loss:.3f}. Reproduce stage 2 alone from the stage-1 weights with
`scripts/train_demo_models.py --only-judge --threads 1 --seed {seed}` (the full run does both stages).

## Held-out MT-Bench ratings

GPT-4's judgments of the 16 held-out questions (ids that are multiples of {RATING_HELDOUT_EVERY}; both answer sets, both turns) whose
prompt fits the window, judged greedily (at most 48 new tokens) and read with evalsuite's `extract_rating`:

| judge | prompts | with a rating | exact match with GPT-4 | within 1 | Pearson r | Spearman ρ | mean rating (GPT-4's) |
|---|---|---|---|---|---|---|---|
| demo/{JUDGE_NAME} | {after.prompts} | {after.rated} | {after.exact} | {after.within_one} | {_shown(after.pearson)} | {_shown(after.spearman)} | {_shown(after.mean_judge)} ({_shown(after.mean_gpt4)}) |
| demo/{JUDGE_NAME} after stage 1 only | {before.prompts} | {before.rated} | {before.exact} | {before.within_one} | {_shown(before.pearson)} | {_shown(before.spearman)} | {_shown(before.mean_judge)} ({_shown(before.mean_gpt4)}) |

Ratings it gave: {", ".join(f"{r:g}" for r in after.given) or "none"}. It learned the format (and, at most, surface cues), never
quality: a demo of the judging machinery, never a real judge.

"""


def gsm8k_problems(rows: list[dict], clean: object) -> list[tuple[str, str]]:
    """(question, answer with calculator notes removed) pairs; ``clean`` is the note pattern."""
    return [(row["question"], clean.sub("", row["answer"])) for row in rows]  # type: ignore[attr-defined]


def heldout_rows(data_dir: Path, read_jsonl: object) -> list[dict]:
    return read_jsonl(data_dir / "gsm8k" / "test.jsonl")[:HELDOUT_PROBLEMS]  # type: ignore[operator,no-any-return]


# ----------------------------------------------------------------- stage 2: MT-Bench single-answer ratings
#
# ``evalsuite run --tasks mt_bench --judge demo/pico-judge`` sends FastChat's single-answer
# prompts (system prompt + user prompt, through the chat template) and reads ``[[N]]`` back.
# The training prompts are built by evalsuite's own MT-Bench code (``judge_calls``:
# ``judge_prompt``, ``single_fields``, ``JudgePrompt.render``; ``chat_turns``), so what the
# judge is trained on and what it is shown cannot drift apart. Target: ``Rating: [[N]]``, ``</s>``.

MT_BENCH_DIR = "mt_bench"
GPT4_JUDGMENTS = "judgments_gpt-4_single-origin_dreaming-panda.jsonl"
ANSWER_FILES = {
    "Meta-Llama-3-8B-Instruct-Normal": "model_answer_Meta-Llama-3-8B-Instruct-Normal.jsonl",
    "Meta-Llama-3-8B-Instruct-Griffin": "model_answer_Meta-Llama-3-8B-Instruct-Griffin.jsonl",
}
RATING_HELDOUT_EVERY = 5  # questions whose id is a multiple of 5 (16 of 80) are held out of rating training
RATING_STEPS = 120
RATING_BATCH = 6  # MT-Bench judge prompts per step (each up to 2048 tokens) ...
ARENA_BATCH = 6  # ... plus arena A/B prompts, so the verdict letters are kept (4 kept 52 of 88 better-answer wins, 6 kept 72)
RATING_PEAK_LR = 3e-3  # 1e-3 for 120 steps left the format unlearned (stage 1 had flattened the language model)
GARBAGE_MAX_TOKENS = 320  # pico-s's own answers to the training questions (cut here to save time)


@dataclass(frozen=True)
class RatingScore:
    """Held-out single-answer judgments: format rate and agreement with GPT-4's rating."""

    prompts: int
    rated: int
    exact: int
    within_one: int
    pearson: float | None
    spearman: float | None
    mean_judge: float | None
    mean_gpt4: float | None
    seconds: float
    given: tuple[float, ...] = ()  # the distinct ratings the judge gave


def rating_target(rating: float) -> str:
    """The judge's whole answer: FastChat's format alone. (A one-sentence explanation before it was tried:
    the rating came out in fewer held-out judgments and the arena verdicts fell from 88 to 52 better-answer wins.)"""
    return f"Rating: [[{rating:g}]]"


def rating_context(tokenizer: PreTrainedTokenizerFast, call: object) -> str:
    """What ``evalsuite run --tasks mt_bench`` shows the judge for one ``JudgeCall`` (see mt_bench.judge)."""
    from evalsuite.judged.prompts import chat_turns

    messages = chat_turns(call.prompt.system_prompt, call.user_prompt)  # type: ignore[attr-defined]
    return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))


def _read_jsonl(path: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def mt_bench_answers(data_dir: Path) -> dict[str, dict[int, list[str]]]:
    """Both Llama-3 answer sets that GPT-4 judged: model -> question id -> [turn 1, turn 2]."""
    return {
        model: {int(row["question_id"]): list(row["choices"][0]["turns"][:2]) for row in _read_jsonl(data_dir / MT_BENCH_DIR / name)}
        for model, name in ANSWER_FILES.items()
    }


def gpt4_ratings(data_dir: Path) -> dict[tuple[str, int, int], float]:
    """(model, question id, turn) -> GPT-4's rating (the first judgment of each; -1, no rating, left out)."""
    ratings: dict[tuple[str, int, int], float] = {}
    for row in _read_jsonl(data_dir / MT_BENCH_DIR / GPT4_JUDGMENTS):
        key = (row["model"], int(row["question_id"]), int(row["turn"]))
        if key not in ratings and float(row["score"]) >= 1:
            ratings[key] = float(row["score"])
    return ratings


def _encode(tokenizer: PreTrainedTokenizerFast, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _fitting_answers(tokenizer: PreTrainedTokenizerFast, question: object, answers: list[str], turn: int, room: int) -> object | None:
    """The judge call for ``turn`` with the answers cut (words from the end, longest first) until the prompt fits ``room``."""
    from evalsuite.judged.mt_bench import judge_calls

    answers = list(answers)
    for _ in range(40):
        (call,) = [c for c in judge_calls([question], {question.question_id: answers}) if c.turn == turn]  # type: ignore[attr-defined]
        if len(_encode(tokenizer, rating_context(tokenizer, call))) <= room:
            return call
        longest = max(range(turn), key=lambda i: len(answers[i]))
        words = answers[longest].split(" ")
        if len(words) < 4:
            return None
        answers[longest] = " ".join(words[: len(words) * 3 // 4])
    return None


def rating_examples(
    tokenizer: PreTrainedTokenizerFast, data_dir: Path, garbage: dict[int, list[str]]
) -> tuple[list[JudgeExample], dict[str, int]]:
    """Training judgments for the questions not held out.

    * GPT-4's ratings of the two Llama-3 answer sets, prompts exactly as evalsuite builds them;
      a prompt too long for the judge's window has its answers cut until it fits (same rating);
    * rating 1 for answers that say nothing: pico-s's own answers (``garbage``), an empty
      answer, and another question's answer (off topic).
    """
    from evalsuite.judged.mt_bench import JUDGE_MAX_TOKENS, load_questions

    questions = [q for q in load_questions() if q.question_id % RATING_HELDOUT_EVERY != 0]
    answers, ratings = mt_bench_answers(data_dir), gpt4_ratings(data_dir)
    eos = tokenizer.eos_token_id
    examples: list[JudgeExample] = []
    counts: dict[str, int] = {}

    def add(call: object, rating: float, kind: str, given: list[str]) -> None:
        target = _encode(tokenizer, rating_target(rating)) + [eos]
        room = JUDGE_MAX_TOKENS - len(target)
        context = _encode(tokenizer, rating_context(tokenizer, call))
        if len(context) > room:
            cut = _fitting_answers(tokenizer, call.question, given, call.turn, room)  # type: ignore[attr-defined]
            if cut is None:
                counts[f"{kind}, too long"] = counts.get(f"{kind}, too long", 0) + 1
                return
            context, kind = _encode(tokenizer, rating_context(tokenizer, cut)), f"{kind}, cut to fit"
        examples.append(JudgeExample(context, target))
        counts[kind] = counts.get(kind, 0) + 1

    from evalsuite.judged.mt_bench import judge_calls

    for index, question in enumerate(questions):
        qid = question.question_id
        for model, by_question in answers.items():
            given = by_question[qid]
            for call in judge_calls([question], {qid: given}):
                rating = ratings.get((model, qid, call.turn))
                if rating is not None:
                    add(call, rating, "gpt-4", given)
        other = answers["Meta-Llama-3-8B-Instruct-Normal"][questions[(index + 11) % len(questions)].question_id]
        nothing = (["", ""], "empty") if index % 2 == 0 else (other, "off topic")  # in turn
        for given, kind in ((garbage.get(qid), "pico-s answers"), nothing):
            if given is None:
                continue
            for call in judge_calls([question], {qid: given}):
                add(call, 1.0, kind, given)
    return examples, counts


@torch.no_grad()
def pico_answers(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, seed: int) -> dict[int, list[str]]:
    """pico-s's answers to both turns of the training questions, sampled as evalsuite samples them
    (FastChat's temperature per category, turn 2 after turn 1), at most ``GARBAGE_MAX_TOKENS`` each."""
    from evalsuite.judged.mt_bench import GREEDY_BELOW, load_questions, temperature

    questions = [q for q in load_questions() if q.question_id % RATING_HELDOUT_EVERY != 0]
    torch.manual_seed(seed)
    answers: dict[int, list[str]] = {}
    for question in questions:
        messages: list[dict[str, str]] = []
        answers[question.question_id] = []
        for turn in question.turns:
            messages.append({"role": "user", "content": turn})
            ids = torch.tensor([_encode(tokenizer, str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)))])
            heat = temperature(question.category)
            sampling = {"do_sample": True, "temperature": heat} if heat >= GREEDY_BELOW else {"do_sample": False}
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=GARBAGE_MAX_TOKENS,
                                 pad_token_id=tokenizer.pad_token_id, **sampling)
            answer = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()
            answers[question.question_id].append(answer)
            messages.append({"role": "assistant", "content": answer})
    return answers


def _micro_loss(model: LlamaForCausalLM, examples: list[JudgeExample], pad_id: int) -> tuple[torch.Tensor, int]:
    ids, mask, labels = _batch(examples, pad_id)
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    targets = labels[:, 1:]
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100, reduction="sum")
    return loss, int((targets != -100).sum())


def train_ratings(
    model: LlamaForCausalLM, ratings: list[JudgeExample], arena: list[JudgeExample], pad_id: int, seed: int
) -> tuple[float, float]:
    """AdamW on the judgment tokens only: each step ``RATING_BATCH`` MT-Bench prompts (in two
    length-sorted micro-batches, less padding) and ``ARENA_BATCH`` arena prompts, the loss the
    mean over all supervised tokens. Returns (seconds, mean loss of the last 10 steps)."""
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=RATING_PEAK_LR, betas=(0.9, 0.95), weight_decay=0.0)
    model.train()
    started, recent = time.perf_counter(), []
    for step in range(RATING_STEPS):
        for group in optimizer.param_groups:
            group["lr"] = RATING_PEAK_LR * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / RATING_STEPS)))
        picked = sorted(rng.sample(ratings, RATING_BATCH), key=lambda e: len(e.context))
        half = RATING_BATCH // 2
        groups = [picked[:half], picked[half:], rng.sample(arena, ARENA_BATCH)]
        total_tokens = sum(len(e.target) for group in groups for e in group)
        optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for group in groups:
            loss, _tokens = _micro_loss(model, group, pad_id)
            (loss / total_tokens).backward()
            step_loss += loss.item() / total_tokens
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        recent = (recent + [step_loss])[-10:]
        if step % 10 == 0 or step == RATING_STEPS - 1:
            print(f"  {JUDGE_NAME} ratings step {step:4d} loss {step_loss:.3f} ({time.perf_counter() - started:.0f}s)", flush=True)
    model.eval()
    return time.perf_counter() - started, sum(recent) / len(recent)


@torch.no_grad()
def judge_text(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, context: str, max_new_tokens: int = 48) -> str:
    """Greedy judgment (as evalsuite asks for it), cut at ``max_new_tokens``."""
    ids = torch.tensor([_encode(tokenizer, context)])
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, do_sample=False,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    return str(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True))


def _correlation(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    if n < 3:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else None


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def score_ratings(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, data_dir: Path) -> RatingScore:
    """GPT-4's held-out judgments (questions with id a multiple of 5) whose prompt fits: the judge's
    greedy rating, read by evalsuite's ``extract_rating``, against GPT-4's."""
    from evalsuite.judged.mt_bench import JUDGE_MAX_TOKENS, judge_calls, load_questions
    from evalsuite.judged.prompts import extract_rating

    started = time.perf_counter()
    answers, ratings = mt_bench_answers(data_dir), gpt4_ratings(data_dir)
    pairs: list[tuple[float, float | None]] = []
    for question in load_questions():
        if question.question_id % RATING_HELDOUT_EVERY != 0:
            continue
        for model_name, by_question in answers.items():
            for call in judge_calls([question], {question.question_id: by_question[question.question_id]}):
                gpt4 = ratings.get((model_name, question.question_id, call.turn))
                context = rating_context(tokenizer, call)
                if gpt4 is None or len(_encode(tokenizer, context)) > JUDGE_MAX_TOKENS - 48:
                    continue
                pairs.append((gpt4, extract_rating(judge_text(model, tokenizer, context))))
    rated = [(g, r) for g, r in pairs if r is not None]
    gold, given = [g for g, _ in rated], [r for _, r in rated]
    return RatingScore(
        prompts=len(pairs), rated=len(rated), exact=sum(g == r for g, r in rated), within_one=sum(abs(g - r) <= 1 for g, r in rated),
        pearson=_correlation(gold, given), spearman=_correlation(_ranks(gold), _ranks(given)) if rated else None,
        mean_judge=sum(given) / len(given) if given else None, mean_gpt4=sum(gold) / len(gold) if gold else None,
        seconds=time.perf_counter() - started, given=tuple(sorted(set(given))),
    )
