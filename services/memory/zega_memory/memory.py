"""The memory use cases (remember, index, recall, style, facts, forget), shared by the gRPC servicer and
the NATS handlers. It checks input by domain.limits, embeds with the Embedder and keeps items in the
configured store; the blocking work (torch, SQLite, the Weaviate client) runs in worker threads."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from zega_common.user_id import check_user_id
from zega_common.v1 import events_pb2
from zega_memory.config import MemorySettings
from zega_memory.domain import facts as fact_rules
from zega_memory.domain import limits, style
from zega_memory.domain.documents import Document, example_document
from zega_memory.domain.store import Fact, Hit, Item, MemoryStore
from zega_memory.embedder import Embedder

log = logging.getLogger(__name__)

INDEXED = Counter("zega_memory_items_indexed_total", "Items embedded and stored.", ["origin"])


@dataclass(frozen=True)
class Remembered:
    example_id: str
    truncated: bool


@dataclass(frozen=True)
class Recalled:
    hits: list[Hit]
    facts: list[Fact]


class Memory:
    def __init__(self, settings: MemorySettings, store: MemoryStore, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.ready = False

    async def start(self) -> None:
        await asyncio.to_thread(self.embedder.load)
        await asyncio.to_thread(self.store.open)
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        await asyncio.to_thread(self.store.close)

    async def remember(self, user_id: str, text: str, metadata: Mapping[str, str], example_id: str = "") -> Remembered:
        """Store one text (replacing an item with the same example_id). Text longer than max_text_chars
        is cut at a word boundary and reported truncated; bad metadata is refused."""
        check_user_id(user_id)
        text, truncated = limits.clip_text(text, self.settings.max_text_chars)
        metadata = limits.check_metadata(metadata)
        example_id = limits.example_id_for(example_id, text)
        [vector] = await self.embedder.embed([text])
        await asyncio.to_thread(self.store.upsert, user_id, [Item(example_id, text, vector, metadata)])
        INDEXED.labels("remember").inc()
        return Remembered(example_id, truncated)

    async def index_examples(self, examples: Sequence[events_pb2.ExampleCollected]) -> int:
        """Embed and store the examples not yet known (by user and example_id), in one batch.
        Returns how many were new."""
        by_user: dict[str, dict[str, Document]] = defaultdict(dict)
        for example in examples:
            by_user[example.user_id][example.example_id] = example_document(
                example.example_id,
                example.prompt,
                example.completion,
                example.metadata,
                example.source,
                self.settings.max_text_chars,
            )
        fresh: list[tuple[str, Document]] = []
        for user_id, documents in by_user.items():
            known = await asyncio.to_thread(self.store.known_ids, user_id, list(documents))
            fresh += [(user_id, doc) for eid, doc in documents.items() if eid not in known]
        if not fresh:
            return 0
        vectors = await self.embedder.embed([doc.embed_text for _, doc in fresh])
        items: dict[str, list[Item]] = defaultdict(list)
        for (user_id, doc), vector in zip(fresh, vectors, strict=True):
            items[user_id].append(Item(doc.example_id, doc.text, vector, doc.metadata))
        for user_id, user_items in items.items():
            await asyncio.to_thread(self.store.upsert, user_id, user_items)
        INDEXED.labels("event").inc(len(fresh))
        return len(fresh)

    async def recall(
        self, user_id: str, query: str, k: int = 0, filters: Mapping[str, str] | None = None, hybrid: bool = False
    ) -> Recalled:
        """The user's k items nearest to the query (filtered by exact metadata), and the facts it names."""
        check_user_id(user_id)
        limits.check_query(query, self.settings.max_query_chars)
        k = limits.check_k(k, self.settings.default_k, self.settings.max_k)
        filters = limits.check_metadata(filters or {}, "filters")
        [vector] = await self.embedder.embed([query])
        hits = await asyncio.to_thread(self.store.search, user_id, vector, k, filters, query if hybrid else None)
        facts: list[Fact] = []
        if self.settings.max_facts_per_recall:
            known = await asyncio.to_thread(self.store.facts, user_id)
            facts = fact_rules.select_facts(
                query, vector, known, self.settings.fact_min_similarity, self.settings.max_facts_per_recall
            )
        return Recalled(hits, facts)

    async def style(self, user_id: str) -> style.StyleProfile:
        check_user_id(user_id)
        texts = await asyncio.to_thread(self.store.texts, user_id, self.settings.style_max_items)
        return await asyncio.to_thread(style.profile, texts)

    async def forget(self, user_id: str) -> int:
        check_user_id(user_id)
        deleted = await asyncio.to_thread(self.store.forget, user_id)
        log.info("forgot a user: %d items", deleted)
        return deleted

    async def learn_fact(self, user_id: str, key: str, value: Any) -> None:
        check_user_id(user_id)
        limits.check_fact_key(key)
        limits.check_fact_value(value, self.settings.max_fact_bytes)
        [vector] = await self.embedder.embed([fact_rules.key_phrase(key) or key])
        await asyncio.to_thread(self.store.put_fact, user_id, Fact(key, value, vector))

    async def list_facts(self, user_id: str) -> list[Fact]:
        check_user_id(user_id)
        return await asyncio.to_thread(self.store.facts, user_id)

    async def delete_fact(self, user_id: str, key: str) -> bool:
        check_user_id(user_id)
        limits.check_fact_key(key)
        return await asyncio.to_thread(self.store.delete_fact, user_id, key)
