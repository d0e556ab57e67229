"""Declaring the shared JetStream resources on a real nats-server."""

from zega_common import subjects
from zega_common.nats_bootstrap import bootstrap
from zega_common.nats_server import EmbeddedNats


async def test_bootstrap_is_idempotent(jetstream, zega_settings):
    before = {s.config.name: s.config for s in await jetstream.streams_info()}
    assert await bootstrap(jetstream, zega_settings) == []
    after = {s.config.name: s.config for s in await jetstream.streams_info()}
    assert before == after
    assert {subjects.STREAM_EXAMPLES, subjects.STREAM_TRAINING, subjects.STREAM_EVENTS} <= set(after)
    assert {"KV_zega-stats", "KV_zega-adapters", "OBJ_zega-adapters"} <= set(after)
    assert after[subjects.STREAM_EXAMPLES].duplicate_window == zega_settings.duplicate_window_s


async def test_other_settings_are_reported_and_left_alone(jetstream, zega_settings):
    other = zega_settings.model_copy(update={"duplicate_window_s": 30.0})
    mismatches = await bootstrap(jetstream, other)
    assert {(m.resource, m.setting) for m in mismatches} >= {(subjects.STREAM_EXAMPLES, "duplicate_window")}
    info = await jetstream.stream_info(subjects.STREAM_EXAMPLES)
    assert info.config.duplicate_window == zega_settings.duplicate_window_s


async def test_published_example_is_stored_in_examples_stream(jetstream, nc):
    ack = await jetstream.publish("example.collected.alice", b'{"x": 1}', headers={"Nats-Msg-Id": "m1"})
    again = await jetstream.publish("example.collected.alice", b'{"x": 1}', headers={"Nats-Msg-Id": "m1"})
    assert ack.stream == subjects.STREAM_EXAMPLES and again.duplicate
    info = await jetstream.stream_info(subjects.STREAM_EXAMPLES, subjects_filter="example.collected.alice")
    assert info.state.subjects == {"example.collected.alice": 1}


def test_embedded_server_starts_and_stops(tmp_path):
    server = EmbeddedNats(tmp_path / "store").start()
    pid = server.pid
    server.stop()
    assert pid and server.pid is None
