"""The training-stats answer: what the collector keeps in KV zega-stats, zeros for a user without examples."""

from __future__ import annotations

from typing import Any


def empty_stats(user_id: str, threshold: int) -> dict[str, Any]:
    """A user the collector has not seen yet: no examples, a whole round to go, no custom model."""
    return {
        "user_id": user_id,
        "training_examples": 0,
        "examples_until_next_training": threshold,
        "last_fine_tune": None,
        "quality_scores": {"average": 0.0, "highest": 0.0, "lowest": 0.0},
        "examples_above_min_quality": 0,
        "genre_preferences": {},
        "themes": {},
        "total_training_steps": 0,
        "custom_model_exists": False,
        "custom_model_name": "",
        "adapter_version": 0,
    }


def training_stats(user_id: str, stored: dict[str, Any] | None, threshold: int) -> dict[str, Any]:
    """The stored stats over the zero defaults: a field the collector did not write reads as zero,
    one it wrote with a null stays at the default, and the user_id is always the one asked for."""
    stats = empty_stats(user_id, threshold)
    for key, value in (stored or {}).items():
        if key in stats and value is not None:
            stats[key] = value
    scores = stored.get("quality_scores") if stored else None
    if isinstance(scores, dict):
        stats["quality_scores"] = {k: scores.get(k) or 0.0 for k in ("average", "highest", "lowest")}
    stats["user_id"] = user_id
    return stats


def manual_threshold_index(examples: int, threshold: int) -> int:
    """A manual trigger's threshold_index: the index reached so far (agreed: examples // threshold)."""
    return examples // threshold
