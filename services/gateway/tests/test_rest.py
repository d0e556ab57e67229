"""The REST API against a real nats-server and real gRPC inference and memory servers (the fakes)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from zega_common import codec, subjects
from zega_common.nats_server import free_port
from zega_common.v1 import events_pb2
from zega_gateway.testing import ADMIN_TOKEN, RunningGateway


def predict(client: httpx.Client, user_id: str, **extra) -> httpx.Response:
    return client.post("/predict", json={"user_id": user_id, "context": "Write a dark fantasy scene", **extra})


async def last_event(nc, stream: str, subject: str, cls):
    msg = await nc.jetstream().get_last_msg(stream, subject)
    return codec.decode(msg.data, cls), msg.headers or {}


# --- prediction -------------------------------------------------------------------------------------


def test_predict_composes_style_hints_stories_and_persona_and_uses_the_adapter(gateway, backends, alice):
    assert alice.put("/user/alice/persona", json={"system_prompt": "You write tersely."}).status_code == 200
    backends.inference.versions["alice"] = 3
    reply = predict(alice, "alice", max_tokens=64, temperature=0.2)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["model"] == "zega-alice" and body["adapter_version"] == 3 and body["notice"] == ""
    assert body["generation_id"].startswith("alice.")
    sent = backends.inference.requests[-1]
    assert sent.adapter == "auto" and sent.max_new_tokens == 64 and abs(sent.temperature - 0.2) < 1e-6
    assert [m.role for m in sent.messages] == ["system", "user"]
    assert sent.messages[0].content == "You write tersely."
    composed = sent.messages[1].content
    assert composed.index("alice prefers dark fantasy") < composed.index("past story 1 of alice")
    assert composed.endswith("New request: Write a dark fantasy scene")
    assert "inference;dur=" in reply.headers["Server-Timing"]


def test_predict_without_custom_model_or_memory(gateway, backends, alice):
    backends.inference.versions["alice"] = 3
    body = predict(alice, "alice", use_custom_model=False, use_memory=False).json()
    assert body["model"] == "base" and body["adapter_version"] == 0
    sent = backends.inference.requests[-1]
    assert sent.adapter == "base" and sent.messages[-1].content == "Write a dark fantasy scene"


@pytest.fixture(scope="module")
def gateway_without_memory(loop_thread, backends, nats_server, tmp_path_factory):
    running = RunningGateway(
        loop_thread,
        nats_server.url,
        tmp_path_factory.mktemp("no-memory"),
        inference_addr=backends.inference_addr,
        memory_addr=f"127.0.0.1:{free_port()}",
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def gateway_without_inference(loop_thread, backends, nats_server, tmp_path_factory):
    running = RunningGateway(
        loop_thread,
        nats_server.url,
        tmp_path_factory.mktemp("no-inference"),
        inference_addr=f"127.0.0.1:{free_port()}",
        memory_addr=backends.memory_addr,
    ).start()
    yield running
    running.stop()


def test_memory_down_generates_without_it_and_says_so(gateway_without_memory):
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    reply = httpx.post(
        f"{gateway_without_memory.url}/predict",
        json={"user_id": "alice", "context": "Write a scene"},
        headers=headers,
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    assert "memory unavailable" in reply.json()["notice"]
    assert reply.json()["text"].endswith("Write a scene")


def test_inference_down_is_a_clear_503(gateway_without_inference):
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    reply = httpx.post(
        f"{gateway_without_inference.url}/predict",
        json={"user_id": "alice", "context": "Write a scene"},
        headers=headers,
        timeout=10,
    )
    assert reply.status_code == 503
    assert "inference" in reply.json()["detail"] and "unavailable" in reply.json()["detail"]


# --- authentication and authorization ---------------------------------------------------------------


def test_no_token_or_a_bad_one_is_401_and_health_and_docs_are_open(gateway):
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer zgu.alice.forged"},
    ):
        reply = httpx.get(f"{gateway.url}/user/alice/training-stats", headers=headers, timeout=5)
        assert reply.status_code == 401, headers
        assert reply.headers["WWW-Authenticate"] == "Bearer"
        assert reply.json()["detail"]
    for path in ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"):
        assert httpx.get(f"{gateway.url}{path}", timeout=5).status_code == 200, path


def test_a_user_token_reaches_only_that_users_data(gateway, alice, bob):
    generation_id = predict(bob, "bob").json()["generation_id"]
    denied = [
        alice.get("/user/bob/training-stats"),
        alice.get("/user/bob/adapters"),
        alice.post("/user/bob/adapters/rollback", json={}),
        alice.get("/user/bob/persona"),
        alice.put("/user/bob/persona", json={"system_prompt": "x"}),
        alice.post("/user/bob/examples", json={"prompt": "p", "completion": "c", "quality_score": 8}),
        alice.post("/user/bob/trigger-finetuning"),
        alice.delete("/user/bob"),
        predict(alice, "bob"),
        alice.post("/feedback", json={"generation_id": generation_id, "rating": 9}),
        alice.post("/v1/chat/completions", json={"model": "zega-bob", "messages": [{"role": "user", "content": "x"}]}),
        alice.post("/admin/tokens", json={"user_id": "alice"}),
    ]
    assert [r.status_code for r in denied] == [403] * len(denied), [r.text for r in denied]
    assert alice.get("/user/alice/training-stats").status_code == 200
    assert bob.post("/feedback", json={"generation_id": generation_id, "rating": 9}).status_code == 200


# --- stats, examples, feedback ----------------------------------------------------------------------


async def test_stats_come_from_the_collectors_kv(gateway, admin, nc):
    kv = await nc.jetstream().key_value(subjects.KV_STATS)
    stored = {
        "user_id": "dora",
        "training_examples": 73,
        "examples_until_next_training": 27,
        "quality_scores": {"average": 8.3, "highest": 9.7, "lowest": 7.1},
        "genre_preferences": {"dark_fantasy": 32},
        "custom_model_exists": True,
        "custom_model_name": "zega-dora",
        "last_fine_tune": "2024-01-15T10:30:00Z",
    }
    await kv.put("dora", json.dumps(stored).encode())
    body = admin.get("/user/dora/training-stats").json()
    assert body["training_examples"] == 73 and body["quality_scores"]["highest"] == 9.7
    assert body["genre_preferences"] == {"dark_fantasy": 32} and body["custom_model_name"] == "zega-dora"
    new = admin.get("/user/nobody-yet/training-stats")
    assert new.status_code == 200 and new.json()["training_examples"] == 0


async def test_feedback_becomes_an_example_collected_once(gateway, alice, nc):
    generation = predict(alice, "alice").json()
    reply = alice.post("/feedback", json={"generation_id": generation["generation_id"], "rating": 8.5})
    assert reply.status_code == 200, reply.text
    example_id = reply.json()["example_id"]
    event, headers = await last_event(
        nc, subjects.STREAM_EXAMPLES, "example.collected.alice", events_pb2.ExampleCollected
    )
    assert event.example_id == example_id and event.source == "feedback" and event.quality_score == 8.5
    assert event.prompt == "Write a dark fantasy scene" and event.completion == generation["text"]
    assert event.metadata["generation_id"] == generation["generation_id"]
    assert headers["Nats-Msg-Id"] == example_id and headers["Zega-Event"] == "zega.v1.ExampleCollected"
    again = alice.post("/feedback", json={"generation_id": generation["generation_id"], "rating": 3})
    assert again.json() == {"example_id": example_id, "duplicate": True}


def test_feedback_on_an_unknown_generation(gateway, alice):
    assert alice.post("/feedback", json={"generation_id": "alice." + "0" * 32, "rating": 5}).status_code == 404
    assert alice.post("/feedback", json={"generation_id": "nonsense", "rating": 5}).status_code == 400


async def test_examples_are_published_with_their_score(gateway, alice, nc):
    example = {
        "prompt": "Write a scene",
        "completion": "The tower fell.",
        "quality_score": 9,
        "metadata": {"genre": "dark_fantasy"},
    }
    first = alice.post("/user/alice/examples", json=example)
    assert first.status_code == 200 and first.json()["duplicate"] is False
    event, _ = await last_event(nc, subjects.STREAM_EXAMPLES, "example.collected.alice", events_pb2.ExampleCollected)
    assert event.source == "api" and event.metadata["genre"] == "dark_fantasy" and event.quality_score == 9
    assert alice.post("/user/alice/examples", json=example).json() == {**first.json(), "duplicate": True}


# --- fine-tuning --------------------------------------------------------------------------------------


async def test_trigger_finetuning_publishes_a_manual_threshold_reached(gateway, admin, nc):
    reply = admin.post("/user/erin/trigger-finetuning")
    assert reply.status_code == 202 and reply.json()["status"] == "queued"
    job_id = reply.json()["job_id"]
    event, headers = await last_event(
        nc, subjects.STREAM_TRAINING, "threshold.reached.erin", events_pb2.ThresholdReached
    )
    assert event.trigger == events_pb2.TRIGGER_MANUAL and event.job_id == job_id and job_id.startswith("erin-m")
    assert headers["Nats-Msg-Id"] == job_id


async def _trainer_answers(nc, user_id: str, answer) -> None:
    """Play the trainer: take the trigger, publish what `answer(job_id)` gives."""
    sub = await nc.subscribe(f"threshold.reached.{user_id}")
    msg = await sub.next_msg(timeout=10)
    trigger = codec.decode(msg.data, events_pb2.ThresholdReached)
    for subject, event in answer(trigger.job_id):
        body, headers = codec.encode(event)
        await nc.jetstream().publish(subject, body, headers=headers)
    await sub.unsubscribe()


async def test_trigger_and_wait_answers_with_the_seeds_shape(gateway, admin, nc):
    def success(job_id):
        progress = events_pb2.TrainingProgress(
            user_id="fay", job_id="fay-other", state=events_pb2.TRAINING_STATE_FAILED
        )
        ready = events_pb2.AdapterReady(
            user_id="fay",
            job_id=job_id,
            adapter_version=1,
            model_name="zega-fay",
            size_bytes=7 * 1024 * 1024,
            training_examples_used=43,
            training_time_seconds=12.5,
        )
        return [("training.progress.fay", progress), ("adapter.ready.fay", ready)]

    async with httpx.AsyncClient(base_url=gateway.url, headers=admin.headers, timeout=20) as client:
        request = asyncio.create_task(
            client.post("/user/fay/trigger-finetuning", params={"wait": "true", "timeout": 10})
        )
        await _trainer_answers(nc, "fay", success)
        reply = await request
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["status"] == "success" and body["message"] == "Fine-tuned model 'zega-fay' created (adapter version 1)"
    assert (
        body["training_examples_used"] == 43 and body["training_time_seconds"] == 12.5 and body["model_size_mb"] == 7.0
    )


async def test_trigger_and_wait_reports_a_rejected_job_and_a_timeout(gateway, admin, nc):
    def rejected(job_id):
        return [
            (
                "training.progress.gus",
                events_pb2.TrainingProgress(
                    user_id="gus",
                    job_id=job_id,
                    state=events_pb2.TRAINING_STATE_REJECTED,
                    reason="only 3 usable examples",
                ),
            )
        ]

    async with httpx.AsyncClient(base_url=gateway.url, headers=admin.headers, timeout=20) as client:
        request = asyncio.create_task(
            client.post("/user/gus/trigger-finetuning", params={"wait": "true", "timeout": 10})
        )
        await _trainer_answers(nc, "gus", rejected)
        reply = await request
        assert reply.json()["status"] == "rejected" and "only 3 usable examples" in reply.json()["message"]
        late = await client.post("/user/gus/trigger-finetuning", params={"wait": "true", "timeout": 0.3})
    assert late.status_code == 202 and late.json()["status"] == "timeout"


# --- adapters ---------------------------------------------------------------------------------------------


async def test_adapters_are_listed_from_manifests_and_rollback_moves_the_pointer(gateway, admin, nc):
    js = nc.jetstream()
    store = await js.object_store(subjects.OBJECT_STORE_ADAPTERS)
    for version in (1, 2):
        manifest = {
            "user_id": "hal",
            "adapter_version": version,
            "created_at": f"2026-01-0{version}T00:00:00Z",
            "sha256": f"sha{version}",
            "base_model": "smollm2",
            "size_bytes": 1000 * version,
            "training_examples_used": 40 + version,
            "metrics": {
                "train_loss": 2.0 - version / 10,
                "eval_loss_base": 3.0,
                "eval_loss_adapter": 2.5 - version / 10,
                "eval_loss_previous": 0.0,
            },
        }
        await store.put(f"hal/v{version}/manifest.json", json.dumps(manifest).encode())
    pointers = await js.key_value(subjects.KV_ADAPTERS)
    await pointers.put("hal", json.dumps({"adapter_version": 2, "object_name": "hal/v2", "sha256": "sha2"}).encode())

    listed = admin.get("/user/hal/adapters").json()
    assert listed["current_version"] == 2
    assert [(a["adapter_version"], a["current"]) for a in listed["adapters"]] == [(1, False), (2, True)]
    assert listed["adapters"][1]["eval_loss_adapter"] == pytest.approx(2.3)

    reply = admin.post("/user/hal/adapters/rollback")
    assert reply.status_code == 200 and reply.json()["adapter_version"] == 1
    pointer = json.loads((await pointers.get("hal")).value)
    assert pointer["adapter_version"] == 1 and pointer["object_name"] == "hal/v1" and pointer["sha256"] == "sha1"
    assert admin.post("/user/hal/adapters/rollback").status_code == 409
    assert admin.post("/user/hal/adapters/rollback", json={"adapter_version": 9}).status_code == 404
    assert admin.post("/user/hal/adapters/rollback", json={"adapter_version": 2}).json()["adapter_version"] == 2
    assert admin.get("/user/nobody/adapters").json() == {"user_id": "nobody", "current_version": 0, "adapters": []}
    assert admin.post("/user/nobody/adapters/rollback").status_code == 409


# --- persona and erasure ------------------------------------------------------------------------------


def test_persona_roundtrip(gateway, admin):
    assert admin.get("/user/ivy/persona").json()["system_prompt"] == ""
    put = admin.put("/user/ivy/persona", json={"system_prompt": "You are a noir narrator."})
    assert put.status_code == 200 and put.json()["updated_at"]
    assert admin.get("/user/ivy/persona").json()["system_prompt"] == "You are a noir narrator."


async def test_delete_user_publishes_forget_and_erases_the_gateways_data(gateway, admin, user_client, nc):
    with user_client("jay") as jay:
        jay.put("/user/jay/persona", json={"system_prompt": "p"})
        generation_id = predict(jay, "jay").json()["generation_id"]
        reply = jay.delete("/user/jay")
        assert reply.status_code == 200, reply.text
        event, _ = await last_event(nc, subjects.STREAM_EVENTS, "user.forget.jay", events_pb2.ForgetUser)
        assert event.request_id == reply.json()["request_id"]
        assert jay.get("/user/jay/persona").status_code == 401
    assert admin.get("/user/jay/persona").json()["system_prompt"] == ""
    assert admin.post("/feedback", json={"generation_id": generation_id, "rating": 9}).status_code == 404


async def test_a_forget_published_by_anyone_erases_the_gateways_data(gateway, admin, nc):
    assert admin.put("/user/kim/persona", json={"system_prompt": "p"}).status_code == 200
    body, headers = codec.encode(events_pb2.ForgetUser(user_id="kim", request_id="r1"), "kim:forget:r1")
    await nc.jetstream().publish("user.forget.kim", body, headers=headers)
    for _ in range(100):
        if admin.get("/user/kim/persona").json()["system_prompt"] == "":
            break
        await asyncio.sleep(0.05)
    assert admin.get("/user/kim/persona").json()["system_prompt"] == ""


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/predict", {"user_id": "bad id!", "context": "x"}, 422),
        ("post", "/predict", {"user_id": "alice", "context": ""}, 422),
        ("post", "/predict", {"user_id": "alice", "context": "x", "max_tokens": 0}, 422),
        ("post", "/predict", {"user_id": "alice", "context": "x", "temperature": "hot"}, 422),
        ("post", "/predict", {"user_id": "alice", "context": "x", "surprise": 1}, 422),
        ("post", "/predict", {"user_id": "alice", "context": "x" * 9000}, 422),
        ("post", "/predict", [1, 2], 422),
        ("post", "/feedback", {"generation_id": "alice." + "0" * 32, "rating": 11}, 422),
        ("post", "/user/alice/examples", {"prompt": "p", "completion": "  ", "quality_score": 5}, 422),
        ("post", "/user/alice/examples", {"prompt": "p", "completion": "c", "quality_score": "NaN"}, 422),
        ("get", "/user/" + "a" * 65 + "/training-stats", None, 422),
        ("get", "/user/-x/training-stats", None, 422),
        ("put", "/user/alice/persona", {"system_prompt": "x" * 5000}, 422),
        ("post", "/v1/chat/completions", {"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}, 404),
        ("post", "/v1/chat/completions", {"model": "base", "messages": []}, 422),
        (
            "post",
            "/v1/chat/completions",
            {"model": "base", "messages": [{"role": "user", "content": "x"}], "n": 2},
            422,
        ),
    ],
)
def test_bad_input_is_a_4xx_saying_what_is_wrong(admin, method, path, body, status):
    reply = admin.request(method, path, json=body)
    assert reply.status_code == status, reply.text
    payload = reply.json()
    message = payload["error"]["message"] if path.startswith("/v1/") else payload["detail"]
    assert isinstance(message, str) and message


def test_malformed_json_and_too_large_bodies(gateway, admin):
    reply = admin.post("/predict", content=b"{not json", headers={"Content-Type": "application/json"})
    assert reply.status_code == 422
    huge = {"user_id": "alice", "context": "x" * (70 * 1024)}
    assert admin.post("/predict", json=huge).status_code == 413

    def chunks():
        for _ in range(80):
            yield b"x" * 1024

    streamed = admin.post("/predict", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert "larger than" in streamed.json()["detail"]
