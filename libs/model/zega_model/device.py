"""CUDA with bf16 when a GPU is present (fp16 where bf16 is not supported), else CPU with fp32."""

from __future__ import annotations

import torch


def pick_device(prefer: str = "auto") -> tuple[torch.device, torch.dtype]:
    if prefer == "cpu" or (prefer == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu"), torch.float32
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    use_plan_free_attention()
    return torch.device("cuda"), dtype


def use_plan_free_attention() -> None:
    """Attention on CUDA through the flash / memory-efficient kernels, not cuDNN's: cuDNN builds a plan
    for every new shape, and both services run many (decoding adds a KV position every step, training
    buckets by length). On an H200 a 32-row decoding step took 129 ms until each KV length had been
    seen, 30 ms with this (measured with the inference engine; the trainer is not measured)."""
    torch.backends.cuda.enable_cudnn_sdp(False)
