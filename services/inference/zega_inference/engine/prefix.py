"""Keys and values of prompt prefixes, per adapter, so a prompt that starts the same way again (the same
system prompt, the earlier turns of a conversation) prefills only what follows.

A prefix's keys and values depend on its tokens and the adapter only (attention is causal), so an entry
computed inside any batch serves any later row with the same adapter and the same leading tokens. Entries
hold their adapter's weights object: the engine drops them when the adapter leaves the cache or the user
is forgotten. Bounded in bytes, least recently used first out. Shared by the engine thread (get, put) and
the event loop (drop), hence the lock.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from zega_inference import metrics
from zega_inference.engine.lora import LoRAWeights

Layers = tuple[tuple[torch.Tensor, torch.Tensor], ...]
"""Per decoder layer: keys and values [1, kv_heads, prefix_len, head_dim]."""


@dataclass(frozen=True)
class Entry:
    user_id: str
    layers: Layers
    nbytes: int


@dataclass
class PrefixStats:
    hits: int = 0
    misses: int = 0
    tokens_reused: int = 0


class PrefixCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.total_bytes = 0
        self.stats = PrefixStats()
        self._entries: collections.OrderedDict[tuple[LoRAWeights | None, tuple[int, ...]], Entry] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, adapter: LoRAWeights | None, prefix: Sequence[int]) -> Layers | None:
        key = (adapter, tuple(prefix))
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.stats.misses += 1
                metrics.PREFIX_MISSES.inc()
                return None
            self._entries.move_to_end(key)
        self.stats.hits += 1
        self.stats.tokens_reused += len(prefix)
        metrics.PREFIX_HITS.inc()
        metrics.PREFIX_TOKENS_REUSED.inc(len(prefix))
        return entry.layers

    def contains(self, adapter: LoRAWeights | None, prefix: Sequence[int]) -> bool:
        with self._lock:
            return (adapter, tuple(prefix)) in self._entries

    def put(self, adapter: LoRAWeights | None, prefix: Sequence[int], user_id: str, layers: Layers) -> None:
        nbytes = sum(k.nbytes + v.nbytes for k, v in layers)
        if nbytes > self.max_bytes:
            return
        key = (adapter, tuple(prefix))
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.total_bytes -= old.nbytes
            self._entries[key] = Entry(user_id, layers, nbytes)
            self.total_bytes += nbytes
            while self.total_bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self.total_bytes -= dropped.nbytes
            metrics.PREFIX_BYTES.set(self.total_bytes)

    def drop(self, where: Callable[[LoRAWeights | None, str], bool]) -> int:
        """Remove the entries whose (adapter, user_id) match; how many went."""
        with self._lock:
            gone = [key for key, entry in self._entries.items() if where(key[0], entry.user_id)]
            for key in gone:
                self.total_bytes -= self._entries.pop(key).nbytes
            metrics.PREFIX_BYTES.set(self.total_bytes)
            return len(gone)

    def drop_adapter(self, adapter: LoRAWeights) -> int:
        return self.drop(lambda a, _: a is adapter)

    def drop_user(self, user_id: str) -> int:
        return self.drop(lambda _, user: user == user_id)
