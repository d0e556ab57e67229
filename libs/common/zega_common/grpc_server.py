"""gRPC servers as every service builds them: health checking, reflection, tracing, and one
interceptor that turns ZegaError (and a bad user_id) into its status code with the message."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from zega_common.errors import ZegaError
from zega_common.user_id import InvalidUserId

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def _status_of(exc: Exception) -> grpc.StatusCode | None:
    if isinstance(exc, ZegaError):
        return exc.code
    if isinstance(exc, InvalidUserId):
        return grpc.StatusCode.INVALID_ARGUMENT
    return None


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Maps ZegaError to its status; anything else is logged and answered INTERNAL."""

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    @staticmethod
    async def _abort(context: grpc.aio.ServicerContext, exc: Exception) -> None:
        code = _status_of(exc)
        if code is None:
            log.exception("unhandled error in gRPC handler", exc_info=exc)
            await context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}")
        await context.abort(code, str(exc))

    def _unary(self, behavior: Callable) -> Callable:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                return await behavior(request, context)
            except (ZegaError, InvalidUserId, Exception) as exc:
                if isinstance(exc, grpc.aio.AbortError):
                    raise
                await self._abort(context, exc)

        return wrapper

    def _stream(self, behavior: Callable) -> Callable:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext):
            try:
                async for item in behavior(request, context):
                    yield item
            except Exception as exc:
                if isinstance(exc, grpc.aio.AbortError):
                    raise
                await self._abort(context, exc)

        return wrapper


def make_server(
    registrations: Iterable[tuple[Callable[[Any, grpc.aio.Server], None], Any, str]],
    port: int,
    host: str = "0.0.0.0",
    extra_interceptors: Iterable[grpc.aio.ServerInterceptor] = (),
) -> tuple[grpc.aio.Server, health.HealthServicer, int]:
    """A grpc.aio server with each (add_XServicer_to_server, servicer, full service name) registered,
    plus health and reflection. Returns the server, its health servicer and the bound port."""
    server = grpc.aio.server(
        interceptors=[aio_server_interceptor(), ErrorInterceptor(), *extra_interceptors],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [reflection.SERVICE_NAME, health.SERVICE_NAME]
    for add, servicer, name in registrations:
        add(servicer, server)
        names.append(name)
    reflection.enable_server_reflection(names, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    return server, health_servicer, bound


async def set_serving(health_servicer: health.HealthServicer, names: Iterable[str], serving: bool = True) -> None:
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ("", *names):
        await health_servicer.set(name, status)


class GrpcLifecycle:
    """A gRPC server to start after the broker is up and to drain at shutdown (app hooks).

    `interceptors` run inside ErrorInterceptor (e.g. auth), so the ZegaErrors they raise map to a status."""

    def __init__(
        self,
        registrations: list[tuple[Callable, Any, str]],
        port: int,
        grace_s: float = 10.0,
        interceptors: Iterable[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        self.registrations = registrations
        self.port = port
        self.grace_s = grace_s
        self.interceptors = tuple(interceptors)
        self.server: grpc.aio.Server | None = None
        self._health: health.HealthServicer | None = None

    @property
    def names(self) -> list[str]:
        return [name for _, _, name in self.registrations]

    async def start(self) -> None:
        self.server, self._health, self.port = make_server(
            self.registrations, self.port, extra_interceptors=self.interceptors
        )
        await self.server.start()
        await set_serving(self._health, self.names)
        log.info("gRPC %s listening on :%d", ", ".join(self.names), self.port)

    async def stop(self) -> None:
        if self.server is None:
            return
        await set_serving(self._health, self.names, serving=False)
        await self.server.stop(self.grace_s)
        self.server = None
