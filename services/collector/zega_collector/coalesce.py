"""Coalescing of concurrent settlements of the same user within one process.

A pull batch often holds several examples of one user. Each handler writes its own marker, then
asks for the user's stats to be settled up to that marker. Settling is what costs (a read of the
stats, of the markers, a revision-checked write), and one settlement covers every marker before
its target: so concurrent requests for one user run one at a time, and each run takes the highest
position asked for so far. A caller whose position an earlier run already covered gets that run's
result. Nothing is kept once no one waits: the state stays in NATS (see ledger.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Queue(Generic[T]):
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    wanted: int = 0
    done_through: int = 0
    result: T | None = None
    waiting: int = 0


class Coalescer(Generic[T]):
    def __init__(self, run: Callable[[str, int], Awaitable[T]]) -> None:
        self._run = run
        self._queues: dict[str, _Queue[T]] = {}

    async def __call__(self, key: str, position: int) -> T:
        queue = self._queues.setdefault(key, _Queue())
        queue.wanted = max(queue.wanted, position)
        queue.waiting += 1
        try:
            async with queue.lock:
                if queue.result is not None and queue.done_through >= position:
                    return queue.result
                target = queue.wanted
                queue.result = await self._run(key, target)
                queue.done_through = target
                return queue.result
        finally:
            queue.waiting -= 1
            if not queue.waiting:
                del self._queues[key]
