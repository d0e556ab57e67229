"""gRPC clients of inference and memory: one channel each, a deadline on every call, and their
failures turned into the gateway's errors (one place)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from zega_common import grpc_client
from zega_common.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted, Unavailable
from zega_common.v1 import inference_pb2, inference_pb2_grpc, memory_pb2, memory_pb2_grpc


def service_error(service: str, addr: str, err: grpc.aio.AioRpcError) -> Exception:
    """The gateway error for a failed call: bad input stays bad input, the rest says who is down."""
    code, details = err.code(), err.details() or ""
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(f"{service}: {details}")
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(f"{service}: {details}")
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return FailedPrecondition(f"{service}: {details}")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return ResourceExhausted(f"{service} is overloaded: {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return Unavailable(f"{service} at {addr} did not answer in time")
    return Unavailable(f"{service} at {addr} is unavailable ({code.name}: {details[:200]})")


class InferenceClient:
    def __init__(self, addr: str, timeout_s: float) -> None:
        self.addr = addr
        self.timeout_s = timeout_s
        self._channel = grpc_client.channel(addr)
        self._stub = inference_pb2_grpc.InferenceStub(self._channel)

    async def generate(self, request: inference_pb2.GenerateRequest) -> inference_pb2.GenerateResponse:
        try:
            return await self._stub.Generate(request, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as err:
            raise service_error("inference", self.addr, err) from None

    async def generate_stream(
        self, request: inference_pb2.GenerateRequest
    ) -> AsyncIterator[inference_pb2.GenerateChunk]:
        """The chunks of one generation; the deadline covers the whole stream."""
        call = self._stub.GenerateStream(request, timeout=self.timeout_s)
        try:
            async for chunk in call:
                yield chunk
        except grpc.aio.AioRpcError as err:
            raise service_error("inference", self.addr, err) from None
        finally:
            call.cancel()

    async def close(self) -> None:
        await self._channel.close()


class MemoryClient:
    def __init__(self, addr: str, timeout_s: float) -> None:
        self.addr = addr
        self.timeout_s = timeout_s
        self._channel = grpc_client.channel(addr)
        self._stub = memory_pb2_grpc.MemoryStub(self._channel)

    async def recall(self, user_id: str, query: str, k: int) -> memory_pb2.RecallResponse:
        try:
            return await self._stub.Recall(
                memory_pb2.RecallRequest(user_id=user_id, query=query, k=k), timeout=self.timeout_s
            )
        except grpc.aio.AioRpcError as err:
            raise service_error("memory", self.addr, err) from None

    async def style_summary(self, user_id: str) -> memory_pb2.StyleSummaryResponse:
        try:
            request = memory_pb2.StyleSummaryRequest(user_id=user_id)
            return await self._stub.StyleSummary(request, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as err:
            raise service_error("memory", self.addr, err) from None

    async def close(self) -> None:
        await self._channel.close()
