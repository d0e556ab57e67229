"""Jobs over a real nats-server with the trainer's handlers in this process (tiny model, seconds each)."""

from __future__ import annotations

import json

import pytest
import torch
from nats.js.errors import KeyNotFoundError, NotFoundError
from peft import PeftModel
from transformers import AutoModelForCausalLM

from zega_common import codec, subjects
from zega_common.v1 import events_pb2
from zega_trainer.config import TrainerSettings
from zega_trainer.domain.jobs import JobRecord
from zega_trainer.runner import JobRunner
from zega_trainer.store import TrainerStore

pytestmark = pytest.mark.timeout(240)

SUCCEEDED = events_pb2.TRAINING_STATE_SUCCEEDED
REJECTED = events_pb2.TRAINING_STATE_REJECTED


async def test_a_job_publishes_a_loadable_adapter_once(jetstream, start_trainer, watch, kit, tmp_path, tiny_model_dir):
    user = "alice"
    seen = await watch(user)
    await kit.publish_examples(jetstream, [kit.example(user, i) for i in range(20)])
    await start_trainer()
    job_id = await kit.publish_trigger(jetstream, user, 1)
    final = await seen.final(job_id, 120)
    assert final.state == SUCCEEDED, final.reason
    states = seen.states(job_id)
    assert states[0] == events_pb2.TRAINING_STATE_QUEUED
    assert events_pb2.TRAINING_STATE_RUNNING in states
    assert any(p.step > 0 and p.total_steps and p.loss > 0 for p in seen.progress)

    [ready] = seen.ready
    assert ready.adapter_version == 1 and ready.object_name == f"{user}/v1" and ready.model_name == f"zega-{user}"
    assert ready.job_id == job_id and ready.threshold_index == 1 and ready.total_training_steps > 0
    assert ready.metrics.eval_loss_adapter < ready.metrics.eval_loss_base
    assert ready.metrics.eval_loss_previous == 0

    objects = await jetstream.object_store(subjects.OBJECT_STORE_ADAPTERS)
    manifest = json.loads((await objects.get(f"{user}/v1/manifest.json")).data)
    assert manifest["adapter_version"] == 1 and manifest["sha256"] == ready.sha256
    assert len(manifest["example_ids"]) == ready.training_examples_used
    assert len(manifest["held_out_ids"]) >= 2
    assert not set(manifest["example_ids"]) & set(manifest["held_out_ids"])
    assert manifest["settings"]["lora_rank"] == 16
    modelfile = (await objects.get(f"{user}/v1/Modelfile")).data.decode()
    assert "FROM smollm2:135m-instruct" in modelfile and "ADAPTER ." in modelfile
    assert 'SYSTEM """' in modelfile and "PARAMETER temperature 0.8" in modelfile

    pointer = json.loads((await (await jetstream.key_value(subjects.KV_ADAPTERS)).get(user)).value)
    assert pointer["adapter_version"] == 1 and pointer["object_name"] == f"{user}/v1"
    assert pointer["sha256"] == ready.sha256

    adapter_dir = tmp_path / "adapter"
    adapter_dir.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        (adapter_dir / name).write_bytes((await objects.get(f"{user}/v1/{name}")).data)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = PeftModel.from_pretrained(base, adapter_dir)
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(torch.count_nonzero(p) for p in lora_b)

    # The same trigger again (a redelivery, or a duplicate publish past the dedup window): no second version.
    await kit.publish_trigger(jetstream, user, 1, msg_id="again")
    # Another trigger without new examples: rejected as covered.
    second = await kit.publish_trigger(jetstream, user, 2)
    final = await seen.final(second, 60)
    assert final.state == REJECTED and "already covers" in final.reason
    assert len(seen.ready) == 1

    # New examples: v2, warm-started from v1.
    await kit.publish_examples(jetstream, [kit.example(user, i) for i in range(20, 32)])
    third = await kit.publish_trigger(jetstream, user, 3)
    final = await seen.final(third, 120)
    assert final.state == SUCCEEDED, final.reason
    assert [r.adapter_version for r in seen.ready] == [1, 2]
    assert seen.ready[1].metrics.eval_loss_previous > 0
    manifest = json.loads((await objects.get(f"{user}/v2/manifest.json")).data)
    assert manifest["warm_start_version"] == 1 and manifest["training_examples_used"] > 20


async def test_examples_below_quality_are_rejected(jetstream, start_trainer, watch, kit):
    user = "bob"
    seen = await watch(user)
    await kit.publish_examples(jetstream, [kit.example(user, i, score=6.9) for i in range(20)])
    await start_trainer()
    job_id = await kit.publish_trigger(jetstream, user, 1)
    final = await seen.final(job_id, 60)
    assert final.state == REJECTED
    assert "0 usable examples" in final.reason and "20 below it" in final.reason
    assert not seen.ready


async def test_a_candidate_is_staged_before_its_gate_and_withdrawn_when_rejected(jetstream, start_trainer, watch, kit):
    user = "gail"
    seen = await watch(user)
    objects = await jetstream.object_store(subjects.OBJECT_STORE_ADAPTERS)
    watcher = await objects.watch(updates_only=True)
    await kit.publish_examples(jetstream, [kit.example(user, i) for i in range(20)])
    await start_trainer(eval_margin=1000.0)  # no adapter can beat the base model by that much
    job_id = await kit.publish_trigger(jetstream, user, 1)
    final = await seen.final(job_id, 120)
    assert final.state == REJECTED and "does not beat the base model" in final.reason
    assert not seen.ready
    changes = []
    while not watcher._updates.empty():
        info = await watcher.updates(timeout=1)
        changes.append((info.name, bool(info.deleted)))
    weights = f"{user}/v1/adapter_model.safetensors"
    assert (weights, False) in changes and (weights, True) in changes  # uploaded before the gate, then deleted
    with pytest.raises(NotFoundError):  # nats-py's answer when no object is left
        await objects.list(ignore_deletes=True)
    with pytest.raises(KeyNotFoundError):
        await (await jetstream.key_value(subjects.KV_ADAPTERS)).get(user)

    store = await TrainerStore(jetstream, max_event_bytes=1 << 20).open()
    assert await store.next_version(user) == 1  # the rejected candidate gave its number back


async def test_withdrawing_never_touches_a_published_version(jetstream, trainer_env):
    store = await TrainerStore(jetstream, max_event_bytes=1 << 20).open()
    runner = JobRunner(TrainerSettings(**trainer_env), store, events=None)
    user = "hank"
    for version in (1, 2):
        assert await store.next_version(user) == version
        await store.upload(f"{user}/v{version}", {"adapter_config.json": b"{}", "adapter_model.safetensors": b"w"})
    await store.put_pointer(user, {"adapter_version": 1, "object_name": f"{user}/v1"})
    published = JobRecord("j1", user, 1, adapter_version=1)  # e.g. a retry whose first attempt published
    await runner._withdraw(published)
    assert published.adapter_version == 1 and await store.download_adapter(f"{user}/v1")
    await store.put_pointer(user, {"adapter_version": 0, "object_name": ""})  # e.g. rolled back since
    await store.upload(f"{user}/v1", {"manifest.json": b"{}"})
    await runner._withdraw(published)
    assert published.adapter_version == 1 and await store.download_adapter(f"{user}/v1")
    given_up = JobRecord("j2", user, 2, adapter_version=2)  # staged, then its job failed for good
    await runner._withdraw(given_up)
    assert given_up.adapter_version == 0 and await store.download_adapter(f"{user}/v2") is None
    assert await store.next_version(user) == 2


async def test_cancel_stops_the_running_job(jetstream, nc, start_trainer, watch, kit):
    user = "carol"
    seen = await watch(user)
    await kit.publish_examples(jetstream, [kit.example(user, i) for i in range(20)])
    await start_trainer(max_steps=0, epochs=500, batch_tokens=128)
    job_id = await kit.publish_trigger(jetstream, user, 1)
    await seen.until(lambda w: any(p.step > 0 for p in w.progress), 60)
    reply = await nc.request(subjects.for_user(subjects.TRAINING_CANCEL, user), b"", timeout=5)
    assert json.loads(reply.data) == {"cancelled": True}
    final = await seen.final(job_id, 30)
    assert final.state == events_pb2.TRAINING_STATE_CANCELLED
    assert not seen.ready


async def test_a_failing_job_is_retried_then_failed_and_dead_lettered(jetstream, nc, start_trainer, watch, kit):
    user = "dave"
    seen = await watch(user)
    dlq = await nc.subscribe(subjects.dead_letter("trainer"))
    await kit.publish_examples(jetstream, [kit.example(user, i) for i in range(20)])
    await start_trainer(base_model="/nonexistent/model", max_attempts=3)
    job_id = await kit.publish_trigger(jetstream, user, 1)
    final = await seen.final(job_id, 60)
    assert final.state == events_pb2.TRAINING_STATE_FAILED
    assert "failed 3 times" in final.reason
    retries = [p for p in seen.progress if p.reason.startswith("retrying")]
    assert len(retries) == 2
    parked = await dlq.next_msg(timeout=5)
    assert codec.decode(parked.data, events_pb2.ThresholdReached).job_id == job_id
    assert "failed 3 times" in parked.headers[codec.HEADER_ERROR]


async def test_forget_erases_adapters_pointer_and_jobs(jetstream, start_trainer, watch, kit):
    user = "erin"
    seen = await watch(user)
    await kit.publish_examples(jetstream, [kit.example(user, i) for i in range(16)])
    await kit.publish_examples(jetstream, [kit.example("frank", i) for i in range(16)])
    await start_trainer()
    for who in (user, "frank"):
        job_id = await kit.publish_trigger(jetstream, who, 1)
    await seen.final(f"{user}-t1", 120)
    objects = await jetstream.object_store(subjects.OBJECT_STORE_ADAPTERS)
    jobs = await jetstream.key_value(subjects.KV_JOBS)
    forget = events_pb2.ForgetUser(user_id=user, request_id="r1")
    body, headers = codec.encode(forget, "forget-r1")
    await jetstream.publish(subjects.for_user(subjects.USER_FORGET, user), body, headers=headers)

    async def gone() -> bool:
        try:
            await objects.get(f"{user}/v1/manifest.json")
            return False
        except NotFoundError:
            return True

    for _ in range(100):
        if await gone():
            break
        await __import__("asyncio").sleep(0.1)
    assert await gone()
    with pytest.raises(KeyNotFoundError):
        await (await jetstream.key_value(subjects.KV_ADAPTERS)).get(user)
    assert not [k for k in await jobs.keys() if k.startswith(f"{user}.")]
    assert job_id == "frank-t1"
