"""Batches by length under a token budget: rows of similar length together, so almost nothing is padding."""

from __future__ import annotations

import random
from collections.abc import Sequence


def make_batches(lengths: Sequence[int], batch_tokens: int, rng: random.Random) -> list[list[int]]:
    """Indices grouped so that rows x longest row <= batch_tokens (a longer row goes alone); batch order shuffled.

    Ties in length are broken at random, so an epoch does not always pair the same rows.
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (len(current) + 1) * lengths[i] > batch_tokens:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def padding_share(batches: Sequence[Sequence[int]], lengths: Sequence[int]) -> float:
    """Padded slots / all slots of a batching (0 = no waste)."""
    slots = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    real = sum(lengths[i] for b in batches for i in b)
    return 1 - real / slots if slots else 0.0
