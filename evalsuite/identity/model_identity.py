"""The identity of a model as evaluated: everything that can change a number.

One frozen record, built in one place (``build_identity``), whose ``key`` is the
request-cache namespace of ``run``, ``rescore`` and (later) the arena. Two runs
share cached answers only when every field of the cache key is equal; anything left
out would let the cache serve stale answers, so a new setting that can move a number
belongs in this record.

Which fields enter the key, and why each one (and why ``batch_size`` and where results
go are left out), is said once in :mod:`evalsuite.identity.numbers`, from which the key
is derived.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalsuite.backends.registry import backend_entry
from evalsuite.identity import numbers
from evalsuite.identity.environment import package_version

if TYPE_CHECKING:
    from evalsuite.identity.models import ModelSpec
    from evalsuite.identity.run_config import RunConfig

# Bump whenever a change in evalsuite's scoring code moves any number (log-likelihoods,
# greedy flags, generations, rolling sums): every answer cached under the old value is
# then recomputed instead of being served to new runs. History: 1 = first release;
# 2 = log-likelihood sums accumulated in float64; 3 = packed rows follow sliding windows
# (Mistral, Gemma 2/3, Phi-3, Qwen2 windows shorter than the prompt moved by up to 10+ nats).
SCORING_VERSION = 3

# --backend-arg keys that set the context length (their value is the identity's max_length).
MAX_LENGTH_ARGS = ("max_length", "max_model_len")


@dataclass(frozen=True)
class ModelIdentity:
    """Everything that determines a model's answer to a request.

    ``max_length`` is the explicit context length (``--backend-arg max_length=N``);
    None means the model's default, which ``config_sha256`` and ``tokenizer_sha256``
    already pin down. ``device`` is the device type actually used (``cpu``,
    ``cuda``, ``mps``): kernels differ between them, the device index does not matter.
    """

    weights_sha256: str
    tokenizer_sha256: str
    config_sha256: str
    revision: str | None
    backend: str
    dtype: str
    device: str
    max_length: int | None
    backend_args: tuple[tuple[str, str], ...]
    apply_chat_template: bool
    chat_template_sha256: str | None
    system_instruction: str | None
    scoring_version: int
    lm_eval_version: str | None
    transformers_version: str | None
    torch_version: str | None
    vllm_version: str | None

    @property
    def key(self) -> str:
        """The request-cache namespace: sha256 over the fields :mod:`evalsuite.identity.numbers` puts in the cache key."""
        return numbers.cache_key(self.as_columns())

    def as_columns(self) -> dict[str, Any]:
        """The fields as stored in ``model_identity`` (backend args as a list of pairs)."""
        data = asdict(self)
        data["backend_args"] = [list(pair) for pair in self.backend_args]
        return data

    @classmethod
    def from_columns(cls, row: Any) -> ModelIdentity:
        """Rebuild from a stored ``model_identity`` row (or any object with the fields)."""
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        values["backend_args"] = tuple((str(k), str(v)) for k, v in values["backend_args"] or ())
        # Some drivers hand booleans and integers back as other types; the key hashes JSON types.
        values["apply_chat_template"] = bool(values["apply_chat_template"])
        values["scoring_version"] = int(values["scoring_version"])
        values["max_length"] = None if values["max_length"] is None else int(values["max_length"])
        return cls(**values)


def build_identity(config: RunConfig, model: ModelSpec, device: str) -> ModelIdentity:
    """The identity of ``model`` run as ``config`` says, on ``device`` (already resolved)."""
    request = config.model
    return identity_for(
        model, backend=request.backend, dtype=request.dtype, device=device, backend_args=request.backend_args,
        explicit_args=request.decoded_args(), apply_chat_template=config.prompt.apply_chat_template,
        system_instruction=config.prompt.system_instruction,
    )


def identity_for(
    model: ModelSpec,
    *,
    backend: str,
    dtype: str,
    device: str,
    backend_args: tuple[tuple[str, str], ...],
    explicit_args: dict[str, Any],
    apply_chat_template: bool,
    system_instruction: str | None,
) -> ModelIdentity:
    """The identity of any loaded model, the run's or a judge's (``explicit_args``: the decoded backend args)."""
    max_length = next((explicit_args[name] for name in MAX_LENGTH_ARGS if isinstance(explicit_args.get(name), int)), None)
    template = chat_template_text(model.path) if apply_chat_template else None
    return ModelIdentity(
        weights_sha256=model.weights_sha256,
        tokenizer_sha256=model.tokenizer_sha256,
        config_sha256=model.config_sha256,
        revision=model.revision,
        backend=backend,
        dtype=dtype,
        device=device.split(":")[0],
        max_length=max_length,
        backend_args=tuple(sorted(backend_args)),
        apply_chat_template=apply_chat_template,
        chat_template_sha256=hashlib.sha256(template.encode()).hexdigest() if template is not None else None,
        system_instruction=system_instruction,
        scoring_version=SCORING_VERSION,
        lm_eval_version=package_version("lm_eval"),
        transformers_version=package_version("transformers"),
        torch_version=package_version("torch"),
        vllm_version=backend_entry(backend).engine_version(),
    )


def chat_template_text(path: Path) -> str | None:
    """The chat template transformers would use: ``chat_template.jinja``, else ``tokenizer_config.json``'s.

    A named-template list keeps its ``default`` entry (the one lm-eval applies).
    """
    jinja = path / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    try:
        template = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8")).get("chat_template")
    except (OSError, ValueError):
        return None
    if isinstance(template, list):
        named = {entry.get("name"): entry.get("template") for entry in template if isinstance(entry, dict)}
        template = named.get("default")
    return template if isinstance(template, str) else None

