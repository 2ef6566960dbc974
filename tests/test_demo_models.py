"""The shipped demo models load offline, fit the size budget and are measurably trained.

Held-out perplexity is recomputed here with its own loop (log-softmax + gather over
non-overlapping windows), independent of ``scripts/train_demo_models.py``, on the first 8
WikiText-2 test articles that the models never saw in training. The judge's held-out
verdicts are recomputed from GSM8K test problems with this file's own loop, following
the protocol its model card states, and must match the card; so are its held-out MT-Bench
ratings, from GPT-4's own judgment prompts (FastChat's raw files, not evalsuite's builder).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import pytest
import torch
from lm_eval.tasks.wikitext.preprocess_wikitext import wikitext_detokenizer
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from evalsuite.arena.judge import JUDGE_PROMPT
from evalsuite.identity.models import DEMO_MODELS_DIR, demo_models

REPO_ROOT = Path(__file__).resolve().parent.parent
HELDOUT_FILE = REPO_ROOT / "tasks" / "data" / "wikitext2" / "test_first8_articles.jsonl"
WINDOW = 1024  # the window the model cards report
SIZE_LIMIT_BYTES = 5_000_000
NAMES = ("pico-s", "pico-m", "pico-judge")
CONTESTANTS = ("pico-s", "pico-m")
MT_BENCH_FILE = REPO_ROOT / "tasks" / "arena" / "mt_bench_questions.jsonl"
CALCULATOR_NOTE = re.compile(r"<<[^>]*>>")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; two threads on a busy 2-core box ran 10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _path(name: str) -> Path:
    return DEMO_MODELS_DIR / name


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(_path("pico-s"))


@pytest.fixture(scope="module")
def heldout_ids(tokenizer: PreTrainedTokenizerBase) -> list[list[int]]:
    with HELDOUT_FILE.open(encoding="utf-8") as handle:
        pages = [
            wikitext_detokenizer(json.loads(line)) for line in handle if line.strip()
        ]
    return [tokenizer.encode(page, add_special_tokens=False) for page in pages]


def _load(name: str) -> PreTrainedModel:
    return AutoModelForCausalLM.from_pretrained(_path(name)).eval()


@torch.no_grad()
def _perplexity(model: PreTrainedModel, pages: list[list[int]]) -> float:
    """exp(sum of -log p(token | window prefix) / number of predicted tokens), each token weighted equally."""
    nll, count = 0.0, 0
    for ids in pages:
        for start in range(0, len(ids), WINDOW):
            window = torch.tensor(ids[start : start + WINDOW]).unsqueeze(0)
            if window.shape[1] < 2:
                continue
            log_probs = torch.log_softmax(model(window).logits[0, :-1].double(), dim=-1)
            nll -= log_probs.gather(1, window[0, 1:].unsqueeze(1)).sum().item()
            count += window.shape[1] - 1
    return math.exp(nll / count)


def _card_figure(name: str) -> float:
    card = (_path(name) / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"\| demo/{name} \(trained\) \| ([0-9.]+) \|", card)
    assert match, f"{name} model card lacks its held-out perplexity row"
    return float(match.group(1))


def test_the_three_demo_aliases_are_listed() -> None:
    assert demo_models() == ["demo/pico-judge", "demo/pico-m", "demo/pico-s"]


@pytest.mark.parametrize("name", NAMES)
def test_demo_model_is_small_float32_llama_with_head_dim_64(name: str) -> None:
    weights = _path(name) / "model.safetensors"
    assert weights.stat().st_size < SIZE_LIMIT_BYTES
    model = _load(name)
    config = model.config
    assert config.model_type == "llama" and config.architectures == ["LlamaForCausalLM"]
    assert config.head_dim == 64 == config.hidden_size // config.num_attention_heads
    assert config.max_position_embeddings == 2048
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) * 4 < SIZE_LIMIT_BYTES


def test_demo_tokenizer_round_trips_and_adds_no_special_tokens(
    tokenizer: PreTrainedTokenizerBase,
) -> None:
    text = "Du Fu (712–770) was a Chinese poet; p < 0.05 in 48 patients.\n  Ünïcode & émojis 🙂 survive."
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    assert tokenizer.bos_token_id not in ids and tokenizer.eos_token_id not in ids
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == (
        "<s>",
        "</s>",
        "<pad>",
    )
    for name in NAMES[1:]:
        assert AutoTokenizer.from_pretrained(_path(name)).get_vocab() == tokenizer.get_vocab()


def test_demo_chat_template_renders_turns_and_generation_prompt(
    tokenizer: PreTrainedTokenizerBase,
) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+2?"},
    ]
    rendered = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    )
    assert (
        rendered
        == "<|system|>\nBe brief.</s>\n<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n"
    )
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_dict=True
    )["input_ids"]
    assert tokenizer.convert_tokens_to_ids("<|assistant|>") in ids


def test_demo_model_generates_from_chat_prompt(
    tokenizer: PreTrainedTokenizerBase,
) -> None:
    model = _load("pico-s")
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Natalia sold 48 clips. How many?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**prompt, max_new_tokens=12, do_sample=False)
    assert 1 <= out.shape[1] - prompt["input_ids"].shape[1] <= 12


def test_trained_demo_models_beat_untrained_on_heldout_wikitext(
    heldout_ids: list[list[int]],
) -> None:
    small, medium = _load("pico-s"), _load("pico-m")
    torch.manual_seed(0)
    untrained = AutoModelForCausalLM.from_config(small.config).eval()
    ppl_small, ppl_medium = (
        _perplexity(small, heldout_ids),
        _perplexity(medium, heldout_ids),
    )
    ppl_untrained = _perplexity(untrained, heldout_ids)
    assert ppl_medium < ppl_small < 0.5 * ppl_untrained
    # The model cards report the same figures (to 0.1 of float32 rounding).
    assert ppl_small == pytest.approx(_card_figure("pico-s"), rel=1e-3)
    assert ppl_medium == pytest.approx(_card_figure("pico-m"), rel=1e-3)
    # The judge card's perplexity too (judge training trades language modelling for verdicts).
    assert _perplexity(_load("pico-judge"), heldout_ids) == pytest.approx(_card_figure("pico-judge"), rel=1e-3)


@pytest.mark.parametrize("name", CONTESTANTS)
def test_demo_contestants_answer_chat_prompts_with_text(
    name: str, tokenizer: PreTrainedTokenizerBase
) -> None:
    """The arena's first MT-Bench prompts through the chat template get words back, not "" or newlines."""
    model = _load(name)
    with MT_BENCH_FILE.open(encoding="utf-8") as handle:
        questions = [json.loads(line)["turns"][0] for line in islice(handle, 5)]
    for question in questions:
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        out = model.generate(**prompt, max_new_tokens=16, do_sample=False)
        answer = tokenizer.decode(out[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True)
        assert re.search(r"[A-Za-z0-9]", answer), (name, question, answer)


def _judge_pairs(rows: list[dict]) -> list[tuple[str, str, str]]:
    """(question, better, worse) as the judge card says: empty, another problem's answer, first quarter, in turn."""
    answers = [CALCULATOR_NOTE.sub("", row["answer"]) for row in rows]
    pairs = []
    for i, row in enumerate(rows):
        words = answers[i].split()
        worse = ("", answers[(i + 7) % len(rows)], " ".join(words[: max(1, len(words) // 4)]))[i % 3]
        pairs.append((row["question"], answers[i], worse))
    return pairs


@torch.no_grad()
def _prefers_a(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, question: str, a: str, b: str) -> float:
    """log p("A") - log p("B") after the judge prompt, through the chat template."""
    text = JUDGE_PROMPT.format(question=question, answer_a=a, answer_b=b)
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    last = torch.log_softmax(model(ids).logits[0, -1].double(), dim=-1)
    return float(last[tokenizer.convert_tokens_to_ids("A")] - last[tokenizer.convert_tokens_to_ids("B")])


def test_pico_judge_held_out_verdicts_match_its_card(
    tokenizer: PreTrainedTokenizerBase, shared_data: Path
) -> None:
    card = (_path("pico-judge") / "README.md").read_text(encoding="utf-8")
    match = re.search(r"\| demo/pico-judge \| (\d+) \| (\d+) \| (\d+) \|", card)
    assert match, "pico-judge's card lacks its held-out verdict row"
    with (shared_data / "gsm8k" / "test.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in islice(handle, 150)]
    judge = _load("pico-judge")
    tally = {"better": 0, "worse": 0, "tie": 0}
    for question, better, worse in _judge_pairs(rows):
        first, swapped = _prefers_a(judge, tokenizer, question, better, worse), _prefers_a(judge, tokenizer, question, worse, better)
        tally["better" if first > 0 > swapped else "worse" if first < 0 < swapped else "tie"] += 1
    assert (tally["better"], tally["worse"], tally["tie"]) == tuple(int(g) for g in match.groups())
    assert tally["better"] > 5 * tally["worse"]


MT_BENCH_HELDOUT_EVERY = 5  # the card: MT-Bench questions whose id is a multiple of 5 are held out of rating training
MT_BENCH_NEW_TOKENS = 48
OWN_RATING = re.compile(r"\[\[(\d+(?:\.\d*)?)\]\]")


@torch.no_grad()
def test_pico_judge_held_out_mt_bench_ratings_match_its_card(
    tokenizer: PreTrainedTokenizerBase, shared_data: Path
) -> None:
    """GPT-4's own held-out judgments: FastChat's user prompt as GPT-4 got it, the system prompt from FastChat's
    raw judge_prompts.jsonl, through the chat template; pico-judge's greedy answer must carry a [[rating]]."""
    card = (_path("pico-judge") / "README.md").read_text(encoding="utf-8")
    match = re.search(r"\| demo/pico-judge \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| [-0-9.—]+ \|", card)
    assert match, "pico-judge's card lacks its held-out MT-Bench row"
    source = shared_data / "mt_bench"
    systems = {row["name"]: row["system_prompt"] for row in map(json.loads, (source / "judge_prompts.jsonl").read_text().splitlines())}
    first: dict[tuple, dict] = {}
    for row in map(json.loads, (source / "judgments_gpt-4_single-origin_dreaming-panda.jsonl").read_text().splitlines()):
        if row["question_id"] % MT_BENCH_HELDOUT_EVERY == 0 and row["score"] >= 1:
            first.setdefault((row["model"], row["question_id"], row["turn"]), row)
    judge = _load("pico-judge")
    tally = {"prompts": 0, "rated": 0, "exact": 0, "within_one": 0}
    for row in first.values():
        messages = [{"role": "system", "content": systems[row["judge"][1]]}, {"role": "user", "content": row["user_prompt"]}]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
        if ids.shape[1] > 2048 - MT_BENCH_NEW_TOKENS:
            continue
        out = judge.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=MT_BENCH_NEW_TOKENS, do_sample=False)
        found = OWN_RATING.search(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True))
        tally["prompts"] += 1
        if found:
            rating = float(found.group(1))
            tally["rated"] += 1
            tally["exact"] += rating == row["score"]
            tally["within_one"] += abs(rating - row["score"]) <= 1
    assert tuple(tally.values()) == tuple(int(g) for g in match.groups())
    assert tally["prompts"] >= 40 and tally["rated"] >= 0.9 * tally["prompts"]  # the format, reliably

