"""pytest fixtures on a real nats-server: one per test session, on a free port, in a temp dir.

Registered by the root conftest.py (`pytest_plugins`). `jetstream` gives each test the shared
resources freshly declared (every stream, KV bucket and object store emptied first).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import ServerError

from zega_common.nats_bootstrap import bootstrap
from zega_common.nats_server import EmbeddedNats
from zega_common.settings import ZegaSettings


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    root = tmp_path_factory.mktemp("nats")
    server = EmbeddedNats(root / "store", log_file=root / "nats.log")
    with server:
        yield server


@pytest.fixture
def zega_settings(nats_server: EmbeddedNats, tmp_path) -> ZegaSettings:
    return ZegaSettings(nats_url=nats_server.url, data_dir=tmp_path / "zega", duplicate_window_s=120)


async def reset_jetstream(js: JetStreamContext) -> None:
    """Delete every stream (KV buckets and object stores are streams too)."""
    for info in await js.streams_info():
        await js.delete_stream(info.config.name)


@pytest.fixture
async def nc(nats_server: EmbeddedNats) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url, name="zega-test", max_reconnect_attempts=-1)
    yield client
    await asyncio.wait_for(client.close(), 5)


@pytest.fixture
async def jetstream(nc: Client, zega_settings: ZegaSettings) -> JetStreamContext:
    js = nc.jetstream()
    await reset_jetstream(js)
    for attempt in range(5):
        try:
            await bootstrap(js, zega_settings)
            break
        except ServerError:  # "error creating store for stream": a just-deleted stream's files still going
            if attempt == 4:
                raise
            await asyncio.sleep(0.2)
    return js
