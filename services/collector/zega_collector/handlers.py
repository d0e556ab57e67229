"""NATS handlers: thin shells around the ledger and the domain rules.

Refused input is dead-lettered and acknowledged; any other failure hands the message back with a
delay (NAK), and the redelivery finds the work already done as far as it got (see ledger.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

from faststream import AckPolicy
from faststream.exceptions import HandlerException, NackMessage
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsMessage, PullSub
from google.protobuf.message import Message

from zega_collector import metrics
from zega_collector.coalesce import Coalescer
from zega_collector.config import CollectorSettings
from zega_collector.domain import threshold
from zega_collector.domain.stats import Contribution, UserStats
from zega_collector.ledger import Ledger
from zega_common import subjects
from zega_common.codec import EventDecodeError, decode, encode
from zega_common.dead_letter import park
from zega_common.v1 import events_pb2

log = logging.getLogger(__name__)

SERVICE = "collector"
Handler = Callable[[NatsMessage], Awaitable[None]]


def register(broker: NatsBroker, settings: CollectorSettings) -> None:
    ledger = functools.cache(lambda: Ledger(broker.connection, settings))

    def retry_later(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(msg: NatsMessage) -> None:
            try:
                await handler(msg)
            except HandlerException:
                raise
            except Exception as exc:
                name = handler.__name__
                metrics.RETRIES.labels(name).inc()
                log.warning("%s failed, redelivery in %ss: %r", name, settings.retry_delay_s, exc)
                raise NackMessage(delay=settings.retry_delay_s) from exc

        return wrapper

    async def decoded(subject: str, body: bytes, cls: type[Message]) -> Any:
        try:
            return decode(body, cls, settings.max_event_bytes)
        except EventDecodeError as exc:
            await park(broker, SERVICE, subject, body, exc.reason, cls.DESCRIPTOR.full_name)
            return None

    async def emit_due(stats: UserStats) -> None:
        for index in threshold.due(stats.training_examples, stats.thresholds_emitted, settings.threshold):
            event = events_pb2.ThresholdReached(
                user_id=stats.user_id,
                threshold_index=index,
                examples_total=index * settings.threshold,
                trigger=events_pb2.TRIGGER_AUTO,
                job_id=threshold.job_id(stats.user_id, index),
            )
            body, headers = encode(event, threshold.msg_id(stats.user_id, index))
            await broker.publish(
                body,
                subjects.for_user(subjects.THRESHOLD_REACHED, stats.user_id),
                headers=headers,
                stream=subjects.STREAM_TRAINING,
            )
            metrics.THRESHOLDS.inc()
            await ledger().record_emitted(stats.user_id, index)

    async def settle_and_emit(user_id: str, position: int) -> UserStats:
        stats = await ledger().settle(user_id, position)
        await emit_due(stats)
        return stats

    settle = Coalescer(settle_and_emit)

    @broker.subscriber(
        subjects.all_users(subjects.EXAMPLE_COLLECTED),
        stream=JStream(subjects.STREAM_EXAMPLES, declare=False),
        durable=subjects.DURABLE_COLLECTOR,
        config=ConsumerConfig(ack_wait=settings.ack_wait_s, max_ack_pending=max(1000, 4 * settings.batch_size)),
        pull_sub=PullSub(batch_size=settings.batch_size, timeout=settings.fetch_timeout_s),
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    @retry_later
    async def on_example(msg: NatsMessage) -> None:
        """Mark the example seen, then settle the user's stats up to the mark (shared with the
        other examples of the user in the same batch)."""
        example = await decoded(msg.raw_message.subject, msg.body, events_pb2.ExampleCollected)
        if example is None:
            metrics.EXAMPLES.labels("refused").inc()
            return
        contribution = Contribution.of(example.quality_score, example.metadata)
        position, first_seen = await ledger().claim(example.user_id, example.example_id, contribution)
        metrics.EXAMPLES.labels("first_seen" if first_seen else "seen_before").inc()
        await settle(example.user_id, position)

    @broker.subscriber(
        subjects.all_users(subjects.ADAPTER_READY),
        stream=JStream(subjects.STREAM_EVENTS, declare=False),
        durable=f"{subjects.DURABLE_COLLECTOR}-adapters",
        config=ConsumerConfig(ack_wait=settings.ack_wait_s),
        pull_sub=PullSub(batch_size=8, timeout=1.0),
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    @retry_later
    async def on_adapter_ready(msg: NatsMessage) -> None:
        event = await decoded(msg.raw_message.subject, msg.body, events_pb2.AdapterReady)
        if event is None:
            return
        created = event.created_at.ToDatetime(tzinfo=UTC).isoformat() if event.HasField("created_at") else ""
        await ledger().record_adapter(
            event.user_id,
            version=event.adapter_version,
            model_name=event.model_name,
            steps=event.total_training_steps,
            created_at=created,
        )

    @broker.subscriber(
        subjects.all_users(subjects.USER_FORGET),
        stream=JStream(subjects.STREAM_EVENTS, declare=False),
        durable=subjects.durable_forget(SERVICE),
        config=ConsumerConfig(ack_wait=settings.ack_wait_s),
        pull_sub=PullSub(batch_size=8, timeout=1.0),
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    @retry_later
    async def on_forget(msg: NatsMessage) -> None:
        event = await decoded(msg.raw_message.subject, msg.body, events_pb2.ForgetUser)
        if event is None:
            return
        await ledger().forget(event.user_id)
