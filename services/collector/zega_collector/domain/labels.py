"""Genre and theme labels: normalised, and counted in a map whose size is capped.

A user may tag examples with any number of distinct genres over time; the stats record must stay
small. The first `cap` distinct labels get their own counter, every later one is counted under
`other`, so the counts always add up to the number of labels seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

OTHER = "other"
MAX_LABEL_CHARS = 48
MAX_LABELS_PER_EXAMPLE = 8

_SEPARATORS = re.compile(r"[\s\-]+")
_DROPPED = re.compile(r"[^a-z0-9_]")


def normalize(label: str) -> str:
    """`Dark Fantasy` -> `dark_fantasy`; empty when nothing usable is left."""
    slug = _DROPPED.sub("", _SEPARATORS.sub("_", label.strip().lower()))
    return slug.strip("_")[:MAX_LABEL_CHARS]


def split_labels(raw: str) -> list[str]:
    """A metadata value may list several labels, comma-separated; duplicates are dropped."""
    seen: dict[str, None] = {}
    for part in raw.split(","):
        label = normalize(part)
        if label:
            seen.setdefault(label, None)
    return list(seen)[:MAX_LABELS_PER_EXAMPLE]


def count(counts: Mapping[str, int], labels: Iterable[str], cap: int) -> dict[str, int]:
    """`counts` plus one for each label; labels beyond the first `cap` distinct ones go to `other`."""
    result = dict(counts)
    for label in labels:
        named = len(result) - (OTHER in result)
        key = label if label in result or named < cap else OTHER
        result[key] = result.get(key, 0) + 1
    return result
