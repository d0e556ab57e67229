"""A gateway running against the session's real nats-server and real gRPC servers (the fakes)."""

from __future__ import annotations

from collections.abc import Iterator

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


def user_client(gateway: RunningGateway, admin: httpx.Client, user_id: str) -> httpx.Client:
    """A client holding a fresh token of `user_id`."""
    reply = admin.post("/admin/tokens", json={"user_id": user_id})
    assert reply.status_code == 200, reply.text
    token = reply.json()["token"]
    return httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


@pytest.fixture(scope="module")
def alice(gateway, admin) -> Iterator[httpx.Client]:
    with user_client(gateway, admin, "alice") as client:
        yield client


@pytest.fixture(scope="module")
def bob(gateway, admin) -> Iterator[httpx.Client]:
    with user_client(gateway, admin, "bob") as client:
        yield client
