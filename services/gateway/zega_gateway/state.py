"""The gateway's view of NATS: the shared KV buckets and object store it reads or writes, and its own
two buckets (user tokens; recent generations, kept for a while so they can be rated)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NotFoundError, ObjectNotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from zega_common import subjects
from zega_gateway.config import GatewaySettings


@dataclass
class GatewayState:
    js: JetStreamContext
    stats: KeyValue
    adapters: KeyValue
    personas: KeyValue
    tokens: KeyValue
    generations: KeyValue
    adapter_objects: ObjectStore

    @classmethod
    async def open(cls, js: JetStreamContext, settings: GatewaySettings) -> GatewayState:
        """The shared resources (declared by bootstrap) and the gateway's own buckets (declared here)."""
        return cls(
            js=js,
            stats=await js.key_value(subjects.KV_STATS),
            adapters=await js.key_value(subjects.KV_ADAPTERS),
            personas=await js.key_value(subjects.KV_PERSONAS),
            tokens=await _own_bucket(js, settings.tokens_bucket, settings, ttl=None),
            generations=await _own_bucket(js, settings.generations_bucket, settings, ttl=settings.generation_ttl_s),
            adapter_objects=await js.object_store(subjects.OBJECT_STORE_ADAPTERS),
        )

    async def erase_prefix(self, bucket: str, prefix: str) -> None:
        """Remove every key `<prefix>.*` of a KV bucket in one purge of its stream (no key scan)."""
        await self.js.purge_stream(f"KV_{bucket}", subject=f"$KV.{bucket}.{prefix}.>")


async def _own_bucket(js: JetStreamContext, bucket: str, settings: GatewaySettings, ttl: float | None) -> KeyValue:
    try:
        return await js.key_value(bucket)
    except BucketNotFoundError:
        return await js.create_key_value(
            KeyValueConfig(
                bucket=bucket,
                history=1,
                ttl=ttl,
                storage=StorageType(settings.stream_storage),
                replicas=settings.stream_replicas,
            )
        )


async def get_json(kv: KeyValue, key: str) -> tuple[dict[str, Any] | None, int]:
    """The key's JSON object and revision; (None, 0) when it is missing, deleted or not an object."""
    try:
        entry = await kv.get(key)
    except (KeyNotFoundError, NotFoundError):
        return None, 0
    try:
        value = json.loads(entry.value or b"")
    except ValueError:
        return None, entry.revision
    return (value if isinstance(value, dict) else None), entry.revision


async def get_object_json(store: ObjectStore, name: str) -> dict[str, Any] | None:
    try:
        result = await store.get(name)
    except (ObjectNotFoundError, NotFoundError):
        return None
    try:
        value = json.loads(result.data or b"")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def dump(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
