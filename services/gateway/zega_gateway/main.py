"""Wiring only: settings, broker, FastAPI app, gRPC server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from zega_common.grpc_server import GrpcLifecycle
from zega_common.runtime import declare_resources, make_broker
from zega_common.v1 import gateway_pb2, gateway_pb2_grpc
from zega_gateway.config import GatewaySettings


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    broker = make_broker(settings, "gateway")
    grpc = GrpcLifecycle(
        [
            (
                gateway_pb2_grpc.add_GatewayServicer_to_server,
                gateway_pb2_grpc.GatewayServicer(),
                gateway_pb2.DESCRIPTOR.services_by_name["Gateway"].full_name,
            )
        ],
        settings.grpc_port,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await declare_resources(settings)
        await broker.start()
        await grpc.start()
        yield
        await grpc.stop()
        await broker.stop()

    app = FastAPI(title="ZEGA gateway", lifespan=lifespan, docs_url="/docs")

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

    return app


def main() -> None:
    settings = GatewaySettings()
    uvicorn.run(create_app(settings), host="0.0.0.0", port=settings.http_port, log_level="warning")


if __name__ == "__main__":
    main()
