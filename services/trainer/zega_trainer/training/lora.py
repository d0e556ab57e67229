"""Attaching a LoRA adapter to the base model: fresh, or warm-started from the user's previous adapter."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import PreTrainedModel

log = logging.getLogger(__name__)


def lora_config(rank: int, alpha: int, dropout: float, target_modules: list[str]) -> LoraConfig:
    return LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


def compatible(adapter_dir: Path, config: LoraConfig) -> bool:
    """A previous adapter can be trained on only with the same rank, alpha and target modules."""
    try:
        old = json.loads((adapter_dir / "adapter_config.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        old.get("r") == config.r
        and old.get("lora_alpha") == config.lora_alpha
        and set(old.get("target_modules") or []) == set(config.target_modules)
    )


def attach(base: PreTrainedModel, config: LoraConfig, previous: Path | None, seed: int) -> tuple[PeftModel, bool]:
    """(trainable PEFT model, whether it starts from `previous`). The seed fixes the fresh LoRA init."""
    torch.manual_seed(seed)
    if previous is not None and compatible(previous, config):
        return PeftModel.from_pretrained(base, previous, is_trainable=True), True
    if previous is not None:
        log.warning("previous adapter has another LoRA shape than the settings: training a fresh one")
    return get_peft_model(base, config), False


def save(model: PeftModel, target: Path, base_model_name: str) -> None:
    """A standard PEFT adapter directory (adapter_config.json + adapter_model.safetensors)."""
    model.peft_config["default"].base_model_name_or_path = base_model_name
    model.save_pretrained(target, safe_serialization=True, save_embedding_layers=False)


def detach(model: PeftModel) -> PreTrainedModel:
    """The base model back, with the LoRA layers removed (not merged)."""
    return model.unload()
