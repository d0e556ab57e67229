"""The embedded backend: one SQLite file with sqlite-vec, through apsw (the stdlib sqlite3 here cannot
load extensions).

- `vectors`: vec0(user_id text partition key, emb float[dim] cosine); a KNN reads one user's partition
  only (`emb match ? and user_id = ? and k = ?`).
- `items`: text, metadata (JSON), example_id, unique per (user_id, example_id); its rowid is the
  vector's rowid.
- `items_fts`: FTS5 over the texts (contentless, rowid = the item's), for hybrid search.
- `facts`: (user_id, key) -> JSON value and the key's vector.
With filters, the user's matching items are ranked exactly by vec_distance_cosine (a filtered KNN
would have to over-fetch and could still miss). Hybrid search takes the best HYBRID_CANDIDATES of
each ranking (vector, BM25) and fuses them as Weaviate's relativeScoreFusion does (alpha 0.5).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import apsw
import numpy as np
import sqlite_vec

from zega_memory.domain.fusion import match_expression, relative_score_fusion
from zega_memory.domain.store import Fact, Hit, Item

MAX_KNN = 4096
"""sqlite-vec's largest k."""
HYBRID_ALPHA = 0.5
HYBRID_CANDIDATES = 50


def _blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


class SqliteStore:
    def __init__(self, path: Path, dim: int = 384) -> None:
        self.path = path
        self.dim = dim
        self._db: apsw.Connection | None = None
        self._lock = threading.RLock()

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = apsw.Connection(str(self.path))
        db.enable_load_extension(True)
        db.load_extension(sqlite_vec.loadable_path())
        db.enable_load_extension(False)
        db.setbusytimeout(5000)
        db.execute("pragma journal_mode = wal")
        db.execute("pragma synchronous = normal")
        with db:
            db.execute(
                f"create virtual table if not exists vectors using vec0("
                f"user_id text partition key, emb float[{self.dim}] distance_metric=cosine)"
            )
            db.execute(
                "create table if not exists items ("
                " id integer primary key, user_id text not null, example_id text not null,"
                " text text not null, metadata text not null, created_at real not null,"
                " unique (user_id, example_id))"
            )
            db.execute("create index if not exists items_by_user_time on items (user_id, created_at)")
            db.execute(
                "create virtual table if not exists items_fts using fts5(text, content='', contentless_delete=1)"
            )
            db.execute(
                "create table if not exists facts ("
                " user_id text not null, key text not null, value text not null, vector blob not null,"
                " updated_at real not null, primary key (user_id, key))"
            )
        self._db = db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @property
    def db(self) -> apsw.Connection:
        if self._db is None:
            raise RuntimeError("the store is not open")
        return self._db

    def upsert(self, user_id: str, items: Sequence[Item]) -> None:
        now = time.time()
        with self._lock, self.db:
            for item in items:
                self._check_dim(item.vector)
                for (old,) in self.db.execute(
                    "select id from items where user_id = ? and example_id = ?", (user_id, item.example_id)
                ).fetchall():
                    self.db.execute("delete from vectors where rowid = ?", (old,))
                    self.db.execute("delete from items_fts where rowid = ?", (old,))
                    self.db.execute("delete from items where id = ?", (old,))
                self.db.execute(
                    "insert into items (user_id, example_id, text, metadata, created_at) values (?, ?, ?, ?, ?)",
                    (user_id, item.example_id, item.text, json.dumps(dict(item.metadata)), now),
                )
                rowid = self.db.last_insert_rowid()
                self.db.execute(
                    "insert into vectors (rowid, user_id, emb) values (?, ?, ?)", (rowid, user_id, _blob(item.vector))
                )
                self.db.execute("insert into items_fts (rowid, text) values (?, ?)", (rowid, item.text))

    def known_ids(self, user_id: str, example_ids: Sequence[str]) -> set[str]:
        if not example_ids:
            return set()
        with self._lock:
            rows = self.db.execute(
                "select example_id from items where user_id = ? and example_id in (select value from json_each(?))",
                (user_id, json.dumps(list(example_ids))),
            )
            return {example_id for (example_id,) in rows}

    def search(
        self,
        user_id: str,
        vector: np.ndarray,
        k: int,
        filters: Mapping[str, str] | None = None,
        keywords: str | None = None,
    ) -> list[Hit]:
        """Cosine similarity, best first; with `keywords`, the fused hybrid score."""
        self._check_dim(vector)
        k = min(k, MAX_KNN)
        with self._lock:
            if not keywords or not match_expression(keywords):
                return self._nearest(user_id, vector, k, filters or {})
            nearest = self._nearest(user_id, vector, max(k, HYBRID_CANDIDATES), filters or {})
            by_id = {hit.example_id: hit for hit in nearest}
            keyword_hits = self._keyword(user_id, keywords, max(k, HYBRID_CANDIDATES), filters or {})
            by_id.update({hit.example_id: hit for hit in keyword_hits if hit.example_id not in by_id})
            fused = relative_score_fusion(
                {h.example_id: h.score for h in nearest}, {h.example_id: h.score for h in keyword_hits}, HYBRID_ALPHA
            )
            return [Hit(eid, by_id[eid].text, score, by_id[eid].metadata) for eid, score in fused[:k]]

    @staticmethod
    def _filter_sql(filters: Mapping[str, str]) -> tuple[str, list[str]]:
        params: list[str] = []
        for key, value in filters.items():
            params += [f'$."{key}"', value]
        return " ".join("and json_extract(i.metadata, ?) = ?" for _ in filters), params

    def _nearest(self, user_id: str, vector: np.ndarray, k: int, filters: Mapping[str, str]) -> list[Hit]:
        if filters:
            clauses, params = self._filter_sql(filters)
            rows = self.db.execute(
                "select i.example_id, i.text, i.metadata, vec_distance_cosine(v.emb, ?) as d"
                " from items i join vectors v on v.rowid = i.id"
                f" where i.user_id = ? {clauses} order by d limit ?",
                (_blob(vector), user_id, *params, k),
            )
        else:
            rows = self.db.execute(
                "select i.example_id, i.text, i.metadata, knn.distance from ("
                " select rowid, distance from vectors where emb match ? and user_id = ? and k = ?"
                ") knn join items i on i.id = knn.rowid where i.user_id = ? order by knn.distance",
                (_blob(vector), user_id, k, user_id),
            )
        return [Hit(eid, text, 1.0 - float(d), json.loads(meta)) for eid, text, meta, d in rows]

    def _keyword(self, user_id: str, keywords: str, k: int, filters: Mapping[str, str]) -> list[Hit]:
        """BM25 over the user's texts; score = -bm25 (higher is better)."""
        clauses, params = self._filter_sql(filters)
        rows = self.db.execute(
            "select i.example_id, i.text, i.metadata, bm25(items_fts) as rank"
            " from items_fts join items i on i.id = items_fts.rowid"
            f" where items_fts match ? and i.user_id = ? {clauses} order by rank limit ?",
            (match_expression(keywords), user_id, *params, k),
        )
        return [Hit(eid, text, -float(rank), json.loads(meta)) for eid, text, meta, rank in rows]

    def texts(self, user_id: str, limit: int) -> list[tuple[str, Mapping[str, str]]]:
        with self._lock:
            rows = self.db.execute(
                "select text, metadata from items where user_id = ? order by created_at desc, id desc limit ?",
                (user_id, limit),
            )
            return [(text, json.loads(meta)) for text, meta in rows]

    def count(self, user_id: str) -> int:
        with self._lock:
            return self.db.execute("select count(*) from items where user_id = ?", (user_id,)).fetchall()[0][0]

    def forget(self, user_id: str) -> int:
        with self._lock, self.db:
            deleted = self.count(user_id)
            self.db.execute("delete from items_fts where rowid in (select id from items where user_id = ?)", (user_id,))
            self.db.execute("delete from vectors where user_id = ?", (user_id,))
            self.db.execute("delete from items where user_id = ?", (user_id,))
            self.db.execute("delete from facts where user_id = ?", (user_id,))
            return deleted

    def put_fact(self, user_id: str, fact: Fact) -> None:
        self._check_dim(fact.vector)
        with self._lock, self.db:
            self.db.execute(
                "insert into facts (user_id, key, value, vector, updated_at) values (?, ?, ?, ?, ?)"
                " on conflict (user_id, key) do update set value = excluded.value, vector = excluded.vector,"
                " updated_at = excluded.updated_at",
                (user_id, fact.key, json.dumps(fact.value), _blob(fact.vector), time.time()),
            )

    def facts(self, user_id: str) -> list[Fact]:
        with self._lock:
            rows = self.db.execute("select key, value, vector from facts where user_id = ? order by key", (user_id,))
            return [Fact(key, json.loads(value), np.frombuffer(vec, dtype=np.float32)) for key, value, vec in rows]

    def delete_fact(self, user_id: str, key: str) -> bool:
        with self._lock, self.db:
            self.db.execute("delete from facts where user_id = ? and key = ?", (user_id, key))
            return self.db.changes() > 0

    def _check_dim(self, vector: np.ndarray) -> None:
        if vector.shape != (self.dim,):
            raise ValueError(f"vector has shape {vector.shape}; this store holds {self.dim} dimensions")
