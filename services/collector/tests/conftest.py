"""Collector fixtures: the real collector (in-process or as its console script) on a real nats-server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from google.protobuf import json_format
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from prometheus_client import CollectorRegistry

from zega_cli.stack import ServiceProcess
from zega_collector.config import CollectorSettings
from zega_collector.handlers import register
from zega_collector.ledger import declare_buckets
from zega_common import subjects
from zega_common.codec import encode
from zega_common.nats_server import free_port
from zega_common.runtime import make_broker
from zega_common.settings import ZegaSettings
from zega_common.v1 import events_pb2

THRESHOLD = 50


@pytest.fixture
def settings(zega_settings: ZegaSettings) -> CollectorSettings:
    return collector_settings(zega_settings.nats_url)


def collector_settings(url: str) -> CollectorSettings:
    return CollectorSettings(
        nats_url=url, duplicate_window_s=120, ack_wait_s=2.0, retry_delay_s=0.2, batch_size=32, fetch_timeout_s=1.0
    )


@asynccontextmanager
async def running_collector(settings: CollectorSettings) -> AsyncIterator[None]:
    """The collector's broker and handlers in this process (what main.py serves)."""
    await declare_buckets(settings)
    broker = make_broker(settings, "collector", registry=CollectorRegistry())
    examples = register(broker, settings)
    await broker.start()
    await examples.start()
    try:
        yield
    finally:
        await asyncio.wait_for(examples.stop(), 30)
        await asyncio.wait_for(broker.stop(), 30)


def collector_process(settings: CollectorSettings, log_dir: Path) -> ServiceProcess:
    """The real `zega-collector` console script, configured through ZEGA_* variables."""
    port = free_port()
    env = dict(
        os.environ,
        ZEGA_NATS_URL=settings.nats_url,
        ZEGA_METRICS_PORT=str(port),
        ZEGA_ACK_WAIT_S=str(settings.ack_wait_s),
        ZEGA_RETRY_DELAY_S=str(settings.retry_delay_s),
        ZEGA_BATCH_SIZE=str(settings.batch_size),
        ZEGA_FETCH_TIMEOUT_S=str(settings.fetch_timeout_s),
        ZEGA_DUPLICATE_WINDOW_S=str(settings.duplicate_window_s),
        ZEGA_LOG_LEVEL="WARNING",
    )
    assert Path(sys.executable).with_name("zega-collector").exists()
    return ServiceProcess("collector", env, f"http://127.0.0.1:{port}/readyz", "", log_dir / "collector.log")


async def wait_ready(proc: ServiceProcess, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(proc.ready):
        assert proc.alive(), "zega-collector exited"
        assert time.monotonic() < deadline, "zega-collector not ready"
        await asyncio.sleep(0.2)


def example(user_id: str, example_id: str, score: float = 8.0, genre: str = "sci_fi") -> events_pb2.ExampleCollected:
    return events_pb2.ExampleCollected(
        example_id=example_id,
        user_id=user_id,
        prompt="Write a line.",
        completion=f"A line for {example_id}.",
        quality_score=score,
        metadata={"genre": genre, "theme": "hope"},
        source="test",
    )


async def publish_examples(js: JetStreamContext, items: Iterable[tuple[events_pb2.ExampleCollected, str]]) -> None:
    """Publish (example, msg_id) pairs, pipelined."""
    pending = []
    for item, msg_id in items:
        body, headers = encode(item, msg_id)
        pending.append(js.publish(subjects.for_user(subjects.EXAMPLE_COLLECTED, item.user_id), body, headers=headers))
        if len(pending) >= 100:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)


async def stats_of(js: JetStreamContext, user_id: str) -> dict | None:
    kv = await js.key_value(subjects.KV_STATS)
    try:
        return json.loads((await kv.get(user_id)).value)
    except KeyNotFoundError:
        return None


async def wait_counts(js: JetStreamContext, expected: dict[str, int], within: float = 60.0) -> dict[str, dict]:
    """Wait until every user's count is `expected`, then a little longer to catch any overcount."""
    deadline = time.monotonic() + within
    while True:
        found = {user: await stats_of(js, user) for user in expected}
        counts = {user: (doc or {}).get("training_examples", 0) for user, doc in found.items()}
        if counts == expected:
            await asyncio.sleep(1.0)
            found = {user: await stats_of(js, user) for user in expected}
            assert {u: d["training_examples"] for u, d in found.items()} == expected
            return found
        assert all(counts[u] <= expected[u] for u in expected), f"overcounted: {counts} > {expected}"
        assert time.monotonic() < deadline, f"counts {counts}, expected {expected}"
        await asyncio.sleep(0.2)


async def threshold_events(js: JetStreamContext) -> list[events_pb2.ThresholdReached]:
    info = await js.stream_info(subjects.STREAM_TRAINING)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        raw = await js.get_msg(subjects.STREAM_TRAINING, seq)
        event = events_pb2.ThresholdReached()
        json_format.Parse(raw.data, event, ignore_unknown_fields=True)
        found.append(event)
    return found


async def assert_thresholds(js: JetStreamContext, expected: dict[str, int]) -> None:
    """Exactly floor(n / 50) events per user, indices 1..k, with their job ids."""
    events = await threshold_events(js)
    for user, count in expected.items():
        mine = sorted((e.threshold_index, e.job_id, e.examples_total) for e in events if e.user_id == user)
        k = count // THRESHOLD
        assert mine == [(i, f"{user}-t{i}", i * THRESHOLD) for i in range(1, k + 1)], (user, mine)
