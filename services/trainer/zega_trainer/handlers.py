"""NATS handlers: thin shells around the job runner."""

from __future__ import annotations

from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub

from zega_common import subjects
from zega_trainer.config import TrainerSettings


def register(broker: NatsBroker, settings: TrainerSettings) -> None:
    @broker.subscriber(
        subjects.all_users(subjects.THRESHOLD_REACHED),
        stream=JStream(subjects.STREAM_TRAINING, declare=False),
        durable=subjects.DURABLE_TRAINER,
        pull_sub=PullSub(batch_size=1),
    )
    async def on_threshold(msg: NatsMessage) -> None:
        pass
