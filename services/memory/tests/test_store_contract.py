"""One contract, every backend: SQLite + sqlite-vec always, Weaviate where ZEGA_WEAVIATE_URL is set."""

from __future__ import annotations

import numpy as np
import pytest

from zega_memory.domain.store import Fact, Item, MemoryStore

DIM = 384


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def near(vector: np.ndarray, seed: int, noise: float = 0.05) -> np.ndarray:
    moved = vector + noise * unit(seed)
    return (moved / np.linalg.norm(moved)).astype(np.float32)


def items(prefix: str, n: int, seed0: int = 0, **metadata: str) -> list[Item]:
    return [Item(f"{prefix}{i}", f"text {prefix}{i}", unit(seed0 + i), {"n": str(i), **metadata}) for i in range(n)]


def test_search_finds_the_nearest_items_best_first(store: MemoryStore):
    store.upsert("alice", items("a", 20))
    hits = store.search("alice", near(unit(7), 1), 3)
    assert hits[0].example_id == "a7"
    assert hits[0].text == "text a7"
    assert hits[0].metadata == {"n": "7"}
    assert hits[0].score == pytest.approx(float(np.dot(unit(7), near(unit(7), 1))), abs=1e-4)
    assert len(hits) == 3 and hits[0].score >= hits[1].score >= hits[2].score
    assert len(store.search("alice", unit(0), 50)) == 20


def test_same_example_id_keeps_one_item(store: MemoryStore):
    store.upsert("alice", [Item("e1", "first", unit(1))])
    store.upsert("alice", [Item("e1", "second", unit(2))])
    assert store.count("alice") == 1
    [hit] = store.search("alice", unit(2), 5)
    assert (hit.example_id, hit.text) == ("e1", "second")
    assert store.known_ids("alice", ["e1", "e2"]) == {"e1"}
    assert store.known_ids("bob", ["e1"]) == set()
    assert store.known_ids("alice", []) == set()


def test_filters_match_metadata_exactly(store: MemoryStore):
    store.upsert("alice", items("f", 10, 0, genre="dark_fantasy"))
    store.upsert("alice", items("s", 10, 100, genre="sci_fi", mood="grim"))
    hits = store.search("alice", unit(105), 5, {"genre": "dark_fantasy"})
    assert len(hits) == 5 and all(h.metadata["genre"] == "dark_fantasy" for h in hits)
    [hit] = store.search("alice", unit(105), 5, {"genre": "sci_fi", "n": "5"})
    assert hit.example_id == "s5"
    assert store.search("alice", unit(105), 5, {"genre": "sci_fi", "mood": "happy"}) == []
    assert store.search("alice", unit(105), 5, {"genre": "sci"}) == []


def test_hybrid_search_lifts_a_keyword_match(store: MemoryStore):
    store.upsert("alice", items("a", 20))
    store.upsert("alice", [Item("rare", "the zyxwv artifact hums", unit(999))])
    store.upsert("bob", [Item("bobs", "zyxwv zyxwv zyxwv", unit(3))])
    assert "rare" not in [h.example_id for h in store.search("alice", unit(3), 3)]
    hybrid = store.search("alice", unit(3), 3, keywords="where is the Zyxwv?")
    assert "rare" in [h.example_id for h in hybrid] and "bobs" not in [h.example_id for h in hybrid]
    assert hybrid[0].score >= hybrid[-1].score
    filtered = store.search("alice", unit(3), 3, {"n": "3"}, keywords="zyxwv")
    assert [h.example_id for h in filtered] == ["a3"]
    assert [h.example_id for h in store.search("alice", unit(3), 1, keywords="?!")] == ["a3"]


def test_no_user_sees_another_users_items(store: MemoryStore):
    users = ["alice", "Alice", "alice-", "alice_", "a", "1", "x" * 64, *[f"user{i}" for i in range(40)]]
    for index, user in enumerate(users):
        store.upsert(user, items(f"{index}:", 5))  # the same vectors for everyone
    for index, user in enumerate(users):
        hits = store.search(user, unit(2), 50)
        assert {h.example_id for h in hits} == {f"{index}:{i}" for i in range(5)}
        assert store.count(user) == 5
        assert len(store.texts(user, 100)) == 5
    assert store.search("nobody", unit(2), 5) == []
    assert store.count("nobody") == 0
    assert store.texts("nobody", 5) == []


def test_texts_are_the_latest_first(store: MemoryStore):
    store.upsert("alice", [Item("old", "old text", unit(1), {"genre": "horror"})])
    store.upsert("alice", [Item("new", "new text", unit(2))])
    assert store.texts("alice", 10) == [("new text", {}), ("old text", {"genre": "horror"})]
    assert store.texts("alice", 1) == [("new text", {})]


def test_forget_erases_items_and_facts_of_that_user_only(store: MemoryStore):
    store.upsert("alice", items("a", 4))
    store.upsert("bob", items("b", 3))
    store.put_fact("alice", Fact("k", {"v": 1}, unit(9)))
    store.put_fact("bob", Fact("k", {"v": 2}, unit(9)))
    assert store.forget("alice") == 4
    assert store.count("alice") == 0 and store.search("alice", unit(1), 5) == [] and store.facts("alice") == []
    assert store.count("bob") == 3 and store.facts("bob")[0].value == {"v": 2}
    assert store.forget("alice") == 0
    store.upsert("alice", items("again", 1))
    assert store.count("alice") == 1


def test_facts_are_stored_replaced_listed_and_deleted(store: MemoryStore):
    store.put_fact("alice", Fact("quantum_mechanics", {"founder": ["Planck", "Bohr"]}, unit(1)))
    store.put_fact("alice", Fact("dragons", "they breathe fire", unit(2)))
    store.put_fact("alice", Fact("quantum_mechanics", {"founder": ["Planck"], "year": 1900}, unit(3)))
    listed = store.facts("alice")
    assert [f.key for f in listed] == ["dragons", "quantum_mechanics"]
    assert listed[1].value == {"founder": ["Planck"], "year": 1900}
    assert np.allclose(listed[1].vector, unit(3), atol=1e-6)
    assert store.facts("bob") == []
    assert store.delete_fact("alice", "dragons") is True
    assert store.delete_fact("alice", "dragons") is False
    assert store.delete_fact("bob", "quantum_mechanics") is False
    assert [f.key for f in store.facts("alice")] == ["quantum_mechanics"]


def test_data_survives_reopening(store_factory):
    first = store_factory()
    first.upsert("alice", items("a", 5))
    first.put_fact("alice", Fact("k", [1, 2], unit(1)))
    first.close()
    second = store_factory()
    assert second.search("alice", unit(3), 1)[0].example_id == "a3"
    assert second.facts("alice")[0].value == [1, 2]


def test_vectors_of_another_dimension_are_refused(store: MemoryStore):
    if store.__class__.__name__ != "SqliteStore":
        pytest.skip("the SQLite store checks dimensions itself; Weaviate answers with its own error")
    with pytest.raises(ValueError, match="384"):
        store.upsert("alice", [Item("e", "t", np.zeros(10, dtype=np.float32))])
