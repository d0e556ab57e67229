"""The counting and statistics rules, without a broker."""

from __future__ import annotations

import pytest

from zega_collector.domain import labels, markers, threshold
from zega_collector.domain.own_markers import OwnMarkers
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


def _c(score: float) -> Contribution:
    return Contribution(score)


def test_own_markers_answer_only_for_a_run_of_our_own_positions() -> None:
    own = OwnMarkers()
    own.wrote([(12, "alice", _c(1)), (10, "alice", _c(2)), (11, "bob", _c(3))])
    assert own.run == (10, 12)
    assert own.between("alice", 9, 12) == [(10, _c(2)), (12, _c(1))]
    assert own.between("bob", 9, 12) == [(11, _c(3))]
    assert own.between("alice", 8, 12) is None  # position 9 is not known to be ours
    assert own.between("alice", 0, 12) is None  # applied_seq 0: new or forgotten, always read
    assert own.between("alice", 9, 13) is None  # beyond the run
    own.wrote([(13, "alice", _c(4)), (14, "carol", _c(5))])
    assert own.run == (10, 14)
    assert own.between("alice", 10, 13) == [(12, _c(1)), (13, _c(4))]


def test_own_markers_run_restarts_after_a_position_not_ours() -> None:
    own = OwnMarkers()
    own.wrote([(10, "alice", _c(1)), (11, "alice", _c(2))])
    own.wrote([(13, "alice", _c(3)), (15, "alice", _c(4)), (16, "bob", _c(5))])  # 12 and 14: someone else
    assert own.run == (15, 16)
    assert own.between("alice", 11, 15) is None
    assert own.between("alice", 14, 16) == [(15, _c(4))]


def test_own_markers_forget_applied_and_capacity() -> None:
    own = OwnMarkers(capacity=3)
    own.wrote([(1, "alice", _c(1)), (2, "alice", _c(2)), (3, "bob", _c(3))])
    own.applied("alice", 1)
    assert own.between("alice", 1, 3) == [(2, _c(2))]
    own.forget("bob")
    assert own.between("bob", 2, 3) == []
    own.wrote([(4, "alice", _c(4)), (5, "alice", _c(5)), (6, "alice", _c(6))])  # over capacity: all dropped
    assert own.between("alice", 2, 6) is None
    own.wrote([(7, "alice", _c(7))])
    assert own.run == (7, 7) and own.between("alice", 6, 7) == [(7, _c(7))]


@pytest.mark.parametrize("count,emitted,due", [(0, 0, []), (50, 0, [1]), (250, 3, [4, 5])])
def test_due(count: int, emitted: int, due: list[int]) -> None:
    assert list(threshold.due(count, emitted, 50)) == due
