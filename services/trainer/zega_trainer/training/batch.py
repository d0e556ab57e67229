"""Tensors of one bucketed batch and the completion-only, per-example weighted loss.

Three things keep a step lean:
- rows are right-padded and run without an attention mask: under a causal mask a real token never sees
  the padding after it, and without a padding mask SDPA keeps its fast causal path;
- the prefix every row shares (the chat template's system turn and user header, the persona) runs once
  per batch, its keys and values broadcast to every row (gradients flow back through the broadcast);
- the LM head, a fifth of a small model's compute, runs only on positions that predict a completion token;
- a row's last token predicts nothing and no later token sees it, so it is not fed at all.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import DynamicCache, PreTrainedModel

from zega_trainer.domain.chat import Encoded

MIN_SHARED_PREFIX = 8


@dataclass
class Batch:
    input_ids: torch.Tensor
    """(rows, longest row - 1), right-padded: every row without its last token."""
    prefix: int
    """Leading tokens identical in every row (run once), 0 when not worth it."""
    positions: torch.Tensor
    """Flat indices (row * (width - prefix) + t - prefix) of the positions whose next token is a completion token."""
    targets: torch.Tensor
    weights: torch.Tensor
    """The example's weight, per target token."""
    tokens: int
    """Real (unpadded) tokens in the batch."""


def shared_prefix(rows: Sequence[Encoded]) -> int:
    """Length of the token prefix common to all rows, inside every prompt (so no target falls in it)."""
    if len(rows) < 2:
        return 0
    limit = min(r.prompt_len for r in rows) - 1
    first = rows[0].input_ids
    n = 0
    while n < limit and all(r.input_ids[n] == first[n] for r in rows):
        n += 1
    return n if n >= MIN_SHARED_PREFIX else 0


def collate(rows: Sequence[Encoded], pad_id: int, device: torch.device) -> Batch:
    width = max(r.length for r in rows) - 1
    prefix = shared_prefix(rows)
    span = width - prefix
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    positions: list[int] = []
    targets: list[int] = []
    weights: list[float] = []
    for b, row in enumerate(rows):
        ids[b, : row.length - 1] = torch.tensor(row.input_ids[:-1])
        start = max(row.prompt_len, 1)
        positions += range(b * span + start - 1 - prefix, b * span + row.length - 1 - prefix)
        targets += row.input_ids[start:]
        weights += [row.weight] * (row.length - start)
    return Batch(
        input_ids=ids.to(device, non_blocking=True),
        prefix=prefix,
        positions=torch.tensor(positions, dtype=torch.long).to(device, non_blocking=True),
        targets=torch.tensor(targets, dtype=torch.long).to(device, non_blocking=True),
        weights=torch.tensor(weights, dtype=torch.float32).to(device, non_blocking=True),
        tokens=sum(r.length for r in rows),
    )


def _hidden(decoder: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Last hidden states of the positions after the shared prefix: (rows, width - prefix, hidden)."""
    if not batch.prefix:
        return decoder(input_ids=batch.input_ids, use_cache=False).last_hidden_state
    rows, width = batch.input_ids.shape
    past = DynamicCache()
    decoder(input_ids=batch.input_ids[:1, : batch.prefix], use_cache=True, **{_cache_arg(decoder): past})
    for layer in past.layers:
        layer.keys = layer.keys.expand(rows, -1, -1, -1)
        layer.values = layer.values.expand(rows, -1, -1, -1)
    position_ids = torch.arange(batch.prefix, width, device=batch.input_ids.device).expand(rows, -1)
    suffix = batch.input_ids[:, batch.prefix :]
    return decoder(input_ids=suffix, position_ids=position_ids, **{_cache_arg(decoder): past}).last_hidden_state


def _cache_arg(decoder: torch.nn.Module) -> str:
    """transformers 5 renamed `past_key_values` to `cache` (the old name goes in 5.40)."""
    return "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"


def token_losses(model: PreTrainedModel, batch: Batch) -> torch.Tensor:
    """Cross-entropy of each completion token (fp32), through the decoder and the LM head on those positions only."""
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = _hidden(causal_lm.get_decoder(), batch)
    picked = hidden.reshape(-1, hidden.shape[-1]).index_select(0, batch.positions)
    logits = causal_lm.get_output_embeddings()(picked).float()
    return F.cross_entropy(logits, batch.targets, reduction="none")


def weighted_loss(model: PreTrainedModel, batch: Batch) -> torch.Tensor:
    """Sum of w_i x token loss / sum of w_i over the batch's completion tokens."""
    losses = token_losses(model, batch)
    return (losses * batch.weights).sum() / batch.weights.sum()
