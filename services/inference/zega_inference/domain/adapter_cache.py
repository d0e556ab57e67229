"""LRU policy for resident adapters, bounded by count and by bytes, with an eviction hook. No I/O."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class Entry(Generic[V]):
    value: V
    size_bytes: int


class LruCache(Generic[K, V]):
    """Least recently used first out. Entries in use elsewhere may be evicted safely: holders keep their
    own reference, so an in-flight request finishes on the weights it started with."""

    def __init__(self, max_items: int, max_bytes: int, on_evict: Callable[[K, V, str], None] | None = None) -> None:
        if max_items < 1 or max_bytes < 1:
            raise ValueError("cache capacity must be positive")
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._on_evict = on_evict
        self._entries: OrderedDict[K, Entry[V]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._entries))

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def get(self, key: K) -> V | None:
        """The value, marked most recently used; None on a miss."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry.value

    def peek(self, key: K) -> V | None:
        entry = self._entries.get(key)
        return None if entry is None else entry.value

    def fits(self, size_bytes: int) -> bool:
        return size_bytes <= self.max_bytes

    def put(self, key: K, value: V, size_bytes: int) -> bool:
        """Insert (or replace) as most recently used, evicting the least recently used entries until
        both limits hold. Returns False (and keeps nothing) when the value alone exceeds max_bytes."""
        if not self.fits(size_bytes):
            return False
        self.remove(key, reason="replaced")
        while self._entries and (len(self._entries) >= self.max_items or self._bytes + size_bytes > self.max_bytes):
            oldest = next(iter(self._entries))
            self.remove(oldest, reason="capacity")
        self._entries[key] = Entry(value, size_bytes)
        self._bytes += size_bytes
        return True

    def remove(self, key: K, reason: str = "removed") -> V | None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return None
        self._bytes -= entry.size_bytes
        if self._on_evict is not None:
            self._on_evict(key, entry.value, reason)
        return entry.value

    def remove_where(self, predicate: Callable[[K], bool], reason: str = "removed") -> list[K]:
        keys = [key for key in self._entries if predicate(key)]
        for key in keys:
            self.remove(key, reason=reason)
        return keys

    def items(self) -> list[tuple[K, V, int]]:
        """(key, value, size) from least to most recently used."""
        return [(key, entry.value, entry.size_bytes) for key, entry in self._entries.items()]
