"""Test doubles and a running gateway, for the gateway's own tests and its benchmark.

FakeInference and FakeMemory are real grpc.aio servers implementing zega.v1.Inference and zega.v1.Memory
with trivial, deterministic logic (the real services meet the gateway in the cross-service tests).
RunningGateway serves the app with uvicorn (and its gRPC server) on an event loop in a background
thread, so that sync clients (httpx, openai, schemathesis) and async tests can both call it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import grpc
import uvicorn

from zega_common.nats_server import free_port
from zega_common.v1 import inference_pb2, inference_pb2_grpc, memory_pb2, memory_pb2_grpc
from zega_gateway.config import GatewaySettings
from zega_gateway.main import create_app

ADMIN_TOKEN = "test-admin-token"


class FakeInference(inference_pb2_grpc.InferenceServicer):
    """Answers `<model>: <last message>`; `versions` holds each user's current adapter version."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.versions: dict[str, int] = {}
        self.requests: list[inference_pb2.GenerateRequest] = []
        self.delay_s = delay_s

    def _answer(self, request: inference_pb2.GenerateRequest) -> inference_pb2.GenerateResponse:
        self.requests.append(request)
        last = request.messages[-1].content if request.messages else request.prompt
        version, fallback = 0, ""
        if request.adapter in ("", "auto"):
            version = self.versions.get(request.user_id, 0)
        elif request.adapter.startswith("v"):
            wanted = int(request.adapter[1:])
            if wanted == self.versions.get(request.user_id):
                version = wanted
            else:
                fallback = f"adapter {request.adapter} is not available"
        words = last.split()[-12:]
        text = " ".join([f"[v{version}]", *words])
        return inference_pb2.GenerateResponse(
            text=text,
            adapter_version=version,
            prompt_tokens=sum(len(m.content.split()) for m in request.messages),
            completion_tokens=len(text.split()),
            fallback_reason=fallback,
            finish_reason="stop",
        )

    async def Generate(self, request, context):
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return self._answer(request)

    async def GenerateStream(self, request, context):
        reply = self._answer(request)
        words = reply.text.split(" ")
        for i, word in enumerate(words):
            last = i == len(words) - 1
            yield inference_pb2.GenerateChunk(
                delta=word if i == 0 else " " + word,
                adapter_version=reply.adapter_version,
                done=last,
                prompt_tokens=reply.prompt_tokens if last else 0,
                completion_tokens=reply.completion_tokens if last else 0,
                finish_reason="stop" if last else "",
            )

    async def ListAdapters(self, request, context):
        return inference_pb2.ListAdaptersResponse(capacity=8)


class FakeMemory(memory_pb2_grpc.MemoryServicer):
    """Two past stories and a one-line style summary per user."""

    async def Recall(self, request, context):
        items = [memory_pb2.RecallItem(text=f"past story {i} of {request.user_id}", score=0.9) for i in (1, 2)]
        return memory_pb2.RecallResponse(items=items[: request.k or 2])

    async def StyleSummary(self, request, context):
        return memory_pb2.StyleSummaryResponse(summary=f"{request.user_id} prefers dark fantasy", items=2)


async def serve_fake(add, servicer) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    add(servicer, server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, f"127.0.0.1:{port}"


async def serve_inference(servicer: FakeInference) -> tuple[grpc.aio.Server, str]:
    return await serve_fake(inference_pb2_grpc.add_InferenceServicer_to_server, servicer)


async def serve_memory(servicer: FakeMemory) -> tuple[grpc.aio.Server, str]:
    return await serve_fake(memory_pb2_grpc.add_MemoryServicer_to_server, servicer)


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="gateway-loop")
        self._thread.start()

    def run(self, coro: Coroutine, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class RunningGateway:
    def __init__(self, loop: LoopThread, nats_url: str, data_dir: Path, **overrides: Any) -> None:
        self.loop = loop
        self.settings = GatewaySettings(
            nats_url=nats_url,
            data_dir=data_dir,
            http_port=free_port(),
            grpc_port=free_port(),
            admin_token=ADMIN_TOKEN,
            duplicate_window_s=120,
            **overrides,
        )
        self.app = create_app(self.settings)
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.settings.http_port, log_level="warning")
        )
        self._serving = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"

    @property
    def grpc_addr(self) -> str:
        return f"127.0.0.1:{self.settings.grpc_port}"

    @property
    def service(self):
        return self.app.state.service

    def start(self, timeout: float = 30.0) -> RunningGateway:
        self._serving = asyncio.run_coroutine_threadsafe(self.server.serve(), self.loop.loop)
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if self._serving.done():
                self._serving.result()
                raise RuntimeError("the gateway stopped during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError("the gateway did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._serving is not None:
            self._serving.result(30)
