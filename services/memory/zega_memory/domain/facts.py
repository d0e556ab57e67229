"""Which facts join a recall: those whose key names what the query is about.

A fact matches when every word of its key appears in the query (`quantum_mechanics` and "explain
quantum mechanics"), or when the embedding of its key, read as words, is close to the query's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from zega_memory.domain.store import Fact

_WORD = re.compile(r"[^\W_]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def key_phrase(key: str) -> str:
    """`quantum_mechanics` / `quantumMechanics` / `quantum-mechanics` -> `quantum mechanics`."""
    return " ".join(_WORD.findall(_CAMEL.sub(" ", key))).lower()


def _stem(word: str) -> str:
    """Plural to singular, roughly: stories -> story, principles -> principle (not: glass)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words_of(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower())}


def key_in_query(key: str, query_words: set[str]) -> bool:
    key_words = {_stem(w) for w in key_phrase(key).split()}
    return bool(key_words) and key_words <= query_words


def select_facts(
    query: str, query_vector: np.ndarray, facts: Sequence[Fact], min_similarity: float, limit: int
) -> list[Fact]:
    """Matching facts, key-word matches first, then by similarity of the key to the query."""
    if not facts or limit <= 0:
        return []
    query_words = words_of(query)
    scored = []
    for fact in facts:
        similarity = float(np.dot(fact.vector, query_vector))
        by_words = key_in_query(fact.key, query_words)
        if by_words or similarity >= min_similarity:
            scored.append((by_words, similarity, fact))
    scored.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    return [fact for _, _, fact in scored[:limit]]
