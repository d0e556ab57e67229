"""What memory keeps and the interface every backend implements (SQLite + sqlite-vec, Weaviate).

A store never embeds: vectors come in with the items (normalized float32, one dimension per store).
Every method takes the user_id and touches that user's data only; user ids are checked before they
reach a store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class Item:
    """One remembered text: what is returned (text, metadata) and the vector it is found by."""

    example_id: str
    text: str
    vector: np.ndarray
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A recalled item; score is the cosine similarity (vector search) or the fused score (hybrid)."""

    example_id: str
    text: str
    score: float
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fact:
    """A structured fact of a user or persona: a key and a JSON value, found by its key's vector."""

    key: str
    value: Any
    vector: np.ndarray


class MemoryStore(Protocol):
    """Per-user items and facts. Implementations are synchronous and thread-safe: callers run them in
    a worker thread so that the event loop stays free."""

    dim: int

    def open(self) -> None: ...

    def close(self) -> None: ...

    def upsert(self, user_id: str, items: Sequence[Item]) -> None:
        """Insert or replace by example_id."""

    def known_ids(self, user_id: str, example_ids: Sequence[str]) -> set[str]:
        """The example ids among `example_ids` this user already has."""

    def search(
        self,
        user_id: str,
        vector: np.ndarray,
        k: int,
        filters: Mapping[str, str] | None = None,
        keywords: str | None = None,
    ) -> list[Hit]:
        """The k nearest of the user's items whose metadata equals every filter, best first.
        `keywords` asks for hybrid search: vector and BM25 rankings fused (both backends offer it)."""

    def texts(self, user_id: str, limit: int) -> list[tuple[str, Mapping[str, str]]]:
        """The user's latest texts with their metadata (newest first)."""

    def count(self, user_id: str) -> int: ...

    def forget(self, user_id: str) -> int:
        """Erase every item and fact of the user; returns how many items were deleted."""

    def put_fact(self, user_id: str, fact: Fact) -> None:
        """Insert or replace by key."""

    def facts(self, user_id: str) -> list[Fact]:
        """The user's facts, sorted by key."""

    def delete_fact(self, user_id: str, key: str) -> bool: ...
