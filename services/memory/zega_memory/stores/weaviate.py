"""The scale-out backend: Weaviate through weaviate-client v4, one tenant per user.

- Collections `<prefix>Memory` (items) and `<prefix>Fact` (facts), multi-tenant, no vectorizer: we
  supply the vectors (cosine HNSW). A user's tenant is created on the first write; Forget removes the
  tenant from both collections, which erases every object of the user at once.
- Object ids are uuid5 of the example_id (of the fact key for facts): a second write of the same
  example replaces the first.
- Metadata is kept twice: as JSON to give back, and as `key=value` tokens in a text[] property with
  field tokenization, so that an exact-match filter is one `contains_all`.
- `keywords` turns a search into a hybrid one (BM25 on the text + our vector, alpha 0.5); its score is
  Weaviate's fused score. Otherwise the score is the cosine similarity (1 - distance).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import urlparse

import numpy as np
import weaviate
from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances
from weaviate.classes.data import DataObject
from weaviate.classes.init import Auth
from weaviate.classes.query import Filter, MetadataQuery, Sort
from weaviate.classes.tenants import Tenant
from weaviate.collections import Collection
from weaviate.exceptions import UnexpectedStatusCodeError
from weaviate.util import generate_uuid5

from zega_memory.domain.store import Fact, Hit, Item

HYBRID_ALPHA = 0.5
TENANT_CACHE_S = 30.0
MAX_FETCH = 10_000


def meta_pairs(metadata: Mapping[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in metadata.items()]


def connect(url: str, grpc_port: int, api_key: str = "") -> weaviate.WeaviateClient:
    parsed = urlparse(url)
    secure = parsed.scheme == "https"
    host = parsed.hostname or "localhost"
    return weaviate.connect_to_custom(
        http_host=host,
        http_port=parsed.port or (443 if secure else 80),
        http_secure=secure,
        grpc_host=host,
        grpc_port=grpc_port,
        grpc_secure=secure,
        auth_credentials=Auth.api_key(api_key) if api_key else None,
    )


class WeaviateStore:
    def __init__(
        self, url: str, *, grpc_port: int = 50051, api_key: str = "", prefix: str = "Zega", dim: int = 384
    ) -> None:
        self.url = url
        self.grpc_port = grpc_port
        self.api_key = api_key
        self.dim = dim
        self.items_name = f"{prefix}Memory"
        self.facts_name = f"{prefix}Fact"
        self._client: weaviate.WeaviateClient | None = None
        self._tenants: dict[str, float] = {}
        self._lock = threading.Lock()

    def open(self) -> None:
        self._client = connect(self.url, self.grpc_port, self.api_key)
        self._ensure_collection(
            self.items_name,
            [
                Property(name="text", data_type=DataType.TEXT),
                Property(name="example_id", data_type=DataType.TEXT, tokenization=Tokenization.FIELD),
                Property(name="metadata_json", data_type=DataType.TEXT, index_filterable=False, index_searchable=False),
                Property(
                    name="meta_pairs",
                    data_type=DataType.TEXT_ARRAY,
                    tokenization=Tokenization.FIELD,
                    index_searchable=False,
                ),
                Property(name="created_at", data_type=DataType.DATE),
            ],
        )
        self._ensure_collection(
            self.facts_name,
            [
                Property(name="key", data_type=DataType.TEXT, tokenization=Tokenization.FIELD),
                Property(name="value_json", data_type=DataType.TEXT, index_filterable=False, index_searchable=False),
            ],
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def client(self) -> weaviate.WeaviateClient:
        if self._client is None:
            raise RuntimeError("the store is not open")
        return self._client

    def _ensure_collection(self, name: str, properties: list[Property]) -> None:
        if self.client.collections.exists(name):
            return
        try:
            self.client.collections.create(
                name,
                properties=properties,
                vector_config=Configure.Vectors.self_provided(
                    vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE)
                ),
                multi_tenancy_config=Configure.multi_tenancy(
                    enabled=True, auto_tenant_creation=True, auto_tenant_activation=True
                ),
            )
        except UnexpectedStatusCodeError:
            if not self.client.collections.exists(name):  # another replica may have just created it
                raise

    def _collection(self, name: str, user_id: str) -> Collection:
        return self.client.collections.get(name).with_tenant(user_id)

    def _has_tenant(self, user_id: str) -> bool:
        with self._lock:
            if self._tenants.get(user_id, 0.0) > time.monotonic():
                return True
        exists = self.client.collections.get(self.items_name).tenants.exists(user_id)
        if exists:
            with self._lock:
                self._tenants[user_id] = time.monotonic() + TENANT_CACHE_S
        return exists

    def _ensure_tenant(self, user_id: str) -> None:
        if self._has_tenant(user_id):
            return
        for name in (self.items_name, self.facts_name):
            tenants = self.client.collections.get(name).tenants
            if not tenants.exists(user_id):
                try:
                    tenants.create([Tenant(name=user_id)])
                except UnexpectedStatusCodeError:
                    if not tenants.exists(user_id):
                        raise
        with self._lock:
            self._tenants[user_id] = time.monotonic() + TENANT_CACHE_S

    def upsert(self, user_id: str, items: Sequence[Item]) -> None:
        if not items:
            return
        self._ensure_tenant(user_id)
        now = datetime.now(UTC)
        objects = [
            DataObject(
                properties={
                    "text": item.text,
                    "example_id": item.example_id,
                    "metadata_json": json.dumps(dict(item.metadata)),
                    "meta_pairs": meta_pairs(item.metadata),
                    "created_at": now,
                },
                uuid=generate_uuid5(item.example_id),
                vector=np.asarray(item.vector, dtype=np.float32).tolist(),
            )
            for item in items
        ]
        result = self._collection(self.items_name, user_id).data.insert_many(objects)
        if result.has_errors:
            first = next(iter(result.errors.values()))
            raise RuntimeError(f"weaviate refused {len(result.errors)} of {len(objects)} items: {first.message}")

    def known_ids(self, user_id: str, example_ids: Sequence[str]) -> set[str]:
        if not example_ids or not self._has_tenant(user_id):
            return set()
        found = self._collection(self.items_name, user_id).query.fetch_objects(
            filters=Filter.by_id().contains_any([generate_uuid5(eid) for eid in example_ids]),
            limit=len(example_ids),
            return_properties=["example_id"],
        )
        return {obj.properties["example_id"] for obj in found.objects}

    def search(
        self,
        user_id: str,
        vector: np.ndarray,
        k: int,
        filters: Mapping[str, str] | None = None,
        keywords: str | None = None,
    ) -> list[Hit]:
        if not self._has_tenant(user_id):
            return []
        where = Filter.by_property("meta_pairs").contains_all(meta_pairs(filters)) if filters else None
        query = self._collection(self.items_name, user_id).query
        properties = ["text", "example_id", "metadata_json"]
        if keywords:
            found = query.hybrid(
                query=keywords,
                vector=vector.tolist(),
                alpha=HYBRID_ALPHA,
                query_properties=["text"],
                limit=k,
                filters=where,
                return_metadata=MetadataQuery(score=True),
                return_properties=properties,
            )
            scores = [obj.metadata.score or 0.0 for obj in found.objects]
        else:
            found = query.near_vector(
                near_vector=vector.tolist(),
                limit=k,
                filters=where,
                return_metadata=MetadataQuery(distance=True),
                return_properties=properties,
            )
            scores = [1.0 - (obj.metadata.distance or 0.0) for obj in found.objects]
        return [
            Hit(
                obj.properties["example_id"],
                obj.properties["text"],
                float(score),
                json.loads(obj.properties["metadata_json"]),
            )
            for obj, score in zip(found.objects, scores, strict=True)
        ]

    def texts(self, user_id: str, limit: int) -> list[tuple[str, Mapping[str, str]]]:
        if not self._has_tenant(user_id):
            return []
        found = self._collection(self.items_name, user_id).query.fetch_objects(
            limit=min(limit, MAX_FETCH),
            sort=Sort.by_property("created_at", ascending=False),
            return_properties=["text", "metadata_json"],
        )
        return [(obj.properties["text"], json.loads(obj.properties["metadata_json"])) for obj in found.objects]

    def count(self, user_id: str) -> int:
        if not self._has_tenant(user_id):
            return 0
        return self._collection(self.items_name, user_id).aggregate.over_all(total_count=True).total_count or 0

    def forget(self, user_id: str) -> int:
        deleted = self.count(user_id)
        for name in (self.items_name, self.facts_name):
            tenants = self.client.collections.get(name).tenants
            if tenants.exists(user_id):
                tenants.remove([user_id])
        with self._lock:
            self._tenants.pop(user_id, None)
        return deleted

    def put_fact(self, user_id: str, fact: Fact) -> None:
        self._ensure_tenant(user_id)
        facts = self._collection(self.facts_name, user_id).data
        properties = {"key": fact.key, "value_json": json.dumps(fact.value)}
        uuid = generate_uuid5(fact.key)
        vector = np.asarray(fact.vector, dtype=np.float32).tolist()
        if facts.exists(uuid):
            facts.replace(uuid=uuid, properties=properties, vector=vector)
        else:
            facts.insert(properties=properties, uuid=uuid, vector=vector)

    def facts(self, user_id: str) -> list[Fact]:
        if not self._has_tenant(user_id):
            return []
        found = self._collection(self.facts_name, user_id).query.fetch_objects(
            limit=MAX_FETCH, include_vector=True, return_properties=["key", "value_json"]
        )
        facts = [
            Fact(
                obj.properties["key"],
                json.loads(obj.properties["value_json"]),
                np.asarray(obj.vector["default"], dtype=np.float32),
            )
            for obj in found.objects
        ]
        return sorted(facts, key=lambda fact: fact.key)

    def delete_fact(self, user_id: str, key: str) -> bool:
        if not self._has_tenant(user_id):
            return False
        return self._collection(self.facts_name, user_id).data.delete_by_id(generate_uuid5(key))
