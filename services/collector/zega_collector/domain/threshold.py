"""The threshold rule: a training trigger at every `threshold`-th example of a user.

Index 1 at the 50th example, 2 at the 100th... Each index has one message id and one job id, so that
emitting it again (after a crash, or by two replicas at once) is recognised as the same trigger.
"""

from __future__ import annotations


def reached(examples: int, threshold: int) -> int:
    """The highest threshold index `examples` has reached."""
    return examples // threshold


def due(examples: int, emitted: int, threshold: int) -> range:
    """Threshold indices reached but not yet recorded as emitted, oldest first."""
    return range(emitted + 1, reached(examples, threshold) + 1)


def until_next(examples: int, threshold: int) -> int:
    """How many more examples until the next trigger (the seed: 100 - 73 = 27)."""
    return threshold - examples % threshold


def msg_id(user_id: str, index: int) -> str:
    """Nats-Msg-Id of a threshold event: the server drops a repeat within its duplicate window."""
    return f"{user_id}:{index}"


def job_id(user_id: str, index: int) -> str:
    """Job id of an automatic trigger (manual triggers use `<user_id>-m<hex>`)."""
    return f"{user_id}-t{index}"
