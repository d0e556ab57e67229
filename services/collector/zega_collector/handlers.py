"""NATS handlers: thin shells around the domain rules."""

from __future__ import annotations

from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub

from zega_collector.config import CollectorSettings
from zega_common import subjects


def register(broker: NatsBroker, settings: CollectorSettings) -> None:
    @broker.subscriber(
        subjects.all_users(subjects.EXAMPLE_COLLECTED),
        stream=JStream(subjects.STREAM_EXAMPLES, declare=False),
        durable=subjects.DURABLE_COLLECTOR,
        pull_sub=PullSub(batch_size=16),
    )
    async def on_example(msg: NatsMessage) -> None:
        pass
