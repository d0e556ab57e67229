"""NATS handlers: thin shells around the generation service."""

from __future__ import annotations

import logging

from faststream.nats import DeliverPolicy, JStream, NatsBroker, NatsMessage

from zega_common import subjects
from zega_common.codec import EventDecodeError, decode
from zega_common.v1 import events_pb2
from zega_inference.service import GenerationService

log = logging.getLogger(__name__)


def register(broker: NatsBroker, service: GenerationService) -> None:
    # No durable name: every replica gets its own consumer, since each holds its own adapters.
    @broker.subscriber(
        subjects.all_users(subjects.USER_FORGET),
        stream=JStream(subjects.STREAM_EVENTS, declare=False),
        deliver_policy=DeliverPolicy.NEW,
    )
    async def on_forget(msg: NatsMessage) -> None:
        user_id = subjects.user_of(msg.raw_message.subject)
        try:
            event = decode(msg.body, events_pb2.ForgetUser)
            user_id = event.user_id or user_id
        except EventDecodeError as exc:
            log.warning("user.forget for %s did not decode (%s); forgetting by subject", user_id, exc.reason)
        service.forget(user_id)
