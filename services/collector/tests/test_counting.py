"""Exactly-once counting on a real nats-server: duplicates, failures, crashes, replicas, restarts."""

from __future__ import annotations

import asyncio
import os
import signal

import nats
from nats.js import JetStreamContext

from zega_collector.config import CollectorSettings
from zega_collector.domain.stats import Contribution
from zega_collector.ledger import Ledger
from zega_common import subjects
from zega_common.codec import encode
from zega_common.nats_bootstrap import bootstrap
from zega_common.nats_server import EmbeddedNats
from zega_common.v1 import events_pb2

from .conftest import (
    assert_thresholds,
    collector_process,
    collector_settings,
    example,
    publish_examples,
    running_collector,
    stats_of,
    wait_counts,
    wait_ready,
)


def examples_for(counts: dict[str, int], prefix: str = "ex") -> list[tuple[events_pb2.ExampleCollected, str]]:
    """Users' examples interleaved, each with its own Nats-Msg-Id."""
    items = []
    for i in range(max(counts.values())):
        for user, n in counts.items():
            if i < n:
                items.append(
                    (example(user, f"{prefix}-{user}-{i}", score=5.0 + (i % 50) / 10), f"{prefix}-m-{user}-{i}")
                )
    return items


async def test_duplicates_count_once(jetstream: JetStreamContext, settings: CollectorSettings) -> None:
    counts = {"alice": 120, "bob": 60}
    items = examples_for(counts)
    same_id = items[:40]
    other_ids = [(item, f"{msg_id}-again") for item, msg_id in items[::3]]
    async with running_collector(settings):
        await publish_examples(jetstream, items + same_id + other_ids)
        found = await wait_counts(jetstream, counts)
    await assert_thresholds(jetstream, counts)
    alice = found["alice"]
    assert alice["examples_until_next_training"] == 30
    assert alice["quality_scores"]["highest"] == 9.9 and alice["quality_scores"]["lowest"] == 5.0
    assert alice["genre_preferences"] == {"sci_fi": 120} and alice["themes"] == {"hope": 120}
    assert alice["examples_above_min_quality"] == 60


async def test_handler_failing_once_is_redelivered(
    jetstream: JetStreamContext, settings: CollectorSettings, monkeypatch
) -> None:
    failures = {"settle": 0, "record_emitted": 0}
    settle, record_emitted = Ledger.settle, Ledger.record_emitted

    async def settle_failing_once(self, user_id, through_seq):
        if not failures["settle"]:
            failures["settle"] += 1
            raise ConnectionError("injected: marker written, stats not")
        return await settle(self, user_id, through_seq)

    async def emitted_failing_once(self, user_id, index):
        if not failures["record_emitted"]:
            failures["record_emitted"] += 1
            raise ConnectionError("injected: threshold published, not recorded")
        return await record_emitted(self, user_id, index)

    monkeypatch.setattr(Ledger, "settle", settle_failing_once)
    monkeypatch.setattr(Ledger, "record_emitted", emitted_failing_once)
    counts = {"carol": 100}
    async with running_collector(settings):
        await publish_examples(jetstream, examples_for(counts))
        await wait_counts(jetstream, counts)
    assert failures == {"settle": 1, "record_emitted": 1}
    await assert_thresholds(jetstream, counts)


async def test_bad_input_is_dead_lettered_and_never_blocks(
    jetstream: JetStreamContext, nc: nats.NATS, settings: CollectorSettings
) -> None:
    subject = subjects.for_user(subjects.EXAMPLE_COLLECTED, "dave")
    good = example("dave", "ok-1")
    bad = [
        b"not json",
        encode(example("dave", "x-1", score=11.0))[0],
        encode(events_pb2.ExampleCollected(example_id="x-2", user_id="dave", quality_score=8.0, completion=" "))[0],
        encode(example("bad user!", "x-3"))[0],
        b'{"x": "' + b"a" * (settings.max_event_bytes + 10) + b'"}',
    ]
    async with running_collector(settings):
        for i, body in enumerate(bad):
            await jetstream.publish(subject, body, headers={"Nats-Msg-Id": f"bad-{i}"})
        await publish_examples(jetstream, [(good, "good-1")])
        await wait_counts(jetstream, {"dave": 1})
        dlq = await jetstream.stream_info(subjects.STREAM_DEAD_LETTER)
        for _ in range(50):
            if dlq.state.messages >= len(bad):
                break
            await asyncio.sleep(0.1)
            dlq = await jetstream.stream_info(subjects.STREAM_DEAD_LETTER)
    assert dlq.state.messages == len(bad)
    reasons = [
        (await jetstream.get_msg(subjects.STREAM_DEAD_LETTER, seq)).headers["Zega-Error"]
        for seq in range(1, len(bad) + 1)
    ]
    assert any("not UTF-8 JSON" in r for r in reasons)
    assert any("outside 0-10" in r for r in reasons)
    assert any("completion is empty" in r for r in reasons)
    assert any("bytes; the limit" in r for r in reasons)


async def test_two_replicas_count_exactly(jetstream: JetStreamContext, settings: CollectorSettings) -> None:
    counts = {f"r{i}": 75 + 25 * i for i in range(4)}
    items = examples_for(counts)
    async with running_collector(settings), running_collector(settings):
        await asyncio.gather(
            publish_examples(jetstream, items), publish_examples(jetstream, [(e, m + "-dup") for e, m in items])
        )
        await wait_counts(jetstream, counts)
    await assert_thresholds(jetstream, counts)


async def test_kill_9_mid_stream_then_restart(
    jetstream: JetStreamContext, settings: CollectorSettings, tmp_path
) -> None:
    counts = {"erin": 150, "frank": 100, "gina": 49}
    items = examples_for(counts)
    proc = collector_process(settings, tmp_path)
    proc.start()
    try:
        await wait_ready(proc)
        await publish_examples(jetstream, items[:200])
        for _ in range(100):
            doc = await stats_of(jetstream, "erin")
            if doc and doc["training_examples"] >= 20:
                break
            await asyncio.sleep(0.05)
        os.killpg(proc.proc.pid, signal.SIGKILL)
        proc.proc.wait(10)
        await publish_examples(jetstream, items[150:])
        proc.start()
        await wait_ready(proc)
        await wait_counts(jetstream, counts, within=90)
    finally:
        proc.stop(10)
    await assert_thresholds(jetstream, counts)


async def test_nats_server_restart_mid_stream(tmp_path) -> None:
    server = EmbeddedNats(tmp_path / "nats")
    with server:
        settings = collector_settings(server.url)
        nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        js = nc.jetstream()
        await bootstrap(js, settings)
        counts = {"hank": 130, "ivy": 70}
        items = examples_for(counts)
        async with running_collector(settings):
            await publish_examples(js, items[:120])
            await asyncio.sleep(0.3)
            await asyncio.to_thread(server.restart)
            await asyncio.sleep(1.0)
            await publish_examples(js, items[100:])
            await wait_counts(js, counts, within=90)
        await assert_thresholds(js, counts)
        await nc.close()


async def test_adapter_ready_and_forget(jetstream: JetStreamContext, settings: CollectorSettings) -> None:
    async with running_collector(settings):
        await publish_examples(jetstream, examples_for({"jill": 10}))
        await wait_counts(jetstream, {"jill": 10})
        ready = events_pb2.AdapterReady(
            user_id="jill", adapter_version=1, model_name="zega-jill", total_training_steps=40, job_id="jill-t1"
        )
        for _ in range(2):
            body, headers = encode(ready, "jill:v1")
            await jetstream.publish(
                subjects.for_user(subjects.ADAPTER_READY, "jill"),
                body,
                headers=headers | {"Nats-Msg-Id": f"jill:v1:{_}"},
            )
        for _ in range(50):
            doc = await stats_of(jetstream, "jill")
            if doc["adapter_version"] == 1:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        doc = await stats_of(jetstream, "jill")
        assert doc["custom_model_exists"] and doc["custom_model_name"] == "zega-jill"
        assert doc["total_training_steps"] == 40 and doc["last_fine_tune"] and doc["training_examples"] == 10

        body, headers = encode(events_pb2.ForgetUser(user_id="jill", request_id="r1"), "forget-jill")
        await jetstream.publish(subjects.for_user(subjects.USER_FORGET, "jill"), body, headers=headers)
        for _ in range(50):
            if await stats_of(jetstream, "jill") is None:
                break
            await asyncio.sleep(0.1)
        assert await stats_of(jetstream, "jill") is None
        await publish_examples(jetstream, examples_for({"jill": 3}, prefix="again"))
        await wait_counts(jetstream, {"jill": 3})


async def test_stats_written_but_not_acknowledged_count_once(
    jetstream: JetStreamContext, settings: CollectorSettings, monkeypatch
) -> None:
    """The window after the stats, before the acknowledgement: the batch is handed back and
    redelivered, and the redelivery only acknowledges."""
    lost = {"acks": 0}
    settle = Ledger.settle

    async def settle_then_lose_the_ack(self, user_id, through_seq):
        stats = await settle(self, user_id, through_seq)
        if lost["acks"] < 3:
            lost["acks"] += 1
            raise ConnectionError("injected: stats written, acknowledgement lost")
        return stats

    monkeypatch.setattr(Ledger, "settle", settle_then_lose_the_ack)
    counts = {"kate": 60, "liam": 40}
    async with running_collector(settings):
        await publish_examples(jetstream, examples_for(counts))
        await wait_counts(jetstream, counts)
    assert lost["acks"] == 3
    await assert_thresholds(jetstream, counts)


async def test_marker_of_another_writer_between_own_markers_is_counted(
    jetstream: JetStreamContext, nc: nats.NATS, settings: CollectorSettings
) -> None:
    """A marker written by another replica that died before settling lies between this
    collector's own markers: the settlement must read it rather than trust its own positions."""
    items = examples_for({"mia": 30})
    async with running_collector(settings):
        await publish_examples(jetstream, items[:10])
        await wait_counts(jetstream, {"mia": 10})
        dead_replica = Ledger(nc, settings)
        orphan, _ = items[10]
        claim = await dead_replica.claim("mia", orphan.example_id, Contribution.of(orphan.quality_score, {}))
        assert claim.first_seen
        await publish_examples(jetstream, items[11:])
        await wait_counts(jetstream, {"mia": 30})  # the orphan marker counts...
        await publish_examples(jetstream, [items[10]])  # ...and its redelivered example does not again
        found = await wait_counts(jetstream, {"mia": 30})
    assert found["mia"]["genre_preferences"] == {"sci_fi": 29}  # the orphan marker had no genre


async def test_stats_written_by_another_writer_are_not_overwritten_from_cache(
    jetstream: JetStreamContext, nc: nats.NATS, settings: CollectorSettings
) -> None:
    items = examples_for({"noah": 20})
    async with running_collector(settings):
        await publish_examples(jetstream, items[:10])
        await wait_counts(jetstream, {"noah": 10})
        other = Ledger(nc, settings)
        await other.record_adapter("noah", version=1, model_name="zega-noah", steps=7, created_at="")
        await publish_examples(jetstream, items[10:])
        found = await wait_counts(jetstream, {"noah": 20})
    assert found["noah"]["adapter_version"] == 1 and found["noah"]["total_training_steps"] == 7
