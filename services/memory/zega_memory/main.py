"""Wiring only: settings, broker, gRPC server, app."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from zega_common.grpc_server import GrpcLifecycle
from zega_common.runtime import make_app, make_broker, serve
from zega_common.v1 import memory_pb2, memory_pb2_grpc
from zega_memory.config import MemorySettings
from zega_memory.servicer import MemoryServicer


def create_app(settings: MemorySettings | None = None) -> AsgiFastStream:
    settings = settings or MemorySettings()
    broker = make_broker(settings, "memory")
    grpc = GrpcLifecycle(
        [
            (
                memory_pb2_grpc.add_MemoryServicer_to_server,
                MemoryServicer(),
                memory_pb2.DESCRIPTOR.services_by_name["Memory"].full_name,
            )
        ],
        settings.grpc_port,
    )
    return make_app(broker, settings, after_startup=[grpc.start], on_shutdown=[grpc.stop])


def main() -> None:
    settings = MemorySettings()
    serve(create_app(settings), settings.metrics_port)


if __name__ == "__main__":
    main()
