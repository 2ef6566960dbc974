"""What the arena's models share: a contestant's identity and how its prompts are framed.

Answers and judge verdicts both need to know *which* model spoke (a hash of its
files, not its name) and whether it has a chat template; both :mod:`generate` and
:mod:`judge` import this module, and neither imports the other.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalsuite.identity.models import ModelSpec


def answer_identity(spec: ModelSpec) -> dict[str, str]:
    """What makes an arena contestant the model it is: weights, tokenizer, config and revision."""
    return {
        "weights_sha256": spec.weights_sha256,
        "tokenizer_sha256": getattr(spec, "tokenizer_sha256", ""),
        "config_sha256": getattr(spec, "config_sha256", ""),
        "revision": spec.revision or "",
    }


def answer_model_key(spec: ModelSpec) -> str:
    """The identity arena answers are stored under: sha256 over :func:`answer_identity`.

    Generation settings are stored beside each answer (``Completion.settings``) but are
    not part of the key: one model is one contestant however it was sampled.
    """
    return hashlib.sha256(json.dumps(answer_identity(spec), sort_keys=True).encode()).hexdigest()


def has_chat_template(lm: Any) -> bool:
    """Whether the loaded backend's tokenizer carries a chat template."""
    return bool(getattr(getattr(lm, "tokenizer", None), "chat_template", None))
