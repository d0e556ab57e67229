"""Lineage written next to each adapter (manifest.json) and the KV pointer inference follows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from zega_common.adapter_layout import object_prefix, pointer

__all__ = ["Metrics", "dump", "manifest", "object_prefix", "pointer"]


@dataclass(frozen=True)
class Metrics:
    train_loss: float
    eval_loss_base: float
    eval_loss_adapter: float
    eval_loss_previous: float | None

    def as_dict(self) -> dict[str, float]:
        return {
            "train_loss": self.train_loss,
            "eval_loss_base": self.eval_loss_base,
            "eval_loss_adapter": self.eval_loss_adapter,
            "eval_loss_previous": self.eval_loss_previous or 0.0,
        }


def manifest(
    *,
    user_id: str,
    version: int,
    created_at: str,
    job_id: str,
    threshold_index: int,
    base_model: str,
    sha256: str,
    size_bytes: int,
    example_ids: list[str],
    held_out_ids: list[str],
    settings: dict[str, Any],
    metrics: Metrics,
    total_training_steps: int,
    training_time_seconds: float,
    previous_version: int | None,
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "adapter_version": version,
        "created_at": created_at,
        "job_id": job_id,
        "threshold_index": threshold_index,
        "base_model": base_model,
        "sha256": sha256,
        "size_bytes": size_bytes,
        "training_examples_used": len(example_ids),
        "example_ids": example_ids,
        "held_out_ids": held_out_ids,
        "settings": settings,
        "metrics": metrics.as_dict(),
        "total_training_steps": total_training_steps,
        "training_time_seconds": round(training_time_seconds, 3),
        "warm_start_version": previous_version or 0,
    }


def dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2, sort_keys=False).encode()
