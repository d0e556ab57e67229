"""Collector throughput: 20,000 examples across 100 users, published at once.

Two phases in one run, each on a fresh embedded nats-server with the same messages:
1. a plain nats-py durable pull consumer that only acknowledges (the floor any consumer pays);
2. the real `zega-collector` process, timed until every user's count in KV zega-stats is final.
Prints examples/s of both, their ratio (goal >= 0.25), and p50/p99 from publish to stats visible.

    .venv/bin/python bench/collector.py [--examples 20000] [--users 100] [--batch 256]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import nats
from nats.js.api import ConsumerConfig

from zega_common import subjects
from zega_common.codec import encode
from zega_common.nats_bootstrap import bootstrap
from zega_common.nats_server import EmbeddedNats, free_port
from zega_common.settings import ZegaSettings
from zega_common.v1 import events_pb2


def messages(n: int, users: int) -> list[tuple[str, str, bytes, dict[str, str]]]:
    out = []
    for i in range(n):
        user = f"user{i % users:03d}"
        event = events_pb2.ExampleCollected(
            example_id=f"ex-{i}",
            user_id=user,
            prompt="Write the opening line of a story.",
            completion=f"The lighthouse keeper counted ships that never came, number {i}.",
            quality_score=5.0 + (i % 50) / 10,
            metadata={"genre": ["dark_fantasy", "sci_fi", "mystery"][i % 3], "theme": "solitude"},
            source="bench",
        )
        body, headers = encode(event, f"bench-{i}")
        out.append((user, subjects.for_user(subjects.EXAMPLE_COLLECTED, user), body, headers))
    return out


async def publish_all(js, msgs) -> dict[str, list[float]]:
    """Publish everything pipelined; the time each user's k-th example was acknowledged by the stream."""
    published: dict[str, list[float]] = {}
    for start in range(0, len(msgs), 500):
        chunk = msgs[start : start + 500]
        await asyncio.gather(*(js.publish(subject, body, headers=headers) for _, subject, body, headers in chunk))
        now = time.time()
        for user, *_ in chunk:
            published.setdefault(user, []).append(now)
    return published


async def plain_consumer(url: str, n: int, batch: int) -> None:
    """Phase 1's consumer process: fetch and acknowledge, nothing else; prints when it saw n."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe(
        subjects.all_users(subjects.EXAMPLE_COLLECTED),
        durable="bench-plain",
        stream=subjects.STREAM_EXAMPLES,
        config=ConsumerConfig(ack_wait=30),
    )
    print("ready", flush=True)
    seen = 0
    while seen < n:
        try:
            msgs = await sub.fetch(batch, timeout=1.0)
        except (nats.errors.TimeoutError, TimeoutError):
            continue
        for msg in msgs:
            await msg.ack()
        seen += len(msgs)
    await nc.flush()
    print(f"done {time.time()}", flush=True)
    await nc.close()


async def phase_plain(msgs, batch: int, root: Path) -> float:
    with EmbeddedNats(root / "plain") as server:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await bootstrap(js, ZegaSettings(nats_url=server.url))
        proc = subprocess.Popen(  # noqa: ASYNC220 (started once, before timing)
            [
                sys.executable,
                __file__,
                "--plain-consumer",
                server.url,
                "--examples",
                str(len(msgs)),
                "--batch",
                str(batch),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "ready"
        start = time.time()
        await publish_all(js, msgs)
        line = await asyncio.to_thread(proc.stdout.readline)
        proc.wait(30)
        await nc.close()
        return float(line.split()[1]) - start


async def phase_collector(msgs, users: int, batch: int, root: Path) -> tuple[float, list[float]]:
    with EmbeddedNats(root / "collector") as server:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await bootstrap(js, ZegaSettings(nats_url=server.url))
        port = free_port()
        env = dict(
            os.environ,
            ZEGA_NATS_URL=server.url,
            ZEGA_METRICS_PORT=str(port),
            ZEGA_BATCH_SIZE=str(batch),
            ZEGA_LOG_LEVEL="WARNING",
            ZEGA_DATA_DIR=str(root / "data"),
        )
        exe = Path(sys.executable).with_name("zega-collector")
        log = open(root / "collector.log", "wb")  # noqa: SIM115, ASYNC230
        proc = subprocess.Popen(  # noqa: ASYNC220
            [str(exe)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            for _ in range(150):
                try:
                    if (
                        await asyncio.to_thread(httpx.get, f"http://127.0.0.1:{port}/readyz", timeout=1)
                    ).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            kv = await js.key_value(subjects.KV_STATS)
            visible: dict[str, list[tuple[int, float]]] = {}
            final = len(msgs) // users
            done = asyncio.Event()
            finished: set[str] = set()

            async def watch() -> None:
                watcher = await kv.watchall()
                async for entry in watcher:
                    if entry is None or not entry.value:
                        continue
                    count = json.loads(entry.value)["training_examples"]
                    visible.setdefault(entry.key, []).append((count, time.time()))
                    if count >= final:
                        finished.add(entry.key)
                        if len(finished) == users:
                            done.set()
                            return

            watching = asyncio.create_task(watch())
            await asyncio.sleep(0.2)
            start = time.time()
            published = await publish_all(js, msgs)
            await asyncio.wait_for(done.wait(), 600)
            elapsed = max(t for points in visible.values() for _, t in points) - start
            watching.cancel()
        finally:
            proc.terminate()
            proc.wait(30)
            await nc.close()
    latencies = []
    for user, times in published.items():
        points = visible[user]
        counts = [c for c, _ in points]
        for k, t_pub in enumerate(times, start=1):
            latencies.append(points[bisect.bisect_left(counts, k)][1] - t_pub)
    return elapsed, latencies


async def main(args: argparse.Namespace) -> None:
    msgs = messages(args.examples, args.users)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plain = await phase_plain(msgs, args.batch, root)
        collector, latencies = await phase_collector(msgs, args.users, args.batch, root)
    q = statistics.quantiles(latencies, n=100)
    plain_rate, collector_rate = args.examples / plain, args.examples / collector
    print(f"examples: {args.examples} across {args.users} users, pull batch {args.batch}, {os.cpu_count()} cores")
    print(f"plain nats-py durable consumer (ack only): {plain:7.2f} s  {plain_rate:9.0f} examples/s")
    print(f"zega-collector (counts final in KV):       {collector:7.2f} s  {collector_rate:9.0f} examples/s")
    print(f"ratio collector / plain: {collector_rate / plain_rate:.3f}  (goal >= 0.25)")
    print(f"publish -> stats visible: p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--batch", type=int, default=256, help="pull batch of both consumers")
    parser.add_argument("--plain-consumer", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_consumer:
        asyncio.run(plain_consumer(args.plain_consumer, args.examples, args.batch))
    else:
        asyncio.run(main(args))
