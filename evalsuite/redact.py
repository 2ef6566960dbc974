"""The one place secrets are masked: passwords in URLs and connection strings, tokens and API keys.

Every text that leaves evalsuite through a door a user or a log reader sees (the CLI's
error line, log records, the error stored on a failed run, a printed database URL, a
pod's log) goes through :func:`mask_secrets`, so a password given in ``--db`` or a token
set in the environment is shown as ``***`` and never in clear. Masking is by form (a
URL's ``user:password@``, ``password=…``, the shapes of Hugging Face and OpenAI keys) and
by value (whatever the known secret variables of the environment hold), because an error
from a driver or a library may quote a secret in either way.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping

from evalsuite import settings

MASK = "***"

# Variables whose values are secrets wherever they appear; any *_TOKEN, *_API_KEY, *_SECRET, *PASSWORD too.
SECRET_VARIABLES = (
    "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "RUNPOD_API_KEY", "GITHUB_API_TOKEN", "GITHUB_TOKEN",
    "OPENAI_API_KEY", settings.ADMIN_TOKEN.name, "PGPASSWORD",
)  # fmt: skip
_SECRET_SUFFIXES = ("_TOKEN", "_API_KEY", "_SECRET", "PASSWORD")
# Shorter values are not masked by value: replacing "1" or "yes" everywhere would garble text and hide nothing.
_MIN_SECRET_LENGTH = 6

_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<secret>[^\s@]+)(?=@)")
_KEY_VALUE = re.compile(r"(?P<head>\b(?:password|passwd|pwd|token|api_key|apikey|secret)\s*=\s*)(?P<secret>[^\s&;,'\")\]}>]+)", re.IGNORECASE)
_TOKEN_SHAPES = re.compile(r"\b(?:hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_\-]{20,}|rpa_[A-Za-z0-9]{20,})")


def _is_secret_variable(name: str) -> bool:
    upper = name.upper()
    return upper in SECRET_VARIABLES or upper.endswith(_SECRET_SUFFIXES)


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """The values of the secret variables in ``env`` (default: this process's environment), longest first."""
    source = os.environ if env is None else env
    values = {value for name, value in source.items() if _is_secret_variable(name) and len(value) >= _MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)  # a secret that contains another is masked whole


def mask_secrets(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with every password, token and key it shows replaced by ``***``.

    Args:
        text: any message, URL, log line or stored error.
        env: where the secret variables are read [default: ``os.environ``]; a pod passes its own.
    """
    for value in secret_values(env):
        text = text.replace(value, MASK)
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    text = _KEY_VALUE.sub(lambda m: m["head"] + MASK, text)
    return _TOKEN_SHAPES.sub(MASK, text)


RecordFactory = Callable[..., logging.LogRecord]


def _masking_factory(previous: RecordFactory) -> RecordFactory:
    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        return record

    factory.evalsuite_masks = True  # type: ignore[attr-defined]
    return factory


def mask_log_records() -> None:
    """Mask secrets in every log record made from now on, by any logger (one record factory, installed once).

    A record factory, not a filter: a filter sees only the records of the logger or handler
    it is attached to, and libraries (lm-eval, transformers, SQLAlchemy) bring their own.
    """
    current = logging.getLogRecordFactory()
    if not getattr(current, "evalsuite_masks", False):
        logging.setLogRecordFactory(_masking_factory(current))
