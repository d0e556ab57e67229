"""One full job on the real base model (SmolLM2-135M-Instruct), a few steps, over a real nats-server."""

from __future__ import annotations

import json

import pytest
from peft import PeftModel

from zega_common import subjects
from zega_common.v1 import events_pb2
from zega_model import load_base_model

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_real_model_job_gives_an_adapter_stock_peft_loads(
    jetstream, start_trainer, watch, kit, model_cache, tmp_path
):
    user = "real"
    seen = await watch(user)
    await kit.publish_examples(jetstream, [kit.example(user, i) for i in range(14)])
    personas = await jetstream.key_value(subjects.KV_PERSONAS)
    await personas.put(user, json.dumps({"system_prompt": "You are a lighthouse keeper."}).encode())
    await start_trainer(
        base_model="smollm2", data_dir=model_cache, max_steps=3, batch_tokens=768, learning_rate=1e-3, epochs=1
    )
    job_id = await kit.publish_trigger(jetstream, user, 1)
    final = await seen.final(job_id, 240)
    assert final.state == events_pb2.TRAINING_STATE_SUCCEEDED, final.reason
    [ready] = seen.ready
    assert ready.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert ready.metrics.eval_loss_adapter < ready.metrics.eval_loss_base

    objects = await jetstream.object_store(subjects.OBJECT_STORE_ADAPTERS)
    for name in ("adapter_config.json", "adapter_model.safetensors", "Modelfile"):
        (tmp_path / name).write_bytes((await objects.get(f"{ready.object_name}/{name}")).data)
    assert "You are a lighthouse keeper." in (tmp_path / "Modelfile").read_text()
    base = load_base_model("smollm2", model_cache, device="cpu")
    model = PeftModel.from_pretrained(base.model, tmp_path)
    assert sum(p.numel() for n, p in model.named_parameters() if "lora_" in n) == 1_843_200
