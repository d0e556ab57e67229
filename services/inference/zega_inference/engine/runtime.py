"""The model side put together: the base model with batched LoRA layers, its tokenizer, the decoding
engine, and turning fetched adapter files into weights for it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from zega_inference.adapters.store import AdapterFiles
from zega_inference.engine import lora
from zega_inference.engine.decoder import Engine
from zega_inference.engine.lora import BatchedLoRALinear, LoRAWeights, UnusableAdapter
from zega_inference.engine.packed import pack, pack_lm_head
from zega_model.device import use_plan_free_attention


@dataclass
class ModelRuntime:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    engine: Engine
    targets: dict[str, BatchedLoRALinear]
    max_lora_rank: int
    names: set[str]

    @classmethod
    def build(
        cls,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        names: set[str] = frozenset(),
        max_lora_rank: int = 64,
        max_batch_size: int = 32,
        max_queued: int = 128,
        max_prefill_tokens: int = 8192,
    ) -> ModelRuntime:
        model.eval()
        if next(model.parameters()).device.type == "cuda":
            use_plan_free_attention()  # also for models not loaded through zega_model
        pack_lm_head(model)
        batch, targets = lora.install(model)
        for wrapper in targets.values():  # a layer oneDNN cannot take: the others would fail alike
            packed = pack(wrapper.base)
            if packed is None:
                break
            wrapper.base = packed
        engine = Engine(
            model,
            batch,
            eos_ids=eos_ids(model, tokenizer),
            max_batch_size=max_batch_size,
            max_queued=max_queued,
            max_prefill_tokens=max_prefill_tokens,
        )
        return cls(model, tokenizer, engine, targets, max_lora_rank, set(names))

    @classmethod
    def load(
        cls, base_model: str, data_dir: Path, device: str = "auto", torch_threads: int = 0, **engine_kwargs
    ) -> ModelRuntime:
        from zega_model import load_base_model

        if torch_threads:
            torch.set_num_threads(torch_threads)
        base = load_base_model(base_model, data_dir, device=device)
        return cls.build(base.model, base.tokenizer, names={base_model, base.name}, **engine_kwargs)

    @property
    def device(self) -> torch.device:
        return self.engine.device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def prepare(self, files: AdapterFiles) -> LoRAWeights:
        """Adapter files -> weights on the model's device (runs in a worker thread)."""
        try:
            state = load_safetensors(files.weights)
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise UnusableAdapter(f"{files.key} weights do not parse as safetensors ({exc})") from None
        return lora.lora_from_peft(
            str(files.key), files.config, state, self.targets, self.max_lora_rank, self.device, self.dtype
        )


def eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    ids: set[int] = set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(configured)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return sorted(ids)
