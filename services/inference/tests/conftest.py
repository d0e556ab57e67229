"""Fixtures: the SmolLM2 tokenizer over a tiny random Llama, random PEFT LoRA adapters saved the way the
trainer saves them, and publishing them into a real NATS object store + KV pointer."""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from zega_common import subjects
from zega_inference.engine.runtime import ModelRuntime
from zega_model import tiny_llama
from zega_model.loader import cached_smollm2

REPO_DATA_DIR = Path(__file__).resolve().parents[3] / ".zega"
TINY_NAME = "tiny-llama"


@dataclass
class AdapterFilesForTest:
    config: bytes
    weights: bytes
    sha256: str
    peft_model: PeftModel


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerBase:
    tok = AutoTokenizer.from_pretrained(cached_smollm2(REPO_DATA_DIR / "models"))
    tok.padding_side = "left"
    return tok


def make_adapter(base, seed: int, rank: int = 8, alpha: int = 16, **extra) -> AdapterFilesForTest:
    """A random LoRA on q,k,v,o (B random too, so it changes outputs), saved with save_pretrained."""
    torch.manual_seed(1000 + seed)
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        init_lora_weights=False,
        task_type="CAUSAL_LM",
        **extra,
    )
    peft_model = get_peft_model(base, config)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.mul_(3.0)  # strong enough to change greedy tokens of a random model
    with tempfile.TemporaryDirectory() as tmp:
        peft_model.save_pretrained(tmp)
        weights = (Path(tmp) / "adapter_model.safetensors").read_bytes()
        config_bytes = (Path(tmp) / "adapter_config.json").read_bytes()
    return AdapterFilesForTest(config_bytes, weights, hashlib.sha256(weights).hexdigest(), peft_model.eval())


@pytest.fixture
def adapter_factory(tokenizer):
    """adapter_factory(seed, rank) -> files of a random adapter for tiny_llama(0)."""

    def factory(seed: int, rank: int = 8, **extra) -> AdapterFilesForTest:
        return make_adapter(tiny_llama(0, vocab_from=tokenizer), seed, rank, **extra)

    return factory


@pytest.fixture
def tiny_runtime(tokenizer) -> ModelRuntime:
    runtime = ModelRuntime.build(tiny_llama(0, vocab_from=tokenizer), tokenizer, names={TINY_NAME}, max_batch_size=8)
    yield runtime
    runtime.engine.stop()


async def publish_adapter(
    js, user_id: str, version: int, files: AdapterFilesForTest, base_model: str = TINY_NAME, move_pointer: bool = True
) -> None:
    """What the trainer does: objects, manifest, then the KV pointer."""
    objects = await js.object_store(subjects.OBJECT_STORE_ADAPTERS)
    prefix = f"{user_id}/v{version}"
    await objects.put(f"{prefix}/adapter_config.json", files.config)
    await objects.put(f"{prefix}/adapter_model.safetensors", files.weights)
    manifest = {"user_id": user_id, "adapter_version": version, "sha256": files.sha256, "base_model": base_model}
    await objects.put(f"{prefix}/manifest.json", json.dumps(manifest).encode())
    if move_pointer:
        await move_pointer_to(js, user_id, version, files.sha256, base_model)


async def move_pointer_to(js, user_id: str, version: int, sha256: str, base_model: str = TINY_NAME) -> None:
    kv = await js.key_value(subjects.KV_ADAPTERS)
    pointer = {
        "adapter_version": version,
        "object_name": f"{user_id}/v{version}",
        "sha256": sha256,
        "base_model": base_model,
        "updated_at": datetime.now(UTC).isoformat(),
    }
    await kv.put(user_id, json.dumps(pointer).encode())


@pytest.fixture
def publish():
    """publish(js, user_id, version, files, base_model=..., move_pointer=True), as the trainer does."""
    return publish_adapter


@pytest.fixture
def move_pointer():
    """move_pointer(js, user_id, version, sha256): a new version or a rollback, as the gateway does."""
    return move_pointer_to
