"""The counting and statistics rules, without a broker."""

from __future__ import annotations

import asyncio

import pytest

from zega_collector.coalesce import Coalescer
from zega_collector.domain import labels, markers, threshold
from zega_collector.domain.stats import Contribution, UserStats, add_examples, with_adapter, with_emitted


def test_threshold_indices_and_names() -> None:
    assert threshold.reached(49, 50) == 0
    assert threshold.reached(50, 50) == 1
    assert list(threshold.due(100, 0, 50)) == [1, 2]
    assert list(threshold.due(100, 2, 50)) == []
    assert list(threshold.due(149, 1, 50)) == [2]
    assert threshold.until_next(73, 50) == 27
    assert threshold.until_next(100, 50) == 50
    assert threshold.msg_id("alice", 2) == "alice:2"
    assert threshold.job_id("alice", 2) == "alice-t2"


def test_labels_are_normalised_and_capped() -> None:
    assert labels.normalize("  Dark Fantasy ") == "dark_fantasy"
    assert labels.normalize("sci-fi!") == "sci_fi"
    assert labels.split_labels("Mystery, noir,,mystery") == ["mystery", "noir"]
    counts: dict[str, int] = {}
    for name in ["a", "b", "c", "a", "d", "e"]:
        counts = labels.count(counts, [name], cap=3)
    assert counts == {"a": 2, "b": 1, "c": 1, "other": 2}
    assert sum(counts.values()) == 6


def test_stats_fold_counts_and_bounds() -> None:
    stats = UserStats("alice")
    items = [
        Contribution.of(score, {"genre": f"g{i % 30}", "theme": "loss, hope"})
        for i, score in enumerate([7.1, 9.7, 6.0, 8.3] * 25)
    ]
    stats = add_examples(stats, items, min_quality=7.0, label_cap=20, through_seq=500, now="t")
    assert stats.training_examples == 100
    assert stats.quality_highest == 9.7 and stats.quality_lowest == 6.0
    assert stats.examples_above_min_quality == 75
    assert stats.applied_seq == 500
    assert len(stats.genre_preferences) == 21 and sum(stats.genre_preferences.values()) == 100
    assert stats.themes == {"loss": 100, "hope": 100}
    doc = stats.to_document(50)
    assert doc["quality_scores"] == {"average": 7.78, "highest": 9.7, "lowest": 6.0}
    assert doc["examples_until_next_training"] == 50
    assert UserStats.from_json(stats.to_json(50)) == stats


def test_emitted_and_adapter_are_idempotent() -> None:
    stats = UserStats("alice", training_examples=50)
    stats = with_emitted(stats, 1, "t")
    assert stats is not None and with_emitted(stats, 1, "t") is None
    once = with_adapter(stats, version=1, model_name="zega-alice", steps=30, created_at="2026-01-01T00:00:00", now="t")
    assert once is not None and once.to_document(50)["custom_model_exists"]
    assert with_adapter(once, version=1, model_name="zega-alice", steps=30, created_at="x", now="t") is None
    twice = with_adapter(once, version=2, model_name="", steps=20, created_at="", now="t2")
    assert twice.total_training_steps == 50 and twice.custom_model_name == "zega-alice" and twice.last_fine_tune == "t2"


def test_marker_keys_are_valid_kv_keys_for_any_example_id() -> None:
    key = markers.key("alice", "ex/1 with spaces*and>wildcards")
    assert key.startswith("alice.") and len(key.split(".")[1]) == 32
    assert key == markers.key("alice", "ex/1 with spaces*and>wildcards")
    assert key != markers.key("bob", "ex/1 with spaces*and>wildcards")


def test_contribution_round_trips() -> None:
    item = Contribution.of(8.5, {"genres": "Sci Fi, Horror"})
    assert Contribution.from_json(item.to_json()) == item


async def test_coalescer_shares_one_run_per_user() -> None:
    runs: list[tuple[str, int]] = []

    async def run(key: str, position: int) -> int:
        runs.append((key, position))
        await asyncio.sleep(0.01)
        return position

    settle = Coalescer(run)
    results = await asyncio.gather(*(settle("alice", p) for p in (3, 1, 2, 5)), settle("bob", 4))
    assert all(r >= p for r, p in zip(results, (3, 1, 2, 5, 4), strict=True))
    assert len([r for r in runs if r[0] == "alice"]) == 2
    assert settle._queues == {}


@pytest.mark.parametrize("count,emitted,due", [(0, 0, []), (50, 0, [1]), (250, 3, [4, 5])])
def test_due(count: int, emitted: int, due: list[int]) -> None:
    assert list(threshold.due(count, emitted, 50)) == due
