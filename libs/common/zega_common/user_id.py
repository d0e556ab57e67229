"""The user-id rule every edge checks (DESIGN.md): it is a NATS subject token and a KV key."""

from __future__ import annotations

import re

USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_USER_ID = re.compile(USER_ID_PATTERN)


class InvalidUserId(ValueError):
    """A user_id that does not match USER_ID_PATTERN."""


def is_valid_user_id(user_id: object) -> bool:
    return isinstance(user_id, str) and _USER_ID.fullmatch(user_id) is not None


def check_user_id(user_id: object) -> str:
    """Return `user_id` unchanged, or raise InvalidUserId saying what is wrong with it."""
    if not isinstance(user_id, str):
        raise InvalidUserId(f"user_id must be a string, got {type(user_id).__name__}")
    if not user_id:
        raise InvalidUserId("user_id is empty")
    if len(user_id) > 64:
        raise InvalidUserId(f"user_id is {len(user_id)} characters long; at most 64 are allowed")
    if not _USER_ID.fullmatch(user_id):
        raise InvalidUserId(
            f"user_id {user_id[:80]!r} is not allowed: "
            "use letters, digits, '_' and '-', starting with a letter or digit"
        )
    return user_id
