"""Training and held-out evaluation of one adapter.

Runs in a worker thread: `should_stop` is checked before every step (cancel, shutdown, lost job) and
`on_step` reports progress; both must be cheap and thread-safe.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, get_linear_schedule_with_warmup

from zega_trainer.domain.bucketing import make_batches
from zega_trainer.domain.chat import Encoded
from zega_trainer.training.batch import Batch, collate, token_losses, weighted_loss
from zega_trainer.training.dropout import use_quick_dropout


@dataclass(frozen=True)
class LoopConfig:
    learning_rate: float
    epochs: int
    max_steps: int
    batch_tokens: int
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    report_every: int = 5


@dataclass(frozen=True)
class TrainResult:
    steps: int
    total_steps: int
    train_loss: float
    tokens: int
    seconds: float
    stopped: bool

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def plan(rows: Sequence[Encoded], config: LoopConfig) -> list[list[int]]:
    """Every step's rows, epoch after epoch, cut at max_steps."""
    rng = random.Random(config.seed)
    lengths = [r.length for r in rows]
    steps = [b for _ in range(config.epochs) for b in make_batches(lengths, config.batch_tokens, rng)]
    return steps[: config.max_steps] if config.max_steps else steps


def autocast(device: torch.device, dtype: torch.dtype):
    """bf16/fp16 autocast on CUDA (the LoRA weights stay fp32); nothing on CPU."""
    if device.type == "cuda" and dtype != torch.float32:
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def train(
    model: PreTrainedModel,
    rows: Sequence[Encoded],
    config: LoopConfig,
    pad_id: int,
    dtype: torch.dtype = torch.float32,
    should_stop: Callable[[], bool] = lambda: False,
    on_step: Callable[[int, int, float], None] = lambda step, total, loss: None,
) -> TrainResult:
    device = next(model.parameters()).device
    torch.manual_seed(config.seed)
    use_quick_dropout(model)
    steps = plan(rows, config)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params, lr=config.learning_rate, weight_decay=config.weight_decay, fused=device.type == "cuda"
    )
    schedule = get_linear_schedule_with_warmup(optimizer, min(config.warmup_steps, len(steps) // 2), len(steps))
    batches: list[Batch] = [collate([rows[i] for i in step], pad_id, device) for step in steps]
    model.train()
    total_loss = torch.zeros((), device=device)
    window = torch.zeros((), device=device)
    tokens = done = window_steps = 0
    stopped = False
    started = time.perf_counter()
    for done, batch in enumerate(batches, 1):
        if should_stop():
            stopped, done = True, done - 1
            break
        with autocast(device, dtype):
            loss = weighted_loss(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        total_loss += loss.detach()
        window += loss.detach()
        window_steps += 1
        tokens += batch.tokens
        if done % config.report_every == 0 or done == len(batches):
            on_step(done, len(batches), (window / window_steps).item())
            window.zero_()
            window_steps = 0
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    model.eval()
    mean = (total_loss / done).item() if done else math.nan
    return TrainResult(done, len(batches), mean, tokens, seconds, stopped)


@torch.no_grad()
def held_out_loss(
    model: PreTrainedModel, rows: Sequence[Encoded], batch_tokens: int, pad_id: int, dtype: torch.dtype
) -> float:
    """Mean cross-entropy per completion token (unweighted), the number the evaluation gate compares."""
    device = next(model.parameters()).device
    model.eval()
    lengths = [r.length for r in rows]
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    for step in make_batches(lengths, batch_tokens, random.Random(0)):
        batch = collate([rows[i] for i in step], pad_id, device)
        with autocast(device, dtype):
            losses = token_losses(model, batch)
        total += losses.double().sum()
        count += losses.numel()
    return (total / count).item() if count else math.nan
