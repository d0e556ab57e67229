"""Gathers concurrent single calls into one batch call (one embedding pass for many messages).

The NATS consumer pulls up to consume_batch_size messages per fetch and FastStream runs their handlers
concurrently; each handler submits its example here and waits for the batch it joined. We do not use
FastStream's `PullSub(batch=True)`: in faststream 0.7.8 with nats-py 2.16 its fetch loop catches
nats.errors.TimeoutError while nats-py raises asyncio's TimeoutError, so a partly collected batch is
dropped and only comes back after AckWait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Coalescer(Generic[T]):
    def __init__(self, flush: Callable[[list[T]], Awaitable[object]], max_size: int, window_s: float) -> None:
        self.flush = flush
        self.max_size = max_size
        self.window_s = window_s
        self._pending: list[tuple[T, asyncio.Future]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task] = set()

    async def submit(self, item: T) -> None:
        """Returns once the batch holding `item` was flushed; raises what the flush raised."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self.max_size:
            self._flush_now()
        elif self._timer is None:
            self._timer = loop.call_later(self.window_s, self._flush_now)
        await future

    def _flush_now(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[tuple[T, asyncio.Future]]) -> None:
        try:
            await self.flush([item for item, _ in batch])
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        else:
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
