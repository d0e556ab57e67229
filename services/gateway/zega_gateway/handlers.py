"""NATS handlers: the gateway's share of user.forget (persona, tokens, kept generations)."""

from __future__ import annotations

import logging

from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub

from zega_common import codec, subjects
from zega_common.dead_letter import park
from zega_common.v1 import events_pb2
from zega_gateway.service import GatewayService

log = logging.getLogger(__name__)
SERVICE = "gateway"


def register(broker: NatsBroker, service: GatewayService) -> None:
    @broker.subscriber(
        subjects.all_users(subjects.USER_FORGET),
        stream=JStream(subjects.STREAM_EVENTS, declare=False),
        durable=subjects.durable_forget(SERVICE),
        pull_sub=PullSub(batch_size=1, timeout=5.0),
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def forget(msg: NatsMessage) -> None:
        try:
            event = codec.decode(msg.body, events_pb2.ForgetUser, service.settings.max_event_bytes)
        except codec.EventDecodeError as exc:
            await park(broker, SERVICE, msg.raw_message.subject, msg.body, exc.reason)
            return
        await service.erase(event.user_id)
