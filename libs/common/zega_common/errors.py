"""Errors that carry their gRPC status; one interceptor maps them (grpc_server.py)."""

from __future__ import annotations

import grpc


class ZegaError(Exception):
    code = grpc.StatusCode.INTERNAL


class InvalidArgument(ZegaError, ValueError):
    """Bad input, whatever the state: the message says what is wrong."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ZegaError):
    code = grpc.StatusCode.NOT_FOUND


class FailedPrecondition(ZegaError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(ZegaError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(ZegaError):
    code = grpc.StatusCode.UNAVAILABLE


class PermissionDenied(ZegaError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(ZegaError):
    code = grpc.StatusCode.UNAUTHENTICATED
