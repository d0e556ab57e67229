"""The running batch's KV cache, left-padded: rows join (their prefill cache padded to a common
length and concatenated) and leave (rows selected, all-padding columns trimmed) between steps.

Each row keeps its true positions (RoPE is applied when keys are written), so the padding only shows
in the attention mask, where it is masked out.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache


def _pad_left(t: torch.Tensor, width: int) -> torch.Tensor:
    extra = width - t.shape[-2]
    if extra == 0:
        return t
    pad = torch.zeros(*t.shape[:-2], extra, t.shape[-1], dtype=t.dtype, device=t.device)
    return torch.cat([pad, t], dim=-2)


def width(cache: DynamicCache) -> int:
    return cache.get_seq_length()


def concat(
    a: DynamicCache, mask_a: torch.Tensor, b: DynamicCache, mask_b: torch.Tensor
) -> tuple[DynamicCache, torch.Tensor]:
    """Rows of b appended below rows of a; both left-padded to the wider one."""
    w = max(mask_a.shape[1], mask_b.shape[1])
    for la, lb in zip(a.layers, b.layers, strict=True):
        la.keys = torch.cat([_pad_left(la.keys, w), _pad_left(lb.keys, w)], dim=0)
        la.values = torch.cat([_pad_left(la.values, w), _pad_left(lb.values, w)], dim=0)
    mask = torch.cat([_pad_left(mask_a[:, :, None], w)[:, :, 0], _pad_left(mask_b[:, :, None], w)[:, :, 0]], dim=0)
    return a, mask


def select(cache: DynamicCache, mask: torch.Tensor, rows: list[int]) -> tuple[DynamicCache, torch.Tensor]:
    """Keep `rows`, then drop leading columns that are padding in every kept row."""
    index = torch.tensor(rows, device=mask.device)
    mask = mask.index_select(0, index)
    used = mask.any(dim=0).nonzero()
    start = int(used[0]) if len(used) else mask.shape[1]
    mask = mask[:, start:]
    for layer in cache.layers:
        layer.keys = layer.keys.index_select(0, index)[:, :, start:]
        layer.values = layer.values.index_select(0, index)[:, :, start:]
    return cache, mask
