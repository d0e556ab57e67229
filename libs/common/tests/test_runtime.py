"""The service shape's start-up: the heap it made is frozen out of the cyclic collector's reach."""

from __future__ import annotations

import gc
import weakref

from zega_common.runtime import freeze_startup_heap, make_app, make_broker
from zega_common.settings import ZegaSettings


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


async def test_a_started_service_has_frozen_its_startup_heap(nats_server):
    settings = ZegaSettings(nats_url=nats_server.url)
    app = make_app(make_broker(settings, "freeze-test"), settings)
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    await app.start()
    try:
        assert gc.get_freeze_count() > 0
    finally:
        await app.stop()
        gc.unfreeze()
