"""An optional check of each prompt before any model sees it: a word list, or an OpenAI-compatible moderation endpoint.

A refused prompt is answered with a message (:class:`~evalsuite.errors.LiveRefusal`) and
nothing is sent or stored. Configured in the contestants file's ``arena.moderation``:
``{words: FILE}`` (one word or phrase a line, ``#`` comments; matched case-insensitively
as whole words) or ``{url: http://…/v1, api_key_env: VAR, model: NAME}`` (``POST /moderations``,
OpenAI's protocol: a result with ``flagged: true`` refuses, naming the flagged categories).
An unreachable moderation endpoint refuses too: a check that cannot run must not let a
prompt through unchecked.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

from evalsuite.backends.openai_compat import make_client
from evalsuite.errors import ConfigError, EvalsuiteError, LiveRefusal

REFUSAL = "this prompt was refused by the arena's moderation"


class Moderation(Protocol):
    def check(self, prompt: str) -> None:
        """Return if ``prompt`` may be sent; raise :class:`LiveRefusal` with the reason if not."""
        ...


class WordList:
    """Refuse prompts containing any listed word or phrase (whole words, any case)."""

    def __init__(self, words: list[str]) -> None:
        if not words:
            raise ConfigError("the moderation word list is empty", "list one word or phrase a line, or drop `moderation`")
        self.words = words
        self._pattern = re.compile(r"\b(?:" + "|".join(re.escape(word) for word in words) + r")\b", re.IGNORECASE)

    @classmethod
    def from_file(cls, path: Path) -> WordList:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ConfigError(f"cannot read the moderation word list {path}: {error.strerror or error}", "check `moderation: {words: FILE}`") from error
        return cls([line.strip() for line in lines if line.strip() and not line.strip().startswith("#")])

    def check(self, prompt: str) -> None:
        if self._pattern.search(prompt):
            raise LiveRefusal(REFUSAL, hint="rephrase the prompt")


class ModerationEndpoint:
    """``POST {url}/moderations`` (OpenAI's protocol); a flagged result refuses."""

    def __init__(self, url: str, api_key_env: str | None = None, model: str | None = None) -> None:
        self.client = make_client(url, api_key_env, {"max_retries": 1, "timeout_s": 10.0})
        self.model = model

    def check(self, prompt: str) -> None:
        payload: dict[str, Any] = {"input": prompt, **({"model": self.model} if self.model else {})}
        try:
            answer = self.client.post("/moderations", payload)
        except EvalsuiteError as error:
            raise LiveRefusal(f"the moderation check could not run ({error.message})", hint="try again later") from error
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list) or not results or not isinstance(results[0], dict):
            raise LiveRefusal("the moderation check answered without results", hint="try again later")
        if results[0].get("flagged"):
            categories = results[0].get("categories") or {}
            named = sorted(name for name, flagged in categories.items() if flagged) if isinstance(categories, dict) else []
            raise LiveRefusal(REFUSAL + (f" ({', '.join(named)})" if named else ""), hint="rephrase the prompt")


def moderation_from(config: Any, base: Path) -> Moderation | None:
    """The moderation the contestants file asks for (paths relative to the file), or None."""
    if config is None:
        return None
    if isinstance(config, dict) and set(config) == {"words"}:
        path = Path(str(config["words"]))
        return WordList.from_file(path if path.is_absolute() else base / path)
    if isinstance(config, dict) and "url" in config and set(config) <= {"url", "api_key_env", "model"}:
        return ModerationEndpoint(str(config["url"]), config.get("api_key_env"), config.get("model"))
    raise ConfigError(
        "`arena.moderation` must be {words: FILE} or {url: http://HOST/v1, api_key_env: VAR, model: NAME}",
        "see `evalsuite arena serve --help` for the contestants file's format",
    )
