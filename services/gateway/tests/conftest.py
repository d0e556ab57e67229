"""A gateway running against the session's real nats-server and real gRPC servers (the fakes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from zega_gateway.testing import (
    ADMIN_TOKEN,
    FakeInference,
    FakeMemory,
    LoopThread,
    RunningGateway,
    serve_inference,
    serve_memory,
)


class Backends:
    def __init__(self, loop: LoopThread) -> None:
        self.loop = loop
        self.inference = FakeInference()
        self.memory = FakeMemory()
        self._inference_server, self.inference_addr = loop.run(serve_inference(self.inference))
        self._memory_server, self.memory_addr = loop.run(serve_memory(self.memory))

    def close(self) -> None:
        self.loop.run(self._inference_server.stop(0))
        self.loop.run(self._memory_server.stop(0))


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def backends(loop_thread) -> Iterator[Backends]:
    backends = Backends(loop_thread)
    yield backends
    backends.close()


@pytest.fixture(scope="module")
def gateway(loop_thread, backends, nats_server, tmp_path_factory) -> Iterator[RunningGateway]:
    running = RunningGateway(
        loop_thread,
        nats_server.url,
        tmp_path_factory.mktemp("gateway"),
        inference_addr=backends.inference_addr,
        memory_addr=backends.memory_addr,
        max_body_bytes=64 * 1024,
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def admin(gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def user_token(admin) -> Callable[[str], str]:
    """Issues a fresh token of a user through POST /admin/tokens."""

    def issue(user_id: str) -> str:
        reply = admin.post("/admin/tokens", json={"user_id": user_id})
        assert reply.status_code == 200, reply.text
        return reply.json()["token"]

    return issue


@pytest.fixture(scope="module")
def user_client(gateway, user_token) -> Callable[[str], httpx.Client]:
    """A client holding a fresh token of a user (close it, or use it in `with`)."""

    def make(user_id: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {user_token(user_id)}"}
        return httpx.Client(base_url=gateway.url, headers=headers, timeout=10)

    return make


@pytest.fixture(scope="module")
def alice(user_client) -> Iterator[httpx.Client]:
    with user_client("alice") as client:
        yield client


@pytest.fixture(scope="module")
def bob(user_client) -> Iterator[httpx.Client]:
    with user_client("bob") as client:
        yield client
