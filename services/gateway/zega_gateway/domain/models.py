"""Model names of the OpenAI-compatible API: `base`, or `zega-<user_id>` (that user's current adapter)."""

from __future__ import annotations

from dataclasses import dataclass

from zega_common.errors import InvalidArgument, NotFound
from zega_common.user_id import is_valid_user_id

BASE_MODEL = "base"
USER_MODEL_PREFIX = "zega-"


def user_model(user_id: str) -> str:
    return USER_MODEL_PREFIX + user_id


def served_model(user_id: str, adapter_version: int) -> str:
    """What a generation ran on: the user's model when an adapter was used, else the base model."""
    return user_model(user_id) if adapter_version > 0 else BASE_MODEL


@dataclass(frozen=True)
class ModelChoice:
    """user_id: whose generation (and whose adapter for `auto`); adapter: as inference names it."""

    user_id: str | None
    adapter: str


def parse_model(model: str) -> ModelChoice:
    """`base` -> the base model for the caller; `zega-<user_id>` -> that user's current adapter."""
    if model == BASE_MODEL:
        return ModelChoice(None, "base")
    if model.startswith(USER_MODEL_PREFIX):
        user_id = model.removeprefix(USER_MODEL_PREFIX)
        if not is_valid_user_id(user_id):
            raise InvalidArgument(f"model {model[:100]!r}: {user_id[:80]!r} is not a valid user_id")
        return ModelChoice(user_id, "auto")
    raise NotFound(f"model {model[:100]!r} does not exist; use 'base' or 'zega-<user_id>' (GET /v1/models lists them)")
