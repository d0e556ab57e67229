"""Hybrid search's fusion of vector and keyword rankings, as Weaviate's relativeScoreFusion does it:
each list's scores are scaled to 0..1 (best = 1, worst = 0), then blended alpha * vector +
(1 - alpha) * keyword; an item missing from a list gets 0 there."""

from __future__ import annotations

import re
from collections.abc import Mapping

_TERM = re.compile(r"[^\W_]+")
MAX_TERMS = 32


def scaled(scores: Mapping[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        return dict.fromkeys(scores, 1.0)
    return {key: (score - low) / (high - low) for key, score in scores.items()}


def relative_score_fusion(
    vector: Mapping[str, float], keyword: Mapping[str, float], alpha: float
) -> list[tuple[str, float]]:
    """(id, fused score), best first; ties keep the vector ranking's order."""
    vec, kw = scaled(vector), scaled(keyword)
    order = list(vector) + [key for key in keyword if key not in vector]
    fused = {key: alpha * vec.get(key, 0.0) + (1 - alpha) * kw.get(key, 0.0) for key in order}
    return sorted(fused.items(), key=lambda entry: entry[1], reverse=True)


def match_expression(text: str) -> str:
    """An FTS5 query matching any word of `text`, each quoted (no FTS syntax gets through)."""
    terms = list(dict.fromkeys(term.lower() for term in _TERM.findall(text)))[:MAX_TERMS]
    return " OR ".join(f'"{term}"' for term in terms)
