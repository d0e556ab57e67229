"""Chaos: the whole stack on the real base model (few training steps), 300 examples for 6 users, every
service killed with -9 once and the nats-server restarted once while examples flow and adapters train.
At the end every count is exact, every threshold made exactly one adapter version, every adapter.ready
names an adapter that stock peft loads, and memory indexed every example."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import grpc
import nats
import pytest
from nats.js.errors import NoKeysError

from zega_cli.stack import Stack, free_ports
from zega_common import codec, subjects
from zega_common.v1 import events_pb2, memory_pb2, memory_pb2_grpc

USERS = [f"chaos{i}" for i in range(6)]
PER_USER = 50
ENV = {
    "ZEGA_ADMIN_TOKEN": "chaos-admin",
    "ZEGA_MAX_STEPS": "2",
    "ZEGA_EPOCHS": "1",
    "ZEGA_ACK_WAIT_S": "20",
    "ZEGA_HEARTBEAT_S": "5",
    "ZEGA_RETRY_BACKOFF_S": "2",
}


def example(user: str, i: int) -> events_pb2.ExampleCollected:
    return events_pb2.ExampleCollected(
        example_id=f"{user}-{i}",
        user_id=user,
        prompt=f"Write scene {i} for {user}",
        completion=f"{user} writes scene {i}: the rain fell on the old city, and the lamps went out one by one.",
        quality_score=[9.5, 8.5, 7.5, 6.0][i % 4],
        metadata={"genre": ["noir", "gothic"][i % 2], "theme": "memory"},
        source="chaos",
    )


async def publish(url: str, batch: list[events_pb2.ExampleCollected]) -> None:
    """An at-least-once producer: retries until the server acknowledges (it may be restarting)."""
    nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream(timeout=5)
    for msg in batch:
        body, headers = codec.encode(msg, msg_id=msg.example_id)
        for _ in range(100):
            try:
                await js.publish(subjects.for_user(subjects.EXAMPLE_COLLECTED, msg.user_id), body, headers=headers)
                break
            except Exception:
                await asyncio.sleep(0.3)
        else:
            raise AssertionError(f"could not publish {msg.example_id}")
    await nc.close()


async def adapter_state(url: str) -> dict[str, dict]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    kv = await js.key_value(subjects.KV_ADAPTERS)
    stats_kv = await js.key_value(subjects.KV_STATS)
    state = {}
    for user in USERS:
        entry = {}
        for name, bucket in (("pointer", kv), ("stats", stats_kv)):
            try:
                entry[name] = json.loads((await bucket.get(user)).value)
            except Exception:
                entry[name] = None
        state[user] = entry
    await nc.close()
    return state


async def wait_done(stack: Stack, timeout_s: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        state = await adapter_state(stack.nats.url)
        if all(s["pointer"] and s["stats"] and s["stats"]["training_examples"] == PER_USER for s in state.values()):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"not done after {timeout_s:.0f}s: {state}")
        await asyncio.sleep(2)


async def events_of(url: str, prefix: str) -> list[bytes]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.subscribe(subjects.all_users(prefix), ordered_consumer=True)
    out = []
    try:
        while True:
            out.append((await sub.next_msg(timeout=2)).data)
    except nats.errors.TimeoutError:
        pass
    await nc.close()
    return out


async def object_names(url: str) -> list[str]:
    nc = await nats.connect(url)
    store = await nc.jetstream().object_store(subjects.OBJECT_STORE_ADAPTERS)
    try:
        names = [info.name for info in await store.list()]
    except NoKeysError:
        names = []
    await nc.close()
    return names


async def download_adapter(url: str, prefix: str, into: Path) -> Path:
    nc = await nats.connect(url)
    store = await nc.jetstream().object_store(subjects.OBJECT_STORE_ADAPTERS)
    into.mkdir(parents=True)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        (into / name).write_bytes((await store.get(f"{prefix}/{name}")).data)
    await nc.close()
    return into


def say(t0: float, what: str) -> None:
    print(f"[chaos +{time.monotonic() - t0:6.1f}s] {what}", flush=True)


def log_tails(stack: Stack) -> str:
    out = []
    for path in sorted((stack.data_dir / "logs").glob("*.log")):
        lines = path.read_text(errors="replace").splitlines()[-15:]
        out.append(f"--- {path.name}\n" + "\n".join(line[:300] for line in lines))
    return "\n".join(out)


@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_pipeline_loses_nothing_when_every_part_dies_once(tmp_path):
    all_examples = [example(user, i) for i in range(PER_USER) for user in USERS]
    chunks = [all_examples[i : i + 50] for i in range(0, len(all_examples), 50)]
    stack = Stack(tmp_path / "zega", ports=free_ports(), nats_port=0, env=ENV)
    t0 = time.monotonic()
    await asyncio.to_thread(stack.start, 300)
    say(t0, "stack ready")
    try:
        await publish(stack.nats.url, chunks[0])
        await asyncio.to_thread(stack.kill, "collector")
        say(t0, "50 published, collector killed")
        await publish(stack.nats.url, chunks[1])
        await asyncio.to_thread(stack.restart, "collector")
        say(t0, "100 published, collector back")
        await asyncio.to_thread(stack.nats.restart)
        say(t0, "nats-server restarted")
        await publish(stack.nats.url, chunks[2])
        await asyncio.to_thread(stack.kill, "memory")
        await publish(stack.nats.url, chunks[3])
        await asyncio.to_thread(stack.restart, "memory")
        say(t0, "200 published, memory killed and back")
        await publish(stack.nats.url, chunks[4] + chunks[5])
        say(t0, "300 published")
        await asyncio.sleep(15)  # let thresholds fire and a training job start
        for name in ("trainer", "inference", "gateway"):
            await asyncio.to_thread(stack.kill, name)
            await asyncio.to_thread(stack.restart, name, 300)
            say(t0, f"{name} killed and back")
        await publish(stack.nats.url, all_examples[:30])  # producers retry: duplicates must not count
        try:
            state = await wait_done(stack, 1200)
        except AssertionError:
            print(log_tails(stack))
            raise
        say(t0, "every user has 50 examples counted and adapter v1")

        for user, entry in state.items():
            assert entry["stats"]["training_examples"] == PER_USER, (user, entry["stats"])
            assert entry["pointer"]["adapter_version"] == 1, (user, entry["pointer"])
        thresholds = [
            codec.decode(b, events_pb2.ThresholdReached)
            for b in await events_of(stack.nats.url, subjects.THRESHOLD_REACHED)
        ]
        assert sorted((t.user_id, t.threshold_index) for t in thresholds) == sorted((u, 1) for u in USERS)
        ready = [
            codec.decode(b, events_pb2.AdapterReady) for b in await events_of(stack.nats.url, subjects.ADAPTER_READY)
        ]
        assert sorted((r.user_id, r.adapter_version) for r in ready) == sorted((u, 1) for u in USERS)
        names = await object_names(stack.nats.url)
        assert {n.split("/")[1] for n in names if n.split("/")[0] in USERS} == {"v1"}

        from peft import PeftModel

        from zega_model import load_base_model

        base = load_base_model("smollm2", tmp_path / "zega", device="cpu")
        for r in ready:
            path = await download_adapter(stack.nats.url, r.object_name, tmp_path / "adapters" / r.user_id)
            model = PeftModel.from_pretrained(base.model, path, adapter_name=r.user_id)
            assert r.user_id in model.peft_config
            base.model = model.unload()

        async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.ports['memory_grpc']}") as channel:
            memory = memory_pb2_grpc.MemoryStub(channel)
            for user in USERS:
                for _ in range(60):
                    summary = await memory.StyleSummary(memory_pb2.StyleSummaryRequest(user_id=user), timeout=10)
                    if summary.items == PER_USER:
                        break
                    await asyncio.sleep(1)
                assert summary.items == PER_USER, (user, summary.items)
    finally:
        await asyncio.to_thread(stack.stop)
