"""Train the shipped demo models, ``demo/pico-s``, ``demo/pico-m`` and ``demo/pico-judge``, from open data.

Why this exists: evalsuite must run end to end with no internet, so it ships two tiny
Llama-architecture causal LMs (each under 5 MB of float32 weights) that are *measurably*
trained: ``pico-m`` has a lower held-out perplexity than ``pico-s``, and both sit far
below a randomly initialised model of the same shape. They are demos, not usable models.

What it does, deterministically given ``--seed`` (as far as torch on CPU allows):

1. builds a training corpus from openly licensed text in ``--data-dir`` (WikiText-2 test
   articles except the first 8, BoolQ passages, PubMedQA PQA-L items outside the official
   500-id test split, GSM8K train rendered as chat turns);
2. trains one byte-level BPE tokenizer shared by both models (so their token-level
   perplexities are comparable);
3. trains each model for a fixed number of AdamW steps (cosine schedule), then a short chat
   phase on chat turns (GSM8K and PubMedQA as user/assistant turns) mixed with as much prose, so that a chat-template
   prompt (``evalsuite arena generate``) gets text back rather than an immediate ``</s>`` or a
   run of newlines;
4. measures token-level perplexity of each model, and of an untrained model with the same
   config and seed, on the held-out slice (the first 8 WikiText-2 test articles that the
   ``perplexity`` task scores, ``tasks/data/wikitext2/test_first8_articles.jsonl``);
5. derives ``pico-judge`` from the chat-tuned ``pico-s`` (see ``scripts/demo_judge.py``): stage 1
   trains it on the judge prompt of ``evalsuite arena judge``, so the README's arena flow has a
   judge that is not one of the two contestants; stage 2 on FastChat's single-answer MT-Bench
   judge prompts (GPT-4's ratings from ``--data-dir``'s ``mt_bench/``), so that
   ``evalsuite run --tasks mt_bench --judge demo/pico-judge`` gets ``Rating: [[N]]`` back;
6. writes each model as a Hugging Face directory with a model card, plus ``LICENSES.md``.

Usage (from the repo root)::

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/train_demo_models.py --data-dir ../shared/data --threads 1

Stage 2 of ``pico-judge`` alone, continuing from the shipped ``pico-judge`` (stage 1's weights;
5-8 minutes on one CPU thread; rewrites only ``pico-judge``'s weights and card)::

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/train_demo_models.py --data-dir ../shared/data --threads 1 --only-judge
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import demo_judge  # scripts/demo_judge.py: the third demo model, a judge
import numpy as np
import torch
from lm_eval.tasks.wikitext.preprocess_wikitext import wikitext_detokenizer
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
HELDOUT_FILE = REPO_ROOT / "tasks" / "data" / "wikitext2" / "test_first8_articles.jsonl"
HELDOUT_ARTICLES = 8
WIKITEXT_ROWS = "wikitext2/wikitext-2-raw-v1_test_rows.jsonl"
# An article title row is " = Title = " with exactly one "=" on each side (" = = Section = = " is not).
ARTICLE_TITLE = re.compile(r"^ = [^=].* = $")
GSM8K_CALCULATOR_NOTE = re.compile(r"<<[^>]*>>")
GSM8K_TRAIN_EXAMPLES = (
    3000  # enough chat turns to teach the template without drowning the prose
)

BOS, EOS, PAD = "<s>", "</s>", "<pad>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
# Each turn is "<|role|>\ncontent</s>\n"; a generation prompt ends with the assistant header,
# so a model stops (eos) where a turn ends.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('demo chat template roles: system, user, assistant') }}"
    "{% endif %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


@dataclass(frozen=True)
class Recipe:
    """Shape and training budget of one demo model (head_dim is fixed at 64 for vLLM's CPU attention)."""

    name: str
    hidden_size: int
    num_layers: int
    intermediate_size: int
    steps: int
    batch_size: int
    seq_len: int
    peak_lr: float
    # The last steps train on longer windows so positions up to ``long_seq_len`` are seen
    # (pubmedqa prompts run past 500 tokens); same tokens per step, fewer sequences.
    long_seq_len: int = 1024
    long_fraction: float = 0.2
    # Then a chat phase: this many steps on chat turns mixed with prose, at a lower peak learning rate.
    chat_steps: int = 60
    chat_peak_lr: float = 1e-3

    @property
    def num_heads(self) -> int:
        return self.hidden_size // 64


RECIPES = (
    Recipe(
        "pico-s",
        hidden_size=128,
        num_layers=2,
        intermediate_size=384,
        steps=80,
        batch_size=32,
        seq_len=256,
        peak_lr=4e-3,
    ),
    Recipe(
        "pico-m",
        hidden_size=128,
        num_layers=4,
        intermediate_size=320,
        steps=130,
        batch_size=32,
        seq_len=256,
        peak_lr=4e-3,
    ),
)
VOCAB_SIZE = 3072
MAX_POSITIONS = 2048


@dataclass
class TrainingResult:
    """What the model card reports for one model."""

    recipe: Recipe
    params: int
    train_seconds: float
    tokens_seen: int
    final_loss: float
    heldout_ppl: float
    untrained_ppl: float
    heldout_tokens: int
    chat_seconds: float = 0.0
    chat_loss: float = 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def wikitext_articles(rows: list[str]) -> list[str]:
    """Split WikiText-2 rows into article pages (rows joined by newline, as the shipped held-out file)."""
    pages: list[list[str]] = []
    for row in rows:
        line = row.rstrip("\n")
        if ARTICLE_TITLE.match(line):
            pages.append([])
        if pages:
            pages[-1].append(line)
    return ["\n".join(lines).strip("\n") for lines in pages]


def heldout_pages() -> list[str]:
    """The first 8 WikiText-2 test articles, detokenized exactly as the ``perplexity`` task scores them."""
    return [wikitext_detokenizer(doc) for doc in read_jsonl(HELDOUT_FILE)]


def wikitext_training_pages(data_dir: Path) -> list[str]:
    """All WikiText-2 test articles after the held-out ones; checks the split matches the shipped slice."""
    rows = [row["text"] for row in read_jsonl(data_dir / WIKITEXT_ROWS)]
    pages = wikitext_articles(rows)
    shipped = [doc["page"].strip() for doc in read_jsonl(HELDOUT_FILE)]
    if [page.strip() for page in pages[:HELDOUT_ARTICLES]] != shipped:
        raise SystemExit(
            f"the first {HELDOUT_ARTICLES} articles of {WIKITEXT_ROWS} differ from {HELDOUT_FILE}"
        )
    return [wikitext_detokenizer({"page": page}) for page in pages[HELDOUT_ARTICLES:]]


def pubmedqa_training_items(data_dir: Path) -> list[str]:
    """PQA-L items outside the official test split, in the prompt shape evalsuite's pubmedqa task uses."""
    items = json.loads(
        (data_dir / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8")
    )
    test_ids = set(
        json.loads(
            (data_dir / "pubmedqa" / "test_ground_truth.json").read_text(
                encoding="utf-8"
            )
        )
    )
    texts = []
    for pmid in sorted(set(items) - test_ids):
        item = items[pmid]
        abstract = " ".join(item["CONTEXTS"])
        texts.append(
            f"Abstract: {abstract}\nQuestion: {item['QUESTION']}\nAnswer: {item['final_decision']}\n\n{item['LONG_ANSWER']}"
        )
    return texts


def boolq_passages(data_dir: Path) -> list[str]:
    """Unique BoolQ dev passages (Wikipedia text); questions and labels are not used."""
    seen: dict[str, None] = {}
    for row in read_jsonl(data_dir / "boolq" / "val.jsonl"):
        seen.setdefault(row["passage"], None)
    return list(seen)


def gsm8k_chats(data_dir: Path) -> list[list[dict[str, str]]]:
    """GSM8K train problems as user/assistant turns (calculator notes removed), to teach the chat template."""
    rows = read_jsonl(data_dir / "gsm8k" / "train.jsonl")[:GSM8K_TRAIN_EXAMPLES]
    return [
        [
            {"role": "user", "content": row["question"]},
            {
                "role": "assistant",
                "content": GSM8K_CALCULATOR_NOTE.sub("", row["answer"]),
            },
        ]
        for row in rows
    ]


def pubmedqa_chats(data_dir: Path) -> list[list[dict[str, str]]]:
    """The same non-test PQA-L items as question -> long answer turns (chat phase only)."""
    items = json.loads((data_dir / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8"))
    test_ids = set(json.loads((data_dir / "pubmedqa" / "test_ground_truth.json").read_text(encoding="utf-8")))
    return [
        [{"role": "user", "content": items[pmid]["QUESTION"]}, {"role": "assistant", "content": items[pmid]["LONG_ANSWER"]}]
        for pmid in sorted(set(items) - test_ids)
    ]


def train_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    """Byte-level BPE with no post-processor, so encoding never inserts BOS/EOS."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[BOS, EOS, PAD, *ROLE_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=list(ROLE_TOKENS),
        model_max_length=MAX_POSITIONS,
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_documents(data_dir: Path) -> tuple[list[str], list[list[dict[str, str]]]]:
    """Prose documents and chat conversations of the training corpus."""
    prose = (
        wikitext_training_pages(data_dir)
        + boolq_passages(data_dir)
        + pubmedqa_training_items(data_dir)
    )
    return prose, gsm8k_chats(data_dir)


def token_stream(
    tokenizer: PreTrainedTokenizerFast, documents: list[str], seed: int
) -> torch.Tensor:
    """Concatenate documents (each followed by EOS) in a seeded order into one token stream."""
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    encoded = tokenizer(
        [documents[index] for index in order], add_special_tokens=False
    )["input_ids"]
    ids = [token for doc in encoded for token in (*doc, tokenizer.eos_token_id)]
    return torch.tensor(ids, dtype=torch.long)


def chunks_of(stream: torch.Tensor, seq_len: int) -> torch.Tensor:
    usable = len(stream) // seq_len * seq_len
    return stream[:usable].view(-1, seq_len)


def model_config(recipe: Recipe, tokenizer: PreTrainedTokenizerFast) -> LlamaConfig:
    """A plain LlamaConfig (no exotic options) so transformers and vLLM both load it."""
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=recipe.hidden_size,
        intermediate_size=recipe.intermediate_size,
        num_hidden_layers=recipe.num_layers,
        num_attention_heads=recipe.num_heads,
        num_key_value_heads=recipe.num_heads,
        head_dim=64,
        max_position_embeddings=MAX_POSITIONS,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
    )


def fresh_model(config: LlamaConfig, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).float()


def learning_rate(step: int, recipe: Recipe) -> float:
    """Linear warm-up over the first 5% of steps, then cosine decay to 10% of the peak."""
    warmup = max(1, recipe.steps // 20)
    if step < warmup:
        return recipe.peak_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, recipe.steps - warmup)
    return recipe.peak_lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(
    model: LlamaForCausalLM, stream: torch.Tensor, recipe: Recipe, seed: int
) -> tuple[float, float]:
    """Fixed-step AdamW training (not time-boxed, so results do not depend on machine load).

    Returns (seconds, mean loss of the last 10 steps).
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=recipe.peak_lr, betas=(0.9, 0.95), weight_decay=0.1
    )
    short, long = (
        chunks_of(stream, recipe.seq_len),
        chunks_of(stream, recipe.long_seq_len),
    )
    long_from = round(recipe.steps * (1 - recipe.long_fraction))
    model.train()
    started = time.perf_counter()
    recent: list[float] = []
    for step in range(recipe.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, recipe)
        chunks = short if step < long_from else long
        rows = recipe.batch_size * recipe.seq_len // chunks.shape[1]
        batch = chunks[torch.randint(len(chunks), (rows,), generator=generator)]
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        recent = (recent + [loss.item()])[-10:]
        if step % 20 == 0 or step == recipe.steps - 1:
            print(
                f"  {recipe.name} step {step:4d} loss {loss.item():.3f} ({time.perf_counter() - started:.0f}s)",
                flush=True,
            )
    model.eval()
    return time.perf_counter() - started, sum(recent) / len(recent)


@torch.no_grad()
def heldout_perplexity(
    model: LlamaForCausalLM, token_ids: list[list[int]], window: int
) -> tuple[float, int]:
    """exp(mean NLL per predicted token) over non-overlapping ``window``-token windows of each page.

    Every token except the first of each window is predicted, so each token is weighted equally.
    """
    total_nll, total_tokens = 0.0, 0
    for ids in token_ids:
        for start in range(0, len(ids) - 1, window):
            piece = torch.tensor([ids[start : start + window]])
            if piece.shape[1] < 2:
                continue
            logits = model(input_ids=piece).logits[0, :-1]
            total_nll += torch.nn.functional.cross_entropy(
                logits, piece[0, 1:], reduction="sum"
            ).item()
            total_tokens += piece.shape[1] - 1
    return math.exp(total_nll / total_tokens), total_tokens


def encode_pages(
    tokenizer: PreTrainedTokenizerFast, pages: list[str]
) -> list[list[int]]:
    return [tokenizer(page, add_special_tokens=False)["input_ids"] for page in pages]


def pretrained(
    recipe: Recipe, config: LlamaConfig, stream: torch.Tensor, seed: int, cache: Path | None
) -> tuple[LlamaForCausalLM, float, float]:
    """The pre-trained model (before the chat phase), from ``cache`` when this exact run was saved there.

    Pre-training is the slow part and is deterministic given recipe and seed, so a
    cache lets the later phases be re-run alone. Returns (model, seconds, final loss).
    """
    model = fresh_model(config, seed)
    stem = f"{recipe.name}-seed{seed}-steps{recipe.steps}-lr{recipe.peak_lr}"
    if cache is not None and (cache / f"{stem}.pt").is_file():
        model.load_state_dict(torch.load(cache / f"{stem}.pt"))
        saved = json.loads((cache / f"{stem}.json").read_text())
        return model, saved["seconds"], saved["final_loss"]
    seconds, final_loss = train(model, stream, recipe, seed)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), cache / f"{stem}.pt")
        (cache / f"{stem}.json").write_text(json.dumps({"seconds": seconds, "final_loss": final_loss}))
    return model, seconds, final_loss


def chat_phase_documents(
    tokenizer: PreTrainedTokenizerFast, chats: list[list[dict[str, str]]], prose: list[str], seed: int
) -> list[str]:
    """Chat turns plus about as many tokens of prose (so held-out perplexity is not traded away)."""
    documents = [render_chat(tokenizer, chat) for chat in chats]
    budget = sum(len(doc) for doc in documents)
    picked: list[str] = []
    for index in random.Random(seed).sample(range(len(prose)), len(prose)):
        if budget <= 0:
            break
        picked.append(prose[index])
        budget -= len(prose[index])
    return documents + picked


def render_chat(tokenizer: PreTrainedTokenizerFast, chat: list[dict[str, str]]) -> str:
    """A conversation as training text, without the template's final newline.

    The stream appends ``</s>`` after every document; a trailing newline would make
    "newline, then ``</s>``" a frequent pair, and a small model then answers a chat
    prompt (which ends in ``<|assistant|>`` and a newline) with ``</s>`` at once.
    """
    return str(tokenizer.apply_chat_template(chat, tokenize=False)).rstrip("\n")


def train_one(
    recipe: Recipe,
    tokenizer: PreTrainedTokenizerFast,
    stream: torch.Tensor,
    chat_stream: torch.Tensor,
    heldout: list[list[int]],
    seed: int,
    cache: Path | None = None,
) -> tuple[LlamaForCausalLM, TrainingResult]:
    """Train one recipe (pre-training, then the chat phase) and measure it against an untrained model."""
    config = model_config(recipe, tokenizer)
    untrained_ppl, _ = heldout_perplexity(
        fresh_model(config, seed), heldout, recipe.long_seq_len
    )
    model, seconds, final_loss = pretrained(recipe, config, stream, seed, cache)
    chat_recipe = replace(recipe, steps=recipe.chat_steps, peak_lr=recipe.chat_peak_lr, long_fraction=0.0)
    chat_seconds, chat_loss = train(model, chat_stream, chat_recipe, seed + 1)
    ppl, counted = heldout_perplexity(model, heldout, recipe.long_seq_len)
    result = TrainingResult(
        recipe=recipe,
        params=sum(p.numel() for p in model.parameters()),
        train_seconds=seconds,
        tokens_seen=recipe.steps * recipe.batch_size * recipe.seq_len,
        final_loss=final_loss,
        heldout_ppl=ppl,
        untrained_ppl=untrained_ppl,
        heldout_tokens=counted,
        chat_seconds=chat_seconds,
        chat_loss=chat_loss,
    )
    print(
        f"{recipe.name}: held-out ppl {ppl:.1f} (untrained {untrained_ppl:.1f}), {seconds:.0f}s",
        flush=True,
    )
    return model, result


def save_model(
    model: LlamaForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    name: str,
    out: Path,
    card: str,
    with_tokenizer: bool = True,
) -> None:
    target = out / name
    target.mkdir(parents=True, exist_ok=True)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )
    model.save_pretrained(target, safe_serialization=True)
    (target / "README.md").write_text(card, encoding="utf-8")
    if not with_tokenizer:  # --only-judge: the shipped tokenizer files stay as they are
        return
    # chat_template inside tokenizer_config.json (not a separate .jinja file) so older readers see it too.
    tokenizer.save_pretrained(target, save_jinja_files=False)
    config_path = target / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text(encoding="utf-8"))
    # transformers 5 writes its internal class name; the public one loads in 4.x and 5.x alike.
    tokenizer_config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(
        json.dumps(tokenizer_config, indent=2) + "\n", encoding="utf-8"
    )


def model_card(result: TrainingResult, vocab_size: int, threads: int, extra: str = "") -> str:
    """The model card; ``extra`` (the judge's section) goes before "Not for real use"."""
    r = result.recipe
    size_mb = result.params * 4 / 1e6
    return f"""---
license: cc-by-sa-3.0
library_name: transformers
pipeline_tag: text-generation
tags: [llama, demo, evalsuite]
---

# demo/{r.name} — a tiny demo Llama for evalsuite (NOT for real use)

This model exists so that `evalsuite run --model demo/{r.name}` works offline and gives numbers that
move when a model is trained. It knows almost nothing; its benchmark scores are at or near chance.

## Architecture

`LlamaForCausalLM`, float32, {result.params:,} parameters ({size_mb:.2f} MB): hidden size {r.hidden_size},
{r.num_layers} layers, {r.num_heads} attention heads of dimension 64 (no grouped-query attention),
MLP size {r.intermediate_size}, RoPE (theta 10000) with `max_position_embeddings` {MAX_POSITIONS},
input and output embeddings tied. Tokenizer: byte-level BPE, {vocab_size} tokens, trained on the same
corpus; `<s>` bos, `</s>` eos, `<pad>` pad; encoding adds no special tokens. The chat template renders
`<|system|>`, `<|user|>`, `<|assistant|>` turns, each ended by `</s>`.

## Training

{r.steps} AdamW steps (betas 0.9/0.95, weight decay 0.1, peak learning rate {r.peak_lr}, 5% warm-up,
cosine decay to 10%, gradient clipping 1.0), {r.batch_size * r.seq_len:,} tokens per step: windows of
{r.seq_len} tokens, the last {r.long_fraction:.0%} of steps windows of {r.long_seq_len}. {result.tokens_seen:,} tokens
seen in {result.train_seconds:.0f} s of wall time on {threads} CPU thread(s) of a shared, busy 2-core machine (torch {torch.__version__}); final training loss
{result.final_loss:.2f}. Then a chat phase: {r.chat_steps} more steps (peak learning rate {r.chat_peak_lr}, same schedule, windows of
{r.seq_len}) on chat turns (the GSM8K turns and the PubMedQA items as question/long-answer turns) mixed with as
many characters of the same prose, so that a
chat-template prompt gets text back; {result.chat_seconds:.0f} s, final loss {result.chat_loss:.2f}.
Reproduce with `scripts/train_demo_models.py --threads 1` (seeded, fixed number of steps).

Training data (see `../LICENSES.md`): WikiText-2 raw test articles except the first 8, detokenized as
lm-eval's `wikitext` task does (CC BY-SA 3.0); unique BoolQ dev passages, without questions or labels
(CC BY-SA 3.0); PubMedQA PQA-L items whose ids are NOT in the official 500-id test split, as
`Abstract/Question/Answer` text plus the long answer (MIT); the first {GSM8K_TRAIN_EXAMPLES} GSM8K train problems as
chat turns (MIT). No ARC, MMLU, HellaSwag or other test data. Note: BoolQ dev passages are in the
training data, so a BoolQ score of this model is not a clean held-out figure.

## Held-out perplexity

Token-level perplexity, exp(mean negative log-likelihood per predicted token), over non-overlapping
{r.long_seq_len}-token windows of the first 8 WikiText-2 test articles (the `perplexity` task's text,
`tasks/data/wikitext2/test_first8_articles.jsonl`, detokenized), {result.heldout_tokens:,} predicted tokens:

| model | held-out perplexity |
|---|---|
| demo/{r.name} (trained) | {result.heldout_ppl:.1f} |
| same config, untrained (seeded init) | {result.untrained_ppl:.1f} |

{extra}## Not for real use

Too small to be useful, trained for {result.train_seconds:.0f} seconds. Its outputs are fluent-looking noise.
Use it to try evalsuite, never to draw conclusions about a task.
"""


LICENSES_TEXT = """# Demo model training data and licenses

`pico-s`, `pico-m` and `pico-judge` (and their shared tokenizer) were trained by `scripts/train_demo_models.py`
on these openly licensed texts from the offline data copies (`shared/data/`, see its README):

| source | what was used | license |
|---|---|---|
| WikiText-2 raw (Merity et al., 2016), from Wikipedia | test-split articles except the first 8 (held out: they are the `perplexity` task's text), detokenized with lm-eval's `wikitext_detokenizer` | CC BY-SA 3.0 — https://creativecommons.org/licenses/by-sa/3.0/ |
| BoolQ (Clark et al., 2019), passages from Wikipedia | unique dev-set passages only; no questions or labels | CC BY-SA 3.0 |
| PubMedQA PQA-L (Jin et al., 2019) | the 500 items whose ids are not in the official test split (`test_ground_truth.json`): contexts, question, final decision, long answer | MIT — Copyright (c) 2019 pubmedqa |
| GSM8K (Cobbe et al., 2021) | first 3000 train problems (calculator annotations removed), as user/assistant chat turns; train problems 3000–4799 as judge-prompt pairs (`pico-judge` only) | MIT — Copyright (c) 2021 OpenAI |
| MT-Bench (Zheng et al., 2023), FastChat's `llm_judge` data | `pico-judge` only: the questions, GPT-4's reference answers, FastChat's single-answer judge prompts, two Llama-3-8B-Instruct answer sets and GPT-4's single-answer judgments of them (`judgments_gpt-4_single-origin_dreaming-panda.jsonl`), for the 64 questions whose id is not a multiple of 5 | Apache-2.0 — https://www.apache.org/licenses/LICENSE-2.0 (Copyright the FastChat / LMSYS authors) |

Not used for training: ARC, MMLU, HellaSwag, TruthfulQA, OpenBookQA, WMT, the PubMedQA test ids,
the GSM8K test split (its first 150 problems only measure `pico-judge`'s held-out verdicts), the first 8
WikiText-2 test articles, and MT-Bench's 16 questions whose id is a multiple of 5 (their GPT-4 judgments only
measure `pico-judge`'s held-out ratings). `pico-s` and `pico-m` saw no MT-Bench data.

Because the models are trained in part on CC BY-SA 3.0 text, the weights are shared under
CC BY-SA 3.0 as well (attribution: the sources above). The training script is part of evalsuite.
"""


def train_judge_model(
    base: LlamaForCausalLM,
    base_result: TrainingResult,
    tokenizer: PreTrainedTokenizerFast,
    heldout: list[list[int]],
    args: argparse.Namespace,
) -> tuple[LlamaForCausalLM, TrainingResult, str]:
    """``pico-judge``: a copy of the chat-tuned ``pico-s`` trained on the judge prompts (see demo_judge.py).

    Stage 1 teaches the arena's A/B verdict, stage 2 (``rating_stage``) FastChat's single-answer ratings.
    """
    arena = arena_examples(tokenizer, args.data_dir)
    test_problems = demo_judge.gsm8k_problems(demo_judge.heldout_rows(args.data_dir, read_jsonl), GSM8K_CALCULATOR_NOTE)
    before = demo_judge.score_judge(base, tokenizer, test_problems)
    judge = copy.deepcopy(base)
    seconds, loss = demo_judge.train_judge(judge, arena, tokenizer.pad_token_id, args.seed + 2)
    after = demo_judge.score_judge(judge, tokenizer, test_problems)
    print(f"{demo_judge.JUDGE_NAME} stage 1: held-out verdicts {after} (before: {before})", flush=True)
    final, rating_section = rating_stage(judge, base, tokenizer, arena, test_problems, after, args)
    ppl, counted = heldout_perplexity(judge, heldout, base_result.recipe.long_seq_len)
    result = replace(
        base_result, recipe=replace(base_result.recipe, name=demo_judge.JUDGE_NAME), heldout_ppl=ppl, heldout_tokens=counted
    )
    print(f"{demo_judge.JUDGE_NAME}: ppl {ppl:.1f}", flush=True)
    return judge, result, demo_judge.judge_card_section(final, after, before, seconds, loss) + rating_section


def arena_examples(tokenizer: PreTrainedTokenizerFast, data_dir: Path) -> list[demo_judge.JudgeExample]:
    rows = read_jsonl(data_dir / "gsm8k" / "train.jsonl")[demo_judge.TRAIN_PROBLEMS]
    return demo_judge.judge_examples(tokenizer, demo_judge.gsm8k_problems(rows, GSM8K_CALCULATOR_NOTE))


def rating_stage(
    judge: LlamaForCausalLM,
    answerer: LlamaForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    arena: list[demo_judge.JudgeExample],
    test_problems: list[tuple[str, str]],
    stage_one: demo_judge.JudgeScore,
    args: argparse.Namespace,
) -> tuple[demo_judge.JudgeScore, str]:
    """Stage 2 on ``judge`` in place: MT-Bench single-answer ratings, arena prompts mixed in.

    ``answerer`` (the chat-tuned pico-s) writes the garbage answers rated 1. Returns the
    held-out arena verdicts afterwards and the card's MT-Bench section.
    """
    started = time.perf_counter()
    garbage = demo_judge.pico_answers(answerer, tokenizer, args.seed + 3)
    examples, counts = demo_judge.rating_examples(tokenizer, args.data_dir, garbage)
    print(f"{demo_judge.JUDGE_NAME} stage 2: {len(examples)} judgments {counts} ({time.perf_counter() - started:.0f}s)", flush=True)
    rating_before = demo_judge.score_ratings(judge, tokenizer, args.data_dir)
    seconds, loss = demo_judge.train_ratings(judge, examples, arena, tokenizer.pad_token_id, args.seed + 4)
    rating_after = demo_judge.score_ratings(judge, tokenizer, args.data_dir)
    final = demo_judge.score_judge(judge, tokenizer, test_problems)
    print(f"{demo_judge.JUDGE_NAME} stage 2: held-out ratings {rating_after} (before: {rating_before})", flush=True)
    print(f"{demo_judge.JUDGE_NAME} stage 2: held-out verdicts {final} (before: {stage_one})", flush=True)
    return final, demo_judge.rating_card_section(rating_after, rating_before, counts, seconds, loss, args.seed)


def only_judge(args: argparse.Namespace) -> None:
    """``--only-judge``: stage 2 alone, continuing from the shipped ``pico-judge`` (stage 1's weights).

    The card keeps the shipped model's architecture and pre-training text and stage 1's figures;
    held-out perplexity, verdicts and ratings are measured again.
    """
    started = time.perf_counter()
    folder = args.out / demo_judge.JUDGE_NAME
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    judge = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    answerer = LlamaForCausalLM.from_pretrained(args.out / demo_judge.JUDGE_BASE, dtype=torch.float32).eval()
    card = (folder / "README.md").read_text(encoding="utf-8")
    seconds, loss, untrained = demo_judge.stage_one_from_card(card)
    test_problems = demo_judge.gsm8k_problems(demo_judge.heldout_rows(args.data_dir, read_jsonl), GSM8K_CALCULATOR_NOTE)
    stage_one = demo_judge.score_judge(judge, tokenizer, test_problems)
    final, rating_section = rating_stage(judge, answerer, tokenizer, arena_examples(tokenizer, args.data_dir), test_problems, stage_one, args)
    ppl, _ = heldout_perplexity(judge, encode_pages(tokenizer, heldout_pages()), RECIPES[0].long_seq_len)
    head = card.split("## Judge training", 1)[0]
    head = re.sub(rf"(\| demo/{demo_judge.JUDGE_NAME} \(trained\) \| )[0-9.]+( \|)", rf"\g<1>{ppl:.1f}\g<2>", head)
    tail = card[card.index("## Not for real use"):]
    section = demo_judge.judge_card_section(final, stage_one, untrained, seconds, loss) + rating_section
    save_model(judge, tokenizer, demo_judge.JUDGE_NAME, args.out, head + section + tail, with_tokenizer=False)
    (args.out / "LICENSES.md").write_text(LICENSES_TEXT, encoding="utf-8")
    print(f"{demo_judge.JUDGE_NAME}: ppl {ppl:.1f}; total {time.perf_counter() - started:.0f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", type=Path, default=REPO_ROOT.parent / "shared" / "data"
    )
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "evalsuite" / "demo_models"
    )
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=1, help="1 was ~10x faster than 2 on a busy 2-core box")
    parser.add_argument(
        "--pretrain-cache", type=Path, default=None, help="keep/reuse pre-trained weights here (re-run later phases only)"
    )
    parser.add_argument(
        "--only-judge", action="store_true",
        help="train only pico-judge's stage 2 (MT-Bench ratings), continuing from the pico-judge in --out",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("RAYON_NUM_THREADS", str(args.threads))
    torch.use_deterministic_algorithms(True)
    seed_everything(args.seed)
    if args.only_judge:
        only_judge(args)
        return

    started = time.perf_counter()
    prose, chats = build_documents(args.data_dir)
    tokenizer = train_tokenizer(
        prose + ["\n".join(turn["content"] for turn in chat) for chat in chats]
    )
    documents = prose + [render_chat(tokenizer, chat) for chat in chats]
    stream = token_stream(tokenizer, documents, args.seed)
    chat_documents = chat_phase_documents(tokenizer, chats + pubmedqa_chats(args.data_dir), prose, args.seed)
    chat_stream = token_stream(tokenizer, chat_documents, args.seed)
    heldout = encode_pages(tokenizer, heldout_pages())
    print(
        f"corpus: {len(documents)} documents, {len(stream):,} tokens; chat phase {len(chat_stream):,} tokens; "
        f"tokenizer {len(tokenizer)} tokens; prepared in {time.perf_counter() - started:.0f}s",
        flush=True,
    )

    results = []
    for recipe in RECIPES:
        model, result = train_one(recipe, tokenizer, stream, chat_stream, heldout, args.seed, args.pretrain_cache)
        save_model(model, tokenizer, recipe.name, args.out, model_card(result, len(tokenizer), args.threads))
        results.append(result)
        if recipe.name == demo_judge.JUDGE_BASE:
            judge, judge_result, section = train_judge_model(model, result, tokenizer, heldout, args)
            card = model_card(judge_result, len(tokenizer), args.threads, extra=section)
            save_model(judge, tokenizer, demo_judge.JUDGE_NAME, args.out, card)
    (args.out / "LICENSES.md").write_text(LICENSES_TEXT, encoding="utf-8")
    summary = [{**asdict(r), "recipe": asdict(r.recipe)} for r in results]
    print(json.dumps(summary, indent=2))
    print(f"total {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
