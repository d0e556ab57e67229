"""A user's training statistics: the record kept in KV `zega-stats` under the user's id.

The record is the JSON that GET /user/{id}/training-stats returns (the fields of zega.v1.TrainingStats)
plus one `ledger` object that only the collector reads: the quality sum behind the average, the
highest threshold index already emitted, and `applied_seq`, the position up to which the user's
example markers are counted (see zega_collector.ledger). Readers ignore the `ledger` key.

Every aggregate is a number or a capped map, so the record stays the same size however many
examples the user has.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from zega_collector.domain import labels, threshold

GENRE_KEYS = ("genre", "genres")
THEME_KEYS = ("theme", "themes")


@dataclass(frozen=True)
class Contribution:
    """What one example adds to the statistics."""

    score: float
    genres: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()

    @classmethod
    def of(cls, score: float, metadata: Mapping[str, str]) -> Contribution:
        return cls(score, _labels(metadata, GENRE_KEYS), _labels(metadata, THEME_KEYS))

    def to_json(self) -> bytes:
        return json.dumps({"q": self.score, "g": self.genres, "t": self.themes}, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Contribution:
        obj = json.loads(data)
        return cls(float(obj["q"]), tuple(obj.get("g", ())), tuple(obj.get("t", ())))


def _labels(metadata: Mapping[str, str], keys: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for key in keys:
        for label in labels.split_labels(metadata.get(key, "")):
            if label not in found:
                found.append(label)
    return tuple(found[: labels.MAX_LABELS_PER_EXAMPLE])


@dataclass(frozen=True)
class UserStats:
    user_id: str
    training_examples: int = 0
    quality_sum: float = 0.0
    quality_highest: float = 0.0
    quality_lowest: float = 0.0
    examples_above_min_quality: int = 0
    genre_preferences: dict[str, int] = field(default_factory=dict)
    themes: dict[str, int] = field(default_factory=dict)
    total_training_steps: int = 0
    last_fine_tune: str | None = None
    custom_model_name: str = ""
    adapter_version: int = 0
    applied_seq: int = 0
    thresholds_emitted: int = 0
    updated_at: str = ""

    @property
    def quality_average(self) -> float:
        return self.quality_sum / self.training_examples if self.training_examples else 0.0

    def to_document(self, threshold_size: int) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "training_examples": self.training_examples,
            "examples_until_next_training": threshold.until_next(self.training_examples, threshold_size),
            "last_fine_tune": self.last_fine_tune,
            "quality_scores": {
                "average": round(self.quality_average, 2),
                "highest": self.quality_highest,
                "lowest": self.quality_lowest,
            },
            "examples_above_min_quality": self.examples_above_min_quality,
            "genre_preferences": dict(self.genre_preferences),
            "themes": dict(self.themes),
            "total_training_steps": self.total_training_steps,
            "custom_model_exists": self.adapter_version > 0,
            "custom_model_name": self.custom_model_name,
            "adapter_version": self.adapter_version,
            "ledger": {
                "applied_seq": self.applied_seq,
                "thresholds_emitted": self.thresholds_emitted,
                "quality_sum": self.quality_sum,
                "updated_at": self.updated_at,
            },
        }

    def to_json(self, threshold_size: int) -> bytes:
        return json.dumps(self.to_document(threshold_size), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> UserStats:
        doc = json.loads(data)
        ledger = doc.get("ledger", {})
        quality = doc.get("quality_scores", {})
        return cls(
            user_id=doc["user_id"],
            training_examples=int(doc.get("training_examples", 0)),
            quality_sum=float(ledger.get("quality_sum", 0.0)),
            quality_highest=float(quality.get("highest", 0.0)),
            quality_lowest=float(quality.get("lowest", 0.0)),
            examples_above_min_quality=int(doc.get("examples_above_min_quality", 0)),
            genre_preferences=dict(doc.get("genre_preferences", {})),
            themes=dict(doc.get("themes", {})),
            total_training_steps=int(doc.get("total_training_steps", 0)),
            last_fine_tune=doc.get("last_fine_tune"),
            custom_model_name=doc.get("custom_model_name", ""),
            adapter_version=int(doc.get("adapter_version", 0)),
            applied_seq=int(ledger.get("applied_seq", 0)),
            thresholds_emitted=int(ledger.get("thresholds_emitted", 0)),
            updated_at=ledger.get("updated_at", ""),
        )


def add_examples(
    stats: UserStats,
    contributions: Iterable[Contribution],
    *,
    min_quality: float,
    label_cap: int,
    through_seq: int,
    now: str,
) -> UserStats:
    """`stats` with the examples counted, and `applied_seq` moved to `through_seq`."""
    count, total = stats.training_examples, stats.quality_sum
    high, low, above = stats.quality_highest, stats.quality_lowest, stats.examples_above_min_quality
    genres, themes = stats.genre_preferences, stats.themes
    for item in contributions:
        high = item.score if count == 0 else max(high, item.score)
        low = item.score if count == 0 else min(low, item.score)
        count += 1
        total += item.score
        above += item.score >= min_quality
        genres = labels.count(genres, item.genres, label_cap)
        themes = labels.count(themes, item.themes, label_cap)
    return replace(
        stats,
        training_examples=count,
        quality_sum=total,
        quality_highest=high,
        quality_lowest=low,
        examples_above_min_quality=above,
        genre_preferences=genres,
        themes=themes,
        applied_seq=max(stats.applied_seq, through_seq),
        updated_at=now,
    )


def with_emitted(stats: UserStats, index: int, now: str) -> UserStats | None:
    """`stats` recording threshold `index` as emitted; None when it already was."""
    if index <= stats.thresholds_emitted:
        return None
    return replace(stats, thresholds_emitted=index, updated_at=now)


def with_adapter(
    stats: UserStats, *, version: int, model_name: str, steps: int, created_at: str, now: str
) -> UserStats | None:
    """`stats` after a new adapter version; None for a version already seen (a redelivery, or an
    announcement older than the current one). Each new version adds its training steps."""
    if version <= stats.adapter_version:
        return None
    return replace(
        stats,
        adapter_version=version,
        custom_model_name=model_name or f"zega-{stats.user_id}",
        total_training_steps=stats.total_training_steps + steps,
        last_fine_tune=created_at or now,
        updated_at=now,
    )
