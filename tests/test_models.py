"""Model resolution: demo aliases, local folders, Hub ids offline, weights identity."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from evalsuite.errors import UnknownModelError
from evalsuite.identity.models import resolve_model


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


def test_tokenizer_and_config_hashes_cover_their_files(tiny_llama: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_llama, copy)
    spec = resolve_model(str(copy))
    expected = hashlib.sha256()
    for name in ("config.json", "generation_config.json"):
        if (copy / name).is_file():
            expected.update(name.encode())
            expected.update((copy / name).read_bytes())
    assert spec.config_sha256 == expected.hexdigest()
    (copy / "special_tokens_map.json").write_text('{"bos_token": "<s>"}')
    edited = resolve_model(str(copy))
    assert edited.tokenizer_sha256 != spec.tokenizer_sha256
    assert (edited.weights_sha256, edited.config_sha256) == (spec.weights_sha256, spec.config_sha256)


@pytest.mark.parametrize("damage", ["truncated", "empty", "header-only"])
def test_corrupt_safetensors_is_named_in_one_line(tiny_llama: Path, tmp_path: Path, damage: str) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_llama, copy)
    weights = copy / "model.safetensors"
    data = weights.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    weights.write_bytes({"truncated": data[: len(data) - 100], "empty": b"", "header-only": data[:header_end]}[damage])
    with pytest.raises(UnknownModelError) as info:
        resolve_model(str(copy))
    assert info.value.message.startswith(f"{weights} is not a valid safetensors file")
    assert "\n" not in str(info.value) and "download the model again" in info.value.hint
