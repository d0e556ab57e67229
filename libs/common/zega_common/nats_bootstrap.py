"""Declare the streams, KV buckets and object store idempotently (DESIGN.md, "Events").

A second start changes nothing. A start against a deployment whose resources were declared with
other settings changes nothing either and logs what differs (ResourceMismatch lists it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, ObjectStoreConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError, NotFoundError

from zega_common import subjects
from zega_common.settings import ZegaSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResourceMismatch:
    resource: str
    setting: str
    wanted: object
    found: object

    def __str__(self) -> str:
        return f"{self.resource}: {self.setting} is {self.found!r}, settings ask for {self.wanted!r}"


def stream_configs(settings: ZegaSettings) -> list[StreamConfig]:
    storage = StorageType(settings.stream_storage)
    common = dict(
        storage=storage,
        num_replicas=settings.stream_replicas,
        duplicate_window=settings.duplicate_window_s,
        retention=RetentionPolicy.LIMITS,
        max_msg_size=settings.max_event_bytes * 4,
    )
    return [
        StreamConfig(
            name=subjects.STREAM_EXAMPLES,
            subjects=[subjects.all_users(subjects.EXAMPLE_COLLECTED)],
            description="The durable log of every user's training examples.",
            **common,
        ),
        StreamConfig(
            name=subjects.STREAM_TRAINING,
            subjects=[subjects.all_users(subjects.THRESHOLD_REACHED)],
            description="Training triggers, consumed by the trainers' shared durable consumer.",
            **common,
        ),
        StreamConfig(
            name=subjects.STREAM_EVENTS,
            subjects=[
                subjects.all_users(subjects.TRAINING_PROGRESS),
                subjects.all_users(subjects.ADAPTER_READY),
                subjects.all_users(subjects.USER_FORGET),
            ],
            description="Training progress, adapter announcements and erasure requests.",
            **common,
        ),
        StreamConfig(
            name=subjects.STREAM_DEAD_LETTER,
            subjects=[f"{subjects.DEAD_LETTER}.>"],
            description="Messages a service could not process, with the reason in the Zega-Error header.",
            max_age=14 * 24 * 3600.0,
            **common,
        ),
    ]


_COMPARED = ("subjects", "storage", "num_replicas", "duplicate_window", "retention")


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> list[ResourceMismatch]:
    """Create the stream if it is missing; otherwise report the settings that differ."""
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream %s", config.name)
        return []
    found = info.config
    return [
        ResourceMismatch(config.name, key, getattr(config, key), getattr(found, key))
        for key in _COMPARED
        if _normal(getattr(config, key)) != _normal(getattr(found, key))
    ]


def _normal(value: object) -> object:
    if isinstance(value, list):
        return sorted(value)
    if isinstance(value, float):
        return round(value, 3)
    return value


async def ensure_key_value(js: JetStreamContext, bucket: str, settings: ZegaSettings, history: int = 5):
    """The KV bucket, created if missing."""
    try:
        kv = await js.key_value(bucket)
    except BucketNotFoundError:
        kv = await js.create_key_value(
            KeyValueConfig(
                bucket=bucket,
                history=history,
                storage=StorageType(settings.stream_storage),
                replicas=settings.stream_replicas,
            )
        )
        log.info("created KV bucket %s", bucket)
    return kv


async def ensure_object_store(js: JetStreamContext, bucket: str, settings: ZegaSettings):
    """The object store, created if missing."""
    try:
        return await js.object_store(bucket)
    except (BucketNotFoundError, NotFoundError):
        log.info("creating object store %s", bucket)
        return await js.create_object_store(
            bucket,
            ObjectStoreConfig(
                bucket=bucket,
                storage=StorageType(settings.stream_storage),
                replicas=settings.stream_replicas,
            ),
        )


async def bootstrap(js: JetStreamContext, settings: ZegaSettings) -> list[ResourceMismatch]:
    """Declare every shared resource; return (and log) what differs from the settings."""
    mismatches: list[ResourceMismatch] = []
    for config in stream_configs(settings):
        mismatches += await ensure_stream(js, config)
    await ensure_key_value(js, subjects.KV_STATS, settings)
    await ensure_key_value(js, subjects.KV_ADAPTERS, settings, history=20)
    await ensure_key_value(js, subjects.KV_PERSONAS, settings)
    await ensure_key_value(js, subjects.KV_JOBS, settings)
    await ensure_object_store(js, subjects.OBJECT_STORE_ADAPTERS, settings)
    for mismatch in mismatches:
        log.warning("existing JetStream resource differs from settings, left unchanged: %s", mismatch)
    return mismatches
