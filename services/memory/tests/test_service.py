"""The service as it runs: the app (real NATS, real gRPC server on a free port), its durable consumers,
restart with the same data dir."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
import pytest
from faststream import TestApp
from google.protobuf import json_format, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from zega_common import codec, subjects
from zega_common.v1 import events_pb2, memory_pb2, memory_pb2_grpc
from zega_memory.config import MemorySettings
from zega_memory.embedder import Embedder
from zega_memory.main import EMBEDDING_DIM, create_app
from zega_memory.memory import Memory
from zega_memory.stores import make_store

TIMEOUT = 10


@asynccontextmanager
async def running(
    settings: MemorySettings, embedder: Embedder
) -> AsyncIterator[tuple[Memory, memory_pb2_grpc.MemoryStub]]:
    memory = Memory(settings, make_store(settings, EMBEDDING_DIM), embedder)
    app = create_app(settings, memory, registry=CollectorRegistry())
    async with TestApp(app), grpc.aio.insecure_channel(f"127.0.0.1:{settings.grpc_port}") as channel:
        memory.channel = channel
        yield memory, memory_pb2_grpc.MemoryStub(channel)


async def eventually(check, within: float = TIMEOUT) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


def example(eid: str, user: str, text: str, genre: str = "horror") -> tuple[str, bytes, dict]:
    msg = events_pb2.ExampleCollected(
        example_id=eid,
        user_id=user,
        prompt="Write a scene",
        completion=text,
        quality_score=8.0,
        metadata={"genre": genre},
        source="api",
    )
    body, headers = codec.encode(msg, f"{user}:{eid}")
    return subjects.for_user(subjects.EXAMPLE_COLLECTED, user), body, headers


async def test_grpc_end_to_end(jetstream: JetStreamContext, memory_settings: MemorySettings, embedder: Embedder):
    async with running(memory_settings, embedder) as (memory, stub):
        channel_health = health_pb2_grpc.HealthStub(memory.channel)
        reply = await channel_health.Check(health_pb2.HealthCheckRequest(service="zega.v1.Memory"), timeout=TIMEOUT)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING

        texts = {
            "t1": ("The lighthouse keeper heard ships that did not exist.", "horror"),
            "t2": ('"Marry me," he said, beneath the Lisbon clock.', "romance"),
            "t3": ("The derelict station drifted past Jupiter, its lights still blinking.", "sci_fi"),
        }
        for eid, (text, genre) in texts.items():
            done = await stub.Remember(
                memory_pb2.RememberRequest(user_id="alice", text=text, metadata={"genre": genre}, example_id=eid),
                timeout=TIMEOUT,
            )
            assert done.example_id == eid and not done.truncated
        derived = await stub.Remember(memory_pb2.RememberRequest(user_id="bob", text="Bob's tale."), timeout=TIMEOUT)
        assert derived.example_id.startswith("t-")

        found = await stub.Recall(
            memory_pb2.RecallRequest(user_id="alice", query="space station", k=2), timeout=TIMEOUT
        )
        assert [i.example_id for i in found.items][0] == "t3"
        assert found.items[0].metadata["genre"] == "sci_fi" and 0 < found.items[0].score <= 1
        filtered = await stub.Recall(
            memory_pb2.RecallRequest(user_id="alice", query="space station", filters={"genre": "romance"}),
            timeout=TIMEOUT,
        )
        assert [i.example_id for i in filtered.items] == ["t2"]

        value = struct_pb2.Value()
        json_format.ParseDict({"founder": "Max Planck", "principles": ["superposition"]}, value)
        await stub.LearnFact(
            memory_pb2.LearnFactRequest(user_id="alice", fact=memory_pb2.Fact(key="quantum_mechanics", value=value)),
            timeout=TIMEOUT,
        )
        with_fact = await stub.Recall(
            memory_pb2.RecallRequest(user_id="alice", query="a story using quantum mechanics"), timeout=TIMEOUT
        )
        assert json_format.MessageToDict(with_fact.facts[0].value)["founder"] == "Max Planck"
        listed = await stub.ListFacts(memory_pb2.ListFactsRequest(user_id="alice"), timeout=TIMEOUT)
        assert [f.key for f in listed.facts] == ["quantum_mechanics"]

        style = await stub.StyleSummary(memory_pb2.StyleSummaryRequest(user_id="alice"), timeout=TIMEOUT)
        assert style.items == 3 and {s.name for s in style.genres} == {"horror", "romance", "sci_fi"}
        assert style.dialogue_share > 0 and style.summary

        long = await stub.Remember(memory_pb2.RememberRequest(user_id="alice", text="word " * 4000), timeout=TIMEOUT)
        assert long.truncated

        deleted = await stub.DeleteFact(
            memory_pb2.DeleteFactRequest(user_id="alice", key="quantum_mechanics"), timeout=TIMEOUT
        )
        assert deleted.deleted
        assert (await stub.Forget(memory_pb2.ForgetRequest(user_id="alice"), timeout=TIMEOUT)).deleted == 4
        gone = await stub.Recall(memory_pb2.RecallRequest(user_id="alice", query="space"), timeout=TIMEOUT)
        assert list(gone.items) == []


@pytest.mark.parametrize(
    ("call", "request_", "message"),
    [
        ("Recall", memory_pb2.RecallRequest(user_id="alice' OR 1=1 --", query="x"), "user_id"),
        ("Recall", memory_pb2.RecallRequest(user_id="alice", query="x", k=100_000), "k must be"),
        ("Recall", memory_pb2.RecallRequest(user_id="alice", query=""), "query is empty"),
        ("Recall", memory_pb2.RecallRequest(user_id="alice", query="x", filters={"a b": "c"}), "filters key"),
        ("Remember", memory_pb2.RememberRequest(user_id="alice", text=""), "text is empty"),
        ("Remember", memory_pb2.RememberRequest(user_id="ålice", text="x"), "user_id"),
        ("Forget", memory_pb2.ForgetRequest(user_id=""), "user_id is empty"),
        ("LearnFact", memory_pb2.LearnFactRequest(user_id="alice"), "fact"),
        ("DeleteFact", memory_pb2.DeleteFactRequest(user_id="alice", key="a/b"), "fact key"),
    ],
)
async def test_bad_requests_are_invalid_argument(
    jetstream: JetStreamContext, memory_settings: MemorySettings, embedder: Embedder, call, request_, message
):
    async with running(memory_settings, embedder) as (_, stub):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await getattr(stub, call)(request_, timeout=TIMEOUT)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in caught.value.details()


async def test_recall_works_after_a_restart(
    jetstream: JetStreamContext, memory_settings: MemorySettings, embedder: Embedder
):
    async with running(memory_settings, embedder) as (_, stub):
        await stub.Remember(
            memory_pb2.RememberRequest(user_id="alice", text="The clockwork owl refused to sing.", example_id="owl"),
            timeout=TIMEOUT,
        )
    async with running(memory_settings, embedder) as (_, stub):
        found = await stub.Recall(memory_pb2.RecallRequest(user_id="alice", query="mechanical bird"), timeout=TIMEOUT)
        assert [i.example_id for i in found.items] == ["owl"]


async def test_consumer_indexes_examples_once_parks_bad_ones_and_forgets(
    jetstream: JetStreamContext, memory_settings: MemorySettings, embedder: Embedder
):
    async with running(memory_settings, embedder) as (memory, stub):
        for i in range(30):
            subject, body, headers = example(f"e{i}", f"user{i % 3}", f"Story {i}: the fog rolled in again.")
            await jetstream.publish(subject, body, headers=headers)
        subject, body, headers = example("e0", "user0", "Story 0: the fog rolled in again.")
        headers["Nats-Msg-Id"] = "a-redelivered-copy"
        await jetstream.publish(subject, body, headers=headers)
        await jetstream.publish(subjects.for_user(subjects.EXAMPLE_COLLECTED, "user0"), b"{not json")
        await eventually(lambda: sum(memory.store.count(f"user{u}") for u in range(3)) == 30)

        found = await stub.Recall(memory_pb2.RecallRequest(user_id="user1", query="Story 7 fog", k=3), timeout=TIMEOUT)
        assert found.items[0].example_id == "e7"
        assert found.items[0].metadata["prompt"] == "Write a scene"

        parked = await jetstream.subscribe(subjects.dead_letter("memory"), stream=subjects.STREAM_DEAD_LETTER)
        letter = await parked.next_msg(timeout=TIMEOUT)
        assert letter.data == b"{not json" and "JSON" in letter.headers[codec.HEADER_ERROR]

        forget, headers = codec.encode(events_pb2.ForgetUser(user_id="user0", request_id="r1"), "forget-user0")
        await jetstream.publish(subjects.for_user(subjects.USER_FORGET, "user0"), forget, headers=headers)
        await eventually(lambda: memory.store.count("user0") == 0)
        assert memory.store.count("user1") == 10

    info = await jetstream.consumer_info(subjects.STREAM_EXAMPLES, subjects.DURABLE_MEMORY)
    assert info.num_pending == 0 and info.num_ack_pending == 0


async def test_a_batch_that_failed_to_index_is_redelivered(
    jetstream: JetStreamContext, memory_settings: MemorySettings, embedder: Embedder
):
    settings = memory_settings.model_copy(update={"retry_delay_s": 0.3})
    async with running(settings, embedder) as (memory, _):
        memory.store.close()  # the store is down: indexing raises
        subject, body, headers = example("late", "user0", "The fog lifted at last.")
        await jetstream.publish(subject, body, headers=headers)
        await asyncio.sleep(1.5)
        memory.store.open()
        await eventually(lambda: memory.store.count("user0") == 1)
    info = await jetstream.consumer_info(subjects.STREAM_EXAMPLES, subjects.DURABLE_MEMORY)
    assert info.delivered.consumer_seq >= 2 and info.num_ack_pending == 0  # delivered again, then acked
