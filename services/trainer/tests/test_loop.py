"""The training loop on the tiny model: the loss matches transformers', a seed gives the same adapter, stop works."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from zega_model import BaseModel, tiny_llama
from zega_trainer.config import TrainerSettings
from zega_trainer.domain.chat import encode
from zega_trainer.domain.dataset import build
from zega_trainer.training.batch import collate, token_losses
from zega_trainer.training.dropout import QuickDropout, use_quick_dropout
from zega_trainer.training.lora import attach, detach, lora_config
from zega_trainer.training.session import Outcome, run_session


@pytest.fixture
def base(tokenizer) -> BaseModel:
    return BaseModel(tiny_llama(0, tokenizer), tokenizer, "tiny", torch.device("cpu"), torch.float32)


@pytest.fixture
def data(kit):
    return build(
        [kit.example("u", i) for i in range(16)], min_quality=7.0, min_examples=6, eval_fraction=0.1, min_eval=2
    )


def test_completion_loss_equals_transformers_masked_loss(base, data):
    rows = [encode(base.tokenizer, ex, "", 256) for ex in data.train[:3]]
    batch = collate(rows, base.tokenizer.pad_token_id, torch.device("cpu"))
    assert batch.prefix >= 8  # the shared-prefix path is the one checked
    with torch.no_grad():
        ours = token_losses(base.model, batch)
        offset = 0
        for row in rows:
            ids = torch.tensor([row.input_ids])
            labels = ids.clone()
            labels[0, : row.prompt_len] = -100
            reference = base.model(input_ids=ids, labels=labels).loss
            mine = ours[offset : offset + row.target_tokens].mean()
            offset += row.target_tokens
            torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-4)


def test_same_seed_same_adapter_and_stop_at_the_next_step(base, data, tmp_path: Path):
    settings = TrainerSettings(max_steps=3, learning_rate=3e-3, batch_tokens=512)
    for name in ("a", "b"):
        result = run_session(base, data, "", settings, None, tmp_path / name)
        assert result.outcome is Outcome.READY and result.train.steps == 3
        assert result.metrics.eval_loss_adapter < result.metrics.eval_loss_base
    a, b = (load_file(tmp_path / n / "adapter_model.safetensors") for n in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    calls = []
    stopped = run_session(
        base,
        data,
        "",
        settings.model_copy(update={"progress_every_steps": 1}),
        None,
        tmp_path / "c",
        should_stop=lambda: len(calls) > 0,
        on_step=lambda *step: calls.append(step),
    )
    assert stopped.outcome is Outcome.STOPPED and stopped.train.steps == 1 and not (tmp_path / "c").exists()
    assert not any("lora" in n for n, _ in base.model.named_parameters())  # the base model comes back clean


def test_warm_start_continues_from_the_previous_adapter(base, data, tmp_path: Path):
    settings = TrainerSettings(max_steps=3, learning_rate=3e-3, batch_tokens=512)
    first = run_session(base, data, "", settings, None, tmp_path / "v1")
    second = run_session(base, data, "", settings, tmp_path / "v1", tmp_path / "v2")
    assert second.warm_start and second.metrics.eval_loss_previous == pytest.approx(first.metrics.eval_loss_adapter)


def test_quick_dropout_drops_p_scales_the_rest_and_is_off_in_eval():
    drop = QuickDropout(0.05)
    x = torch.ones(1_000_003)
    torch.manual_seed(1)
    y = drop(x)
    assert abs((y == 0).float().mean().item() - 0.05) < 0.002
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / 0.95))
    torch.manual_seed(1)
    assert torch.equal(drop(x), y)  # same seed, same mask
    drop.eval()
    assert drop(x) is x


def test_quick_dropout_replaces_peft_lora_dropout(base):
    model, _ = attach(base.model, lora_config(4, 8, 0.1, ["q_proj", "v_proj"]), None, seed=0)
    try:
        assert use_quick_dropout(model) == 2 * base.model.config.num_hidden_layers
        assert sum(isinstance(m, QuickDropout) for m in model.modules()) == 2 * base.model.config.num_hidden_layers
        assert not any(type(m) is nn.Dropout for m in model.modules())
    finally:
        detach(model)
