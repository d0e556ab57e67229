"""Identifiers the gateway makes: generations, examples, manual training jobs."""

from __future__ import annotations

import hashlib
import re
import uuid

from zega_common.errors import InvalidArgument
from zega_common.user_id import is_valid_user_id

_GENERATION_SECRET = re.compile(r"^[0-9a-f]{32}$")


def new_generation_id(user_id: str) -> str:
    """`<user_id>.<uuid4 hex>`: the owner is readable from it (authorization before any lookup), and it
    is the generation's KV key, so erasing a user erases their generations by key prefix."""
    return f"{user_id}.{uuid.uuid4().hex}"


def generation_owner(generation_id: str) -> str:
    """The user of a generation id, or InvalidArgument saying the id is not one the gateway made."""
    user_id, _, secret = generation_id.partition(".")
    if not is_valid_user_id(user_id) or not _GENERATION_SECRET.fullmatch(secret):
        raise InvalidArgument(f"generation_id {generation_id[:100]!r} is not a generation id this gateway made")
    return user_id


def feedback_example_id(generation_id: str) -> str:
    """Rating the same generation again yields the same example (counted once downstream)."""
    return "fb-" + generation_id.partition(".")[2]


def api_example_id(user_id: str, prompt: str, completion: str) -> str:
    """Derived from the content, so a client that retries a POST adds the example once."""
    digest = hashlib.sha256("\x1f".join((user_id, prompt, completion)).encode()).hexdigest()
    return "api-" + digest[:32]


def manual_job_id(user_id: str) -> str:
    """The agreed manual-trigger job id: `<user_id>-m<uuid4 hex[:12]>`."""
    return f"{user_id}-m{uuid.uuid4().hex[:12]}"
