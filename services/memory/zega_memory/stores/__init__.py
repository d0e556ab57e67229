"""Store backends behind domain.store.MemoryStore; `make_store` picks one from the settings."""

from __future__ import annotations

from zega_memory.config import MemorySettings
from zega_memory.domain.store import MemoryStore


def make_store(settings: MemorySettings, dim: int) -> MemoryStore:
    """The configured backend, not yet opened (Weaviate's client is imported only when chosen)."""
    if settings.memory_backend == "weaviate":
        from zega_memory.stores.weaviate import WeaviateStore

        return WeaviateStore(
            settings.weaviate_url,
            grpc_port=settings.weaviate_grpc_port,
            api_key=settings.weaviate_api_key,
            prefix=settings.weaviate_collection_prefix,
            dim=dim,
        )
    from zega_memory.stores.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path, dim=dim)
