"""The trainer's NATS state: the user's examples, personas, job records, adapter objects and pointers."""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from opentelemetry import propagate

from zega_common import adapter_layout, codec, subjects
from zega_common.v1 import events_pb2
from zega_trainer.domain.jobs import JobRecord, user_filter, versions_key

log = logging.getLogger(__name__)

ADAPTER_FILES = (adapter_layout.CONFIG_FILE, adapter_layout.WEIGHTS_FILE)


class LostJob(Exception):
    """Another replica updated the job record: this one no longer owns the job."""


@dataclass(frozen=True)
class Examples:
    collected: list[events_pb2.ExampleCollected]
    last_seq: int
    unreadable: int


class TrainerStore:
    def __init__(self, js: JetStreamContext, max_event_bytes: int) -> None:
        self.js = js
        self.max_event_bytes = max_event_bytes

    async def open(self) -> TrainerStore:
        self.jobs = await self.js.key_value(subjects.KV_JOBS)
        self.pointers = await self.js.key_value(subjects.KV_ADAPTERS)
        self.personas = await self.js.key_value(subjects.KV_PERSONAS)
        self.objects = await self.js.object_store(subjects.OBJECT_STORE_ADAPTERS)
        return self

    # examples ------------------------------------------------------------------------------------

    async def last_example_seq(self, user_id: str) -> int:
        try:
            subject = subjects.for_user(subjects.EXAMPLE_COLLECTED, user_id)
            msg = await self.js.get_last_msg(subjects.STREAM_EXAMPLES, subject)
        except NotFoundError:
            return 0
        return msg.seq or 0

    async def read_examples(self, user_id: str, timeout_s: float = 10.0) -> Examples:
        """Every example.collected.<user_id> up to now, through an ordered consumer on that subject only."""
        last = await self.last_example_seq(user_id)
        if not last:
            return Examples([], 0, 0)
        subject = subjects.for_user(subjects.EXAMPLE_COLLECTED, user_id)
        sub = await self.js.subscribe(
            subject, stream=subjects.STREAM_EXAMPLES, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        collected: list[events_pb2.ExampleCollected] = []
        unreadable = seq = 0
        try:
            while seq < last:
                try:
                    msg = await sub.next_msg(timeout=timeout_s)
                except NatsTimeoutError:
                    log.warning("examples of a user stopped at sequence %d of %d", seq, last)
                    break
                seq = msg.metadata.sequence.stream
                try:
                    collected.append(codec.decode(msg.data, events_pb2.ExampleCollected, self.max_event_bytes))
                except codec.EventDecodeError as exc:
                    unreadable += 1
                    log.warning("skipping an unreadable example at sequence %d: %s", seq, exc.reason)
                if msg.metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
        return Examples(collected, seq, unreadable)

    # persona -------------------------------------------------------------------------------------

    async def persona(self, user_id: str) -> str:
        try:
            entry = await self.personas.get(user_id)
            return str(json.loads(entry.value or b"{}").get("system_prompt", ""))
        except KeyNotFoundError:
            return ""
        except (ValueError, AttributeError):
            log.warning("persona of a user is not a JSON object with system_prompt; ignored")
            return ""

    # job records ---------------------------------------------------------------------------------

    async def job(self, key: str) -> tuple[JobRecord | None, int | None]:
        try:
            entry = await self.jobs.get(key)
        except KeyNotFoundError:
            return None, None
        return JobRecord.from_bytes(entry.value), entry.revision

    async def put_job(self, key: str, record: JobRecord, revision: int | None) -> int:
        """Write the record only if nobody else has since `revision` (None: only if it does not exist)."""
        try:
            if revision is None:
                return await self.jobs.create(key, record.to_bytes())
            return await self.jobs.update(key, record.to_bytes(), last=revision)
        except KeyWrongLastSequenceError as exc:
            raise LostJob(f"job record {key} changed under us") from exc

    async def user_jobs(self, user_id: str) -> list[JobRecord]:
        records = []
        for key in await self._user_keys(user_id):
            if key == versions_key(user_id):
                continue
            record, _ = await self.job(key)
            if record:
                records.append(record)
        return records

    async def _user_keys(self, user_id: str) -> list[str]:
        """The user's job keys, filtered by the server (nats-py's keys(filters=) matches substrings client-side)."""
        watcher = await self.jobs.watch(user_filter(user_id), ignore_deletes=True, meta_only=True)
        keys = []
        try:
            async for entry in watcher:
                if entry is None:
                    break
                keys.append(entry.key)
        finally:
            await watcher.stop()
        return keys

    async def next_version(self, user_id: str) -> int:
        """The user's next adapter version, allocated once (compare-and-set on the counter)."""
        key = versions_key(user_id)
        while True:
            try:
                entry = await self.jobs.get(key)
                latest, revision = int(json.loads(entry.value)["latest"]), entry.revision
            except KeyNotFoundError:
                latest, revision = 0, None
            value = json.dumps({"latest": latest + 1}).encode()
            try:
                if revision is None:
                    await self.jobs.create(key, value)
                else:
                    await self.jobs.update(key, value, last=revision)
                return latest + 1
            except KeyWrongLastSequenceError:
                continue

    async def release_version(self, user_id: str, version: int) -> bool:
        """Give back `version` (a rejected candidate's) if it is still the latest allocated; True if so."""
        key = versions_key(user_id)
        try:
            entry = await self.jobs.get(key)
            if int(json.loads(entry.value)["latest"]) != version:
                return False
            await self.jobs.update(key, json.dumps({"latest": version - 1}).encode(), last=entry.revision)
            return True
        except (KeyNotFoundError, KeyWrongLastSequenceError):
            return False

    # adapters ------------------------------------------------------------------------------------

    async def pointer(self, user_id: str) -> dict | None:
        try:
            entry = await self.pointers.get(user_id)
            return json.loads(entry.value)
        except KeyNotFoundError:
            return None
        except ValueError:
            log.warning("adapter pointer of a user is not JSON; treated as none")
            return None

    async def put_pointer(self, user_id: str, pointer: dict) -> None:
        """Move the pointer; it carries the job's trace context, so the inference swap joins the trace."""
        propagate.inject(pointer)
        await self.pointers.put(user_id, json.dumps(pointer).encode())

    async def download_adapter(self, prefix: str) -> dict[str, bytes] | None:
        """The adapter files of `prefix` (<user_id>/v<N>), or None when any is gone."""
        files = {}
        for name in ADAPTER_FILES:
            try:
                files[name] = (await self.objects.get(f"{prefix}/{name}")).data
            except NotFoundError:
                log.warning("previous adapter %s is incomplete (%s missing): training a fresh one", prefix, name)
                return None
        return files

    async def upload(self, prefix: str, files: dict[str, bytes]) -> None:
        for name, data in files.items():
            await self.objects.put(f"{prefix}/{name}", data)

    async def is_published(self, prefix: str) -> bool:
        """Whether `prefix` (<user_id>/v<N>) has its manifest: written only once a version passed its gate."""
        try:
            info = await self.objects.get_info(f"{prefix}/{adapter_layout.MANIFEST_FILE}")
        except NotFoundError:
            return False
        return not info.deleted

    async def delete_adapter(self, prefix: str) -> None:
        """Delete the objects of `prefix` (<user_id>/v<N>) that exist."""
        for name in ADAPTER_FILES:
            with contextlib.suppress(NotFoundError):
                await self.objects.delete(f"{prefix}/{name}")

    # erasure -------------------------------------------------------------------------------------

    async def forget(self, user_id: str) -> int:
        """Delete the user's adapter objects, pointer and job records; returns how many things went."""
        deleted = 0
        try:
            infos = await self.objects.list(ignore_deletes=True)
        except NotFoundError:
            infos = []
        for info in infos:
            if info.name.startswith(f"{user_id}/"):
                await self.objects.delete(info.name)
                deleted += 1
        try:
            await self.pointers.get(user_id)
            await self.pointers.purge(user_id)
            deleted += 1
        except KeyNotFoundError:
            pass
        for key in await self._user_keys(user_id):
            await self.jobs.purge(key)
            deleted += 1
        return deleted
