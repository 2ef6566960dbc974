"""Identity-leak filter: a vote on an answer that names its model or maker is not blind.

An arena vote is meaningful only while the voter does not know which model wrote
which answer.  An answer saying "As an AI developed by OpenAI..." or "I'm Llama"
breaks that, so FastChat's ``clean_battle_data.py`` drops every battle whose messages
contain one of its identity words.  We do the same with these rules:

* the words: :data:`DEFAULT_LEAK_WORDS` (FastChat's list plus later model families and
  makers) or the user's list (:func:`read_leak_words`: one word or phrase per line,
  ``#`` comments), plus -- with ``own_names=True`` -- the two contestants' own names
  (the part after the last ``/``, without an ``@key`` suffix, e.g. ``pico-s``; off by
  default, as short names like "alpha" or "phi" are ordinary words);
* only the *answers* are searched (FastChat also searched the user's turns, so a
  question about ChatGPT dropped every answer to it);
* matching ignores case and needs a word boundary on both sides (FastChat matched
  substrings, so "palm" hit "napalm" and "bard" hit "bombarded");
* a battle is excluded when either answer leaks; every leaking answer is listed.

The filter needs answer texts: votes from the database (``with_answers``) or a battles
file with ``answer_a``/``conversation_a``.  Without texts nothing is checked, and the
report says so (``checked`` is False) rather than claiming a clean result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evalsuite.arena.battles import Battles
from evalsuite.errors import ArenaError

# FastChat's IDENTITY_WORDS (clean_battle_data.py), then families and makers released since.
DEFAULT_LEAK_WORDS: tuple[str, ...] = (
    "vicuna", "lmsys", "koala", "uc berkeley", "open assistant", "laion", "chatglm", "chatgpt",
    "gpt-4", "openai", "anthropic", "claude", "bard", "palm", "lamda", "google", "gemini",
    "llama", "qianwan", "qwen", "alibaba", "mistral", "zhipu", "keg lab", "01.ai", "ai2",
    "tülu", "tulu", "deepseek", "hermes", "cohere", "dbrx", "databricks",
    "gpt-3.5", "gpt-4o", "gemma", "mixtral", "meta ai", "phi-3", "microsoft", "yi-34b",
    "command-r", "nvidia", "nemotron", "olmo", "smollm", "hugging face", "falcon", "grok", "xai",
)


@dataclass(frozen=True)
class Leak:
    """One answer that names a model or maker: the battle row, its id, whose answer, which word."""

    row: int
    battle_id: str | None
    model: str
    word: str


@dataclass(frozen=True)
class LeakReport:
    """What the filter kept and why it dropped the rest.

    Attributes:
        kept: the battles left (models without battles dropped).
        excluded: how many battles were dropped.
        leaks: every leaking answer, in battle order (a battle may appear twice).
        checked: False when the battles carry no answer texts (nothing could be checked).
        words: the word list used (without the per-battle contestant names).
    """

    kept: Battles
    excluded: int
    leaks: tuple[Leak, ...]
    checked: bool
    words: tuple[str, ...]

    def word_counts(self) -> dict[str, int]:
        """Leaking answers per word, most frequent first."""
        counts: dict[str, int] = {}
        for leak in self.leaks:
            counts[leak.word] = counts.get(leak.word, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def read_leak_words(path: str | Path) -> tuple[str, ...]:
    """One word or phrase per line; blank lines and ``#`` comments skipped; lower-cased."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ArenaError(f"cannot read leak word list {path}: {exc}",
                         hint="pass a UTF-8 text file with one word or phrase per line") from exc
    words = tuple(w for w in (line.split("#", 1)[0].strip().lower() for line in lines) if w)
    if not words:
        raise ArenaError(f"leak word list {path} has no words",
                         hint="write one model or maker name per line (# starts a comment)")
    return words


def own_name(label: str) -> str:
    """The name a model would call itself by: ``org/Name-7B@abcd1234`` -> ``name-7b``."""
    return label.split("@", 1)[0].rsplit("/", 1)[-1].lower()


def _pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """Case-insensitive alternation, longest first, with word boundaries made of ``\\w``."""
    unique = sorted({w.lower() for w in words if w.strip()}, key=lambda w: (-len(w), w))
    if not unique:
        return None
    body = "|".join(re.escape(w) for w in unique)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


def find_leak(text: str | None, patterns: Sequence[re.Pattern[str] | None]) -> str | None:
    """The first word of the first pattern that matches ``text``, lower-cased; None if none does."""
    if text is None:
        return None
    for pattern in patterns:
        match = pattern.search(text) if pattern is not None else None
        if match:
            return match.group(0).lower()
    return None


def filter_leaks(
    battles: Battles, words: Sequence[str] = DEFAULT_LEAK_WORDS, *, own_names: bool = False
) -> LeakReport:
    """Drop battles in which either answer names a model or maker (see the module docstring)."""
    words = tuple(w.lower() for w in words)
    if battles.answer_a is None or battles.answer_b is None:
        return LeakReport(kept=battles, excluded=0, leaks=(), checked=False, words=words)
    pattern = _pattern(words)
    own = [_pattern([own_name(m)]) if own_names else None for m in battles.models]
    leaks: list[Leak] = []
    leaked = np.zeros(len(battles), dtype=bool)
    for i in range(len(battles)):
        a, b = int(battles.model_a[i]), int(battles.model_b[i])
        for model, text in ((a, battles.answer_a[i]), (b, battles.answer_b[i])):
            word = find_leak(text, (pattern, own[a], own[b]))
            if word is not None:
                leaked[i] = True
                battle_id = None if battles.battle_id is None else battles.battle_id[i]
                leaks.append(Leak(i, None if battle_id is None else str(battle_id), battles.models[model], word))
    if leaked.all():
        raise ArenaError(f"every one of the {len(battles)} battles has an answer that names a model or maker",
                         hint="check the leak word list (--leak-words), or pass --no-leak-filter")
    kept = battles.take(~leaked).compact() if leaked.any() else battles
    return LeakReport(kept=kept, excluded=int(leaked.sum()), leaks=tuple(leaks), checked=True, words=words)
