"""Keys and values of prompt prefixes, per user and adapter, so a prompt that starts the same way again
(the same system prompt, the earlier turns of a conversation) prefills only what follows.

A prefix's keys and values depend on its tokens and the adapter only (attention is causal), so an entry
computed inside any batch serves any later row of the user with the same adapter and leading tokens.
Entries hold their adapter's weights object: the engine drops them when the adapter leaves the cache or
the user is forgotten. The LRU policy is the adapter cache's, bounded in bytes; shared by the engine
thread (get, put) and the event loop (contains, drop), hence the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch

from zega_inference import metrics
from zega_inference.domain.adapter_cache import LruCache
from zega_inference.engine.lora import LoRAWeights

Layers = tuple[tuple[torch.Tensor, torch.Tensor], ...]
"""Per decoder layer: keys and values [1, kv_heads, prefix_len, head_dim]."""

MAX_ENTRIES = 1 << 20
"""The byte limit is the one that binds; the count only satisfies the LRU's interface."""


class PrefixKey(NamedTuple):
    user_id: str
    adapter: LoRAWeights | None  # compared by identity: a new load of a version starts afresh
    tokens: tuple[int, ...]


@dataclass
class PrefixStats:
    hits: int = 0
    misses: int = 0
    tokens_reused: int = 0


class PrefixCache:
    def __init__(self, max_bytes: int) -> None:
        """max_bytes 0: off (nothing is kept, every lookup misses)."""
        self.enabled = max_bytes > 0
        self.stats = PrefixStats()
        self._lru: LruCache[PrefixKey, Layers] = LruCache(MAX_ENTRIES, max(max_bytes, 1))
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._lru)

    @property
    def total_bytes(self) -> int:
        return self._lru.total_bytes

    def get(self, user_id: str, adapter: LoRAWeights | None, prefix: Sequence[int]) -> Layers | None:
        with self._lock:
            layers = self._lru.get(PrefixKey(user_id, adapter, tuple(prefix)))
        if layers is None:
            self.stats.misses += 1
            metrics.PREFIX_MISSES.inc()
            return None
        self.stats.hits += 1
        self.stats.tokens_reused += len(prefix)
        metrics.PREFIX_HITS.inc()
        metrics.PREFIX_TOKENS_REUSED.inc(len(prefix))
        return layers

    def contains(self, user_id: str, adapter: LoRAWeights | None, prefix: Sequence[int]) -> bool:
        with self._lock:
            return PrefixKey(user_id, adapter, tuple(prefix)) in self._lru

    def put(self, user_id: str, adapter: LoRAWeights | None, prefix: Sequence[int], layers: Layers) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._lru.put(
                PrefixKey(user_id, adapter, tuple(prefix)), layers, sum(k.nbytes + v.nbytes for k, v in layers)
            )
            metrics.PREFIX_BYTES.set(self._lru.total_bytes)

    def drop(self, where: Callable[[PrefixKey], bool]) -> int:
        """Remove the entries whose key matches; how many went."""
        with self._lock:
            gone = self._lru.remove_where(where)
            metrics.PREFIX_BYTES.set(self._lru.total_bytes)
        return len(gone)

    def drop_adapter(self, adapter: LoRAWeights) -> int:
        return self.drop(lambda key: key.adapter is adapter)

    def drop_user(self, user_id: str) -> int:
        return self.drop(lambda key: key.user_id == user_id)
