"""NATS handlers: thin shells around Memory.

- example.collected.* (durable `memory`): pulled in batches; each message is decoded on its own (a bad
  one is parked on zega.dlq.memory and acknowledged), the good ones are embedded together. A failure of
  the embedder or the store naks the batch for redelivery; indexing is idempotent by example_id.
- user.forget.* (durable `memory-forget`, shared by the replicas): erases the user.
"""

from __future__ import annotations

from faststream import Context
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from faststream.nats.message import NatsBatchMessage

from zega_common import codec, dead_letter, subjects
from zega_common.codec import EventDecodeError
from zega_common.v1 import events_pb2
from zega_memory.config import MemorySettings
from zega_memory.memory import Memory

SERVICE = "memory"


def register(broker: NatsBroker, settings: MemorySettings, memory: Memory) -> None:
    @broker.subscriber(
        subjects.all_users(subjects.EXAMPLE_COLLECTED),
        stream=JStream(subjects.STREAM_EXAMPLES, declare=False),
        durable=subjects.DURABLE_MEMORY,
        pull_sub=PullSub(batch_size=settings.consume_batch_size, timeout=settings.consume_batch_timeout_s, batch=True),
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_examples(batch: NatsBatchMessage = Context("message")) -> None:
        examples = []
        for raw in batch.raw_message:
            try:
                examples.append(codec.decode(raw.data, events_pb2.ExampleCollected, settings.max_event_bytes))
            except EventDecodeError as exc:
                event = codec.event_name(raw.headers)
                await dead_letter.park(broker, SERVICE, raw.subject, raw.data, exc.reason, event)
                await raw.ack()
        await memory.index_examples(examples)

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
