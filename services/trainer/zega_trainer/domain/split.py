"""The held-out split: deterministic by example_id, and stable as a user's examples grow.

An example is held out when the hash of its id falls under `fraction`, so the same example stays on the
same side from one version to the next (the previous adapter is not evaluated on what it trained on).
Where that gives fewer than `minimum`, the examples with the lowest hashes are added.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def unit_hash(key: str) -> float:
    """A stable number in [0, 1) for a key."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def split(items: Sequence[T], key_of, fraction: float, minimum: int) -> tuple[list[T], list[T]]:
    """(train, held_out), both in the original order."""
    ranked = sorted(range(len(items)), key=lambda i: (unit_hash(key_of(items[i])), i))
    held = {i for i in ranked if unit_hash(key_of(items[i])) < fraction}
    for i in ranked:
        if len(held) >= minimum:
            break
        held.add(i)
    train = [item for i, item in enumerate(items) if i not in held]
    held_out = [item for i, item in enumerate(items) if i in held]
    return train, held_out
