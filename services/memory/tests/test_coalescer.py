"""Concurrent submissions share one flush; a failed flush fails each of its callers."""

from __future__ import annotations

import asyncio

import pytest

from zega_memory.coalescer import Coalescer


async def test_concurrent_items_are_flushed_together_and_split_at_max_size():
    batches: list[list[int]] = []

    async def flush(items: list[int]) -> None:
        batches.append(items)

    coalescer = Coalescer(flush, max_size=4, window_s=0.05)
    await asyncio.gather(*(coalescer.submit(i) for i in range(6)))
    assert batches == [[0, 1, 2, 3], [4, 5]]


async def test_a_failed_flush_raises_in_every_caller():
    async def flush(items: list[int]) -> None:
        raise RuntimeError("store down")

    coalescer = Coalescer(flush, max_size=10, window_s=0.01)
    results = await asyncio.gather(coalescer.submit(1), coalescer.submit(2), return_exceptions=True)
    assert [str(r) for r in results] == ["store down", "store down"]
    with pytest.raises(RuntimeError):
        await coalescer.submit(3)
