"""JetStream's batch direct get (nats-server 2.11+), which nats-py does not offer.

One request returns up to `batch` messages of a stream that match a subject filter (wildcards
allowed), from a start sequence, in stream order, followed by an end-of-batch status. The stream
must allow direct gets. Any replica may answer, so a reply can lag the leader; callers that need
completeness check it themselves (ledger.py does).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg

END_OF_BATCH = "204"
NOT_FOUND = "404"


class DirectGetError(RuntimeError):
    """The server answered with a status other than end-of-batch or not-found."""


@dataclass(frozen=True)
class StoredMsg:
    seq: int
    subject: str
    data: bytes


class DirectBatchGet:
    """Batch direct gets over one connection, multiplexed on a single wildcard inbox."""

    def __init__(self, nc: Client, timeout: float = 5.0) -> None:
        self._nc = nc
        self._timeout = timeout
        self._prefix = ""
        self._next = 0
        self._pending: dict[str, tuple[asyncio.Future[str], list[Msg]]] = {}
        self._lock = asyncio.Lock()

    async def _inbox(self) -> str:
        async with self._lock:
            if not self._prefix:
                prefix = self._nc.new_inbox()
                await self._nc.subscribe(f"{prefix}.*", cb=self._on_reply)
                self._prefix = prefix
        return self._prefix

    async def _on_reply(self, msg: Msg) -> None:
        entry = self._pending.get(msg.subject.rpartition(".")[2])
        if entry is None:
            return
        future, replies = entry
        status = (msg.headers or {}).get("Status")
        if status is None:
            replies.append(msg)
        elif not future.done():
            future.set_result(status)

    async def get(self, stream: str, start: int, subject: str, batch: int) -> list[StoredMsg]:
        """Up to `batch` messages matching `subject` at or after sequence `start`."""
        prefix = await self._inbox()
        self._next += 1
        token = str(self._next)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[token] = (future, [])
        request = json.dumps({"seq": start, "next_by_subj": subject, "batch": batch}).encode()
        try:
            await self._nc.publish(f"$JS.API.DIRECT.GET.{stream}", request, reply=f"{prefix}.{token}")
            status = await asyncio.wait_for(future, self._timeout)
        finally:
            replies = self._pending.pop(token)[1]
        if status not in (END_OF_BATCH, NOT_FOUND):
            raise DirectGetError(f"direct get on {stream} answered status {status}")
        return [StoredMsg(int(m.headers["Nats-Sequence"]), m.headers.get("Nats-Subject", ""), m.data) for m in replies]
