"""Error mapping, in one place: the service layer raises zega_common.errors (the gRPC server maps them
with its ErrorInterceptor); here they become HTTP statuses with the message, in FastAPI's
{"detail": ...} shape, or OpenAI's {"error": {...}} shape under /v1/ so that OpenAI clients show it."""

from __future__ import annotations

import logging

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from nats.errors import Error as NatsError

from zega_common.errors import ZegaError
from zega_common.user_id import InvalidUserId

log = logging.getLogger(__name__)

HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
}
OPENAI_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
}


def error_response(request: Request, status: int, message: str, errors: list | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if request.url.path.startswith("/v1/"):
        body: dict = {"error": {"message": message, "type": OPENAI_TYPE.get(status, "api_error"), "code": status}}
    else:
        body = {"detail": message}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, list]:
    errors = [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": str(err.get("msg", ""))} for err in exc.errors()
    ]
    message = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5]) or "invalid request"
    return message, errors


def install(app: FastAPI) -> None:
    @app.exception_handler(ZegaError)
    async def zega_error(request: Request, exc: ZegaError) -> JSONResponse:
        return error_response(request, HTTP_STATUS.get(exc.code, 500), str(exc))

    @app.exception_handler(InvalidUserId)
    async def invalid_user_id(request: Request, exc: InvalidUserId) -> JSONResponse:
        return error_response(request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, errors = _validation_message(exc)
        return error_response(request, 422, message, errors)

    @app.exception_handler(NatsError)
    async def nats_down(request: Request, exc: NatsError) -> JSONResponse:
        log.warning("NATS error answering %s: %r", request.url.path, exc)
        return error_response(request, 503, f"NATS is unavailable: {type(exc).__name__}")

    @app.exception_handler(TimeoutError)
    async def timeout(request: Request, exc: TimeoutError) -> JSONResponse:
        log.warning("timeout answering %s: %r", request.url.path, exc)
        return error_response(request, 503, "a backing service did not answer in time")
