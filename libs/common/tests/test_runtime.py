"""The service shape's start-up: the heap it made is frozen out of the cyclic collector's reach."""

from __future__ import annotations

import gc
import weakref

from zega_common.runtime import freeze_startup_heap


def test_startup_heap_is_frozen_and_garbage_collected_first():
    class Cycle:
        pass

    garbage = Cycle()
    garbage.me = garbage
    gone = weakref.ref(garbage)
    del garbage
    kept = [object() for _ in range(10)]
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() >= len(kept)
        assert gone() is None  # the cycle was collected, not frozen for good
    finally:
        gc.unfreeze()
