"""NATS subjects, streams, buckets and consumer names: the one place they are spelled."""

from __future__ import annotations

EXAMPLE_COLLECTED = "example.collected"
THRESHOLD_REACHED = "threshold.reached"
TRAINING_PROGRESS = "training.progress"
TRAINING_CANCEL = "training.cancel"
ADAPTER_READY = "adapter.ready"
USER_FORGET = "user.forget"
DEAD_LETTER = "zega.dlq"

STREAM_EXAMPLES = "ZEGA_EXAMPLES"
STREAM_TRAINING = "ZEGA_TRAINING"
STREAM_EVENTS = "ZEGA_EVENTS"
STREAM_DEAD_LETTER = "ZEGA_DLQ"

KV_STATS = "zega-stats"
KV_ADAPTERS = "zega-adapters"
KV_PERSONAS = "zega-personas"
KV_JOBS = "zega-jobs"
OBJECT_STORE_ADAPTERS = "zega-adapters"

DURABLE_COLLECTOR = "collector"
DURABLE_TRAINER = "trainer"
DURABLE_MEMORY = "memory"


def durable_forget(service: str) -> str:
    """The durable consumer of user.forget.* of a service whose replicas share the erasure work."""
    return f"{service}-forget"


def for_user(prefix: str, user_id: str) -> str:
    """`example.collected` + `alice` -> `example.collected.alice`."""
    return f"{prefix}.{user_id}"


def all_users(prefix: str) -> str:
    """The wildcard subject of every user's events under `prefix`."""
    return f"{prefix}.*"


def dead_letter(service: str) -> str:
    """Where `service` parks messages it cannot process (with the reason in a header)."""
    return f"{DEAD_LETTER}.{service}"


def user_of(subject: str) -> str:
    """The user_id token of a per-user subject."""
    return subject.rsplit(".", 1)[-1]
