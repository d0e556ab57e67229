"""Choosing what a job trains on: one example per example_id, only those at or above the quality floor."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from zega_common.v1 import events_pb2
from zega_trainer.domain.weighting import weight_for


@dataclass(frozen=True)
class TrainingExample:
    example_id: str
    prompt: str
    completion: str
    score: float
    weight: float
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Selection:
    examples: list[TrainingExample]
    duplicates: int
    below_quality: int


def select(collected: Iterable[events_pb2.ExampleCollected], min_quality: float) -> Selection:
    """Keep the first copy of each example_id (redelivered copies are the same example) whose score is high enough."""
    seen: set[str] = set()
    kept: list[TrainingExample] = []
    duplicates = below = 0
    for ex in collected:
        if ex.example_id in seen:
            duplicates += 1
            continue
        seen.add(ex.example_id)
        if ex.quality_score < min_quality:
            below += 1
            continue
        kept.append(
            TrainingExample(
                example_id=ex.example_id,
                prompt=ex.prompt,
                completion=ex.completion,
                score=ex.quality_score,
                weight=weight_for(ex.quality_score),
                metadata=dict(ex.metadata),
            )
        )
    return Selection(kept, duplicates, below)
