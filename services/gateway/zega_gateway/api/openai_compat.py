"""OpenAI-compatible API: POST /v1/chat/completions (plain, or server-sent events with stream=true)
and GET /v1/models, in the shapes the official `openai` client reads."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from zega_common.errors import ZegaError
from zega_gateway.api.deps import Caller, Service
from zega_gateway.schemas import ChatCompletionIn, ChatCompletionOut, ModelList
from zega_gateway.service import ChatStream

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["openai"])


@router.post(
    "/chat/completions",
    response_model=ChatCompletionOut,
    responses={200: {"content": {"text/event-stream": {}}, "description": "With stream=true: chunks as SSE."}},
)
async def chat_completions(body: ChatCompletionIn, caller: Caller, service: Service):
    """model `zega-<user_id>` (that user's adapter) or `base`."""
    if not body.stream:
        return await service.chat(caller, body)
    stream = await service.chat_stream(caller, body)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(
        _sse(stream, include_usage),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/models", response_model=ModelList)
async def list_models(caller: Caller, service: Service) -> ModelList:
    return await service.list_models(caller)


async def _sse(stream: ChatStream, include_usage: bool) -> AsyncIterator[bytes]:
    def chunk(delta: dict, finish_reason: str | None = None, usage: dict | None = None, choices: bool = True) -> bytes:
        body = {
            "id": stream.id,
            "object": "chat.completion.chunk",
            "created": stream.created,
            "model": stream.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}] if choices else [],
            "generation_id": stream.generation_id,
        }
        if usage is not None:
            body["usage"] = usage
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        async for piece in stream.chunks:
            if piece.delta:
                yield chunk({"content": piece.delta})
            if piece.done:
                yield chunk({}, piece.finish_reason or "stop")
                if include_usage:
                    usage = {
                        "prompt_tokens": piece.prompt_tokens,
                        "completion_tokens": piece.completion_tokens,
                        "total_tokens": piece.prompt_tokens + piece.completion_tokens,
                    }
                    yield chunk({}, usage=usage, choices=False)
    except ZegaError as exc:
        log.warning("chat stream broken: %s", exc)
        yield b"data: " + json.dumps({"error": {"message": str(exc), "type": "service_unavailable"}}).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"
