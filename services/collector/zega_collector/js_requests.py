"""JetStream requests that nats-py does not offer in a usable form, multiplexed on one wildcard inbox.

- Batch direct get (nats-server 2.11+): one request returns up to `batch` messages of a stream that
  match a subject filter (wildcards allowed), from a start sequence, in stream order, followed by
  an end-of-batch status. The stream must allow direct gets. Any replica may answer, so a reply can
  lag the leader; callers that need completeness check it themselves (ledger.py does).
- Many publishes at once, each answered with its stream position or its own error. nats-py's
  `publish` costs a timer and a task per call, and its `publish_async` loses errors (nats-py 2.16:
  the reply callback calls `APIError.from_error`, which raises instead of returning, so the future
  of a refused publish, such as a conditional write that lost, never completes).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import APIError, NoStreamResponseError

END_OF_BATCH = "204"
NOT_FOUND = "404"
NO_RESPONDERS = "503"


class DirectGetError(RuntimeError):
    """The server answered with a status other than end-of-batch or not-found."""


@dataclass(frozen=True)
class StoredMsg:
    seq: int
    subject: str
    data: bytes


class JsRequests:
    """Requests over one connection, their replies routed by the last token of the reply subject."""

    def __init__(self, nc: Client, timeout: float = 5.0) -> None:
        self._nc = nc
        self._timeout = timeout
        self._prefix = ""
        self._next = 0
        self._routes: dict[str, Callable[[Msg], None]] = {}
        self._lock = asyncio.Lock()

    async def _inbox(self) -> str:
        async with self._lock:
            if not self._prefix:
                prefix = self._nc.new_inbox()
                await self._nc.subscribe(f"{prefix}.*", cb=self._on_reply)
                self._prefix = prefix
        return self._prefix

    async def _on_reply(self, msg: Msg) -> None:
        route = self._routes.get(msg.subject.rpartition(".")[2])
        if route is not None:
            route(msg)

    def _token(self) -> str:
        self._next += 1
        return str(self._next)

    async def get_batch(self, stream: str, start: int, subject: str, batch: int) -> list[StoredMsg]:
        """Up to `batch` messages matching `subject` at or after sequence `start`."""
        prefix = await self._inbox()
        token = self._token()
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        replies: list[Msg] = []

        def route(msg: Msg) -> None:
            status = (msg.headers or {}).get("Status")
            if status is None:
                replies.append(msg)
            elif not future.done():
                future.set_result(status)

        self._routes[token] = route
        request = json.dumps({"seq": start, "next_by_subj": subject, "batch": batch}).encode()
        try:
            await self._nc.publish(f"$JS.API.DIRECT.GET.{stream}", request, reply=f"{prefix}.{token}")
            status = await asyncio.wait_for(future, self._timeout)
        finally:
            del self._routes[token]
        if status not in (END_OF_BATCH, NOT_FOUND):
            raise DirectGetError(f"direct get on {stream} answered status {status}")
        return [StoredMsg(int(m.headers["Nats-Sequence"]), m.headers.get("Nats-Subject", ""), m.data) for m in replies]

    async def publish_all(self, items: Sequence[tuple[str, bytes, dict[str, str]]]) -> list[int | Exception]:
        """Publish every (subject, payload, headers) to JetStream at once; per item its stream
        position, or the error it was answered with (TimeoutError when unanswered in time)."""
        if not items:
            return []
        prefix = await self._inbox()
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Msg]] = []
        tokens = []
        for subject, payload, headers in items:
            token = self._token()
            future: asyncio.Future[Msg] = loop.create_future()
            self._routes[token] = _resolve(future)
            futures.append(future)
            tokens.append(token)
            await self._nc.publish(subject, payload, reply=f"{prefix}.{token}", headers=headers)
        try:
            await asyncio.wait(futures, timeout=self._timeout)
        finally:
            for token in tokens:
                del self._routes[token]
        return [_pub_ack(future) for future in futures]


def _resolve(future: asyncio.Future[Msg]) -> Callable[[Msg], None]:
    def route(msg: Msg) -> None:
        if not future.done():
            future.set_result(msg)

    return route


def _pub_ack(future: asyncio.Future[Msg]) -> int | Exception:
    if not future.done():
        future.cancel()
        return TimeoutError("JetStream publish unanswered")
    msg = future.result()
    if (msg.headers or {}).get("Status") == NO_RESPONDERS:
        return NoStreamResponseError()
    try:
        reply = json.loads(msg.data)
    except ValueError as exc:
        return exc
    if "error" in reply:
        try:
            APIError.from_error(reply["error"])  # raises the error's own class
        except APIError as exc:
            return exc
    return int(reply["seq"])
