"""Wiring only: settings, model, broker, handlers, gRPC server, app."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.asgi import AsgiFastStream

from zega_common import subjects
from zega_common.grpc_server import GrpcLifecycle
from zega_common.runtime import make_app, make_broker, serve
from zega_common.v1 import inference_pb2, inference_pb2_grpc
from zega_inference.adapters.manager import AdapterManager
from zega_inference.adapters.store import AdapterStore
from zega_inference.config import InferenceSettings
from zega_inference.engine.prefix import PrefixCache
from zega_inference.engine.runtime import ModelRuntime
from zega_inference.handlers import register
from zega_inference.ollama_backend import OllamaBackend
from zega_inference.service import GenerationService, limits_of
from zega_inference.servicer import InferenceServicer


@dataclass
class Wired:
    """The app plus the parts behind it (tests and tools reach the service and the gRPC port here)."""

    app: AsgiFastStream
    service: GenerationService
    grpc: GrpcLifecycle


def create_app(settings: InferenceSettings | None = None, runtime: ModelRuntime | None = None) -> AsgiFastStream:
    return wire(settings or InferenceSettings(), runtime).app


def wire(settings: InferenceSettings, runtime: ModelRuntime | None = None) -> Wired:
    broker = make_broker(settings, "inference")
    runtime = runtime or ModelRuntime.load(
        settings.base_model,
        settings.data_dir,
        device=settings.device,
        torch_threads=settings.torch_threads,
        max_lora_rank=settings.max_lora_rank,
        max_batch_size=settings.max_batch_size,
        max_queued=settings.max_queued_requests,
        max_prefill_tokens=settings.max_prefill_tokens,
    )
    runtime.engine.prefixes = PrefixCache(settings.prefix_cache_max_bytes)
    adapters = AdapterManager(
        runtime.prepare,
        max_adapters=settings.adapter_cache_max_adapters,
        max_bytes=settings.adapter_cache_max_bytes,
        base_model_names=runtime.names,
        load_timeout_s=settings.adapter_load_timeout_s,
        sync_timeout_s=settings.pointer_sync_timeout_s,
    )
    ollama = OllamaBackend(settings.ollama_host, settings.ollama_timeout_s) if settings.ollama_host else None
    service = GenerationService(runtime, adapters, limits_of(settings), ollama if settings.ollama_route else None)
    register(broker, service)
    grpc = GrpcLifecycle(
        [
            (
                inference_pb2_grpc.add_InferenceServicer_to_server,
                InferenceServicer(service),
                inference_pb2.DESCRIPTOR.services_by_name["Inference"].full_name,
            )
        ],
        settings.grpc_port,
    )

    async def start_service() -> None:
        pointers = await broker.key_value(subjects.KV_ADAPTERS, declare=False)
        js = broker.connection.jetstream()
        store = await AdapterStore.open(js, subjects.OBJECT_STORE_ADAPTERS, settings.adapter_cache_max_bytes)
        await service.start(store, pointers)

    app = make_app(
        broker,
        settings,
        ready=lambda: service.ready,
        after_startup=[start_service, grpc.start],
        on_shutdown=[grpc.stop, service.stop],
    )
    return Wired(app, service, grpc)


def main() -> None:
    settings = InferenceSettings()
    serve(create_app(settings), settings.metrics_port)


if __name__ == "__main__":
    main()
