"""Wiring only: settings, embedder, store, memory, broker, handlers, gRPC server, app."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream
from prometheus_client import REGISTRY, CollectorRegistry

from zega_common.grpc_server import GrpcLifecycle
from zega_common.runtime import make_app, make_broker, serve
from zega_common.v1 import memory_pb2, memory_pb2_grpc
from zega_memory.config import MemorySettings
from zega_memory.embedder import Embedder
from zega_memory.handlers import register
from zega_memory.memory import Memory
from zega_memory.servicer import MemoryServicer
from zega_memory.stores import make_store

EMBEDDING_DIM = 384
"""all-MiniLM-L6-v2; another model needs a fresh store of its dimension."""


def build_memory(settings: MemorySettings) -> Memory:
    embedder = Embedder(
        settings.embedding_model_dir,
        device=settings.embedding_device,
        batch_size=settings.embed_batch_size,
        offline=settings.embedding_offline,
    )
    return Memory(settings, make_store(settings, EMBEDDING_DIM), embedder)


def create_app(
    settings: MemorySettings | None = None, memory: Memory | None = None, registry: CollectorRegistry = REGISTRY
) -> AsgiFastStream:
    settings = settings or MemorySettings()
    memory = memory or build_memory(settings)
    broker = make_broker(settings, "memory", registry)
    register(broker, settings, memory)
    grpc = GrpcLifecycle(
        [
            (
                memory_pb2_grpc.add_MemoryServicer_to_server,
                MemoryServicer(memory),
                memory_pb2.DESCRIPTOR.services_by_name["Memory"].full_name,
            )
        ],
        settings.grpc_port,
    )
    return make_app(
        broker,
        settings,
        ready=lambda: memory.ready,
        on_startup=[memory.start],
        after_startup=[grpc.start],
        on_shutdown=[grpc.stop, memory.stop],
        registry=registry,
    )


def main() -> None:
    settings = MemorySettings()
    serve(create_app(settings), settings.metrics_port)


if __name__ == "__main__":
    main()
