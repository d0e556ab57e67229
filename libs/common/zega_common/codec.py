"""The event codec: proto3 canonical JSON (field names preserved) plus the headers every event carries.

`encode` gives the bytes and headers to publish; `decode` turns bytes back into the message, ignoring
unknown fields, and raises EventDecodeError saying what is wrong, never anything else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry import propagate

from zega_common.user_id import InvalidUserId, check_user_id
from zega_common.v1 import events_pb2

SCHEMA_VERSION = 1
MAX_EVENT_BYTES = 256 * 1024
HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_EVENT = "Zega-Event"
HEADER_ERROR = "Zega-Error"

M = TypeVar("M", bound=Message)


class EventDecodeError(ValueError):
    """A payload that is not a valid event of the expected type; `reason` says why."""

    def __init__(self, reason: str, event: str = "") -> None:
        super().__init__(f"{event or 'event'}: {reason}")
        self.reason = reason
        self.event = event


def now() -> datetime:
    return datetime.now(UTC)


def to_json(msg: Message) -> bytes:
    """Canonical proto3 JSON with snake_case names; fields at their default value are written too."""
    return json_format.MessageToJson(
        msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True, indent=None
    ).encode()


def to_dict(msg: Message) -> dict:
    return json_format.MessageToDict(msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def encode(msg: Message, msg_id: str | None = None) -> tuple[bytes, dict[str, str]]:
    """Bytes and headers for publishing `msg`: Nats-Msg-Id (when given), Zega-Event, W3C traceparent."""
    if hasattr(msg, "schema_version") and not msg.schema_version:
        msg.schema_version = SCHEMA_VERSION
    if hasattr(msg, "created_at") and not msg.HasField("created_at"):
        msg.created_at.FromDatetime(now())
    headers = {HEADER_EVENT: msg.DESCRIPTOR.full_name}
    if msg_id:
        headers[HEADER_MSG_ID] = msg_id
    propagate.inject(headers)
    return to_json(msg), headers


def decode(data: bytes, cls: type[M], max_bytes: int = MAX_EVENT_BYTES) -> M:
    """Parse and check one event. Raises EventDecodeError with the reason."""
    name = cls.DESCRIPTOR.full_name
    if len(data) > max_bytes:
        raise EventDecodeError(f"payload is {len(data)} bytes; the limit is {max_bytes}", name)
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise EventDecodeError(f"payload is not UTF-8 JSON ({exc})", name) from None
    if not isinstance(obj, dict):
        raise EventDecodeError(f"payload must be a JSON object, got {type(obj).__name__}", name)
    msg = cls()
    try:
        json_format.ParseDict(obj, msg, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise EventDecodeError(str(exc), name) from None
    _check(msg, name)
    return msg


def _check(msg: Message, name: str) -> None:
    version = getattr(msg, "schema_version", None)
    if version is not None and version < 1:
        raise EventDecodeError("schema_version is missing (it starts at 1)", name)
    if hasattr(msg, "user_id"):
        try:
            check_user_id(msg.user_id)
        except InvalidUserId as exc:
            raise EventDecodeError(str(exc), name) from None
    checker = _CHECKS.get(type(msg))
    if checker:
        checker(msg, name)


MAX_TEXT_CHARS = 32_000


def _check_example(msg: events_pb2.ExampleCollected, name: str) -> None:
    if not msg.example_id:
        raise EventDecodeError("example_id is empty", name)
    if len(msg.example_id) > 128:
        raise EventDecodeError("example_id is longer than 128 characters", name)
    score = msg.quality_score
    if math.isnan(score) or not 0.0 <= score <= 10.0:
        raise EventDecodeError(f"quality_score {score} is outside 0-10", name)
    if not msg.completion.strip():
        raise EventDecodeError("completion is empty", name)
    for field in ("prompt", "completion"):
        if len(getattr(msg, field)) > MAX_TEXT_CHARS:
            raise EventDecodeError(f"{field} is longer than {MAX_TEXT_CHARS} characters", name)


_CHECKS = {events_pb2.ExampleCollected: _check_example}


def event_name(headers: Mapping[str, str] | None) -> str:
    return (headers or {}).get(HEADER_EVENT, "")
