"""Linear layers on CPU through oneDNN's prepacked weight layout.

The default fp32 GEMM (MKL here) runs the model's small-row products at a fraction of the core's speed;
oneDNN with each weight reordered once runs them faster. Measured on this project's 2-core AVX2 CPU, 2
threads, SmolLM2-135M, one forward pass (median of 12): a 35-token prefill 204-280 -> 186-191 ms, a
12-token one 180-205 -> 135-139 ms, a 32-row decoding step 245-276 -> 194-195 ms, one row 89-100 ->
86-98 ms. The LM head alone (576 -> 49,152): 32 rows 62-71 -> 38-41 ms, logits within 3e-6. Each layer
is checked against its plain self at start (1e-4) and stays plain if they disagree.
This is what torch.compile's CPU freezing does to every linear layer, without the compile.

The packed weight replaces the plain one (the LM head, tied to the embeddings, keeps both).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

log = logging.getLogger(__name__)

ROWS_HINT = 32
"""The row count oneDNN lays the weights out for (a full decoding batch, about a prompt's length)."""


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


def packable(linear: nn.Module) -> bool:
    weight = getattr(linear, "weight", None)
    return (
        isinstance(linear, nn.Linear)
        and weight is not None
        and weight.device.type == "cpu"
        and weight.dtype == torch.float32
        and torch.backends.mkldnn.is_available()
    )


def pack(linear: nn.Linear) -> PackedLinear | None:
    """A PackedLinear computing what `linear` computes (to 1e-4 on a probe), or None where oneDNN cannot
    (CUDA, bf16, no oneDNN, a torch without the op) or disagrees."""
    if not packable(linear):
        return None
    try:
        packed = PackedLinear(linear)
        probe = torch.randn(3, linear.in_features)
        with torch.no_grad():
            same = torch.allclose(packed(probe), linear(probe), atol=1e-4, rtol=1e-4)
    except (RuntimeError, AttributeError) as exc:
        log.info("linear layers stay unpacked: %s", exc)
        return None
    if not same:
        log.warning("oneDNN's packed linear disagrees with the plain one; it stays unpacked")
        return None
    return packed


def pack_lm_head(model: nn.Module) -> bool:
    """Swap the model's LM head for its PackedLinear where `pack` gives one."""
    packed = pack(model.get_output_embeddings())
    if packed is not None:
        model.set_output_embeddings(packed)
    return packed is not None
