"""Adapter versions as the gateway shows them (from the trainer's manifests) and the rollback rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from zega_common import adapter_layout
from zega_common.errors import FailedPrecondition, InvalidArgument, NotFound


def manifest_name(user_id: str, version: int) -> str:
    return adapter_layout.object_path(user_id, version, adapter_layout.MANIFEST_FILE)


@dataclass(frozen=True)
class AdapterSummary:
    adapter_version: int
    created_at: str
    training_examples_used: int
    train_loss: float
    eval_loss_base: float
    eval_loss_adapter: float
    eval_loss_previous: float
    size_bytes: int
    current: bool


def summarize(manifest: dict[str, Any], current_version: int) -> AdapterSummary:
    """One version's line: its metrics and whether the pointer is on it. Missing fields read as zero."""
    metrics = manifest.get("metrics") or {}
    version = int(manifest.get("adapter_version") or 0)
    return AdapterSummary(
        adapter_version=version,
        created_at=str(manifest.get("created_at") or ""),
        training_examples_used=int(manifest.get("training_examples_used") or 0),
        train_loss=float(metrics.get("train_loss") or 0.0),
        eval_loss_base=float(metrics.get("eval_loss_base") or 0.0),
        eval_loss_adapter=float(metrics.get("eval_loss_adapter") or 0.0),
        eval_loss_previous=float(metrics.get("eval_loss_previous") or 0.0),
        size_bytes=int(manifest.get("size_bytes") or 0),
        current=version == current_version,
    )


def rollback_target(current_version: int, wanted: int, available: set[int]) -> int:
    """The version to move the pointer to: `wanted`, or (0) the newest one below the current."""
    if current_version <= 0:
        raise FailedPrecondition("this user has no adapter yet: nothing to roll back")
    if wanted < 0:
        raise InvalidArgument("adapter_version must be 0 (the previous version) or a version number")
    if wanted:
        if wanted not in available:
            raise NotFound(f"adapter version {wanted} does not exist; versions: {sorted(available) or 'none'}")
        return wanted
    older = [v for v in available if v < current_version]
    if not older:
        raise FailedPrecondition(f"adapter version {current_version} is the oldest: there is no previous version")
    return max(older)


def pointer_for(user_id: str, manifest: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The KV zega-adapters pointer that makes inference serve the manifest's version."""
    return adapter_layout.pointer(
        user_id,
        int(manifest["adapter_version"]),
        str(manifest.get("sha256") or ""),
        str(manifest.get("base_model") or ""),
        (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
    )
