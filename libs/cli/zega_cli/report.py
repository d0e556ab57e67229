"""The demo's report: a JSON record and a PNG with the training loss and held-out loss per version."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def write_report(out_dir: Path, run) -> Path:
    """Write <out_dir>/<user>-<time>.json and .png; return the PNG's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"{run.user_id}-{time.strftime('%Y%m%d-%H%M%S')}"
    stem.with_suffix(".json").write_text(json.dumps(asdict(run), indent=2))
    metrics = run.adapter.get("metrics", {})
    version = run.adapter.get("adapter_version", 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    if run.losses:
        steps, losses = zip(*run.losses, strict=True)
        left.plot(steps, losses, marker="o")
    left.set(title="training loss", xlabel="step", ylabel="weighted loss")
    labels = ["base", *(["previous"] if metrics.get("eval_loss_previous") else []), f"v{version}"]
    values = [
        metrics.get("eval_loss_base", 0.0),
        *([metrics["eval_loss_previous"]] if metrics.get("eval_loss_previous") else []),
        metrics.get("eval_loss_adapter", 0.0),
    ]
    right.bar(labels, values, color=["grey"] * (len(values) - 1) + ["tab:green"])
    right.set(title="held-out loss per version", ylabel="loss")
    fig.suptitle(f"zega-{run.user_id}")
    fig.tight_layout()
    png = stem.with_suffix(".png")
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png
