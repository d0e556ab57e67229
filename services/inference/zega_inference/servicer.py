"""gRPC servicer: a thin shell over the generation engine."""

from __future__ import annotations

from zega_common.v1 import inference_pb2_grpc


class InferenceServicer(inference_pb2_grpc.InferenceServicer):
    pass
