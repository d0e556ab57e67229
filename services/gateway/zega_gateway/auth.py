"""Bearer-token authentication, once for both transports: the Authenticator resolves a token to a
Principal; a FastAPI dependency and a gRPC interceptor hand that Principal to the service layer."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

import grpc
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from nats.js.kv import KeyValue

from zega_common.errors import Unauthenticated
from zega_gateway.domain.principal import ADMIN, Principal, bearer_token, is_admin_token, new_user_token, token_key
from zega_gateway.domain.ttl_cache import TtlCache
from zega_gateway.state import dump, get_json

MISSING = "missing bearer token: send the header 'Authorization: Bearer <token>'"


class Authenticator:
    """Resolves tokens; a user token's record is cached `cache_s` (its erasure on this replica drops it
    at once, on other replicas within `cache_s`)."""

    def __init__(self, admin_token: str, token_ttl_s: float, cache_s: float = 0.0) -> None:
        self.admin_token = admin_token
        self.token_ttl_s = token_ttl_s
        self.tokens: KeyValue | None = None
        self._cache: TtlCache[dict] = TtlCache(cache_s)

    def bind(self, tokens: KeyValue) -> None:
        self.tokens = tokens

    async def authenticate(self, token: str | None) -> Principal:
        """The token's principal, or Unauthenticated saying why not."""
        if not token:
            raise Unauthenticated(MISSING)
        if is_admin_token(token, self.admin_token):
            return ADMIN
        key = token_key(token)
        record = self._cache.get(key) if key else None
        if record is None and key:
            record = (await get_json(self.tokens, key))[0]
            if record is not None:
                self._cache.put(key, record)
        if record is None:
            raise Unauthenticated("invalid or revoked token")
        if datetime.fromisoformat(record["expires_at"]) <= datetime.now(UTC):
            raise Unauthenticated("token expired: ask an admin for a new one (POST /admin/tokens)")
        return Principal(user_id=record["user_id"])

    def forget(self, user_id: str) -> None:
        self._cache.drop_prefix(f"{user_id}.")

    async def issue(self, user_id: str) -> tuple[str, str]:
        """A new token for `user_id` and its expiry (RFC 3339); only its sha256 is stored."""
        token = new_user_token(user_id)
        now = datetime.now(UTC)
        expires_at = (now + timedelta(seconds=self.token_ttl_s)).isoformat()
        record = {"user_id": user_id, "created_at": now.isoformat(), "expires_at": expires_at}
        await self.tokens.put(token_key(token), dump(record))
        return token, expires_at


# --- REST -------------------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="A user token (POST /admin/tokens) or the admin token.")


async def rest_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Security(_bearer)
) -> Principal:
    """FastAPI dependency: the caller of this request, or 401."""
    authenticator: Authenticator = request.app.state.service.auth
    return await authenticator.authenticate(credentials.credentials if credentials else None)


# --- gRPC -------------------------------------------------------------------------------------------

_caller: ContextVar[Principal] = ContextVar("zega_gateway_caller")


def grpc_principal() -> Principal:
    """The caller of the gRPC method running now (set by AuthInterceptor)."""
    try:
        return _caller.get()
    except LookupError:
        raise Unauthenticated(MISSING) from None


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates every call of the services under `prefix` (health and reflection stay open).

    Runs inside ErrorInterceptor, so Unauthenticated becomes the UNAUTHENTICATED status."""

    def __init__(self, authenticator: Authenticator, prefix: str = "/zega.v1.Gateway/") -> None:
        self.authenticator = authenticator
        self.prefix = prefix

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or not handler.unary_unary or not handler_call_details.method.startswith(self.prefix):
            return handler
        metadata = {item.key: item.value for item in handler_call_details.invocation_metadata or ()}
        token = bearer_token(metadata.get("authorization"))
        behavior, authenticator = handler.unary_unary, self.authenticator

        async def authenticated(request, context):
            reset = _caller.set(await authenticator.authenticate(token))
            try:
                return await behavior(request, context)
            finally:
                _caller.reset(reset)

        return grpc.unary_unary_rpc_method_handler(
            authenticated,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
