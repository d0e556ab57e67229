"""StyleSummary's measures on texts whose answer is known by hand."""

from __future__ import annotations

import pytest

from zega_memory.domain import style


def test_no_texts_gives_an_empty_profile():
    profile = style.profile([])
    assert profile.items == 0
    assert profile.summary == "No texts remembered yet."


def test_sentences_and_words():
    text = 'The night was cold. "Run!" she said. Why? Because the wolves came\n\nThe end'
    expected = ["The night was cold.", '"Run!"', "she said.", "Why?", "Because the wolves came", "The end"]
    assert style.sentences(text) == expected
    assert style.words("Don't stop, 42 times") == ["don't", "stop", "times"]


def test_average_sentence_length():
    profile = style.profile([("One two three. Four five six seven eight.", {})])
    assert profile.avg_sentence_words == pytest.approx(4.0)


def test_dialogue_share_counts_sentences_inside_quotes():
    text = 'He waited. "Are you there? Answer me." Nothing moved. “Please,” he whispered. The door stayed shut.'
    flags = style.dialogue_flags(text)
    assert flags == [False, True, True, False, True, False]
    assert style.profile([(text, {})]).dialogue_share == pytest.approx(3 / 6)


def test_descriptiveness_heuristic():
    assert style.is_descriptive("slowly")
    assert style.is_descriptive("dark")
    assert style.is_descriptive("mysterious")
    assert not style.is_descriptive("family")
    assert not style.is_descriptive("music")
    assert not style.is_descriptive("door")
    plain = style.profile([("He went to the shop. He got the milk. He went home.", {})])
    rich = style.profile([("The ancient, crumbling tower rose slowly over the misty, silent, endless valley.", {})])
    assert plain.descriptiveness == 0.0
    assert rich.descriptiveness > 0.4


def test_vocabulary_richness_is_type_token_ratio_per_segment():
    assert style.msttr(["a", "b", "a", "b"]) == pytest.approx(0.5)
    repetitive = ["the", "cat"] * 100
    varied = [f"w{i}" for i in range(200)]
    assert style.msttr(repetitive) == pytest.approx(0.02)
    assert style.msttr(varied) == pytest.approx(1.0)


def test_genre_and_theme_shares_from_metadata():
    texts = [
        ("A.", {"genre": "dark_fantasy", "theme": "betrayal, revenge"}),
        ("B.", {"genre": "dark_fantasy", "theme": "betrayal"}),
        ("C.", {"genre": "Sci Fi"}),
        ("D.", {}),
    ]
    profile = style.profile(texts)
    assert [(s.name, s.count) for s in profile.genres] == [("dark_fantasy", 2), ("sci_fi", 1)]
    assert profile.genres[0].share == pytest.approx(2 / 3)
    assert [(s.name, s.count, s.share) for s in profile.themes] == [("betrayal", 2, 1.0), ("revenge", 1, 0.5)]


def test_summary_names_genres_themes_and_traits():
    tower = "The ancient, crumbling tower rose slowly over the misty valley where nothing lived."
    rain = "Cold rain fell endlessly on the broken, silent city while the old king wept alone."
    texts = [
        (tower, {"genre": "dark_fantasy", "theme": "decay"}),
        (rain, {"genre": "dark_fantasy"}),
        ('"Leave," said the stranger.', {"genre": "horror"}),
    ]
    summary = style.profile(texts).summary
    assert summary.startswith("Prefers dark fantasy (67%) and horror (33%); themes: decay.")
    assert "descriptive" in summary and "sentences" in summary and "dialogue" in summary
