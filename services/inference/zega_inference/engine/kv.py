"""The running batch's KV cache, left-padded: rows join (their prefill cache padded to a common
length and concatenated) and leave (rows selected, all-padding columns trimmed) between steps.

Each row keeps its true positions (RoPE is applied when keys are written), so the padding only shows
in the attention mask, where it is masked out.

transformers' DynamicLayer appends each step's key and value with torch.cat, a copy of the whole cache per
layer and step (an eighth of a 32-row decoding step on CPU); `GrowingLayer` writes into spare room instead
and copies only when the room runs out.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

HEADROOM = 64
"""Spare positions a layer allocates when it grows: one copy per HEADROOM decoding steps."""


class GrowingLayer(DynamicLayer):
    """A DynamicLayer whose keys and values are views into buffers with room for more positions."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor | None] = {"keys": None, "values": None}
        self._used = {"keys": 0, "values": 0}
        super().__init__()

    def _view(self, name: str) -> torch.Tensor | None:
        buffer = self._buffers[name]
        return buffer if buffer is None else buffer[..., : self._used[name], :]

    def _set(self, name: str, t: torch.Tensor | None) -> None:
        """Setting a whole tensor (concat, select) makes it the buffer, full: the next update grows it."""
        full = t is not None and t.ndim == 4
        self._buffers[name], self._used[name] = (t, t.shape[-2]) if full else (None, 0)

    keys = property(lambda self: self._view("keys"), lambda self, t: self._set("keys", t))
    values = property(lambda self: self._view("values"), lambda self, t: self._set("values", t))

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        return self._append("keys", key_states), self._append("values", value_states)

    def _append(self, name: str, new: torch.Tensor) -> torch.Tensor:
        buffer, used = self._buffers[name], self._used[name]
        end = used + new.shape[-2]
        if buffer is None or end > buffer.shape[-2]:
            grown = new.new_empty(*new.shape[:-2], end + HEADROOM, new.shape[-1])
            if buffer is not None and used:
                grown[..., :used, :] = buffer[..., :used, :]
            self._buffers[name] = buffer = grown
        buffer[..., used:end, :] = new
        self._used[name] = end
        return buffer[..., :end, :]


def new_cache(config) -> DynamicCache:
    """An empty cache for the model, with GrowingLayer where transformers would use a plain DynamicLayer."""
    cache = DynamicCache(config=config)
    cache.layers = [GrowingLayer() if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache


def fill_right_aligned(cache: DynamicCache, rows, width: int, device: torch.device) -> None:
    """Start an empty cache at `width` columns: row i holds rows[i]'s keys and values (one layer list of
    [1, heads, n, dim] pairs, or None) in its last n columns, zeros before (masked out by the caller)."""
    first = next(r for r in rows if r is not None)
    for index, layer in enumerate(cache.layers):
        k0, v0 = first[index]
        keys = k0.new_zeros(len(rows), k0.shape[1], width, k0.shape[3], device=device)
        values = v0.new_zeros(len(rows), v0.shape[1], width, v0.shape[3], device=device)
        for i, row in enumerate(rows):
            if row is not None:
                k, v = row[index]
                keys[i, :, width - k.shape[-2] :] = k[0]
                values[i, :, width - v.shape[-2] :] = v[0]
        layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys, values


def row_slice(cache: DynamicCache, row: int, start: int, end: int) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """Copies of one row's keys and values in columns [start, end), per layer."""
    return tuple(
        (layer.keys[row : row + 1, :, start:end].clone(), layer.values[row : row + 1, :, start:end].clone())
        for layer in cache.layers
    )


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
