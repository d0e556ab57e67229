"""NATS handlers: thin shells around the job runner.

- threshold.reached.*: the trainers' shared durable pull consumer, one job at a time per replica, manual
  acknowledgement (the runner's verdict: ack, nak with a delay, or dead-letter and ack).
- training.cancel.*: core NATS, every replica hears it; the one running the user's job stops it.
- user.forget.*: a shared durable consumer; stops the user's job, then erases the user's trainer state.
"""

from __future__ import annotations

import asyncio
import json
import logging

from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsMessage, PullSub

from zega_common import codec, subjects
from zega_common.dead_letter import park
from zega_common.user_id import InvalidUserId, check_user_id
from zega_common.v1 import events_pb2
from zega_trainer.config import TrainerSettings
from zega_trainer.events import EventPublisher
from zega_trainer.runner import JobRunner
from zega_trainer.store import TrainerStore

log = logging.getLogger(__name__)

SERVICE = "trainer"
FORGET_WAIT_S = 60.0


class Trainer:
    """The runner, made on first use: it needs the broker's live connection."""

    def __init__(self, broker: NatsBroker, settings: TrainerSettings) -> None:
        self.broker = broker
        self.settings = settings
        self._runner: JobRunner | None = None
        self._lock = asyncio.Lock()

    async def runner(self) -> JobRunner:
        async with self._lock:
            if self._runner is None:
                store = await TrainerStore(self.broker.connection.jetstream(), self.settings.max_event_bytes).open()
                self._runner = JobRunner(self.settings, store, EventPublisher(self.broker))
            return self._runner

    async def shutdown(self) -> None:
        """Stop a running job at its next step so its trigger goes back to the queue at once."""
        if self._runner is not None:
            self._runner.stop_all("shutdown")


def register(broker: NatsBroker, settings: TrainerSettings, trainer: Trainer) -> None:
    @broker.subscriber(
        subjects.all_users(subjects.THRESHOLD_REACHED),
        stream=JStream(subjects.STREAM_TRAINING, declare=False),
        durable=subjects.DURABLE_TRAINER,
        config=ConsumerConfig(ack_wait=settings.ack_wait_s, max_deliver=-1),
        pull_sub=PullSub(batch_size=1),
        ack_policy=AckPolicy.MANUAL,
    )
    async def on_threshold(msg: NatsMessage) -> None:
        subject = msg.raw_message.subject
        try:
            trigger = codec.decode(msg.body, events_pb2.ThresholdReached, settings.max_event_bytes)
        except codec.EventDecodeError as exc:
            await park(broker, SERVICE, subject, msg.body, exc.reason, codec.event_name(msg.headers))
            await msg.ack()
            return
        runner = await trainer.runner()
        try:
            verdict = await runner.handle(trigger, msg.raw_message.metadata.num_delivered, msg.in_progress)
        except Exception:
            log.exception("job of trigger %s could not be handled; retrying", trigger.job_id)
            await msg.nack(delay=settings.retry_backoff_s)
            return
        if verdict.action == "ack":
            await msg.ack()
        elif verdict.action == "retry":
            await msg.nack(delay=verdict.delay)
        elif verdict.action == "fail":
            await park(broker, SERVICE, subject, msg.body, verdict.reason, codec.event_name(msg.headers))
            await msg.ack()

    @broker.subscriber(subjects.all_users(subjects.TRAINING_CANCEL))
    async def on_cancel(msg: NatsMessage) -> dict | None:
        user_id = subjects.user_of(msg.raw_message.subject)
        try:
            check_user_id(user_id)
        except InvalidUserId:
            return None
        job_id = _job_id_of(msg.body)
        cancelled = (await trainer.runner()).cancel(user_id, "cancel", job_id)
        if cancelled:
            log.info("cancel requested for the running job of a user")
        return {"cancelled": cancelled} if msg.reply_to else None

    @broker.subscriber(
        subjects.all_users(subjects.USER_FORGET),
        stream=JStream(subjects.STREAM_EVENTS, declare=False),
        durable=subjects.durable_forget(SERVICE),
        pull_sub=PullSub(batch_size=1),
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_forget(msg: NatsMessage) -> None:
        try:
            event = codec.decode(msg.body, events_pb2.ForgetUser, settings.max_event_bytes)
        except codec.EventDecodeError as exc:
            await park(broker, SERVICE, msg.raw_message.subject, msg.body, exc.reason, codec.event_name(msg.headers))
            return
        runner = await trainer.runner()
        runner.cancel(event.user_id, "forget")
        await runner.wait_idle(event.user_id, FORGET_WAIT_S)
        deleted = await runner.store.forget(event.user_id)
        log.info("forgot a user: %d adapter objects, pointers and job records deleted", deleted)


def _job_id_of(body: bytes) -> str:
    """An optional {"job_id": ...} in the cancel message narrows it to that job."""
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return ""
    return str(value.get("job_id", "")) if isinstance(value, dict) else ""
