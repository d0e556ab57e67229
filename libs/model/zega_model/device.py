"""CUDA with bf16 when a GPU is present (fp16 where bf16 is not supported), else CPU with fp32."""

from __future__ import annotations

import torch


def pick_device(prefer: str = "auto") -> tuple[torch.device, torch.dtype]:
    if prefer == "cpu" or (prefer == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu"), torch.float32
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.device("cuda"), dtype
