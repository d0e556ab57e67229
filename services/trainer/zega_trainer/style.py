"""The user's style summary from zega-memory, for the Modelfile SYSTEM line."""

from __future__ import annotations

import logging

import grpc

from zega_common import grpc_client
from zega_common.v1 import memory_pb2, memory_pb2_grpc

log = logging.getLogger(__name__)


async def style_summary(addr: str, user_id: str, timeout_s: float) -> str:
    """The summary, or "" when memory is unreachable, slow or has nothing on the user."""
    if not addr:
        return ""
    try:
        async with grpc_client.channel(addr) as channel:
            stub = memory_pb2_grpc.MemoryStub(channel)
            response = await stub.StyleSummary(memory_pb2.StyleSummaryRequest(user_id=user_id), timeout=timeout_s)
    except grpc.aio.AioRpcError as exc:
        log.info("no style summary from memory (%s): deriving one from the examples", exc.code().name)
        return ""
    return response.summary.strip()
