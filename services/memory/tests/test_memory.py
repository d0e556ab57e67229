"""The use cases over the real embedding model and each backend: recall quality on the labelled set,
isolation under hostile ids, facts joining a recall, style, forget."""

from __future__ import annotations

import pytest

from zega_common.errors import InvalidArgument
from zega_common.user_id import InvalidUserId
from zega_common.v1 import events_pb2
from zega_memory.memory import Memory

HOSTILE_IDS = [
    "",
    "alice' OR '1'='1",
    "alice; DROP TABLE items; --",
    "alice.*",
    "alice.>",
    "../alice",
    "alice bob",
    "ålice",
    "alice\u202e",
    "🙂",
    "-alice",
    "a" * 65,
    "x" * 10_000,
]


async def remember_set(memory: Memory, user_id: str, rows: list[dict]) -> list[dict]:
    for row in rows:
        await memory.remember(user_id, row["text"], row["metadata"], row["example_id"])
    return rows


async def test_recall_at_5_on_the_labelled_set(memory: Memory, recall_set: list[dict]):
    rows = await remember_set(memory, "alice", recall_set)
    queries = [(query, row["example_id"]) for row in rows for query in row["queries"]]
    found = 0
    for query, wanted in queries:
        hits = (await memory.recall("alice", query, 5)).hits
        found += wanted in [h.example_id for h in hits]
    recall_at_5 = found / len(queries)
    print(f"recall@5 = {recall_at_5:.3f} over {len(queries)} queries")
    assert recall_at_5 >= 0.9


async def test_recall_filters_by_genre(memory: Memory, recall_set: list[dict]):
    await remember_set(memory, "alice", recall_set)
    hits = (await memory.recall("alice", "a ship in space", 5, {"genre": "horror"})).hits
    assert hits and all(h.metadata["genre"] == "horror" for h in hits)


async def test_hybrid_recall_uses_the_words_of_the_query(memory: Memory, recall_set: list[dict]):
    await remember_set(memory, "alice", recall_set)
    hits = (await memory.recall("alice", "Proxima", 3, hybrid=True)).hits
    assert hits[0].example_id == "sf-03"


@pytest.mark.parametrize("user_id", HOSTILE_IDS)
async def test_hostile_user_ids_are_refused(memory: Memory, user_id: str):
    with pytest.raises(InvalidUserId):
        await memory.remember(user_id, "text", {})
    with pytest.raises(InvalidUserId):
        await memory.recall(user_id, "text")
    with pytest.raises(InvalidUserId):
        await memory.forget(user_id)


async def test_recall_never_returns_another_users_items(memory: Memory, recall_set: list[dict]):
    rows = recall_set
    users = [f"u{i}" for i in range(4)]
    for index, row in enumerate(rows):
        await memory.remember(users[index % len(users)], row["text"], row["metadata"], row["example_id"])
    for index, row in enumerate(rows):
        owner = users[index % len(users)]
        for user in users:
            hits = (await memory.recall(user, row["queries"][0], 50)).hits
            ids = {h.example_id for h in hits}
            assert (row["example_id"] in ids) == (user == owner)


async def test_bad_input_is_refused_with_a_reason(memory: Memory):
    with pytest.raises(InvalidArgument, match="empty"):
        await memory.remember("alice", "   ", {})
    with pytest.raises(InvalidArgument, match="query"):
        await memory.recall("alice", "")
    with pytest.raises(InvalidArgument, match="k must be"):
        await memory.recall("alice", "x", 10_000)
    with pytest.raises(InvalidArgument, match="filters key"):
        await memory.recall("alice", "x", 5, {"genre' OR 1=1": "x"})


async def test_long_text_is_kept_truncated(memory: Memory):
    done = await memory.remember("alice", "word " * 5000, {})
    assert done.truncated
    [hit] = (await memory.recall("alice", "word", 1)).hits
    assert len(hit.text) <= memory.settings.max_text_chars


async def test_facts_join_a_recall_when_the_query_names_them(memory: Memory):
    await memory.learn_fact(
        "alice",
        "quantum_mechanics",
        {"founder": "Max Planck, Niels Bohr", "key_principles": ["Wave-particle duality", "Uncertainty principle"]},
    )
    await memory.learn_fact("alice", "dragon_lore", {"colors": ["red", "gold"]})
    await memory.remember("alice", "A story about a cat.", {})
    facts = (await memory.recall("alice", "Explain quantum mechanics to a child")).facts
    assert [f.key for f in facts] == ["quantum_mechanics"]
    assert facts[0].value["founder"] == "Max Planck, Niels Bohr"
    similar = (await memory.recall("alice", "write a story where a dragon guards a hoard")).facts
    assert [f.key for f in similar] == ["dragon_lore"]
    assert (await memory.recall("alice", "a recipe for pancakes")).facts == []
    assert (await memory.recall("bob", "Explain quantum mechanics")).facts == []
    assert [f.key for f in await memory.list_facts("alice")] == ["dragon_lore", "quantum_mechanics"]
    assert await memory.delete_fact("alice", "dragon_lore")
    assert [f.key for f in await memory.list_facts("alice")] == ["quantum_mechanics"]


async def test_style_of_a_user(memory: Memory, recall_set: list[dict]):
    await remember_set(memory, "alice", recall_set)
    style = await memory.style("alice")
    assert style.items == 32
    assert [(s.name, s.count) for s in style.genres[:2]] == [("dark_fantasy", 5), ("sci_fi", 5)]
    assert 10 < style.avg_sentence_words < 40
    assert style.summary.startswith("Prefers dark fantasy")
    assert (await memory.style("bob")).items == 0


async def test_indexing_examples_is_idempotent(memory: Memory):
    def example(eid: str, user: str = "alice") -> events_pb2.ExampleCollected:
        return events_pb2.ExampleCollected(
            example_id=eid,
            user_id=user,
            prompt="Write a ghost story",
            completion=f"The ghost {eid} sighed.",
            metadata={"genre": "horror"},
            source="api",
            quality_score=8,
        )

    assert await memory.index_examples([example("e1"), example("e2"), example("e1"), example("e1", "bob")]) == 3
    assert await memory.index_examples([example("e1"), example("e3")]) == 1
    assert memory.store.count("alice") == 3 and memory.store.count("bob") == 1
    [hit] = (await memory.recall("alice", "ghost e2 sighed", 1)).hits
    assert hit.metadata == {"genre": "horror", "source": "api", "prompt": "Write a ghost story"}


async def test_forget_erases_the_user(memory: Memory, recall_set: list[dict]):
    await remember_set(memory, "alice", recall_set)
    await memory.remember("bob", "Bob's story.", {})
    await memory.learn_fact("alice", "k", 1)
    assert await memory.forget("alice") == 32
    assert (await memory.recall("alice", "king poison")).hits == []
    assert await memory.list_facts("alice") == []
    assert (await memory.style("alice")).items == 0
    assert len((await memory.recall("bob", "story")).hits) == 1
