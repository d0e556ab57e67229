"""Input rules, fact matching and how an example becomes an item: pure functions."""

from __future__ import annotations

import numpy as np
import pytest

from zega_common.errors import InvalidArgument
from zega_memory.domain import facts, fusion, limits
from zega_memory.domain.documents import example_document
from zega_memory.domain.store import Fact


def test_long_text_is_cut_at_a_word_boundary_and_flagged():
    text = "word " * 100
    clipped, truncated = limits.clip_text(text, 52)
    assert truncated and len(clipped) <= 52 and clipped.endswith("word")
    assert limits.clip_text("short", 52) == ("short", False)
    with pytest.raises(InvalidArgument, match="empty"):
        limits.clip_text("  ", 52)


def test_query_and_k_bounds():
    with pytest.raises(InvalidArgument, match="empty"):
        limits.check_query(" ", 100)
    with pytest.raises(InvalidArgument, match="at most 100"):
        limits.check_query("x" * 101, 100)
    assert limits.check_k(0, 5, 50) == 5
    assert limits.check_k(50, 5, 50) == 50
    for bad in (-1, 51, 10**9):
        with pytest.raises(InvalidArgument, match="between 1 and 50"):
            limits.check_k(bad, 5, 50)


@pytest.mark.parametrize(
    "metadata",
    [{"": "x"}, {"bad key": "x"}, {"a' or 1=1 --": "x"}, {"k": "v" * 513}, {f"k{i}": "v" for i in range(33)}],
)
def test_bad_metadata_is_refused(metadata):
    with pytest.raises(InvalidArgument):
        limits.check_metadata(metadata)


def test_example_id_is_derived_from_the_text_when_missing():
    assert limits.example_id_for("", "same text") == limits.example_id_for("", "same text")
    assert limits.example_id_for("", "a") != limits.example_id_for("", "b")
    assert limits.example_id_for("ex-1", "a") == "ex-1"
    with pytest.raises(InvalidArgument):
        limits.example_id_for("x" * 129, "a")


def test_fact_rules():
    assert limits.check_fact_key("quantum_mechanics") == "quantum_mechanics"
    for bad in ("", " ", "a/b", "x" * 129, "drop table;"):
        with pytest.raises(InvalidArgument):
            limits.check_fact_key(bad)
    with pytest.raises(InvalidArgument, match="bytes"):
        limits.check_fact_value({"v": "x" * 100}, 64)


def test_key_phrase_and_key_in_query():
    assert facts.key_phrase("quantum_mechanics") == "quantum mechanics"
    assert facts.key_phrase("quantumMechanics") == "quantum mechanics"
    words = facts.words_of("Tell me about the principles of Quantum Mechanics!")
    assert facts.key_in_query("quantum_mechanics", words)
    assert not facts.key_in_query("quantum_computing", words)
    assert facts.key_in_query("principle", words)


def test_select_facts_orders_word_matches_first_then_similarity():
    query_vec = np.array([1.0, 0.0], dtype=np.float32)
    known = [
        Fact("dragons", {"a": 1}, np.array([0.9, 0.436], dtype=np.float32)),
        Fact("quantum_mechanics", {"b": 2}, np.array([0.0, 1.0], dtype=np.float32)),
        Fact("cooking", {"c": 3}, np.array([0.1, 0.995], dtype=np.float32)),
    ]
    chosen = facts.select_facts("explain quantum mechanics", query_vec, known, 0.5, 5)
    assert [f.key for f in chosen] == ["quantum_mechanics", "dragons"]
    assert facts.select_facts("explain quantum mechanics", query_vec, known, 0.5, 1)[0].key == "quantum_mechanics"
    assert facts.select_facts("x", query_vec, [], 0.5, 5) == []


def test_example_document_keeps_completion_as_text_and_cleans_metadata():
    doc = example_document(
        "ex-1",
        "Write about a tower",
        "The tower fell.",
        {"genre": "dark_fantasy", "bad key": "dropped", "theme": "x" * 600},
        "api",
        8000,
    )
    assert doc.text == "The tower fell."
    assert doc.embed_text == "Write about a tower\n\nThe tower fell."
    assert doc.metadata["genre"] == "dark_fantasy"
    assert "bad key" not in doc.metadata
    assert len(doc.metadata["theme"]) == 512
    assert doc.metadata["source"] == "api" and doc.metadata["prompt"] == "Write about a tower"
    assert not doc.truncated


def test_relative_score_fusion_blends_scaled_rankings():
    vector = {"a": 0.9, "b": 0.8, "c": 0.5}
    keyword = {"c": 12.0, "d": 3.0}
    fused = dict(fusion.relative_score_fusion(vector, keyword, 0.5))
    assert fused == pytest.approx({"a": 0.5, "b": 0.5 * 0.75, "c": 0.5, "d": 0.0})
    assert [key for key, _ in fusion.relative_score_fusion(vector, keyword, 0.5)][:2] == ["a", "c"]
    assert fusion.relative_score_fusion({"a": 1.0}, {}, 0.5) == [("a", 0.5)]


def test_match_expression_quotes_every_word():
    assert (
        fusion.match_expression('Where is "Zyxwv" OR NEAR(x)?') == '"where" OR "is" OR "zyxwv" OR "or" OR "near" OR "x"'
    )
    assert fusion.match_expression("?! --") == ""
