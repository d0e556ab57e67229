"""Write docs/asyncapi.json (AsyncAPI 3.0): ZEGA's event catalogue, made from events.proto and the subjects.

`python proto/asyncapi.py` writes it; `--check` fails when it is out of date (tests/test_contracts.py).
Payload schemas come from the proto descriptors, so the catalogue cannot drift from the wire format.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from zega_common import subjects
from zega_common.v1 import events_pb2

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "asyncapi.json"

# subject prefix, message, stream, producers, consumers, meaning
CATALOGUE = [
    (
        subjects.EXAMPLE_COLLECTED,
        events_pb2.ExampleCollected,
        subjects.STREAM_EXAMPLES,
        "gateway (or any producer)",
        "collector, memory, trainer (reads the stream)",
        "One rated training example.",
    ),
    (
        subjects.THRESHOLD_REACHED,
        events_pb2.ThresholdReached,
        subjects.STREAM_TRAINING,
        "collector, gateway (manual)",
        "trainer (shared durable consumer)",
        "A user reached another multiple of ZEGA_THRESHOLD, or a manual trigger.",
    ),
    (
        subjects.TRAINING_PROGRESS,
        events_pb2.TrainingProgress,
        subjects.STREAM_EVENTS,
        "trainer",
        "gateway (trigger-finetuning?wait=true), zega demo, dashboards",
        "State and loss of a training job.",
    ),
    (
        subjects.ADAPTER_READY,
        events_pb2.AdapterReady,
        subjects.STREAM_EVENTS,
        "trainer",
        "collector (stats), gateway, outside consumers",
        "A new adapter version is published and the pointer moved.",
    ),
    (
        subjects.USER_FORGET,
        events_pb2.ForgetUser,
        subjects.STREAM_EVENTS,
        "gateway",
        "every service",
        "Erase everything of this user.",
    ),
]

_SCALARS = {
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer", "minimum": 0},
    FieldDescriptor.TYPE_INT32: {"type": "integer"},
    FieldDescriptor.TYPE_UINT64: {"type": "string", "description": "uint64: a decimal string in proto3 JSON"},
    FieldDescriptor.TYPE_INT64: {"type": "string", "description": "int64: a decimal string in proto3 JSON"},
}


def schema_of(desc: Descriptor) -> dict:
    if desc.full_name == "google.protobuf.Timestamp":
        return {"type": "string", "format": "date-time"}
    props = {}
    for field in desc.fields:
        if field.message_type and field.message_type.GetOptions().map_entry:
            props[field.name] = {"type": "object", "additionalProperties": {"type": "string"}}
            continue
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            schema = schema_of(field.message_type)
        elif field.type == FieldDescriptor.TYPE_ENUM:
            schema = {"type": "string", "enum": [v.name for v in field.enum_type.values]}
        else:
            schema = dict(_SCALARS[field.type])
        is_repeated = getattr(field, "is_repeated", None)
        repeated = is_repeated if isinstance(is_repeated, bool) else field.label == FieldDescriptor.LABEL_REPEATED
        props[field.name] = {"type": "array", "items": schema} if repeated else schema
    return {"type": "object", "properties": props, "additionalProperties": True}


def document() -> dict:
    channels, operations, messages = {}, {}, {}
    for prefix, cls, stream, producers, consumers, meaning in CATALOGUE:
        name = cls.DESCRIPTOR.name
        key = prefix.replace(".", "_")
        messages[name] = {
            "name": cls.DESCRIPTOR.full_name,
            "contentType": "application/json",
            "summary": meaning,
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {"type": "string", "description": "JetStream de-duplication key"},
                    "Zega-Event": {"type": "string", "const": cls.DESCRIPTOR.full_name},
                    "traceparent": {"type": "string", "description": "W3C trace context"},
                },
            },
            "payload": schema_of(cls.DESCRIPTOR),
        }
        channels[key] = {
            "address": f"{prefix}.{{user_id}}",
            "description": f"{meaning} Stream {stream}. Published by {producers}; consumed by {consumers}.",
            "parameters": {"user_id": {"description": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"publish_{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"Published by {producers}.",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ZEGA events",
            "version": "1",
            "description": "NATS JetStream events of ZEGA. Payload: proto3 canonical JSON of "
            "proto/zega/v1/events.proto (field names preserved); readers ignore unknown fields.",
        },
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:4222", "protocol": "nats"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> str:
    return json.dumps(document(), indent=2) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print("docs/asyncapi.json is out of date: run `make proto`", file=sys.stderr)
            return 1
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
