"""`zega up`'s stack: five services healthy, examples stored, garbage survived, clean stop."""

import asyncio

import grpc
import nats
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from zega_common import codec, subjects
from zega_common.v1 import events_pb2


def test_every_service_reports_ready(stack):
    assert all(proc.alive() and proc.ready() for proc in stack.procs.values())


@pytest.mark.parametrize("port", ["gateway_grpc", "inference_grpc", "memory_grpc"])
def test_grpc_health_checking_answers_serving(stack, port):
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports[port]}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_plain_client_example_is_stored_and_garbage_crashes_nothing(stack):
    nc = await nats.connect(stack.nats.url)
    js = nc.jetstream()
    body, headers = codec.encode(
        events_pb2.ExampleCollected(example_id="s1", user_id="alice", prompt="p", completion="c", quality_score=8)
    )
    ack = await js.publish("example.collected.alice", body, headers=headers)
    assert ack.stream == subjects.STREAM_EXAMPLES
    for garbage in (b"garbage", b"\x00\xff", b"{}", b'{"user_id": "../x"}'):
        await js.publish("example.collected.alice", garbage)
    await asyncio.sleep(2)
    info = await js.stream_info(subjects.STREAM_EXAMPLES, subjects_filter="example.collected.alice")
    await nc.close()
    assert info.state.subjects["example.collected.alice"] == 5
    assert all(proc.alive() and proc.ready() for proc in stack.procs.values())


def test_metrics_endpoints_answer_with_bounded_labels(stack):
    """Runs after alice's example went through: no series may name her (one series per user would not scale)."""
    import httpx

    texts = []
    for name, proc in stack.procs.items():
        url = proc.ready_url.replace("/readyz", "/metrics")
        reply = httpx.get(url, timeout=5)
        assert reply.status_code == 200 and "python_info" in reply.text, name
        assert "alice" not in reply.text, name
        texts.append(reply.text)
    assert 'example.collected.*"' in "".join(texts)
