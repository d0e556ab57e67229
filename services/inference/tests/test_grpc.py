"""End to end through the real service: a real nats-server (object store, KV pointers, user.forget), the
app wired as main.py wires it, and a real grpc.aio client. The model is a tiny random Llama."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from zega_common import adapter_layout, codec, subjects
from zega_common.nats_server import free_port
from zega_common.v1 import events_pb2, inference_pb2, inference_pb2_grpc
from zega_inference.config import InferenceSettings
from zega_inference.domain.adapter_ref import AdapterKey
from zega_inference.domain.request import spec_from_request
from zega_inference.main import wire

pytestmark = pytest.mark.timeout(120)


@contextlib.asynccontextmanager
async def serving(zega_settings, runtime, **overrides):
    settings = InferenceSettings(
        nats_url=zega_settings.nats_url,
        data_dir=zega_settings.data_dir,
        grpc_port=free_port(),
        pointer_sync_timeout_s=5,
        max_new_tokens=2048,
        default_max_new_tokens=16,
        **overrides,
    )
    wired = wire(settings, runtime)
    await wired.app.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{wired.grpc.port}")
    try:
        yield wired, inference_pb2_grpc.InferenceStub(channel), channel
    finally:
        await channel.close()
        await wired.app.stop()


@pytest.fixture
async def served(jetstream, zega_settings, tiny_runtime):
    async with serving(zega_settings, tiny_runtime, adapter_cache_max_adapters=3) as parts:
        yield parts


def req(user="alice", prompt="Tell me a story", **fields):
    return inference_pb2.GenerateRequest(user_id=user, prompt=prompt, **fields)


async def stream_all(stub, request, deadline_s=30):
    return [chunk async for chunk in stub.GenerateStream(request, timeout=deadline_s)]


async def wait_until(predicate, within_s=10.0):
    deadline = time.monotonic() + within_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_generate_and_stream_agree_on_the_base_model(served):
    wired, stub, channel = served
    health = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service="zega.v1.Inference"), timeout=5
    )
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    response = await stub.Generate(req(max_new_tokens=20), timeout=30)
    assert response.adapter_version == 0 and response.fallback_reason == ""
    assert response.prompt_tokens > 5 and 0 < response.completion_tokens <= 20
    assert response.finish_reason in ("length", "stop") and response.text
    chunks = await stream_all(stub, req(max_new_tokens=20))
    assert chunks[-1].done and not any(c.done for c in chunks[:-1])
    assert len(chunks) > 2  # deltas as they are produced, not one blob
    assert "".join(c.delta for c in chunks) == response.text
    assert chunks[-1].completion_tokens == response.completion_tokens


async def test_a_users_adapter_is_loaded_from_the_store_and_cached(served, jetstream, adapter_factory, publish):
    wired, stub, _ = served
    files = adapter_factory(1)
    base = await stub.Generate(req(max_new_tokens=12), timeout=30)
    await publish(jetstream, "alice", 1, files)
    await wait_until(lambda: "alice" in wired.service.adapters.pointers)
    first = await stub.Generate(req(max_new_tokens=12), timeout=30)
    assert first.adapter_version == 1 and first.fallback_reason == ""
    assert first.text != base.text
    again = await stub.Generate(req(max_new_tokens=12, adapter="v1"), timeout=30)
    assert again.text == first.text
    forced_base = await stub.Generate(req(max_new_tokens=12, adapter="base"), timeout=30)
    assert forced_base.adapter_version == 0 and forced_base.text == base.text
    listed = await stub.ListAdapters(inference_pb2.ListAdaptersRequest(), timeout=5)
    assert [(a.user_id, a.adapter_version, a.sha256) for a in listed.adapters] == [("alice", 1, files.sha256)]
    assert listed.capacity == 3 and listed.adapters[0].size_bytes > 0


async def test_missing_corrupt_or_unusable_adapters_fall_back_to_the_base_model(
    served, jetstream, adapter_factory, publish, move_pointer
):
    wired, stub, _ = served
    base = await stub.Generate(req("bob", max_new_tokens=8, adapter="base"), timeout=30)

    await move_pointer(jetstream, "bob", 4, "0" * 64)  # points at a version that was never stored
    await wait_until(lambda: wired.service.adapters.pointers.get("bob", None) is not None)
    missing = await stub.Generate(req("bob", max_new_tokens=8), timeout=30)
    assert missing.adapter_version == 0 and "missing" in missing.fallback_reason and missing.text == base.text

    files = adapter_factory(2)
    await publish(jetstream, "bob", 5, files, move_pointer=False)
    await move_pointer(jetstream, "bob", 5, hashlib.sha256(b"other").hexdigest())  # sha does not match
    await wait_until(lambda: wired.service.adapters.pointers["bob"].version == 5)
    corrupt = await stub.Generate(req("bob", max_new_tokens=8), timeout=30)
    assert corrupt.adapter_version == 0 and "sha256" in corrupt.fallback_reason and corrupt.text == base.text

    garbage = type(files)(files.config, b"not safetensors", hashlib.sha256(b"not safetensors").hexdigest(), None)
    await publish(jetstream, "bob", 6, garbage)
    await wait_until(lambda: wired.service.adapters.pointers["bob"].version == 6)
    unusable = await stub.Generate(req("bob", max_new_tokens=8), timeout=30)
    assert unusable.adapter_version == 0 and "safetensors" in unusable.fallback_reason

    other_base = adapter_factory(3)
    await publish(jetstream, "bob", 7, other_base, base_model="some/other-model")
    await wait_until(lambda: wired.service.adapters.pointers["bob"].version == 7)
    mismatch = await stub.Generate(req("bob", max_new_tokens=8), timeout=30)
    assert mismatch.adapter_version == 0 and "some/other-model" in mismatch.fallback_reason

    absent = await stub.Generate(req("bob", max_new_tokens=8, adapter="v99"), timeout=30)
    assert absent.adapter_version == 0 and "missing" in absent.fallback_reason

    kv = await jetstream.key_value(subjects.KV_ADAPTERS)
    await kv.put("bob", b"{not json")
    await wait_until(lambda: "bob" not in wired.service.adapters.pointers)
    bad_pointer = await stub.Generate(req("bob", max_new_tokens=8), timeout=30)
    assert bad_pointer.adapter_version == 0 and "pointer" in bad_pointer.fallback_reason


async def test_hot_swap_keeps_in_flight_requests_on_their_version(
    served, jetstream, adapter_factory, publish, move_pointer
):
    wired, stub, _ = served
    v1, v2 = adapter_factory(1), adapter_factory(2)
    await publish(jetstream, "carol", 1, v1)
    await wait_until(lambda: "carol" in wired.service.adapters.pointers)
    long_request = req("carol", "A long tale", max_new_tokens=120)
    reference_v1 = await stub.Generate(long_request, timeout=60)
    assert reference_v1.adapter_version == 1

    call = stub.GenerateStream(long_request, timeout=60)
    chunks = [await call.read()]  # in flight on v1
    await publish(jetstream, "carol", 2, v2)
    resident = wired.service.adapters.cache
    await wait_until(lambda: any(k.user_id == "carol" and k.version == 2 for k in resident))  # preloaded
    swapped = await stub.Generate(req("carol", max_new_tokens=12), timeout=30)
    assert swapped.adapter_version == 2
    while not chunks[-1].done:
        chunks.append(await call.read())
    assert {c.adapter_version for c in chunks} == {1}
    assert "".join(c.delta for c in chunks) == reference_v1.text

    await move_pointer(jetstream, "carol", 1, v1.sha256)  # rollback
    await wait_until(lambda: wired.service.adapters.pointers["carol"].version == 1)
    rolled_back = await stub.Generate(req("carol", max_new_tokens=12), timeout=30)
    assert rolled_back.adapter_version == 1


async def test_a_candidate_is_staged_and_warmed_before_its_pointer_moves(
    served, jetstream, adapter_factory, publish, move_pointer
):
    wired, stub, _ = served
    manager, prefixes = wired.service.adapters, wired.service.engine.prefixes
    v1, v2, v3 = adapter_factory(1), adapter_factory(2), adapter_factory(3)
    await publish(jetstream, "erin", 1, v1)
    await wait_until(lambda: "erin" in manager.pointers)
    request = req("erin", "Write about the sea.", max_new_tokens=8)
    assert (await stub.Generate(request, timeout=30)).adapter_version == 1
    prefix = wired.service._recent_prefixes["erin"]  # the chat template up to the user's words

    # The trainer uploads a candidate before its gate: loaded and its prefix prefilled, not yet served.
    await publish(jetstream, "erin", 2, v2, move_pointer=False)
    key2 = AdapterKey("erin", 2)
    await wait_until(lambda: key2 in manager.cache)
    staged = manager.cache.peek(key2)
    await wait_until(lambda: prefixes.contains("erin", staged.weights, prefix))
    assert (await stub.Generate(request, timeout=30)).adapter_version == 1

    hits = prefixes.stats.hits
    await move_pointer(jetstream, "erin", 2, v2.sha256)
    await wait_until(lambda: manager.pointers["erin"].version == 2)
    swapped = await stub.Generate(request, timeout=30)
    assert swapped.adapter_version == 2 and manager.cache.peek(key2) is staged  # not loaded again
    assert prefixes.stats.hits == hits + 1  # the first request on v2 prefilled only its own words

    # A candidate the gate rejects is deleted by the trainer: the replica lets it go.
    await publish(jetstream, "erin", 3, v3, move_pointer=False)
    key3 = AdapterKey("erin", 3)
    await wait_until(lambda: key3 in manager.cache)
    rejected = manager.cache.peek(key3)
    objects = await jetstream.object_store(subjects.OBJECT_STORE_ADAPTERS)
    await objects.delete(f"erin/v3/{adapter_layout.WEIGHTS_FILE}")
    await wait_until(lambda: key3 not in manager.cache)
    assert not prefixes.contains("erin", rejected.weights, prefix)
    assert (await stub.Generate(request, timeout=30)).adapter_version == 2

    # A user served by the base model so far gets their first adapter staged the same way.
    assert (await stub.Generate(req("fay", "Write about the sea.", max_new_tokens=4), timeout=30)).adapter_version == 0
    await publish(jetstream, "fay", 1, v3, move_pointer=False)
    await wait_until(lambda: AdapterKey("fay", 1) in manager.cache)
    first = manager.cache.peek(AdapterKey("fay", 1))
    await wait_until(lambda: prefixes.contains("fay", first.weights, wired.service._recent_prefixes["fay"]))


async def test_the_cached_prompt_prefix_is_the_chat_up_to_the_last_message(served):
    wired, _, _ = served
    service, tokenizer = wired.service, wired.service.tokenizer
    for messages in (
        (("user", "Write about the sea."),),
        (("system", "You write like a sailor."), ("user", "Hi"), ("assistant", "Ahoy"), ("user", "More.")),
    ):
        spec = spec_from_request(
            req("ida", "", messages=[inference_pb2.ChatMessage(role=r, content=c) for r, c in messages]), service.limits
        )
        ids, prefix_len = service.encode(spec)
        assert tokenizer.decode(ids[:prefix_len]).endswith("<|im_start|>user\n")
        assert tokenizer.decode(ids[prefix_len:]).startswith(messages[-1][1])


async def test_bad_input_is_invalid_argument_with_a_message(served):
    _, stub, _ = served
    cases = [
        (req(user="no/slashes"), "user_id"),
        (req(prompt=""), "empty"),
        (req(adapter="latest"), "adapter"),
        (req(max_new_tokens=5000), "max_new_tokens"),
        (req(temperature=-0.5), "temperature"),
        (req(prompt="word " * 3000), "tokens"),
    ]
    for request, message in cases:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Generate(request, timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert message in info.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stream_all(stub, req(prompt=""))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_deadline_and_cancel_stop_the_generation(served):
    wired, stub, _ = served
    engine = wired.service.engine
    # The tiny model decodes thousands of tokens a second on a quiet machine: the deadline must be
    # far shorter than the 2,048 tokens asked for, or the request simply finishes in time.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Generate(req(max_new_tokens=2048), timeout=0.08)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await wait_until(lambda: engine.active == 0 and engine.queued == 0, within_s=3)
    tokens_after = engine.stats.tokens
    await asyncio.sleep(0.3)
    assert engine.stats.tokens == tokens_after  # nothing is generating for nobody

    call = stub.GenerateStream(req(max_new_tokens=2000), timeout=30)
    await call.read()
    call.cancel()
    await wait_until(lambda: engine.active == 0, within_s=3)


async def test_a_full_queue_is_resource_exhausted(jetstream, zega_settings, tiny_runtime):
    tiny_runtime.engine.max_batch_size = 2
    tiny_runtime.engine.max_queued = 1
    async with serving(zega_settings, tiny_runtime) as (wired, stub, _):
        calls = [stub.GenerateStream(req(max_new_tokens=2000), timeout=30) for _ in range(3)]
        await wait_until(lambda: wired.service.engine.queued + wired.service.engine.active == 3)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Generate(req(max_new_tokens=4), timeout=10)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "retry" in info.value.details()
        for call in calls:
            call.cancel()


async def test_user_forget_evicts_the_user(served, jetstream, adapter_factory, publish):
    wired, stub, _ = served
    await publish(jetstream, "dave", 1, adapter_factory(4))
    await wait_until(lambda: "dave" in wired.service.adapters.pointers)
    assert (await stub.Generate(req("dave", max_new_tokens=4), timeout=30)).adapter_version == 1
    data, headers = codec.encode(events_pb2.ForgetUser(user_id="dave"), "forget:dave")
    await jetstream.publish(subjects.for_user(subjects.USER_FORGET, "dave"), data, headers=headers)
    await wait_until(lambda: not any(k.user_id == "dave" for k in wired.service.adapters.cache))
    assert wired.service.engine.prefixes.drop_user("dave") == 0  # the cached prompt prefixes went too
    assert "dave" not in wired.service._recent_prefixes
    listed = await stub.ListAdapters(inference_pb2.ListAdaptersRequest(), timeout=5)
    assert all(a.user_id != "dave" for a in listed.adapters)


def test_pointer_json_matches_the_trainer_contract():
    """The fixture writes what DESIGN.md says; the service parses exactly that."""
    from zega_inference.domain.adapter_ref import AdapterPointer

    pointer = {"adapter_version": 3, "object_name": "u/v3", "sha256": "f" * 64, "base_model": "b", "updated_at": "t"}
    assert AdapterPointer.from_json(json.dumps(pointer).encode()).object_name == "u/v3"


def fake_ollama(models: set[str], failing: set[str]):
    """A stand-in Ollama HTTP API (/api/show, streaming /api/chat) for the routing logic."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    async def show(request: Request):
        name = (await request.json())["model"]
        if name not in models:
            return JSONResponse({"error": f"model '{name}' not found"}, status_code=404)
        return JSONResponse({"modelfile": "", "details": {}, "model_info": {}})

    async def chat(request: Request):
        body = await request.json()
        if body["model"] in failing:
            return JSONResponse({"error": "boom"}, status_code=500)

        async def lines():
            for piece in ["Hello ", "from ", "Ollama"]:
                yield (
                    json.dumps(
                        {"model": body["model"], "message": {"role": "assistant", "content": piece}, "done": False}
                    )
                    + "\n"
                )
            yield (
                json.dumps(
                    {
                        "model": body["model"],
                        "message": {"role": "assistant", "content": ""},
                        "done": True,
                        "done_reason": "stop",
                        "prompt_eval_count": 7,
                        "eval_count": 3,
                    }
                )
                + "\n"
            )

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    return Starlette(routes=[Route("/api/show", show, methods=["POST"]), Route("/api/chat", chat, methods=["POST"])])


async def test_users_with_an_ollama_model_may_be_served_by_ollama(
    jetstream, zega_settings, tiny_runtime, adapter_factory, publish
):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake_ollama({"zega-erin", "zega-frank"}, {"zega-frank"}), port=port, log_level="warning")
    )
    serve_task = asyncio.create_task(server.serve())
    try:
        async with serving(zega_settings, tiny_runtime, ollama_host=f"http://127.0.0.1:{port}") as (wired, stub, _):
            files = adapter_factory(1)
            for user in ("erin", "frank", "gina"):
                await publish(jetstream, user, 1, files)
            await wait_until(lambda: {"erin", "frank", "gina"} <= set(wired.service.adapters.pointers))
            erin = await stub.Generate(req("erin", max_new_tokens=8), timeout=30)
            assert (erin.text, erin.adapter_version, erin.completion_tokens) == ("Hello from Ollama", 1, 3)
            local = await stub.Generate(req("erin", max_new_tokens=8, adapter="v1"), timeout=30)  # pinned: local
            assert local.text != "Hello from Ollama" and local.adapter_version == 1
            frank = await stub.Generate(req("frank", max_new_tokens=8), timeout=30)  # Ollama fails: local
            assert frank.text == local.text and frank.adapter_version == 1
            gina = await stub.Generate(req("gina", max_new_tokens=8), timeout=30)  # no model there: local
            assert gina.text == local.text
    finally:
        server.should_exit = True
        await serve_task
