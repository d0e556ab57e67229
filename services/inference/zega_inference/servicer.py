"""gRPC servicer: a thin shell over the generation service (errors map in the shared interceptor)."""

from __future__ import annotations

from contextlib import aclosing

import grpc

from zega_common.v1 import inference_pb2, inference_pb2_grpc
from zega_inference.service import Chunk, GenerationService


def _deadline(context: grpc.aio.ServicerContext) -> float | None:
    return context.time_remaining()


def _chunk(chunk: Chunk) -> inference_pb2.GenerateChunk:
    return inference_pb2.GenerateChunk(
        delta=chunk.delta,
        adapter_version=chunk.adapter_version,
        fallback_reason=chunk.fallback_reason,
        done=chunk.done,
        prompt_tokens=chunk.prompt_tokens,
        completion_tokens=chunk.completion_tokens,
        finish_reason=chunk.finish_reason,
    )


class InferenceServicer(inference_pb2_grpc.InferenceServicer):
    """Closing the chunk generator on the way out (aclosing) stops a cancelled call's generation now."""

    def __init__(self, service: GenerationService) -> None:
        self.service = service

    async def Generate(self, request, context):
        parts: list[str] = []
        async with aclosing(self.service.stream(request, _deadline(context))) as chunks:
            async for chunk in chunks:
                parts.append(chunk.delta)
                if chunk.done:
                    return inference_pb2.GenerateResponse(
                        text="".join(parts),
                        adapter_version=chunk.adapter_version,
                        prompt_tokens=chunk.prompt_tokens,
                        completion_tokens=chunk.completion_tokens,
                        fallback_reason=chunk.fallback_reason,
                        finish_reason=chunk.finish_reason,
                    )
        raise RuntimeError("generation ended without a last chunk")

    async def GenerateStream(self, request, context):
        async with aclosing(self.service.stream(request, _deadline(context))) as chunks:
            async for chunk in chunks:
                yield _chunk(chunk)

    async def ListAdapters(self, request, context):
        return inference_pb2.ListAdaptersResponse(
            adapters=[
                inference_pb2.ResidentAdapter(
                    user_id=r.key.user_id, adapter_version=r.key.version, size_bytes=r.size_bytes, sha256=r.sha256
                )
                for r in self.service.adapters.resident()
            ],
            capacity=self.service.adapters.cache.max_items,
        )
