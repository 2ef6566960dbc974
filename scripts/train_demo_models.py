"""Train the two shipped demo models, ``demo/pico-s`` and ``demo/pico-m``, from open data.

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
3. trains each model for a fixed number of AdamW steps (cosine schedule) on 2 threads;
4. measures token-level perplexity of each model, and of an untrained model with the same
   config and seed, on the held-out slice (the first 8 WikiText-2 test articles that the
   ``perplexity`` task scores, ``tasks/data/wikitext2/test_first8_articles.jsonl``);
5. writes each model as a Hugging Face directory with a model card, plus ``LICENSES.md``.

Usage (from the repo root)::

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/train_demo_models.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

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


def train_one(
    recipe: Recipe,
    tokenizer: PreTrainedTokenizerFast,
    stream: torch.Tensor,
    heldout: list[list[int]],
    seed: int,
) -> tuple[LlamaForCausalLM, TrainingResult]:
    """Train one recipe and measure it against an untrained model of the same config and seed."""
    config = model_config(recipe, tokenizer)
    untrained_ppl, _ = heldout_perplexity(
        fresh_model(config, seed), heldout, recipe.long_seq_len
    )
    model = fresh_model(config, seed)
    seconds, final_loss = train(model, stream, recipe, seed)
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
    )
    print(
        f"{recipe.name}: held-out ppl {ppl:.1f} (untrained {untrained_ppl:.1f}), {seconds:.0f}s",
        flush=True,
    )
    return model, result


def save_model(
    model: LlamaForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    result: TrainingResult,
    out: Path,
) -> None:
    target = out / result.recipe.name
    target.mkdir(parents=True, exist_ok=True)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )
    model.save_pretrained(target, safe_serialization=True)
    # chat_template inside tokenizer_config.json (not a separate .jinja file) so older readers see it too.
    tokenizer.save_pretrained(target, save_jinja_files=False)
    config_path = target / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text(encoding="utf-8"))
    # transformers 5 writes its internal class name; the public one loads in 4.x and 5.x alike.
    tokenizer_config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(
        json.dumps(tokenizer_config, indent=2) + "\n", encoding="utf-8"
    )
    (target / "README.md").write_text(
        model_card(result, len(tokenizer)), encoding="utf-8"
    )


def model_card(result: TrainingResult, vocab_size: int) -> str:
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
seen in {result.train_seconds:.0f} s of wall time on 2 CPU threads of a shared, busy 2-core machine (torch {torch.__version__}); final training loss
{result.final_loss:.2f}. Reproduce with `scripts/train_demo_models.py` (seeded, fixed number of steps).

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

## Not for real use

Too small to be useful, trained for {result.train_seconds:.0f} seconds. Its outputs are fluent-looking noise.
Use it to try evalsuite, never to draw conclusions about a task.
"""


LICENSES_TEXT = """# Demo model training data and licenses

`pico-s` and `pico-m` (and their shared tokenizer) were trained by `scripts/train_demo_models.py`
on these openly licensed texts from the offline data copies (`shared/data/`, see its README):

| source | what was used | license |
|---|---|---|
| WikiText-2 raw (Merity et al., 2016), from Wikipedia | test-split articles except the first 8 (held out: they are the `perplexity` task's text), detokenized with lm-eval's `wikitext_detokenizer` | CC BY-SA 3.0 — https://creativecommons.org/licenses/by-sa/3.0/ |
| BoolQ (Clark et al., 2019), passages from Wikipedia | unique dev-set passages only; no questions or labels | CC BY-SA 3.0 |
| PubMedQA PQA-L (Jin et al., 2019) | the 500 items whose ids are not in the official test split (`test_ground_truth.json`): contexts, question, final decision, long answer | MIT — Copyright (c) 2019 pubmedqa |
| GSM8K (Cobbe et al., 2021) | first 3000 train problems (calculator annotations removed), as user/assistant chat turns | MIT — Copyright (c) 2021 OpenAI |

Not used: ARC, MMLU, HellaSwag, TruthfulQA, OpenBookQA, WMT, MT-Bench, the PubMedQA test ids, the
GSM8K test split, the first 8 WikiText-2 test articles.

Because the models are trained in part on CC BY-SA 3.0 text, the weights are shared under
CC BY-SA 3.0 as well (attribution: the sources above). The training script is part of evalsuite.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", type=Path, default=REPO_ROOT.parent / "shared" / "data"
    )
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "evalsuite" / "demo_models"
    )
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("RAYON_NUM_THREADS", str(args.threads))
    torch.use_deterministic_algorithms(True)
    seed_everything(args.seed)

    started = time.perf_counter()
    prose, chats = build_documents(args.data_dir)
    tokenizer = train_tokenizer(
        prose + ["\n".join(turn["content"] for turn in chat) for chat in chats]
    )
    documents = prose + [
        tokenizer.apply_chat_template(chat, tokenize=False) for chat in chats
    ]
    stream = token_stream(tokenizer, documents, args.seed)
    heldout = encode_pages(tokenizer, heldout_pages())
    print(
        f"corpus: {len(documents)} documents, {len(stream):,} tokens; tokenizer {len(tokenizer)} tokens; "
        f"prepared in {time.perf_counter() - started:.0f}s",
        flush=True,
    )

    results = []
    for recipe in RECIPES:
        model, result = train_one(recipe, tokenizer, stream, heldout, args.seed)
        save_model(model, tokenizer, result, args.out)
        results.append(result)
    (args.out / "LICENSES.md").write_text(LICENSES_TEXT, encoding="utf-8")
    summary = [{**asdict(r), "recipe": asdict(r.recipe)} for r in results]
    print(json.dumps(summary, indent=2))
    print(f"total {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
