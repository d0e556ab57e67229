"""Memory benchmark: index N items across U users, then recall, against exact numpy brute force.

    .venv/bin/python bench/memory.py                  # 10,000 items, 100 users, SQLite + sqlite-vec
    .venv/bin/python bench/memory.py --backend weaviate  # needs ZEGA_WEAVIATE_URL

Prints: embedding and store-insert throughput (items/s), recall latency p50/p99 of the store alone and
of the whole recall (query embedding included), and, over the same embeddings in the same run, the top-k
of an exact numpy brute force per user: how often the store's top-k equals it, and the speed ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from zega_memory.config import MemorySettings
from zega_memory.domain.store import Item
from zega_memory.main import EMBEDDING_DIM, build_memory

SUBJECTS = [
    "the old king",
    "a lonely engineer",
    "the witch",
    "a detective",
    "two rival bakers",
    "the last dragon",
    "a ship's computer",
    "the lighthouse keeper",
    "a young pirate",
    "the spice merchant",
    "a runaway bride",
    "the necromancer",
    "a colony on Mars",
    "the museum guard",
    "a talking cat",
    "the village doctor",
]
VERBS = [
    "betrays",
    "searches for",
    "remembers",
    "guards",
    "escapes from",
    "falls in love with",
    "repairs",
    "curses",
    "steals",
    "dreams of",
    "negotiates with",
    "buries",
    "rescues",
    "hunts",
    "forgets",
    "builds",
]
OBJECTS = [
    "a poisoned chalice",
    "the frozen river",
    "a map tattooed on skin",
    "the silent city",
    "a broken clock",
    "the generation ship",
    "a sugar diamond",
    "the haunted manor",
    "a letter from the future",
    "the desert ruins",
    "a jar of starlight",
    "the burning library",
    "an army of the dead",
    "the last match",
    "a forbidden recipe",
    "the tower of glass",
]
PLACES = [
    "at midnight",
    "during the storm",
    "beneath the ice",
    "on the night train",
    "in the ruined chapel",
    "before the war",
    "after the plague",
    "in orbit around Jupiter",
    "at the harvest feast",
    "in the fog",
]
GENRES = ["dark_fantasy", "sci_fi", "horror", "romance", "mystery", "adventure", "historical", "humor"]


def corpus(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    pick = lambda words: words[rng.integers(len(words))]  # noqa: E731
    return [
        f"{pick(SUBJECTS).capitalize()} {pick(VERBS)} {pick(OBJECTS)} {pick(PLACES)}; "
        f"{pick(SUBJECTS)} {pick(VERBS)} {pick(OBJECTS)}. ({i})"
        for i in range(n)
    ]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


async def run(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="zega-bench-memory-"))
    settings = MemorySettings(
        data_dir=data_dir,
        memory_backend=args.backend,
        embed_batch_size=args.batch,
        embedding_device=args.device,
        weaviate_collection_prefix=f"Bench{int(time.time())}",
    )
    memory = build_memory(settings)
    t0 = time.perf_counter()
    await memory.start()
    print(f"backend {args.backend}, data dir {data_dir}, model loaded in {time.perf_counter() - t0:.1f}s")

    users = [f"user{u:03d}" for u in range(args.users)]
    texts = corpus(args.items, seed=1)
    owners = [users[i % len(users)] for i in range(args.items)]

    t0 = time.perf_counter()
    vectors = memory.embedder.encode(texts)
    embed_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for user in users:
        rows = [i for i, owner in enumerate(owners) if owner == user]
        for start in range(0, len(rows), args.batch):
            chunk = rows[start : start + args.batch]
            items = [Item(f"ex{i}", texts[i], vectors[i], {"genre": GENRES[i % len(GENRES)]}) for i in chunk]
            memory.store.upsert(user, items)
    insert_s = time.perf_counter() - t0
    print(
        f"indexed {args.items} items / {args.users} users: embedding {args.items / embed_s:,.0f} items/s "
        f"({embed_s:.1f}s), store insert {args.items / insert_s:,.0f} items/s ({insert_s:.1f}s), "
        f"end to end {args.items / (embed_s + insert_s):,.0f} items/s"
    )

    rng = np.random.default_rng(2)
    query_texts = corpus(args.queries, seed=3)
    query_users = [users[rng.integers(len(users))] for _ in range(args.queries)]
    query_vectors = memory.embedder.encode(query_texts)
    per_user = {user: np.array([i for i, owner in enumerate(owners) if owner == user]) for user in users}

    store_ms, exact_ms, agree, overlap = [], [], 0, 0.0
    for user, vector in zip(query_users, query_vectors, strict=True):
        t0 = time.perf_counter()
        hits = memory.store.search(user, vector, args.k)
        store_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        rows = per_user[user]
        scores = vectors[rows] @ vector
        top = rows[np.argsort(-scores, kind="stable")[: args.k]]
        exact_ms.append((time.perf_counter() - t0) * 1000)
        got = [int(h.example_id[2:]) for h in hits]
        agree += got == top.tolist() or set(got) == set(top.tolist())
        overlap += len(set(got) & set(top.tolist())) / args.k

    full_ms = []
    for user, text in list(zip(query_users, query_texts, strict=True))[: args.full_queries]:
        t0 = time.perf_counter()
        await memory.recall(user, text, args.k)
        full_ms.append((time.perf_counter() - t0) * 1000)

    print(f"recall k={args.k}, {args.queries} queries over {args.items // args.users} items per user:")
    print(f"  store ({args.backend})   p50 {pct(store_ms, 50):7.3f} ms   p99 {pct(store_ms, 99):7.3f} ms")
    print(f"  numpy brute force  p50 {pct(exact_ms, 50):7.3f} ms   p99 {pct(exact_ms, 99):7.3f} ms")
    print(
        f"  whole recall (embed query + search + facts), {len(full_ms)} queries: "
        f"p50 {pct(full_ms, 50):.2f} ms   p99 {pct(full_ms, 99):.2f} ms"
    )
    ratio = statistics.median(store_ms) / statistics.median(exact_ms)
    print(
        f"  same top-{args.k} set as brute force: {agree}/{args.queries} queries "
        f"(mean overlap {overlap / args.queries:.4f}); store / numpy median time ratio {ratio:.1f}x"
    )
    await memory.stop()
    return 0 if agree == args.queries or args.backend == "weaviate" else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--full-queries", type=int, default=200, help="recalls timed with the query embedding")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64, help="texts per embedding pass and items per insert")
    parser.add_argument("--backend", choices=["sqlite", "weaviate"], default="sqlite")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--device", default="cpu", help="torch device of the embedding model")
    args = parser.parse_args()
    assert EMBEDDING_DIM == 384
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
