"""Marker positions this process wrote itself: what lets a settlement skip reading markers back.

Settling a user counts every marker of the user after `applied_seq` up to a target position
(see zega_collector.ledger). Those markers must normally be read from the stream, since other
replicas, and handlers that died, may have written some. But a marker stream position is one
message: when every position in a range was handed to this process by the server as the position
of a marker it created, no other writer can have a marker there. So the process keeps

- a run of positions [start, end], every one of them a marker this process created (the run
  restarts at the tail of a batch whenever a position in between is not ours: another writer's,
  or a create whose answer was lost);
- per user, the markers it created that are not yet known to be counted, with their contributions.

`between` answers only from that knowledge, and only when the whole range lies in the run;
otherwise None, and the caller reads the stream. It never answers for a user whose `applied_seq`
is 0 (a new user, or one just forgotten): a forget purges markers without taking positions, so a
position in the run may hold a marker that is gone; a user's record with `applied_seq` above 0 was
written after the last forget of the user, by a settlement that saw every marker it counted, and
every marker after it was created later still. Nothing here is state the counting depends on:
forgetting all of it only makes settlements read again.
"""

from __future__ import annotations

from collections.abc import Iterable

from zega_collector.domain.stats import Contribution

Created = tuple[int, str, Contribution]
"""(stream position, user_id, contribution) of a marker this process created."""


class OwnMarkers:
    def __init__(self, capacity: int = 200_000) -> None:
        self._capacity = capacity
        self._start = 1
        self._end = 0
        self._pending: dict[str, list[tuple[int, Contribution]]] = {}
        self._size = 0

    @property
    def run(self) -> tuple[int, int]:
        """The positions [start, end] known to be all ours (empty when end < start)."""
        return self._start, self._end

    def wrote(self, created: Iterable[Created]) -> None:
        """Record the markers one batch created (every create of the batch has answered)."""
        items = sorted(created, key=lambda item: item[0])
        if not items:
            return
        tail = len(items) - 1
        while tail > 0 and items[tail - 1][0] == items[tail][0] - 1:
            tail -= 1
        if tail == 0 and items[0][0] == self._end + 1:
            self._end = items[-1][0]
        else:
            self._start, self._end = items[tail][0], items[-1][0]
        if self._size + len(items) > self._capacity:
            self._pending.clear()
            self._size = 0
            self._start = self._end + 1
            return
        for seq, user_id, contribution in items:
            self._pending.setdefault(user_id, []).append((seq, contribution))
        self._size += len(items)

    def between(self, user_id: str, after: int, through: int) -> list[tuple[int, Contribution]] | None:
        """The user's markers in (after, through], in order, when they can be known without a
        read; None otherwise."""
        if after < 1 or after + 1 < self._start or through > self._end:
            return None
        return sorted(
            (item for item in self._pending.get(user_id, ()) if after < item[0] <= through), key=lambda item: item[0]
        )

    def applied(self, user_id: str, through: int) -> None:
        """The user's markers up to `through` are counted: no need to keep them."""
        items = self._pending.get(user_id)
        if not items:
            return
        kept = [item for item in items if item[0] > through]
        self._size -= len(items) - len(kept)
        if kept:
            self._pending[user_id] = kept
        else:
            del self._pending[user_id]

    def forget(self, user_id: str) -> None:
        self._size -= len(self._pending.pop(user_id, ()))
