"""Per-example loss weights from the quality score (the seed's rule), applied in the loss, never by copying text."""

from __future__ import annotations


def weight_for(score: float) -> float:
    """9.0-10 -> 2.0, 8.0-8.9 -> 1.5, below 8.0 -> 1.0 (7.0-7.9, or lower when the quality floor is set lower)."""
    if score >= 9.0:
        return 2.0
    if score >= 8.0:
        return 1.5
    return 1.0
