"""Wiring only: settings, broker, service layer, FastAPI app, gRPC server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from zega_common.grpc_server import GrpcLifecycle
from zega_common.runtime import declare_resources, make_broker
from zega_common.v1 import gateway_pb2, gateway_pb2_grpc
from zega_gateway import errors, handlers
from zega_gateway.api import admin, openai_compat, predict, users
from zega_gateway.api.limits import BodyLimit
from zega_gateway.auth import AuthInterceptor
from zega_gateway.config import GatewaySettings
from zega_gateway.service import GatewayService
from zega_gateway.servicer import GatewayServicer

DESCRIPTION = """The only way in to ZEGA: the seed's REST API, an OpenAI-compatible chat API and (on the gRPC
port) zega.v1.Gateway. Every call but health and docs needs `Authorization: Bearer <token>`: a user token
(POST /admin/tokens) reaches that user's data only; the admin token reaches every user's."""


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    broker = make_broker(settings, "gateway")
    service = GatewayService(settings, broker)
    handlers.register(broker, service)
    grpc = GrpcLifecycle(
        [
            (
                gateway_pb2_grpc.add_GatewayServicer_to_server,
                GatewayServicer(service),
                gateway_pb2.DESCRIPTOR.services_by_name["Gateway"].full_name,
            )
        ],
        settings.grpc_port,
        interceptors=[AuthInterceptor(service.auth)],
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await declare_resources(settings)
        await broker.connect()
        await service.start()
        await broker.start()
        await grpc.start()
        yield
        await grpc.stop()
        await broker.stop()
        await service.close()

    app = FastAPI(title="ZEGA gateway", description=DESCRIPTION, version="1.0", lifespan=lifespan, docs_url="/docs")
    app.state.service = service
    for router in (predict.router, users.router, admin.router, openai_compat.router):
        app.include_router(router)
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(response: Response) -> dict:
        ok = await broker.ping(2.0)
        response.status_code = 200 if ok else 503
        return {"status": "ready" if ok else "nats unreachable"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"])
    return app


def main() -> None:
    settings = GatewaySettings()
    uvicorn.run(create_app(settings), host="0.0.0.0", port=settings.http_port, log_level="warning")


if __name__ == "__main__":
    main()
