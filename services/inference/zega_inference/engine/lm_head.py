"""The LM head on CPU through oneDNN's prepacked weight layout.

A decoding step of 32 rows spends a third of its time in the LM head (576 -> 49,152 for SmolLM2), where
the default fp32 GEMM runs at a fraction of the core's speed for a few rows; oneDNN with the weight
reordered once runs it 1.7-1.9x faster for 4-33 rows and about as fast for one (32 rows: 62-71 ms plain,
38-41 ms packed; one row: 14-15 ms plain, 13-17 ms packed; same logits to 3e-6; this project's 2-core CPU,
one thread). torch.compile's
CPU freezing does this for every linear layer; the other layers (576 wide) gained nothing measurable, so
only the head is swapped. Costs one extra copy of the head weight.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

log = logging.getLogger(__name__)

ROWS_HINT = 32
"""The row count oneDNN lays the weight out for (a full decoding batch)."""


class PackedLinear(nn.Module):
    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.packed = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), ROWS_HINT)
        self.bias = None if linear.bias is None else linear.bias.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features)
        out = torch.ops.mkldnn._linear_pointwise(flat, self.packed, self.bias, "none", [], "")
        return out.reshape(*x.shape[:-1], self.out_features)


def pack_lm_head(model: nn.Module) -> bool:
    """Swap the model's fp32 CPU LM head for a PackedLinear if oneDNN computes the same logits (to 1e-4);
    anything else (CUDA, bf16, no oneDNN, a torch without the op) keeps the head as it is."""
    head = model.get_output_embeddings()
    if not isinstance(head, nn.Linear) or head.weight.device.type != "cpu" or head.weight.dtype != torch.float32:
        return False
    try:
        packed = PackedLinear(head)
        probe = torch.randn(3, head.in_features)
        with torch.no_grad():
            same = torch.allclose(packed(probe), head(probe), atol=1e-4, rtol=1e-4)
    except (RuntimeError, AttributeError) as exc:
        log.info("LM head stays unpacked: %s", exc)
        return False
    if not same:
        log.warning("oneDNN's packed LM head disagrees with the plain one; it stays unpacked")
        return False
    model.set_output_embeddings(packed)
    return True
