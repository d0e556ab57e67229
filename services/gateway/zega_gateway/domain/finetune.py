"""What a manual fine-tuning trigger answers once its job ends, in the seed's shape."""

from __future__ import annotations

from dataclasses import dataclass

from zega_common.v1 import events_pb2

State = events_pb2.TrainingState

_FINAL = {
    State.TRAINING_STATE_FAILED: "failed",
    State.TRAINING_STATE_CANCELLED: "cancelled",
    State.TRAINING_STATE_REJECTED: "rejected",
}
MIB = 1024 * 1024


@dataclass(frozen=True)
class TriggerOutcome:
    """status: queued, success, failed, rejected, cancelled or timeout."""

    status: str
    message: str
    job_id: str
    training_examples_used: int = 0
    training_time_seconds: float = 0.0
    model_size_mb: float = 0.0


def queued(job_id: str) -> TriggerOutcome:
    return TriggerOutcome("queued", f"fine-tuning job {job_id} queued", job_id)


def timed_out(job_id: str, waited_s: float) -> TriggerOutcome:
    return TriggerOutcome(
        "timeout",
        f"fine-tuning job {job_id} did not finish within {waited_s:.0f} s; it goes on, "
        "see GET /user/{user_id}/adapters and training-stats",
        job_id,
    )


def outcome_of(event: events_pb2.AdapterReady | events_pb2.TrainingProgress, job_id: str) -> TriggerOutcome | None:
    """The job's outcome when `event` ends job `job_id`, else None (progress, another job's event).

    A job ends with adapter.ready (success) or with a final failed/cancelled/rejected progress; a
    succeeded progress is not the end for a caller who wants the model size: adapter.ready follows it.
    """
    if event.job_id != job_id:
        return None
    if isinstance(event, events_pb2.AdapterReady):
        return TriggerOutcome(
            "success",
            f"Fine-tuned model '{event.model_name}' created (adapter version {event.adapter_version})",
            job_id,
            training_examples_used=event.training_examples_used,
            training_time_seconds=round(event.training_time_seconds, 3),
            model_size_mb=round(event.size_bytes / MIB, 3),
        )
    status = _FINAL.get(event.state)
    if status is None:
        return None
    reason = event.reason or "no reason given"
    return TriggerOutcome(status, f"fine-tuning job {job_id} {status}: {reason}", job_id)
