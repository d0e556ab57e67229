"""Publishing training.progress and adapter.ready (JetStream, with dedup ids)."""

from __future__ import annotations

from faststream.nats import NatsBroker

from zega_common import codec, subjects
from zega_common.v1 import events_pb2
from zega_trainer.domain.jobs import PROTO_STATE, State


class EventPublisher:
    def __init__(self, broker: NatsBroker) -> None:
        self.broker = broker

    async def publish(self, subject: str, msg, msg_id: str) -> None:
        body, headers = codec.encode(msg, msg_id)
        await self.broker.publish(body, subject, headers=headers, stream=subjects.STREAM_EVENTS)

    async def progress(
        self,
        user_id: str,
        job_id: str,
        threshold_index: int,
        state: State,
        *,
        msg_id: str,
        step: int = 0,
        total_steps: int = 0,
        loss: float = 0.0,
        reason: str = "",
    ) -> None:
        event = events_pb2.TrainingProgress(
            user_id=user_id,
            job_id=job_id,
            threshold_index=threshold_index,
            state=PROTO_STATE[state],
            step=step,
            total_steps=total_steps,
            loss=loss,
            reason=reason[:2000],
        )
        await self.publish(subjects.for_user(subjects.TRAINING_PROGRESS, user_id), event, msg_id)

    async def adapter_ready(self, event: events_pb2.AdapterReady) -> None:
        subject = subjects.for_user(subjects.ADAPTER_READY, event.user_id)
        await self.publish(subject, event, f"{event.user_id}:v{event.adapter_version}")
