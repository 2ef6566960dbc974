"""Model resolution: demo aliases, local folders, Hub ids offline, weights identity."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from evalsuite.errors import UnknownModelError
from evalsuite.models import resolve_model


def test_local_model_identity_is_the_sha256_of_its_weights(tiny_llama: Path) -> None:
    spec = resolve_model(str(tiny_llama))
    digest = hashlib.sha256()
    digest.update(b"model.safetensors")
    digest.update((tiny_llama / "model.safetensors").read_bytes())
    assert spec.weights_sha256 == digest.hexdigest()
    assert spec.source == "local" and spec.architecture == "LlamaForCausalLM"


def test_parameter_count_read_from_safetensors_header(tiny_llama: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    unique = {id(p): p.numel() for p in model.parameters()}
    assert resolve_model(str(tiny_llama)).params == sum(unique.values())


def test_changed_weights_change_identity(tiny_llama: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_llama, copy)
    before = resolve_model(str(copy)).weights_sha256
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(data))
    assert resolve_model(str(copy)).weights_sha256 != before


def test_folder_without_config_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError, match="not a model directory"):
        resolve_model(str(tmp_path))


def test_unknown_hub_id_offline_names_the_fix() -> None:
    with pytest.raises(UnknownModelError) as info:
        resolve_model("no-such-org/no-such-model-xyz")
    assert "Hub is unreachable" in info.value.message or "not found" in info.value.message
    assert "demo/pico-s" in info.value.hint or "HF_TOKEN" in info.value.hint


def test_unknown_demo_alias_lists_the_shipped_ones() -> None:
    with pytest.raises(UnknownModelError, match="unknown demo model"):
        resolve_model("demo/does-not-exist")
