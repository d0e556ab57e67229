"""The collector's state in NATS: exactly-once counting by example_id, without any process memory.

Two buckets, written in this order for each example:

1. A marker in the collector-owned bucket `zega-collector-seen`, key `<user_id>.<digest of
   example_id>`, written only if the key does not exist (expected last subject sequence 0, as
   `kv.create` does). Its value is what the example adds to the statistics (score, genres,
   themes); its revision is its position in the bucket's stream. One marker per distinct example,
   whoever writes it, however often. A batch's markers are written concurrently.
2. The stats record in `zega-stats` (key `<user_id>`) carries `applied_seq`: every marker of the
   user up to that stream position is counted in it, none after. Counting ("settling") takes the
   user's markers after `applied_seq` up to the highest one of the batch, adds them, and moves
   `applied_seq` to the last one, in one revision-checked `kv.update` / `kv.create`; one
   settlement per user per batch. A stale revision means another handler or replica got there
   first: read again, and often find the marker already counted.

Why this is exact, at every point a collector can die:
- before the marker: nothing was written; the redelivery starts afresh.
- after the marker, before the stats: the redelivery finds the marker (create fails, its position
  is read back) and settles up to it; so does any later example of the same user, which folds every
  marker before its own. A marker is never lost, and never counted twice: counting a marker and
  moving `applied_seq` past it are one atomic write, and markers are only ever appended, so every
  position at or below `applied_seq` has been seen exactly once.
- after the stats, before the acknowledgement: the redelivery finds `applied_seq` at or past its
  marker and only acknowledges.
- the same example published again (any Nats-Msg-Id): same marker key; create fails; see above.
The markers stay until the user is forgotten (they are as long-lived as the example log itself),
so a duplicate arriving months later is still recognised.

Where the markers to count come from: from the stream, with batch direct gets checked for
completeness (see `_markers_after`), so a lagging replica can never hide one; or, when every
stream position in the range is a marker this process created itself, from what it wrote (see
zega_collector.domain.own_markers) - a position holds one message, so no other writer can have a
marker there. With one collector that is the common case, and a settlement is one write.

Two hints in process memory save reads and never decide anything on their own: the last stats
record (and revision) this process read or wrote per user, and its own markers. A settlement starts
from the cached record; the revision check of the write refuses it if anyone wrote since (another
replica, a forget), and the settlement starts again from a fresh read. A cached record that says
"nothing to do" is read again before being believed.

Threshold events are published after the stats that reach them are stored, with Nats-Msg-Id
`<user_id>:<index>`, then `thresholds_emitted` is recorded. A collector dying in between makes the
next handler of that user (the redelivery at the latest) publish it again; the server's duplicate
window drops the repeat.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import nats
from nats.aio.client import Client
from nats.js.api import Header, KeyValueConfig, StorageType
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NotFoundError,
)
from nats.js.kv import KeyValue

from zega_collector.config import CollectorSettings
from zega_collector.domain import markers
from zega_collector.domain.own_markers import OwnMarkers
from zega_collector.domain.stats import Contribution, UserStats, add_examples, with_adapter, with_emitted
from zega_collector.js_requests import JsRequests
from zega_common import subjects

MARKER_BATCH = 256
CACHED_USERS = 10_000
REQUEST_TIMEOUT_S = 10.0
"""How long marker writes and marker reads wait for the server's answer."""
WRONG_LAST_SEQUENCE = (10071, 10164)
"""JetStream error codes of a publish refused by its expected-last-sequence header."""

Change = Callable[[UserStats], Awaitable[UserStats | None]]


@dataclass(frozen=True)
class Claim:
    """An example's marker: its stream position, and whether this call wrote it."""

    seq: int
    first_seen: bool


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def declare_buckets(settings: CollectorSettings) -> None:
    """Declare the collector-owned marker bucket (zega-stats is declared by the shared bootstrap)."""
    nc = await nats.connect([url.strip() for url in settings.nats_url.split(",")], name="zega-collector-bootstrap")
    try:
        js = nc.jetstream()
        try:
            await js.key_value(markers.BUCKET)
        except BucketNotFoundError:
            await js.create_key_value(
                KeyValueConfig(
                    bucket=markers.BUCKET,
                    description="One marker per counted example (zega-collector).",
                    history=1,
                    direct=True,
                    storage=StorageType(settings.stream_storage),
                    replicas=settings.stream_replicas,
                )
            )
    finally:
        await nc.close()


class Ledger:
    """Per-user statistics and example markers in NATS KV; every write is revision-checked."""

    def __init__(self, nc: Client, settings: CollectorSettings) -> None:
        self._js = nc.jetstream()
        self._requests = JsRequests(nc, timeout=REQUEST_TIMEOUT_S)
        self._settings = settings
        self._stats: KeyValue | None = None
        self._seen: KeyValue | None = None
        self._cache: OrderedDict[str, tuple[UserStats, int]] = OrderedDict()
        self._own = OwnMarkers()

    async def _buckets(self) -> tuple[KeyValue, KeyValue]:
        if self._stats is None or self._seen is None:
            self._stats = await self._js.key_value(subjects.KV_STATS)
            self._seen = await self._js.key_value(markers.BUCKET)
        return self._stats, self._seen

    async def get(self, user_id: str) -> UserStats | None:
        stats, revision = await self._read(user_id)
        return stats if revision else None

    async def claim(self, user_id: str, example_id: str, contribution: Contribution) -> Claim:
        """Write one example's marker unless it exists (see `claim_all`)."""
        (result,) = await self.claim_all([(user_id, example_id, contribution)])
        if isinstance(result, BaseException):
            raise result
        return result

    async def claim_all(self, items: Sequence[tuple[str, str, Contribution]]) -> list[Claim | BaseException]:
        """Write each example's marker unless it exists, all at once; per item its Claim, or the
        error that kept it from being written or found (that item is for a redelivery)."""
        if not items:
            return []
        _, seen = await self._buckets()
        header = {Header.EXPECTED_LAST_SUBJECT_SEQUENCE: "0"}
        keys = [markers.key(user_id, example_id) for user_id, example_id, _ in items]
        answers = await self._requests.publish_all(
            [(markers.subject(key), item.to_json(), header) for key, (_, _, item) in zip(keys, items, strict=True)]
        )
        results: list[Claim | BaseException] = []
        for key, (_, _, contribution), answer in zip(keys, items, answers, strict=True):
            if isinstance(answer, int):
                results.append(Claim(answer, True))
            elif isinstance(answer, APIError) and answer.err_code in WRONG_LAST_SEQUENCE:
                results.append(await self._existing(seen, key, contribution))
            else:
                results.append(answer)
        self._own.wrote(
            (claim.seq, user_id, contribution)
            for (user_id, _, contribution), claim in zip(items, results, strict=True)
            if isinstance(claim, Claim) and claim.first_seen
        )
        return results

    async def _existing(self, seen: KeyValue, key: str, contribution: Contribution) -> Claim | BaseException:
        """The marker behind a refused create; a tombstone (markers are only purged, but a delete
        must not hide an example) is written over as `kv.create` does."""
        try:
            try:
                return Claim((await seen.get(key)).revision, False)
            except (KeyNotFoundError, KeyDeletedError):
                return Claim(await seen.create(key, contribution.to_json()), True)
        except Exception as exc:  # handed back per item, for a redelivery
            return exc

    async def settle(self, user_id: str, through_seq: int) -> UserStats:
        """Count every marker of the user up to `through_seq` not yet counted; the stats after."""

        async def count(stats: UserStats) -> UserStats | None:
            if stats.applied_seq >= through_seq:
                return None
            found = self._own.between(user_id, stats.applied_seq, through_seq)
            if found is None:
                found = await self._markers_after(user_id, stats.applied_seq, through_seq)
            if not found:
                return None
            return add_examples(
                stats,
                [item for _, item in found],
                min_quality=self._settings.min_quality,
                label_cap=self._settings.label_cap,
                through_seq=found[-1][0],
                now=_now(),
            )

        stats = await self._change(user_id, count)
        self._own.applied(user_id, stats.applied_seq)
        return stats

    async def record_emitted(self, user_id: str, index: int) -> UserStats:
        async def emitted(stats: UserStats) -> UserStats | None:
            return with_emitted(stats, index, _now())

        return await self._change(user_id, emitted)

    async def record_adapter(
        self, user_id: str, *, version: int, model_name: str, steps: int, created_at: str
    ) -> UserStats:
        async def adapter(stats: UserStats) -> UserStats | None:
            return with_adapter(
                stats, version=version, model_name=model_name, steps=steps, created_at=created_at, now=_now()
            )

        return await self._change(user_id, adapter)

    async def forget(self, user_id: str) -> None:
        """Erase the user's markers, then the stats (a retry after a crash in between finishes it)."""
        stats, _ = await self._buckets()
        self._cache.pop(user_id, None)
        self._own.forget(user_id)
        await self._js.purge_stream(markers.stream(), subject=markers.user_filter(user_id))
        await stats.purge(user_id)

    async def _read(self, user_id: str) -> tuple[UserStats, int]:
        """The stats and their revision; empty stats and revision 0 for an unknown user."""
        stats, _ = await self._buckets()
        try:
            entry = await stats.get(user_id)
        except KeyNotFoundError:
            return UserStats(user_id), 0
        return UserStats.from_json(entry.value), entry.revision

    def _remember(self, user_id: str, stats: UserStats, revision: int) -> None:
        self._cache[user_id] = (stats, revision)
        self._cache.move_to_end(user_id)
        if len(self._cache) > CACHED_USERS:
            self._cache.popitem(last=False)

    async def _change(self, user_id: str, change: Change) -> UserStats:
        """Apply `change` with optimistic concurrency: start from the cached record when there is
        one; re-read and retry when another writer won."""
        bucket, _ = await self._buckets()
        cached = self._cache.pop(user_id, None)
        while True:
            current, revision = cached or await self._read(user_id)
            new = await change(current)
            if new is None:
                if cached:
                    cached = None
                    continue
                if revision:
                    self._remember(user_id, current, revision)
                return current
            cached = None
            value = new.to_json(self._settings.threshold)
            try:
                if revision:
                    revision = await bucket.update(user_id, value, last=revision)
                else:
                    revision = await bucket.create(user_id, value)
            except KeyWrongLastSequenceError:
                continue
            self._remember(user_id, new, revision)
            return new

    async def _markers_after(self, user_id: str, after: int, through: int) -> list[tuple[int, Contribution]]:
        """The user's markers with positions in (after, through], in order.

        Read with batch direct gets, which any replica may answer. A replica's store is a prefix of
        the leader's, so a reply that reaches position `through` (a marker known to exist) holds
        every marker before it; one that stops short came from a lagging replica, and the leader
        is asked instead."""
        found: list[tuple[int, Contribution]] = []
        position = after + 1
        while True:
            batch = await self._requests.get_batch(
                markers.stream(), position, markers.user_filter(user_id), MARKER_BATCH
            )
            found += [(m.seq, Contribution.from_json(m.data)) for m in batch if m.seq <= through]
            if batch and batch[-1].seq >= through:
                return found
            if len(batch) < MARKER_BATCH:
                return await self._markers_from_leader(user_id, after, through)
            position = batch[-1].seq + 1

    async def _markers_from_leader(self, user_id: str, after: int, through: int) -> list[tuple[int, Contribution]]:
        found: list[tuple[int, Contribution]] = []
        position = after + 1
        while position <= through:
            try:
                raw = await self._js.get_msg(
                    markers.stream(), seq=position, subject=markers.user_filter(user_id), next=True
                )
            except NotFoundError:
                break
            if raw.seq > through:
                break
            found.append((raw.seq, Contribution.from_json(raw.data)))
            position = raw.seq + 1
        return found
