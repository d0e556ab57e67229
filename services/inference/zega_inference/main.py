"""Wiring only: settings, broker, gRPC server, app."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from zega_common.grpc_server import GrpcLifecycle
from zega_common.runtime import make_app, make_broker, serve
from zega_common.v1 import inference_pb2, inference_pb2_grpc
from zega_inference.config import InferenceSettings
from zega_inference.servicer import InferenceServicer


def create_app(settings: InferenceSettings | None = None) -> AsgiFastStream:
    settings = settings or InferenceSettings()
    broker = make_broker(settings, "inference")
    grpc = GrpcLifecycle(
        [
            (
                inference_pb2_grpc.add_InferenceServicer_to_server,
                InferenceServicer(),
                inference_pb2.DESCRIPTOR.services_by_name["Inference"].full_name,
            )
        ],
        settings.grpc_port,
    )
    return make_app(broker, settings, after_startup=[grpc.start], on_shutdown=[grpc.stop])


def main() -> None:
    settings = InferenceSettings()
    serve(create_app(settings), settings.metrics_port)


if __name__ == "__main__":
    main()
