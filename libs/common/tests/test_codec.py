"""The event codec: canonical JSON, headers, unknown fields, and what bad payloads raise."""

import json

import pytest

from zega_common import codec
from zega_common.v1 import events_pb2


def example(**overrides) -> events_pb2.ExampleCollected:
    fields = dict(example_id="e1", user_id="alice", prompt="Write", completion="Text.", quality_score=8.5)
    fields.update(overrides)
    return events_pb2.ExampleCollected(**fields)


def test_encode_writes_snake_case_json_with_headers():
    body, headers = codec.encode(example(metadata={"genre": "noir"}), msg_id="alice:e1")
    obj = json.loads(body)
    assert obj["example_id"] == "e1" and obj["quality_score"] == 8.5 and obj["metadata"] == {"genre": "noir"}
    assert obj["schema_version"] == 1 and obj["created_at"].endswith("Z")
    assert headers["Nats-Msg-Id"] == "alice:e1"
    assert headers["Zega-Event"] == "zega.v1.ExampleCollected"


def test_roundtrip_and_unknown_fields_are_ignored():
    body, _ = codec.encode(example())
    obj = json.loads(body) | {"added_in_v2": {"x": 1}}
    msg = codec.decode(json.dumps(obj).encode(), events_pb2.ExampleCollected)
    assert msg.user_id == "alice" and msg.quality_score == 8.5


def test_enums_are_written_by_name():
    body, _ = codec.encode(
        events_pb2.ThresholdReached(user_id="bob", threshold_index=2, trigger=events_pb2.TRIGGER_AUTO)
    )
    assert json.loads(body)["trigger"] == "TRIGGER_AUTO"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not UTF-8 JSON"),
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"schema_version": 1, "user_id": "a", "quality_score": "high"}', "quality_score"),
        (b'{"example_id": "e", "user_id": "a", "completion": "x", "quality_score": 8}', "schema_version"),
    ],
)
def test_malformed_payloads_raise_a_typed_error_saying_why(payload, reason):
    with pytest.raises(codec.EventDecodeError) as err:
        codec.decode(payload, events_pb2.ExampleCollected)
    assert reason in str(err.value)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"user_id": "../etc"}, "not allowed"),
        ({"user_id": ""}, "empty"),
        ({"quality_score": 10.5}, "outside 0-10"),
        ({"quality_score": -1}, "outside 0-10"),
        ({"completion": "  "}, "completion is empty"),
        ({"example_id": ""}, "example_id is empty"),
    ],
)
def test_invalid_examples_are_refused(overrides, reason):
    body, _ = codec.encode(example(**overrides))
    with pytest.raises(codec.EventDecodeError, match=reason):
        codec.decode(body, events_pb2.ExampleCollected)


def test_oversized_payload_is_refused():
    body, _ = codec.encode(example(completion="x" * 1000))
    with pytest.raises(codec.EventDecodeError, match="bytes; the limit is 100"):
        codec.decode(body, events_pb2.ExampleCollected, max_bytes=100)
