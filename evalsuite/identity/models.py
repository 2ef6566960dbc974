"""Model resolution and fingerprints: a Hub id, a local directory or a demo alias becomes
a local directory plus sha256 fingerprints of its weights, tokenizer files and config.

The fingerprints are what make results and cached requests comparable: two runs of
"the same" model name with other weights, another tokenizer or an edited
``config.json`` never share a cache entry or a leaderboard row (see
``evalsuite.identity.model_identity``, which combines them with the backend's settings).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalsuite import settings
from evalsuite.errors import UnknownModelError

DEMO_PREFIX = "demo/"
DEMO_MODELS_DIR = Path(__file__).parent.parent / "demo_models"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
# Files a backend needs; Llama-3 style repos also carry `original/*.pth`, which we skip.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "tokenizer*"]
HUB_PATTERNS_WITH_CODE = [*HUB_PATTERNS, "*.py"]
# Every file a tokenizer can be built from (whichever exist are hashed): an edit to any of
# them can change tokenisation, special tokens or the chat template, hence the numbers.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "tokenizer.tiktoken",
    "chat_template.jinja",
    "chat_template.json",
)
# The model config (context length, rope scaling, ...) and generation defaults.
CONFIG_FILES = ("config.json", "generation_config.json")
# What an endpoint's /v1/models entry says about a served model that goes into its fingerprint
# (``created`` is left out: vLLM reports the time of the request there).
ENDPOINT_FIELDS = ("id", "root", "parent", "owned_by", "max_model_len")


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model: where its files are and what exactly they are."""

    name: str
    path: Path
    source: str  # "demo", "local" or "hub"
    revision: str | None
    weights_sha256: str
    architecture: str | None
    params: int | None
    tokenizer_sha256: str = ""
    config_sha256: str = ""
    endpoint: str | None = None  # an OpenAI-compatible server's base URL (source "endpoint"); see endpoint_spec

    @property
    def stored_source(self) -> str:
        """What the ``model`` table's ``source`` column holds: the Hub id, the endpoint URL, or the local path."""
        if self.source == "hub":
            return self.name
        if self.endpoint is not None:
            return self.endpoint
        return str(self.path)


def demo_models() -> list[str]:
    """The shipped demo aliases, e.g. ``demo/pico-s``."""
    if not DEMO_MODELS_DIR.is_dir():
        return []
    return sorted(DEMO_PREFIX + p.name for p in DEMO_MODELS_DIR.iterdir() if (p / "config.json").is_file())


def resolve_model(
    name: str, *, revision: str | None = None, token: str | None = None, trust_remote_code: bool = False
) -> ModelSpec:
    """Resolve ``name`` to a local model directory and fingerprint its weights."""
    if name.startswith(DEMO_PREFIX):
        path = DEMO_MODELS_DIR / name[len(DEMO_PREFIX) :]
        if not (path / "config.json").is_file():
            known = ", ".join(demo_models()) or "none shipped"
            raise UnknownModelError(f"unknown demo model {name!r}", f"shipped demo models: {known}")
        return _local_spec(name, path, source="demo")
    local = Path(name).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise UnknownModelError(
                f"{local} is not a model directory (no config.json)",
                "point --model at a folder saved with save_pretrained(), or at a Hub id",
            )
        return _local_spec(name, local.resolve(), source="local")
    path, commit = _download_from_hub(name, revision=revision, token=token, with_code=trust_remote_code)
    return _hub_spec(name, path, commit)


def endpoint_spec(name: str, base_url: str, served: dict[str, Any], tokenizer_dir: Path | None) -> ModelSpec:
    """A model served by an OpenAI-compatible endpoint, fingerprinted without any weight file.

    An endpoint has no weights to hash, so ``weights_sha256`` holds the endpoint's
    fingerprint instead: sha256 over the base URL, the served model name and what the
    server says about it in ``/v1/models`` (:data:`ENDPOINT_FIELDS`: vLLM reports the
    ``root`` it loaded and its ``max_model_len``). A server that swaps weights behind the
    same URL, name and root cannot be told apart; everything it does report is keyed.
    The tokenizer used locally to split prompts (``tokenizer_dir``, absent for a chat-only
    API) is hashed as for a local model; ``path`` is that directory, or ``os.devnull``
    (no local files) when there is none.
    """
    reported = {key: served.get(key) for key in ENDPOINT_FIELDS}
    canonical = json.dumps({"base_url": base_url, "model": name, "server": reported}, sort_keys=True, default=str)
    empty = hashlib.sha256(b"").hexdigest()
    return ModelSpec(
        name=name,
        path=tokenizer_dir if tokenizer_dir is not None else Path(os.devnull),
        source="endpoint",
        revision=None,
        weights_sha256=hashlib.sha256(canonical.encode()).hexdigest(),
        architecture=None,
        params=None,
        tokenizer_sha256=hash_named_files(tokenizer_dir, TOKENIZER_FILES) if tokenizer_dir is not None else empty,
        config_sha256=hash_named_files(tokenizer_dir, CONFIG_FILES) if tokenizer_dir is not None else empty,
        endpoint=base_url,
    )


def _local_spec(name: str, path: Path, source: str) -> ModelSpec:
    weights = _weight_files(path)
    if not weights:
        raise UnknownModelError(
            f"{path} has a config.json but no weights (*.safetensors or *.bin)",
            "save the model with save_pretrained() or pass the folder that holds the weights",
        )
    params = _count_params(weights)  # before hashing: a corrupt file fails fast, by name
    return ModelSpec(
        name=name,
        path=path,
        source=source,
        revision=None,
        weights_sha256=_hash_local_files(weights),
        architecture=_architecture(path),
        params=params,
        tokenizer_sha256=hash_named_files(path, TOKENIZER_FILES),
        config_sha256=hash_named_files(path, CONFIG_FILES),
    )


def _hub_spec(name: str, path: Path, commit: str | None) -> ModelSpec:
    weights = _weight_files(path)
    if not weights:
        raise UnknownModelError(f"{name} has no safetensors weights on the Hub", "choose a repository with *.safetensors")
    params = _count_params(weights)
    return ModelSpec(
        name=name,
        path=path,
        source="hub",
        revision=commit,
        weights_sha256=_hash_hub_weights(weights),
        architecture=_architecture(path),
        params=params,
        tokenizer_sha256=hash_named_files(path, TOKENIZER_FILES),
        config_sha256=hash_named_files(path, CONFIG_FILES),
    )


def _download_from_hub(name: str, *, revision: str | None, token: str | None, with_code: bool) -> tuple[Path, str | None]:
    """Fetch (or find in the local HF cache) a Hub snapshot; offline-friendly errors."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    patterns = HUB_PATTERNS_WITH_CODE if with_code else HUB_PATTERNS
    try:
        folder = snapshot_download(
            name, revision=revision, token=token or os.environ.get("HF_TOKEN"), allow_patterns=patterns
        )
    except HFValidationError as exc:
        raise UnknownModelError(f"{name!r} is neither a local folder nor a valid Hub id") from exc
    except GatedRepoError as exc:
        raise UnknownModelError(
            f"{name} is gated on the Hugging Face Hub", "accept its licence on the Hub and set HF_TOKEN"
        ) from exc
    except RevisionNotFoundError as exc:
        raise UnknownModelError(f"revision {revision!r} of {name} does not exist", "check --revision") from exc
    except RepositoryNotFoundError as exc:
        raise UnknownModelError(
            f"model {name!r} not found on the Hugging Face Hub",
            "check the id's spelling, or set HF_TOKEN for a private model",
        ) from exc
    except LocalEntryNotFoundError as exc:
        raise UnknownModelError(
            f"model {name!r} is not a local folder, not in the Hugging Face cache, and the Hub is unreachable",
            "connect to the internet, or pass a local model directory or demo/pico-s",
        ) from exc
    path = Path(folder)
    commit = path.name if len(path.name) == 40 else revision
    return path, commit


def _weight_files(path: Path) -> list[Path]:
    safetensors = sorted(path.glob("*.safetensors"))
    if safetensors:
        return safetensors
    return sorted(p for p in path.glob("*") if p.suffix in WEIGHT_SUFFIXES and p.is_file())


def _architecture(path: Path) -> str | None:
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UnknownModelError(f"{path / 'config.json'} is not valid JSON: {exc}") from exc
    architectures = config.get("architectures") or [config.get("model_type")]
    return architectures[0] if architectures else None


def _count_params(weights: list[Path]) -> int | None:
    """Parameter count from safetensors headers, without loading any tensor.

    Also the integrity check of the weights: a truncated or empty file is named here,
    in one line, instead of failing with a traceback deep inside the model loader.
    """
    total = 0
    for file in weights:
        if file.suffix != ".safetensors":
            return None
        for info in _safetensors_header(file).values():
            count = 1
            for dim in info["shape"]:
                count *= dim
            total += count
    return total


def _safetensors_header(file: Path) -> dict[str, Any]:
    """The tensor table of a safetensors file, checked against the file's real size."""
    size = file.stat().st_size
    try:
        with file.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise ValueError(f"{size} bytes, shorter than a safetensors header")
            (header_len,) = struct.unpack("<Q", prefix)
            if header_len > size - 8:
                raise ValueError(f"header of {header_len} bytes in a {size}-byte file")
            header = json.loads(handle.read(header_len))
        tensors = {key: info for key, info in header.items() if key != "__metadata__"}
        end = max((int(info["data_offsets"][1]) for info in tensors.values()), default=0)
    except (ValueError, KeyError, TypeError, IndexError, OSError) as exc:
        raise _corrupt(file, str(exc)) from exc
    if 8 + header_len + end > size:
        raise _corrupt(file, f"truncated: tensors need {8 + header_len + end} bytes, the file has {size}")
    return tensors


def _corrupt(file: Path, reason: str) -> UnknownModelError:
    return UnknownModelError(
        f"{file} is not a valid safetensors file ({reason})",
        "the download or save was cut short: download the model again, or re-save it with save_pretrained()",
    )


def _hash_hub_weights(weights: list[Path]) -> str:
    """Hub snapshots link to blobs named by their LFS sha256: hash those names, not gigabytes."""
    digest = hashlib.sha256()
    for file in weights:
        blob = file.resolve().name
        digest.update(f"{file.name}:{blob}\n".encode())
    return digest.hexdigest()


def hash_named_files(path: Path, names: tuple[str, ...]) -> str:
    """sha256 over whichever of ``names`` exist in ``path`` (name and content of each).

    Hub snapshots link small files to blobs too, but those blobs are named by git's
    sha1 rather than sha256, so small files are hashed by content everywhere.
    """
    files = [path / name for name in names if (path / name).is_file()]
    return _hash_local_files(files) if files else hashlib.sha256(b"").hexdigest()


def _hash_local_files(files: list[Path]) -> str:
    """sha256 over the files, remembered per (path, size, mtime) so reruns are instant."""
    stamp = "|".join(f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    cache = _read_hash_cache()
    if stamp in cache:
        return cache[stamp]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    value = digest.hexdigest()
    cache[stamp] = value
    _write_hash_cache(cache)
    return value


def _hash_cache() -> Path:
    """Where weight hashes are kept (read at call time, like every setting)."""
    return settings.cache_dir() / "weights-sha256.json"


def _read_hash_cache() -> dict[str, str]:
    try:
        return dict(json.loads(_hash_cache().read_text()))
    except (OSError, ValueError):
        return {}


def _write_hash_cache(cache: dict[str, str]) -> None:
    try:
        path = _hash_cache()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache))
        tmp.replace(path)
    except OSError:
        pass  # the cache only saves time; a read-only home must not fail a run
