"""A durable JetStream pull consumer that hands each fetched batch, whole, to one coroutine.

The example stream is the collector's hot path, and its cost is per message: FastStream's
per-message path (dependency injection, a task group, a span, metrics, the ack middleware)
cost more CPU than everything the collector itself does per example, and a batch needs one
settlement per user instead of one per example. FastStream's own batch subscriber
(`PullSub(batch=True)`, faststream 0.7.8) cannot be used: it keeps fetching until the batch is
full, and the fetch that finds nothing more raises `asyncio.TimeoutError` from nats-py, which its
loop does not catch (it catches `nats.errors.TimeoutError`, a subclass), so every partial batch
is dropped and waits out AckWait. nats-py's `fetch` itself returns what is available at once,
up to the batch size, and waits only when nothing is; this loop uses it as it is.

The handler acknowledges (or naks) each message itself. Whatever it leaves unacknowledged (an
exception escaping it, a crash) is redelivered by the server after AckWait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig

log = logging.getLogger(__name__)

BatchHandler = Callable[[list[Msg]], Awaitable[None]]
RETRY_AFTER_S = 0.5


class BatchConsumer:
    def __init__(
        self,
        connection: Callable[[], Client],
        *,
        subject: str,
        stream: str,
        durable: str,
        config: ConsumerConfig,
        batch_size: int,
        fetch_timeout_s: float,
        handler: BatchHandler,
        stop_timeout_s: float = 30.0,
    ) -> None:
        self._connection = connection
        self._subject = subject
        self._stream = stream
        self._durable = durable
        self._config = config
        self._batch_size = batch_size
        self._fetch_timeout_s = fetch_timeout_s
        self._handler = handler
        self._stop_timeout_s = stop_timeout_s
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self._idle = asyncio.Event()

    async def start(self) -> None:
        js = self._connection().jetstream()
        self._sub = await js.pull_subscribe(
            self._subject, durable=self._durable, stream=self._stream, config=self._config
        )
        self._running = True
        self._idle.set()
        self._task = asyncio.create_task(self._run(), name=f"pull {self._durable}")

    async def stop(self) -> None:
        """Stop fetching; let the batch in hand finish (up to stop_timeout_s)."""
        if self._task is None:
            return
        self._running = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), self._stop_timeout_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()

    async def _run(self) -> None:
        while self._running:
            try:
                batch = await self._sub.fetch(self._batch_size, timeout=self._fetch_timeout_s)
            except TimeoutError:  # nats.errors.TimeoutError included: nothing to fetch yet
                continue
            except Exception as exc:  # a reconnect, a restarting server: keep trying
                log.warning("fetch from %s failed, again in %ss: %r", self._durable, RETRY_AFTER_S, exc)
                await asyncio.sleep(RETRY_AFTER_S)
                continue
            self._idle.clear()
            try:
                await self._handler(batch)
            except Exception:
                log.exception("batch of %d from %s failed; redelivered after AckWait", len(batch), self._durable)
            finally:
                self._idle.set()
