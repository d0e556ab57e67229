"""Adapters as requests see them: the pointer each user's "auto" follows, a resident LRU of loaded
versions, single-flight loads on a miss, hot-swap on pointer moves, and fallback to the base model.

Every replica runs its own KV watch on zega-adapters (a shared consumer would show each move to one
replica only). When a resident user's pointer moves (a new version, or a rollback), the version it
points to is loaded in the background; requests already running keep the weights they started with.

Staging: the trainer uploads a candidate's weights before its evaluation gate and moves the pointer only
when the candidate passes. Each replica also watches the object store, loads the candidate of a user it
serves (an adapter resident, or recent requests) as it arrives, and hands it to `on_staged` (the service
prefills the user's usual prompt prefix with it), so the pointer move finds it ready. A rejected
candidate's objects are deleted: the replica drops it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue
from opentelemetry import propagate, trace

from zega_common import adapter_layout
from zega_inference import metrics
from zega_inference.adapters.store import AdapterFiles, AdapterMissing, AdapterStore, sha256_hex
from zega_inference.domain.adapter_cache import LruCache
from zega_inference.domain.adapter_ref import AdapterKey, AdapterMode, AdapterPointer, AdapterRef
from zega_inference.engine.lora import LoRAWeights, UnusableAdapter

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

MAX_REMEMBERED_FAILURES = 1024


@dataclass(frozen=True)
class Resident:
    key: AdapterKey
    weights: LoRAWeights
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class Resolution:
    """What a request runs with: weights (None = base model), the version it reports, and why it fell
    back when it wanted an adapter and could not have it."""

    weights: LoRAWeights | None
    version: int
    fallback_reason: str = ""
    fallback_kind: str = ""


BASE = Resolution(None, 0)


def _trace_context(value: bytes):
    try:
        carrier = json.loads(value)
    except ValueError:
        return None
    return propagate.extract(carrier) if isinstance(carrier, dict) else None


def _fallback(kind: str, reason: str) -> Resolution:
    metrics.FALLBACKS.labels(kind).inc()
    return Resolution(None, 0, f"{reason}; served by the base model", kind)


class AdapterManager:
    def __init__(
        self,
        prepare: Callable[[AdapterFiles], LoRAWeights],
        max_adapters: int,
        max_bytes: int,
        base_model_names: set[str],
        load_timeout_s: float = 30.0,
        sync_timeout_s: float = 10.0,
    ) -> None:
        self._store: AdapterStore | None = None
        self._kv: KeyValue | None = None
        self._prepare = prepare
        self.cache: LruCache[AdapterKey, Resident] = LruCache(max_adapters, max_bytes, on_evict=self.on_evict)
        self._base_names = {name for name in base_model_names if name}
        self._load_timeout_s = load_timeout_s
        self._sync_timeout_s = sync_timeout_s
        self.pointers: dict[str, AdapterPointer] = {}
        self._bad_pointers: dict[str, str] = {}
        self._loads: dict[tuple[AdapterKey, str], asyncio.Task[Resident]] = {}
        self._failures: dict[tuple[AdapterKey, str], UnusableAdapter] = {}
        self._synced = asyncio.Event()
        self._watch_task: asyncio.Task | None = None
        self._watcher = None
        self._objects_task: asyncio.Task | None = None
        self._objects_watcher = None
        self.on_staged: Callable[[str, Resident], object] = lambda user_id, resident: None
        """Called with the candidate of a user this replica serves once it is loaded, before its pointer moves."""
        self.on_dropped: Callable[[Resident], object] = lambda resident: None
        """Called for every version that leaves the cache (evicted, replaced, forgotten)."""
        self.is_active: Callable[[str], bool] = lambda user_id: False
        """Whether a user without a resident adapter generated here lately (their first adapter is staged too)."""

    # ---- lifecycle ------------------------------------------------------------------------------
    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def start(self, store: AdapterStore, pointers_kv: KeyValue | None) -> None:
        """Attach to the object store and start following the pointers (None: no pointers, for tools)."""
        self._store, self._kv = store, pointers_kv
        if self._kv is None:
            self._synced.set()
            return
        self._objects_watcher = await store.watch()
        self._objects_task = asyncio.create_task(self._follow_objects(), name="zega-adapter-candidates")
        self._watcher = await self._kv.watchall()
        self._watch_task = asyncio.create_task(self._follow(), name="zega-adapter-pointers")
        try:
            await asyncio.wait_for(self._synced.wait(), self._sync_timeout_s)
        except TimeoutError:
            log.warning(
                "adapter pointers not synced after %.0f s; requests read them from KV meanwhile", self._sync_timeout_s
            )

    async def stop(self) -> None:
        for task in (self._watch_task, self._objects_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for watcher in (self._watcher, self._objects_watcher):
            if watcher is not None:
                with contextlib.suppress(Exception):
                    await watcher.stop()
        self._watch_task = self._objects_task = self._watcher = self._objects_watcher = None
        for task in list(self._loads.values()):
            task.cancel()

    async def _follow(self) -> None:
        async for entry in self._watcher:
            if entry is None:
                self._synced.set()
                continue
            try:
                self.on_pointer(entry.key, entry.value, entry.operation)
            except Exception:
                log.exception("could not follow the pointer of %s", entry.key)

    # ---- pointers and hot-swap ------------------------------------------------------------------
    def on_pointer(self, user_id: str, value: bytes | None, operation: str | None = None) -> None:
        """A pointer changed (or was deleted): remember it, and bring it in if the user is resident."""
        if operation in (KV_DEL, KV_PURGE) or not value:
            self.pointers.pop(user_id, None)
            self._bad_pointers.pop(user_id, None)
            return
        try:
            pointer = AdapterPointer.from_json(value)
        except ValueError as exc:
            log.warning("ignoring the adapter pointer of %s: %s", user_id, exc)
            self.pointers.pop(user_id, None)
            self._bad_pointers[user_id] = str(exc)
            return
        self._bad_pointers.pop(user_id, None)
        previous = self.pointers.get(user_id)
        self.pointers[user_id] = pointer
        if previous == pointer:
            return
        metrics.ADAPTER_SWAPS.inc()
        key = AdapterKey(user_id, pointer.version)
        # The trainer writes its trace context into the pointer: the swap joins the training's trace.
        with tracer.start_as_current_span("zega.adapter.swap", context=_trace_context(value)) as span:
            span.set_attribute("zega.adapter_version", pointer.version)
            staged = self.cache.peek(key)
            if staged is not None and staged.sha256 == pointer.sha256:
                span.set_attribute("zega.staged", True)
            elif self._is_resident_user(user_id) and self._base_fits(pointer) is None:
                log.info("pointer of %s moved to v%d; preloading", user_id, pointer.version)
                span.set_attribute("zega.preload", True)
                self._start_load(key, pointer.sha256)

    # ---- staging --------------------------------------------------------------------------------
    async def _follow_objects(self) -> None:
        async for info in self._objects_watcher:
            if info is None:
                continue
            try:
                self.on_object(info.name, info.digest or "", bool(info.deleted))
            except Exception:
                log.exception("could not follow adapter object %s", info.name)

    def on_object(self, name: str, digest: str, deleted: bool) -> None:
        """An object of the adapter store was written or deleted: stage or drop a candidate."""
        parsed = adapter_layout.parse_object_path(name)
        if parsed is None or parsed[2] != adapter_layout.WEIGHTS_FILE:
            return
        user_id, version, _ = parsed
        key = AdapterKey(user_id, version)
        pointer = self.pointers.get(user_id)
        if deleted:
            if pointer is None or pointer.version != version:
                self.cache.remove(key, reason="withdrawn")
            return
        if not digest or key in self.cache or not (self._is_resident_user(user_id) or self.is_active(user_id)):
            return
        if pointer is not None and version <= pointer.version:
            return  # not a candidate: a rewrite of a published version, or an old one
        task = self._start_load(key, sha256_hex(digest))
        task.add_done_callback(lambda t: self._staged(user_id, t))

    def _staged(self, user_id: str, task: asyncio.Future) -> None:
        if task.cancelled() or task.exception() is not None:
            return  # the pointer move, if it comes, loads it again and falls back if it must
        resident = task.result()
        pointer = self.pointers.get(user_id)
        if pointer is not None and pointer.version == resident.key.version:
            return  # live already (no gate in between): its first request prefills as any other would
        if self.cache.peek(resident.key) is resident:
            log.info("staged candidate %s", resident.key)
            self.on_staged(user_id, resident)

    def _is_resident_user(self, user_id: str) -> bool:
        return any(key.user_id == user_id for key in self.cache)

    async def _pointer(self, user_id: str) -> AdapterPointer | None:
        if self.synced or self._kv is None:
            return self.pointers.get(user_id)
        try:
            entry = await self._kv.get(user_id)
        except KeyNotFoundError:
            return None
        self.on_pointer(user_id, entry.value, entry.operation)
        return self.pointers.get(user_id)

    def _base_fits(self, pointer: AdapterPointer) -> str | None:
        if pointer.base_model and self._base_names and pointer.base_model not in self._base_names:
            return f"was trained on {pointer.base_model}, this server runs {sorted(self._base_names)[0]}"
        return None

    # ---- resolution -----------------------------------------------------------------------------
    async def resolve(self, user_id: str, ref: AdapterRef) -> Resolution:
        """The adapter a request runs with. Never raises for an adapter problem: it falls back."""
        if ref.mode is AdapterMode.BASE:
            return BASE
        pointer = await self._pointer(user_id)
        if ref.mode is AdapterMode.AUTO:
            if pointer is None:
                bad = self._bad_pointers.get(user_id)
                return _fallback("pointer", f"the adapter pointer is invalid ({bad})") if bad else BASE
            key, sha = AdapterKey(user_id, pointer.version), pointer.sha256
            mismatch = self._base_fits(pointer)
            if mismatch:
                return _fallback("base_model", f"adapter {key} {mismatch}")
        else:
            key = AdapterKey(user_id, ref.version)
            sha = pointer.sha256 if pointer is not None and pointer.version == ref.version else ""
        return await self._resolve_key(key, sha)

    async def _resolve_key(self, key: AdapterKey, sha: str) -> Resolution:
        resident = self.cache.get(key)
        if resident is not None and (not sha or resident.sha256 == sha):
            metrics.ADAPTER_HITS.inc()
            return Resolution(resident.weights, key.version)
        metrics.ADAPTER_MISSES.inc()
        try:
            if not sha:
                sha = await self._store.expected_sha256(key)
            task = self._start_load(key, sha)
            resident = await asyncio.wait_for(asyncio.shield(task), self._load_timeout_s)
        except AdapterMissing as exc:
            return _fallback("missing", f"adapter {key} is missing ({exc})")
        except UnusableAdapter as exc:
            return _fallback("unusable", f"adapter {key} is unusable ({exc})")
        except TimeoutError:
            return _fallback("timeout", f"adapter {key} did not load within {self._load_timeout_s:.0f} s")
        except Exception as exc:
            log.exception("loading adapter %s failed", key)
            return _fallback("error", f"adapter {key} could not be loaded ({type(exc).__name__})")
        return Resolution(resident.weights, key.version)

    def _start_load(self, key: AdapterKey, sha: str) -> asyncio.Task[Resident]:
        """One load per (version, sha) at a time; a version that proved corrupt or unusable is not fetched
        again (a missing one is, as it may appear later)."""
        failure = self._failures.get((key, sha))
        if failure is not None:
            future: asyncio.Future[Resident] = asyncio.get_running_loop().create_future()
            future.set_exception(failure)
            return future  # type: ignore[return-value]
        task = self._loads.get((key, sha))
        if task is None:
            task = asyncio.create_task(self._load(key, sha), name=f"zega-adapter-load-{key}")
            self._loads[(key, sha)] = task
            task.add_done_callback(lambda t, k=(key, sha): self._load_done(k, t))
        return task

    def _load_done(self, key: tuple[AdapterKey, str], task: asyncio.Task) -> None:
        self._loads.pop(key, None)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, UnusableAdapter) and not isinstance(exc, AdapterMissing):
            if len(self._failures) >= MAX_REMEMBERED_FAILURES:
                self._failures.pop(next(iter(self._failures)))
            self._failures[key] = exc
        elif exc is not None and not isinstance(exc, AdapterMissing):
            log.warning("loading adapter %s failed: %r", key[0], exc)

    async def _load(self, key: AdapterKey, sha: str) -> Resident:
        started = time.perf_counter()
        files = await self._store.fetch(key, sha)
        weights = await asyncio.to_thread(self._prepare, files)
        resident = Resident(key=key, weights=weights, sha256=sha, size_bytes=weights.size_bytes)
        if not self.cache.put(key, resident, resident.size_bytes):
            log.warning("adapter %s (%d bytes) exceeds the cache; served without caching", key, resident.size_bytes)
        elapsed = time.perf_counter() - started
        metrics.ADAPTER_LOAD_SECONDS.observe(elapsed)
        self._update_gauges()
        log.info("loaded adapter %s (%d bytes) in %.3f s", key, resident.size_bytes, elapsed)
        return resident

    # ---- erasure and listing --------------------------------------------------------------------
    def forget(self, user_id: str) -> None:
        """Drop everything this replica holds of the user (user.forget)."""
        self.cache.remove_where(lambda key: key.user_id == user_id, reason="forget")
        self.pointers.pop(user_id, None)
        self._bad_pointers.pop(user_id, None)
        for (key, sha), task in list(self._loads.items()):
            if key.user_id == user_id:
                task.cancel()
                self._loads.pop((key, sha), None)
        for failed in [k for k in self._failures if k[0].user_id == user_id]:
            self._failures.pop(failed, None)
        self._update_gauges()

    def on_evict(self, key: AdapterKey, resident: Resident, reason: str) -> None:
        """The cache's eviction hook."""
        self.on_dropped(resident)
        if reason != "replaced":
            metrics.ADAPTER_EVICTIONS.labels(reason).inc()
            log.info("evicted adapter %s (%s)", key, reason)

    def _update_gauges(self) -> None:
        metrics.ADAPTERS_RESIDENT.set(len(self.cache))
        metrics.ADAPTER_BYTES_RESIDENT.set(self.cache.total_bytes)

    def resident(self) -> list[Resident]:
        return [value for _, value, _ in reversed(self.cache.items())]
