"""Who a bearer token belongs to, and what it may reach. Tokens are kept only as their sha256."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from zega_common.errors import PermissionDenied
from zega_common.user_id import check_user_id, is_valid_user_id

USER_TOKEN_PREFIX = "zgu"


@dataclass(frozen=True)
class Principal:
    """The caller: one user, or the admin (who reaches every user)."""

    user_id: str = ""
    admin: bool = False

    def may_access(self, user_id: str) -> bool:
        return self.admin or self.user_id == user_id

    def check_access(self, user_id: str) -> None:
        """Raise InvalidUserId for a malformed id, PermissionDenied unless this caller may act on
        `user_id`'s data: the one check every per-user operation starts with, whatever the transport."""
        check_user_id(user_id)
        if not self.may_access(user_id):
            raise PermissionDenied(f"this token belongs to another user and cannot reach user {user_id!r}")

    def check_admin(self) -> None:
        if not self.admin:
            raise PermissionDenied("this operation needs the admin token")

    @property
    def name(self) -> str:
        return "admin" if self.admin else self.user_id


ADMIN = Principal(admin=True)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_admin_token(token: str, admin_token: str) -> bool:
    """Constant-time comparison; an empty admin token matches nothing."""
    return bool(admin_token) and hmac.compare_digest(token_hash(token), token_hash(admin_token))


def new_user_token(user_id: str) -> str:
    """`zgu.<user_id>.<secret>`: the user is readable from the token, so its record is found (and
    erased with the user) by key `<user_id>.<sha256>` without a scan."""
    return f"{USER_TOKEN_PREFIX}.{user_id}.{secrets.token_urlsafe(32)}"


def token_key(token: str) -> str | None:
    """The KV key of a user token's record, or None when the token cannot be a user token."""
    prefix, _, rest = token.partition(".")
    user_id, _, secret = rest.partition(".")
    if prefix != USER_TOKEN_PREFIX or not secret or not is_valid_user_id(user_id):
        return None
    return f"{user_id}.{token_hash(token)}"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
