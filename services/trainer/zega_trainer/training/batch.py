"""Tensors of one bucketed batch and the completion-only, per-example weighted loss.

Rows are right-padded and run without an attention mask: under a causal mask a real token never sees the
padding after it, and without a padding mask SDPA keeps its fast causal path. The LM head, a fifth of a
small model's compute, runs only on the positions that predict a completion token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel

from zega_trainer.domain.chat import Encoded


@dataclass
class Batch:
    input_ids: torch.Tensor
    """(rows, longest row), right-padded."""
    positions: torch.Tensor
    """Flat indices (row * width + t) of the positions whose next token is a completion token."""
    targets: torch.Tensor
    weights: torch.Tensor
    """The example's weight, per target token."""
    tokens: int
    """Real (unpadded) tokens in the batch."""


def collate(rows: Sequence[Encoded], pad_id: int, device: torch.device) -> Batch:
    width = max(r.length for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    positions: list[int] = []
    targets: list[int] = []
    weights: list[float] = []
    for b, row in enumerate(rows):
        ids[b, : row.length] = torch.tensor(row.input_ids)
        start = max(row.prompt_len, 1)
        positions += range(b * width + start - 1, b * width + row.length - 1)
        targets += row.input_ids[start:]
        weights += [row.weight] * (row.length - start)
    return Batch(
        input_ids=ids.to(device, non_blocking=True),
        positions=torch.tensor(positions, dtype=torch.long).to(device, non_blocking=True),
        targets=torch.tensor(targets, dtype=torch.long).to(device, non_blocking=True),
        weights=torch.tensor(weights, dtype=torch.float32).to(device, non_blocking=True),
        tokens=sum(r.length for r in rows),
    )


def token_losses(model: PreTrainedModel, batch: Batch) -> torch.Tensor:
    """Cross-entropy of each completion token (fp32), through the decoder and the LM head on those positions only."""
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal_lm.get_decoder()(input_ids=batch.input_ids, use_cache=False).last_hidden_state
    picked = hidden.reshape(-1, hidden.shape[-1]).index_select(0, batch.positions)
    logits = causal_lm.get_output_embeddings()(picked).float()
    return F.cross_entropy(logits, batch.targets, reduction="none")


def weighted_loss(model: PreTrainedModel, batch: Batch) -> torch.Tensor:
    """Sum of w_i x token loss / sum of w_i over the batch's completion tokens."""
    losses = token_losses(model, batch)
    return (losses * batch.weights).sum() / batch.weights.sum()
