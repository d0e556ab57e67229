"""Trainer throughput and quality: our LoRA loop against a plain transformers `Trainer`, same data, same LoRA.

One run, the real base model (SmolLM2-135M-Instruct; CUDA + bf16 when present), the trainer's style data set
(a lighthouse keeper's log, services/trainer/tests/data/style.jsonl), the same held-out split, in two shapes:
- uniform: the set as it is, every example 111-127 tokens (batches of 8 are 3.7% padding);
- mixed: the same prompts with completions from one sentence to four log entries (43-377 tokens),
  as a writing product's users send them (a note, a post, a page); fixed by a seed.
For each shape:
1. baseline: transformers `Trainer`, per_device_train_batch_size rows padded to the longest of each batch,
   labels -100 on the prompt (the usual completion-only recipe), the same epochs and learning rate;
2. ours: `zega_trainer.training` (length-bucketed batches under a token budget, no padding mask, the LM head
   only on completion positions, per-example quality weights).
Both run --repeats times, alternated (a shared machine's slow spells move single runs by 15%).
Prints tokens/s (real tokens, padding not counted) of the median runs and the median ratio of the
side-by-side pairs (goal >= 1.3x),
held-out loss of each (ours no worse), peak memory, and held-out loss of the base model vs our adapter
(the style learned). About 15 minutes on 2 CPU cores with the defaults.

    .venv/bin/python bench/trainer.py [--examples 50] [--epochs 1] [--batch-size 8] [--shapes uniform,mixed]
                                      [--repeats 3] [--threads 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
from pathlib import Path

import psutil
import torch
from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

from zega_common.v1 import events_pb2
from zega_model import load_base_model
from zega_trainer.config import TrainerSettings
from zega_trainer.domain.bucketing import make_batches, padding_share
from zega_trainer.domain.chat import encode
from zega_trainer.domain.dataset import build
from zega_trainer.training.loop import LoopConfig, held_out_loss, train
from zega_trainer.training.lora import attach, detach, lora_config

ROOT = Path(__file__).resolve().parents[1]
STYLE = ROOT / "services/trainer/tests/data/style.jsonl"


class PeakMemory:
    """Peak CUDA allocation, or peak process RSS sampled every 20 ms on CPU (MiB)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.peak, self._stop = device, 0, threading.Event()

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        else:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        proc = psutil.Process(os.getpid())
        while not self._stop.is_set():
            self.peak = max(self.peak, proc.memory_info().rss)
            time.sleep(0.02)

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()

    @property
    def mib(self) -> float:
        return self.peak / 2**20


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return self.rows[i]


def mixed_lengths(rows: list[dict], seed: int = 0) -> list[dict]:
    """The same prompts, each completion cut to its first sentence or grown to 2-4 consecutive entries."""
    rng = random.Random(seed)
    out = []
    for i, row in enumerate(rows):
        entries = rng.choice([0, 1, 1, 2, 2, 3, 4])
        if entries == 0:
            completion = row["completion"].split(". ")[0] + "."
        else:
            completion = "\n\n".join(rows[(i + k) % len(rows)]["completion"] for k in range(entries))
        out.append({**row, "completion": completion})
    return out


def load_data(n: int, settings: TrainerSettings, shape: str):
    rows = [json.loads(line) for line in STYLE.read_text().splitlines() if line.strip()][:n]
    if shape == "mixed":
        rows = mixed_lengths(rows)
    collected = [
        events_pb2.ExampleCollected(
            example_id=f"style-{i}",
            user_id="bench",
            prompt=r["prompt"],
            completion=r["completion"],
            quality_score=max(r["quality_score"], settings.min_quality),
            metadata=r["metadata"],
        )
        for i, r in enumerate(rows)
    ]
    return build(
        collected,
        min_quality=settings.min_quality,
        min_examples=settings.min_examples,
        eval_fraction=settings.eval_fraction,
        min_eval=settings.min_eval_examples,
    )


def run_baseline(base, train_rows, eval_rows, settings, args, pad_id) -> dict:
    config = lora_config(settings.lora_rank, settings.lora_alpha, settings.lora_dropout, settings.lora_target_modules)
    model, _ = attach(base.model, config, None, settings.seed)
    features = []
    for row in train_rows:
        labels = [-100] * row.prompt_len + row.input_ids[row.prompt_len :]
        features.append({"input_ids": row.input_ids, "attention_mask": [1] * row.length, "labels": labels})
    base.tokenizer.padding_side = "right"
    cuda = base.device.type == "cuda"
    trainer = Trainer(
        model=model,
        args=TrainingArguments(
            output_dir=str(args.out / "baseline"),
            per_device_train_batch_size=args.batch_size,
            num_train_epochs=args.epochs,
            learning_rate=settings.learning_rate,
            lr_scheduler_type="linear",
            warmup_steps=settings.warmup_steps,
            max_grad_norm=settings.max_grad_norm,
            weight_decay=settings.weight_decay,
            bf16=cuda and base.dtype == torch.bfloat16,
            logging_steps=1000,
            save_strategy="no",
            report_to=[],
            seed=settings.seed,
            dataloader_num_workers=0,
            remove_unused_columns=False,
            disable_tqdm=True,
        ),
        train_dataset=ListDataset(features),
        data_collator=DataCollatorForSeq2Seq(base.tokenizer, padding=True, label_pad_token_id=-100),
    )
    real = sum(r.length for r in train_rows) * args.epochs
    with PeakMemory(base.device) as memory:
        started = time.perf_counter()
        trainer.train()
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
    batches = [
        list(range(i, min(i + args.batch_size, len(train_rows)))) for i in range(0, len(train_rows), args.batch_size)
    ]
    result = {
        "tokens_per_s": real / seconds,
        "seconds": seconds,
        "steps": trainer.state.global_step,
        "eval_loss": held_out_loss(model, eval_rows, settings.batch_tokens, pad_id, base.dtype),
        "peak_mib": memory.mib,
        "padding": padding_share(batches, [r.length for r in train_rows]),
    }
    detach(model)
    base.tokenizer.padding_side = "left"
    return result


def run_ours(base, train_rows, eval_rows, settings, args, pad_id, batch_tokens: int) -> dict:
    config = lora_config(settings.lora_rank, settings.lora_alpha, settings.lora_dropout, settings.lora_target_modules)
    model, _ = attach(base.model, config, None, settings.seed)
    with model.disable_adapter():
        eval_base = held_out_loss(model, eval_rows, settings.batch_tokens, pad_id, base.dtype)
    loop = LoopConfig(
        learning_rate=settings.learning_rate,
        epochs=args.epochs,
        max_steps=0,
        batch_tokens=batch_tokens,
        warmup_steps=settings.warmup_steps,
        max_grad_norm=settings.max_grad_norm,
        weight_decay=settings.weight_decay,
        seed=settings.seed,
        report_every=1000,
    )
    with PeakMemory(base.device) as memory:
        started = time.perf_counter()
        result = train(model, train_rows, loop, pad_id, base.dtype)
        seconds = time.perf_counter() - started
    lengths = [r.length for r in train_rows]
    out = {
        "tokens_per_s": result.tokens / seconds,
        "seconds": seconds,
        "steps": result.steps,
        "eval_loss": held_out_loss(model, eval_rows, settings.batch_tokens, pad_id, base.dtype),
        "eval_loss_base": eval_base,
        "peak_mib": memory.mib,
        "padding": padding_share(make_batches(lengths, batch_tokens, random.Random(0)), lengths),
    }
    detach(model)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8, help="rows per batch of the Trainer baseline")
    parser.add_argument(
        "--batch-tokens", type=int, default=0, help="our token budget per step (0 = the trainer's ZEGA_BATCH_TOKENS)"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads for both (0 = torch default)")
    parser.add_argument("--shapes", default="uniform,mixed", help="data shapes to compare, in order")
    parser.add_argument("--repeats", type=int, default=3, help="alternated runs of each; medians are compared")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".zega")
    parser.add_argument("--out", type=Path, default=Path("/tmp/zega-bench-trainer"))
    args = parser.parse_args()

    settings = TrainerSettings()
    if args.threads:
        torch.set_num_threads(args.threads)
    base = load_base_model(settings.base_model, args.data_dir)
    pad_id = base.tokenizer.pad_token_id
    print(
        f"device {base.device} {str(base.dtype).removeprefix('torch.')}, torch threads {torch.get_num_threads()};"
        f" {args.epochs} epoch(s); LoRA r{settings.lora_rank} on {','.join(settings.lora_target_modules)},"
        f" lr {settings.learning_rate:g}"
    )
    for shape in args.shapes.split(","):
        compare(shape, base, settings, args, pad_id)


def median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["tokens_per_s"])[len(runs) // 2]


def compare(shape: str, base, settings: TrainerSettings, args, pad_id: int) -> None:
    data = load_data(args.examples, settings, shape)
    train_rows = [encode(base.tokenizer, ex, "", settings.max_seq_len) for ex in data.train]
    eval_rows = [encode(base.tokenizer, ex, "", settings.max_seq_len) for ex in data.held_out]
    lengths = [r.length for r in train_rows]
    mean_len = sum(lengths) / len(lengths)
    batch_tokens = args.batch_tokens or settings.batch_tokens
    print(
        f"\n== {shape} lengths: {len(train_rows)} training + {len(eval_rows)} held-out examples,"
        f" {min(lengths)}-{max(lengths)} tokens (mean {mean_len:.0f})"
    )
    held_out_loss(base.model, eval_rows, settings.batch_tokens, pad_id, base.dtype)  # warm-up, for both alike
    baselines, ourses = [], []
    for _ in range(args.repeats):  # alternated: a slow spell of a shared machine hits both alike
        baselines.append(run_baseline(base, train_rows, eval_rows, settings, args, pad_id))
        ourses.append(run_ours(base, train_rows, eval_rows, settings, args, pad_id, batch_tokens))
    baseline, ours = median_run(baselines), median_run(ourses)
    print(f"{'':28}{'tokens/s':>10}{'seconds':>9}{'steps':>7}{'padding':>9}{'held-out loss':>15}{'peak MiB':>10}")
    for name, r in (
        (f"transformers Trainer (bs {args.batch_size})", baseline),
        (f"zega loop ({batch_tokens} tok)", ours),
    ):
        print(
            f"{name:28}{r['tokens_per_s']:10.1f}{r['seconds']:9.1f}{r['steps']:7d}{r['padding']:9.1%}"
            f"{r['eval_loss']:15.4f}{r['peak_mib']:10.0f}"
        )
    ratios = sorted(o["tokens_per_s"] / b["tokens_per_s"] for b, o in zip(baselines, ourses, strict=True))
    ratio = ratios[len(ratios) // 2]
    print(
        f"throughput ratio ours / Trainer, median of {args.repeats} side-by-side pairs: {ratio:.2f}x (goal >= 1.3x)"
        f" {'OK' if ratio >= 1.3 else 'MISSED'}; all pairs: {', '.join(f'{r:.2f}' for r in ratios)}"
    )
    no_worse = ours["eval_loss"] <= baseline["eval_loss"] + 0.02
    verdict = "OK" if no_worse else "WORSE"
    print(f"held-out loss ours {ours['eval_loss']:.4f} vs Trainer {baseline['eval_loss']:.4f}: {verdict}")
    drop = ours["eval_loss_base"] - ours["eval_loss"]
    print(
        f"style data set, held-out loss: base model {ours['eval_loss_base']:.4f} -> adapter {ours['eval_loss']:.4f}"
        f" ({drop / ours['eval_loss_base']:.0%} lower)"
    )


if __name__ == "__main__":
    main()
