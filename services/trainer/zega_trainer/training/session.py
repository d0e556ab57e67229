"""One adapter from a data set: attach LoRA, evaluate base and previous, train, save the candidate (and
hand it to `on_candidate`, which stages it for inference), evaluate it, gate.

Pure compute on a loaded base model (no NATS): the job runner calls it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from zega_model import BaseModel
from zega_trainer.config import TrainerSettings
from zega_trainer.domain.chat import encode
from zega_trainer.domain.dataset import Dataset
from zega_trainer.domain.gate import decide
from zega_trainer.domain.manifest import Metrics
from zega_trainer.training.loop import LoopConfig, TrainResult, held_out_loss, train
from zega_trainer.training.lora import attach, detach, lora_config, save


class Outcome(StrEnum):
    READY = "ready"
    REJECTED = "rejected"
    STOPPED = "stopped"


@dataclass(frozen=True)
class SessionResult:
    outcome: Outcome
    reason: str = ""
    metrics: Metrics | None = None
    train: TrainResult | None = None
    warm_start: bool = False


def loop_config(settings: TrainerSettings) -> LoopConfig:
    return LoopConfig(
        learning_rate=settings.learning_rate,
        epochs=settings.epochs,
        max_steps=settings.max_steps,
        batch_tokens=settings.batch_tokens,
        warmup_steps=settings.warmup_steps,
        weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm,
        seed=settings.seed,
        report_every=settings.progress_every_steps,
    )


def run_session(
    base: BaseModel,
    data: Dataset,
    system: str,
    settings: TrainerSettings,
    previous: Path | None,
    out_dir: Path,
    should_stop: Callable[[], bool] = lambda: False,
    on_step: Callable[[int, int, float], None] = lambda step, total, loss: None,
    on_candidate: Callable[[Path], None] = lambda out_dir: None,
) -> SessionResult:
    tok = base.tokenizer
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    train_rows = [encode(tok, ex, system, settings.max_seq_len) for ex in data.train]
    eval_rows = [encode(tok, ex, system, settings.max_seq_len) for ex in data.held_out]
    config = lora_config(settings.lora_rank, settings.lora_alpha, settings.lora_dropout, settings.lora_target_modules)
    model, warm = attach(base.model, config, previous, settings.seed)
    try:

        def evaluate() -> float:
            return held_out_loss(model, eval_rows, settings.batch_tokens, pad_id, base.dtype)

        with model.disable_adapter():
            eval_base = evaluate()
        eval_previous = evaluate() if warm else None
        result = train(model, train_rows, loop_config(settings), pad_id, base.dtype, should_stop, on_step)
        if result.stopped:
            return SessionResult(Outcome.STOPPED, "stopped", train=result, warm_start=warm)
        save(model, out_dir, base.name)
        on_candidate(out_dir)
        metrics = Metrics(result.train_loss, eval_base, evaluate(), eval_previous)
        gate = decide(eval_base, eval_previous, metrics.eval_loss_adapter, settings.eval_margin)
        outcome = Outcome.READY if gate.publish else Outcome.REJECTED
        return SessionResult(outcome, gate.reason, metrics, result, warm)
    finally:
        detach(model)
