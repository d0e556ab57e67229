"""gRPC servicer: a thin shell over the memory store."""

from __future__ import annotations

from zega_common.v1 import memory_pb2_grpc


class MemoryServicer(memory_pb2_grpc.MemoryServicer):
    pass
