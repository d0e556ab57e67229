"""NATS handlers: thin shells around the ledger and the domain rules.

Examples arrive in batches (zega_collector.consumer): every marker of the batch is written at
once, then each user of the batch is settled once, all users concurrently, then each message is
acknowledged. Refused input is dead-lettered and acknowledged; any other failure hands the
message back with a delay (NAK), and the redelivery finds the work already done as far as it got
(see ledger.py). adapter.ready and user.forget are rare and go through FastStream subscribers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

from faststream import AckPolicy
from faststream.exceptions import HandlerException, NackMessage
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsMessage, PullSub
from google.protobuf.message import Message
from nats.aio.msg import Msg
from opentelemetry import propagate, trace

from zega_collector import metrics
from zega_collector.config import CollectorSettings
from zega_collector.consumer import BatchConsumer
from zega_collector.domain import threshold
from zega_collector.domain.stats import Contribution, UserStats
from zega_collector.ledger import Claim, Ledger
from zega_common import subjects
from zega_common.codec import EventDecodeError, decode, encode
from zega_common.dead_letter import park
from zega_common.v1 import events_pb2

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

SERVICE = "collector"
Handler = Callable[[NatsMessage], Awaitable[None]]


def register(broker: NatsBroker, settings: CollectorSettings) -> BatchConsumer:
    """Subscribe the handlers; the example consumer returned must be started after the broker
    (and stopped before it)."""
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

    async def settle_user(user_id: str, through: int, msgs: list[Msg], last: Msg) -> None:
        """Settle one user of the batch, then acknowledge its messages (or hand them back)."""
        try:
            stats = await ledger().settle(user_id, through)
            if threshold.due(stats.training_examples, stats.thresholds_emitted, settings.threshold):
                # The trigger continues the trace of the example that reached it.
                context = propagate.extract(last.headers or {})
                with tracer.start_as_current_span(
                    f"{last.subject} process", context=context, kind=trace.SpanKind.CONSUMER
                ):
                    await emit_due(stats)
        except Exception as exc:
            await hand_back(msgs, "settle", exc)
            return
        for msg in msgs:
            await msg.ack()

    async def hand_back(msgs: list[Msg], step: str, exc: BaseException) -> None:
        metrics.RETRIES.labels("on_example").inc(len(msgs))
        log.warning("%s failed for %d examples, redelivery in %ss: %r", step, len(msgs), settings.retry_delay_s, exc)
        for msg in msgs:
            await msg.nak(delay=settings.retry_delay_s)

    first_seen, seen_before = metrics.EXAMPLES.labels("first_seen"), metrics.EXAMPLES.labels("seen_before")

    async def on_examples(batch: list[Msg]) -> None:
        """Mark every example seen, then settle each user once up to its last mark."""
        metrics.BATCH_SIZE.observe(len(batch))
        items, kept = [], []
        for msg in batch:
            example = await decoded(msg.subject, msg.data, events_pb2.ExampleCollected)
            if example is None:
                metrics.EXAMPLES.labels("refused").inc()
                await msg.ack()
                continue
            items.append(
                (example.user_id, example.example_id, Contribution.of(example.quality_score, example.metadata))
            )
            kept.append(msg)
        claims = await ledger().claim_all(items)
        users: dict[str, tuple[int, list[Msg]]] = {}
        failed: list[tuple[Msg, BaseException]] = []
        for (user_id, _, _), msg, claim in zip(items, kept, claims, strict=True):
            if not isinstance(claim, Claim):
                failed.append((msg, claim))
                continue
            (first_seen if claim.first_seen else seen_before).inc()
            through, msgs = users.get(user_id, (0, []))
            msgs.append(msg)
            users[user_id] = (max(through, claim.seq), msgs)
        if failed:
            await hand_back([msg for msg, _ in failed], "marker write", failed[0][1])
        await asyncio.gather(*(settle_user(user, through, msgs, msgs[-1]) for user, (through, msgs) in users.items()))

    examples = BatchConsumer(
        lambda: broker.connection,
        subject=subjects.all_users(subjects.EXAMPLE_COLLECTED),
        stream=subjects.STREAM_EXAMPLES,
        durable=subjects.DURABLE_COLLECTOR,
        config=ConsumerConfig(ack_wait=settings.ack_wait_s, max_ack_pending=max(1000, 4 * settings.batch_size)),
        batch_size=settings.batch_size,
        fetch_timeout_s=settings.fetch_timeout_s,
        handler=on_examples,
    )

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

    return examples
