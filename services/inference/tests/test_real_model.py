"""The real base model (SmolLM2-135M-Instruct) with a real rank-16 PEFT adapter stored as the trainer
stores it, served over gRPC: the text equals what peft + transformers generate for the same adapter."""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from pathlib import Path

import grpc
import pytest
import torch
from peft import LoraConfig, get_peft_model

from zega_common.nats_server import free_port
from zega_common.v1 import inference_pb2, inference_pb2_grpc
from zega_inference.config import InferenceSettings
from zega_inference.engine.runtime import ModelRuntime
from zega_inference.main import wire
from zega_model import load_base_model

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

DATA_DIR = Path(__file__).resolve().parents[3] / ".zega"
MESSAGES = [("system", "You write short, vivid sentences."), ("user", "Describe a storm over the sea.")]


def peft_text(model, tokenizer, new_tokens: int) -> str:
    chat = [{"role": role, "content": content} for role, content in MESSAGES]
    ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=new_tokens, do_sample=False)
    return tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)


async def test_real_model_with_a_real_adapter(jetstream, zega_settings, publish):
    reference = load_base_model("smollm2", DATA_DIR, device="cpu")
    base_text = peft_text(reference.model, reference.tokenizer, 24)
    torch.manual_seed(7)
    peft_model = get_peft_model(
        reference.model,
        LoraConfig(
            r=16,
            lora_alpha=32,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
            init_lora_weights=False,
            task_type="CAUSAL_LM",
        ),
    ).eval()
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.mul_(0.05)  # a trained adapter's size: changes the text without wrecking it
    adapter_text = peft_text(peft_model, reference.tokenizer, 24)
    assert adapter_text != base_text
    with tempfile.TemporaryDirectory() as tmp:
        peft_model.save_pretrained(tmp)
        weights = (Path(tmp) / "adapter_model.safetensors").read_bytes()
        config = (Path(tmp) / "adapter_config.json").read_bytes()
    files = type("Files", (), {"config": config, "weights": weights, "sha256": hashlib.sha256(weights).hexdigest()})
    await publish(jetstream, "alice", 1, files, base_model=reference.name)

    runtime = ModelRuntime.load("smollm2", DATA_DIR, device="cpu")
    settings = InferenceSettings(
        nats_url=zega_settings.nats_url,
        data_dir=zega_settings.data_dir,
        grpc_port=free_port(),
        pointer_sync_timeout_s=5,
    )
    wired = wire(settings, runtime)
    await wired.app.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{wired.grpc.port}") as channel:
            stub = inference_pb2_grpc.InferenceStub(channel)

            def request(user: str, adapter: str = "") -> inference_pb2.GenerateRequest:
                return inference_pb2.GenerateRequest(
                    user_id=user,
                    messages=[inference_pb2.ChatMessage(role=r, content=c) for r, c in MESSAGES],
                    max_new_tokens=24,
                    adapter=adapter,
                )

            alone = await stub.Generate(request("alice"), timeout=120)
            assert alone.adapter_version == 1 and alone.fallback_reason == ""
            assert alone.text == adapter_text
            # Batched with base-model rows and with itself: the same text.
            together = await asyncio.gather(
                stub.Generate(request("alice"), timeout=120),
                stub.Generate(request("bob"), timeout=120),
                stub.Generate(request("alice", "base"), timeout=120),
                stub.Generate(request("alice", "v1"), timeout=120),
            )
            assert [r.text for r in together] == [adapter_text, base_text, base_text, adapter_text]
            assert [r.adapter_version for r in together] == [1, 0, 0, 1]
    finally:
        await wired.app.stop()
