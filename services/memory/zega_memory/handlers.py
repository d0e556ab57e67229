"""NATS handlers: thin shells around Memory.

- example.collected.* (durable `memory`): pulled consume_batch_size at a time; each message is decoded
  on its own (a bad one is parked on zega.dlq.memory and acknowledged), the good ones of a pull are
  embedded together (Coalescer). A failure of the embedder or the store naks the message for
  redelivery after retry_delay_s (not at once, which would spin while, say, Weaviate is down);
  indexing is idempotent by example_id.
- user.forget.* (durable `memory-forget`, shared by the replicas): erases the user.
"""

from __future__ import annotations

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub

from zega_common import codec, dead_letter, subjects
from zega_common.codec import EventDecodeError
from zega_common.v1 import events_pb2
from zega_memory.coalescer import Coalescer
from zega_memory.config import MemorySettings
from zega_memory.memory import Memory

SERVICE = "memory"


def register(broker: NatsBroker, settings: MemorySettings, memory: Memory) -> None:
    batcher = Coalescer(memory.index_examples, settings.consume_batch_size, settings.consume_batch_window_s)

    @broker.subscriber(
        subjects.all_users(subjects.EXAMPLE_COLLECTED),
        stream=JStream(subjects.STREAM_EXAMPLES, declare=False),
        durable=subjects.DURABLE_MEMORY,
        pull_sub=PullSub(batch_size=settings.consume_batch_size, timeout=settings.consume_batch_timeout_s),
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_example(msg: NatsMessage) -> None:
        try:
            example = codec.decode(msg.body, events_pb2.ExampleCollected, settings.max_event_bytes)
        except EventDecodeError as exc:
            subject = msg.raw_message.subject
            await dead_letter.park(broker, SERVICE, subject, msg.body, exc.reason, codec.event_name(msg.headers))
            return
        try:
            await batcher.submit(example)
        except Exception:
            await msg.nack(delay=settings.retry_delay_s)
            raise

    @broker.subscriber(
        subjects.all_users(subjects.USER_FORGET),
        stream=JStream(subjects.STREAM_EVENTS, declare=False),
        durable=subjects.durable_forget(SERVICE),
        pull_sub=PullSub(batch_size=8),
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_forget(msg: NatsMessage) -> None:
        try:
            event = codec.decode(msg.body, events_pb2.ForgetUser, settings.max_event_bytes)
        except EventDecodeError as exc:
            subject = msg.raw_message.subject
            await dead_letter.park(broker, SERVICE, subject, msg.body, exc.reason, codec.event_name(msg.headers))
            return
        await memory.forget(event.user_id)
