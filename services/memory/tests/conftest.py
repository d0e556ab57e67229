"""Fixtures of the memory tests: the real embedding model (once per session), settings on the test's
NATS server and temp dir, and stores of each backend (Weaviate only where ZEGA_WEAVIATE_URL is set)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from zega_common.nats_server import EmbeddedNats, free_port
from zega_memory.config import MemorySettings
from zega_memory.domain.store import MemoryStore
from zega_memory.embedder import Embedder
from zega_memory.main import EMBEDDING_DIM
from zega_memory.memory import Memory
from zega_memory.stores.sqlite import SqliteStore

DATA = Path(__file__).parent / "data"
BACKENDS = ["sqlite", pytest.param("weaviate", marks=pytest.mark.weaviate)]


def weaviate_url() -> str:
    return MemorySettings().weaviate_url


def load_recall_set() -> list[dict]:
    return [json.loads(line) for line in (DATA / "recall_set.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def recall_set() -> list[dict]:
    """The labelled set: items (example_id, text, metadata) with the queries each should answer."""
    return load_recall_set()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    settings = MemorySettings()
    return Embedder(settings.embedding_model_dir, batch_size=settings.embed_batch_size).load()


@pytest.fixture
def memory_settings(nats_server: EmbeddedNats, tmp_path: Path) -> MemorySettings:
    return MemorySettings(
        nats_url=nats_server.url,
        data_dir=tmp_path / "zega",
        grpc_port=free_port(),
        duplicate_window_s=120,
        consume_batch_timeout_s=0.2,
    )


def make_test_store(backend: str, tmp_path: Path, prefix: str) -> MemoryStore:
    if backend == "weaviate":
        url = weaviate_url()
        if not url:
            pytest.skip("ZEGA_WEAVIATE_URL is not set")
        from zega_memory.stores.weaviate import WeaviateStore

        settings = MemorySettings()
        return WeaviateStore(
            url, grpc_port=settings.weaviate_grpc_port, api_key=settings.weaviate_api_key, prefix=prefix
        )
    return SqliteStore(tmp_path / "memory" / "memory.sqlite", dim=EMBEDDING_DIM)


def drop_weaviate_collections(store: MemoryStore) -> None:
    from zega_memory.stores.weaviate import WeaviateStore

    if isinstance(store, WeaviateStore) and store._client is not None:
        store.client.collections.delete([store.items_name, store.facts_name])


@pytest.fixture(params=BACKENDS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """Opens stores of one backend over the same data (same file / same collections); closes them after."""
    prefix = f"Test{uuid.uuid4().hex[:10]}"
    opened: list[MemoryStore] = []

    def open_store() -> MemoryStore:
        store = make_test_store(request.param, tmp_path, prefix)
        store.open()
        opened.append(store)
        return store

    yield open_store
    if opened:
        drop_weaviate_collections(opened[-1])
    for store in opened:
        store.close()


@pytest.fixture
def store(store_factory) -> MemoryStore:
    return store_factory()


@pytest.fixture
async def memory(store: MemoryStore, embedder: Embedder, tmp_path: Path) -> AsyncIterator[Memory]:
    yield Memory(MemorySettings(data_dir=tmp_path), store, embedder)
