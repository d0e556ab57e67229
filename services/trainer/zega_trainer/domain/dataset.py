"""From the user's collected examples to a training set and a held-out set, or a clear refusal."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from zega_common.v1 import events_pb2
from zega_trainer.domain.examples import TrainingExample, select
from zega_trainer.domain.split import split


class TooFewExamples(Exception):
    """Not enough usable examples to train and evaluate; the message says how many and why."""


@dataclass(frozen=True)
class Dataset:
    train: list[TrainingExample]
    held_out: list[TrainingExample]
    duplicates: int
    below_quality: int

    @property
    def all(self) -> list[TrainingExample]:
        return self.train + self.held_out


def build(
    collected: Iterable[events_pb2.ExampleCollected],
    *,
    min_quality: float,
    min_examples: int,
    eval_fraction: float,
    min_eval: int,
) -> Dataset:
    chosen = select(collected, min_quality)
    usable = len(chosen.examples)
    if usable < min_examples:
        raise TooFewExamples(
            f"{usable} usable examples (quality >= {min_quality:g}; {chosen.below_quality} below it,"
            f" {chosen.duplicates} duplicates); at least {min_examples} are needed"
        )
    train, held_out = split(chosen.examples, lambda ex: ex.example_id, eval_fraction, min_eval)
    return Dataset(train, held_out, chosen.duplicates, chosen.below_quality)
