"""Job records (KV zega-jobs) and the rules that make jobs idempotent.

Keys: `<user_id>.<job_id>` per job and `<user_id>._versions` for the user's last adapter version, so
that `<user_id>.>` finds everything of a user. A record's KV revision is the fencing token of the replica
that runs the job: a replica whose update is refused has lost the job to another.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from zega_common.v1 import events_pb2

JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


class State(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PUBLISHING = "publishing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


FINAL = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED, State.REJECTED})
COVERING_FINAL = frozenset({State.SUCCEEDED, State.REJECTED})
COVERING_LIVE = frozenset({State.RUNNING, State.PUBLISHING})

PROTO_STATE = {
    State.QUEUED: events_pb2.TRAINING_STATE_QUEUED,
    State.RUNNING: events_pb2.TRAINING_STATE_RUNNING,
    State.PUBLISHING: events_pb2.TRAINING_STATE_RUNNING,
    State.SUCCEEDED: events_pb2.TRAINING_STATE_SUCCEEDED,
    State.FAILED: events_pb2.TRAINING_STATE_FAILED,
    State.CANCELLED: events_pb2.TRAINING_STATE_CANCELLED,
    State.REJECTED: events_pb2.TRAINING_STATE_REJECTED,
}


@dataclass
class JobRecord:
    job_id: str
    user_id: str
    threshold_index: int
    state: State = State.QUEUED
    attempt: int = 0
    owner: str = ""
    heartbeat: float = 0.0
    """Unix time of the owner's last sign of life."""
    examples_seq: int = 0
    """The last ZEGA_EXAMPLES sequence of the user that this job read: what it covers."""
    previous_version: int | None = None
    """The adapter the first attempt started from; retries keep it (the pointer may already be ours)."""
    adapter_version: int = 0
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    updated_at: str = ""

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> JobRecord:
        raw: dict[str, Any] = json.loads(data)
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        known["state"] = State(known.get("state", State.QUEUED))
        return cls(**known)


def job_id_of(trigger: events_pb2.ThresholdReached) -> str:
    """The trigger's job_id when it is a usable key, else the collector's convention."""
    if JOB_ID_PATTERN.match(trigger.job_id):
        return trigger.job_id
    return f"{trigger.user_id}-t{trigger.threshold_index}"


def job_key(user_id: str, job_id: str) -> str:
    return f"{user_id}.{job_id}"


def versions_key(user_id: str) -> str:
    return f"{user_id}._versions"


def user_filter(user_id: str) -> str:
    return f"{user_id}.>"


def covering(records: list[JobRecord], last_seq: int, now: float, stale_after: float, exclude: str) -> JobRecord | None:
    """Another job of the user that already trained (or is training) on every example up to last_seq."""
    for record in records:
        if record.job_id == exclude or not record.examples_seq or record.examples_seq < last_seq:
            continue
        if record.state in COVERING_FINAL:
            return record
        if record.state in COVERING_LIVE and now - record.heartbeat < stale_after:
            return record
    return None


def retry_delay(delivered: int, base_s: float) -> float:
    """Exponential backoff: base, 2 x base, 4 x base ... after the 1st, 2nd, 3rd delivery."""
    return base_s * 2 ** max(delivered - 1, 0)
