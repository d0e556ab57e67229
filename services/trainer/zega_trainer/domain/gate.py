"""The evaluation gate: a new adapter is published only if it beats what the user has now."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateDecision:
    publish: bool
    reason: str


def decide(eval_base: float, eval_previous: float | None, eval_new: float, margin: float) -> GateDecision:
    """Beat the previous adapter (or the base model, for a first adapter) by `margin` in held-out loss."""
    incumbent, name = (eval_base, "base model") if eval_previous is None else (eval_previous, "previous adapter")
    if eval_new < incumbent - margin:
        return GateDecision(True, f"held-out loss {eval_new:.4f} beats the {name}'s {incumbent:.4f}")
    return GateDecision(
        False,
        f"held-out loss {eval_new:.4f} does not beat the {name}'s {incumbent:.4f} by the margin {margin:g}"
        f" (base model {eval_base:.4f})",
    )
