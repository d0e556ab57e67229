"""Names of the per-example markers that make counting exactly once (see zega_collector.ledger).

An example_id may hold any character, a KV key may not: the key is `<user_id>.<digest>`, the first
128 bits of the id's SHA-256 (a collision among a user's ids is as likely as guessing a UUID).
"""

from __future__ import annotations

import hashlib

BUCKET = "zega-collector-seen"
"""Collector-owned KV bucket; not a contract between services, so it is named here."""


def key(user_id: str, example_id: str) -> str:
    digest = hashlib.sha256(example_id.encode()).hexdigest()[:32]
    return f"{user_id}.{digest}"


def stream() -> str:
    return f"KV_{BUCKET}"


def subject(marker_key: str) -> str:
    return f"$KV.{BUCKET}.{marker_key}"


def user_filter(user_id: str) -> str:
    """Subject filter of every marker of one user."""
    return f"$KV.{BUCKET}.{user_id}.*"
