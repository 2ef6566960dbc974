"""Model resolution and identity: a Hub id, a local directory or a demo alias becomes
a local directory plus a fingerprint of its weights.

The fingerprint (``weights_sha256``) is what makes results and cached requests
comparable: two runs of "the same" model name with different weights never share
a cache entry or a leaderboard row.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from evalsuite.errors import UnknownModelError

DEMO_PREFIX = "demo/"
DEMO_MODELS_DIR = Path(__file__).parent / "demo_models"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
# Files a backend needs; Llama-3 style repos also carry `original/*.pth`, which we skip.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "tokenizer*"]
HUB_PATTERNS_WITH_CODE = [*HUB_PATTERNS, "*.py"]
HASH_CACHE = Path(os.environ.get("EVALSUITE_CACHE", Path.home() / ".cache" / "evalsuite")) / "weights-sha256.json"


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

    @property
    def identity(self) -> str:
        """Key for the request cache: same weights and revision, same answers."""
        return f"{self.weights_sha256}:{self.revision or ''}"


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


def _local_spec(name: str, path: Path, source: str) -> ModelSpec:
    weights = _weight_files(path)
    if not weights:
        raise UnknownModelError(
            f"{path} has a config.json but no weights (*.safetensors or *.bin)",
            "save the model with save_pretrained() or pass the folder that holds the weights",
        )
    return ModelSpec(
        name=name,
        path=path,
        source=source,
        revision=None,
        weights_sha256=_hash_local_weights(weights),
        architecture=_architecture(path),
        params=_count_params(weights),
    )


def _hub_spec(name: str, path: Path, commit: str | None) -> ModelSpec:
    weights = _weight_files(path)
    if not weights:
        raise UnknownModelError(f"{name} has no safetensors weights on the Hub", "choose a repository with *.safetensors")
    return ModelSpec(
        name=name,
        path=path,
        source="hub",
        revision=commit,
        weights_sha256=_hash_hub_weights(weights),
        architecture=_architecture(path),
        params=_count_params(weights),
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
    """Parameter count from safetensors headers, without loading any tensor."""
    total = 0
    for file in weights:
        if file.suffix != ".safetensors":
            return None
        with file.open("rb") as handle:
            (header_len,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(header_len))
        for key, info in header.items():
            if key != "__metadata__":
                count = 1
                for dim in info["shape"]:
                    count *= dim
                total += count
    return total


def _hash_hub_weights(weights: list[Path]) -> str:
    """Hub snapshots link to blobs named by their LFS sha256: hash those names, not gigabytes."""
    digest = hashlib.sha256()
    for file in weights:
        blob = file.resolve().name
        digest.update(f"{file.name}:{blob}\n".encode())
    return digest.hexdigest()


def _hash_local_weights(weights: list[Path]) -> str:
    """sha256 over the weight files, remembered per (path, size, mtime) so reruns are instant."""
    stamp = "|".join(f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in weights)
    cache = _read_hash_cache()
    if stamp in cache:
        return cache[stamp]
    digest = hashlib.sha256()
    for file in weights:
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    value = digest.hexdigest()
    cache[stamp] = value
    _write_hash_cache(cache)
    return value


def _read_hash_cache() -> dict[str, str]:
    try:
        return dict(json.loads(HASH_CACHE.read_text()))
    except (OSError, ValueError):
        return {}


def _write_hash_cache(cache: dict[str, str]) -> None:
    try:
        HASH_CACHE.parent.mkdir(parents=True, exist_ok=True)
        tmp = HASH_CACHE.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache))
        tmp.replace(HASH_CACHE)
    except OSError:
        pass  # the cache only saves time; a read-only home must not fail a run
