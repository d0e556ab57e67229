"""The seed's "style hints" without an LLM: what a user writes about and how, measured on their texts.

- genres / themes: counted from each item's metadata (`genre`, `genres`, `theme`, `themes`;
  comma-separated values count separately), with their share of the items that name one.
- avg_sentence_words: words per sentence (sentences end at . ! ? or a blank line).
- descriptiveness: adjectives and adverbs per word, by a heuristic (a list of common adjectives, the
  usual adjective suffixes, and -ly adverbs minus a list of -ly words that are not adverbs).
- dialogue_share: share of sentences with any part inside double quotes.
- vocabulary_richness: distinct words / words, averaged over 100-word segments (MSTTR) so that it does
  not fall just because a user wrote more; a text shorter than 100 words counts as one segment.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

SEGMENT_WORDS = 100
TOP_SHARES = 5

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[.!?…][\"”’')\]])\s+|\n\s*\n")
_QUOTES = {'"': None, "“": True, "”": False, "«": True, "»": False, "„": True}

_ADJECTIVE_SUFFIXES = ("ous", "ful", "ive", "less", "able", "ible", "ic", "ish", "ary", "ent", "ant", "est")
_NOT_ADJECTIVES = {
    "music",
    "magic",
    "logic",
    "table",
    "cable",
    "fable",
    "bible",
    "stable",
    "basic",
    "give",
    "live",
    "five",
    "twelve",
    "olive",
    "arrive",
    "drive",
    "believe",
    "leave",
    "receive",
    "forgive",
    "comic",
    "topic",
    "public",
    "panic",
    "picnic",
    "traffic",
    "fabric",
    "garlic",
    "wish",
    "fish",
    "dish",
    "finish",
    "vanish",
    "famish",
    "polish",
    "banish",
    "parish",
    "perish",
    "library",
    "diary",
    "salary",
    "summary",
    "story",
    "sent",
    "went",
    "spent",
    "bent",
    "event",
    "moment",
    "agent",
    "rent",
    "cent",
    "tent",
    "student",
    "parent",
    "want",
    "giant",
    "plant",
    "servant",
    "chant",
    "rest",
    "best",
    "test",
    "chest",
    "west",
    "east",
    "nest",
    "guest",
    "quest",
    "forest",
    "honest",
    "harvest",
    "interest",
    "priest",
    "just",
    "must",
    "least",
    "most",
    "against",
    "lest",
    "dent",
    "meant",
    "cannot",
}
_COMMON_ADJECTIVES = {
    "old",
    "new",
    "young",
    "big",
    "small",
    "little",
    "large",
    "long",
    "short",
    "tall",
    "high",
    "low",
    "dark",
    "light",
    "bright",
    "dim",
    "pale",
    "black",
    "white",
    "red",
    "blue",
    "green",
    "grey",
    "gray",
    "golden",
    "silver",
    "cold",
    "warm",
    "hot",
    "cool",
    "wet",
    "dry",
    "soft",
    "hard",
    "heavy",
    "thin",
    "thick",
    "deep",
    "wide",
    "narrow",
    "quiet",
    "loud",
    "silent",
    "still",
    "slow",
    "fast",
    "quick",
    "good",
    "bad",
    "great",
    "strange",
    "odd",
    "ancient",
    "empty",
    "full",
    "broken",
    "sharp",
    "sweet",
    "bitter",
    "rich",
    "poor",
    "brave",
    "cruel",
    "kind",
    "gentle",
    "wild",
    "calm",
    "fierce",
    "grim",
    "bleak",
    "vast",
    "tiny",
    "huge",
    "lonely",
    "hollow",
    "rotten",
    "rusty",
    "misty",
    "foggy",
    "gloomy",
    "eerie",
    "crimson",
    "scarlet",
    "shadowy",
    "weary",
    "fragile",
    "sudden",
    "faint",
    "distant",
    "sad",
    "happy",
    "angry",
    "tired",
    "sick",
    "dead",
    "alive",
    "true",
    "false",
    "clear",
    "clean",
    "dirty",
    "beautiful",
    "ugly",
    "pretty",
    "fine",
    "fresh",
    "stale",
    "proud",
    "bold",
    "shy",
    "wise",
    "foolish",
    "very",
    "too",
    "quite",
    "rather",
    "almost",
    "soon",
    "never",
    "always",
    "often",
    "here",
    "there",
}
_NOT_ADVERBS = {
    "only",
    "family",
    "early",
    "reply",
    "supply",
    "apply",
    "fly",
    "holy",
    "belly",
    "jelly",
    "lily",
    "rally",
    "ally",
    "bully",
    "italy",
    "july",
    "assembly",
    "anomaly",
    "melancholy",
    "monopoly",
    "folly",
    "hilly",
    "silly",
    "ugly",
    "lonely",
    "lovely",
    "friendly",
    "elderly",
    "likely",
    "lively",
    "costly",
    "deadly",
    "chilly",
    "oily",
    "curly",
    "holly",
    "sly",
    "rely",
    "comply",
    "multiply",
    "imply",
    "tally",
}
_ADJECTIVE_LY = {
    "lonely",
    "lovely",
    "friendly",
    "elderly",
    "likely",
    "lively",
    "costly",
    "deadly",
    "chilly",
    "silly",
    "ugly",
    "curly",
    "oily",
    "hilly",
    "sly",
    "holy",
    "early",
}


@dataclass(frozen=True)
class Share:
    name: str
    count: int
    share: float


@dataclass(frozen=True)
class StyleProfile:
    items: int
    genres: list[Share] = field(default_factory=list)
    themes: list[Share] = field(default_factory=list)
    avg_sentence_words: float = 0.0
    descriptiveness: float = 0.0
    dialogue_share: float = 0.0
    vocabulary_richness: float = 0.0
    summary: str = ""


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip() and _WORD.search(s)]


def is_descriptive(word: str) -> bool:
    """An adjective or adverb, roughly."""
    if word in _COMMON_ADJECTIVES or word in _ADJECTIVE_LY:
        return True
    if word in _NOT_ADJECTIVES or word in _NOT_ADVERBS or len(word) < 4:
        return False
    if word.endswith("ly"):
        return True
    return len(word) > 5 and word.endswith(_ADJECTIVE_SUFFIXES)


def dialogue_flags(text: str) -> list[bool]:
    """For each sentence of `text`: does any part of it lie inside double quotes?"""
    flags = []
    inside = False
    for sentence in sentences(text):
        touched = inside
        for char in sentence:
            if char in _QUOTES:
                opening = _QUOTES[char]
                inside = (not inside) if opening is None else opening
                touched = True
        flags.append(touched)
    return flags


def msttr(tokens: Sequence[str], segment: int = SEGMENT_WORDS) -> float:
    """Mean type-token ratio over full segments; the whole list when shorter than one segment."""
    if not tokens:
        return 0.0
    if len(tokens) < segment:
        return len(set(tokens)) / len(tokens)
    ratios = [len(set(tokens[i : i + segment])) / segment for i in range(0, len(tokens) - segment + 1, segment)]
    return sum(ratios) / len(ratios)


def shares(metadatas: Iterable[Mapping[str, str]], keys: tuple[str, ...]) -> list[Share]:
    """Top values under `keys` (most frequent first, then by name) with their share of the items naming any."""
    counts: Counter[str] = Counter()
    naming = 0
    for metadata in metadatas:
        values = {
            v.strip().lower().replace(" ", "_") for key in keys for v in metadata.get(key, "").split(",") if v.strip()
        }
        if values:
            naming += 1
            counts.update(values)
    top = sorted(counts.items(), key=lambda entry: (-entry[1], entry[0]))[:TOP_SHARES]
    return [Share(name, n, n / naming) for name, n in top]


def profile(texts: Sequence[tuple[str, Mapping[str, str]]]) -> StyleProfile:
    """The style of a user from their texts and metadata."""
    if not texts:
        return StyleProfile(items=0, summary="No texts remembered yet.")
    all_words: list[str] = []
    sentence_count = 0
    dialogue = 0
    for text, _ in texts:
        all_words.extend(words(text))
        flags = dialogue_flags(text)
        sentence_count += len(flags)
        dialogue += sum(flags)
    metadatas = [metadata for _, metadata in texts]
    result = StyleProfile(
        items=len(texts),
        genres=shares(metadatas, ("genre", "genres")),
        themes=shares(metadatas, ("theme", "themes")),
        avg_sentence_words=len(all_words) / sentence_count if sentence_count else 0.0,
        descriptiveness=sum(map(is_descriptive, all_words)) / len(all_words) if all_words else 0.0,
        dialogue_share=dialogue / sentence_count if sentence_count else 0.0,
        vocabulary_richness=msttr(all_words),
    )
    return StyleProfile(**{**result.__dict__, "summary": describe(result)})


def _pretty(name: str) -> str:
    return name.replace("_", " ")


def _list(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def describe(style: StyleProfile) -> str:
    """One short text for a prompt, e.g. "Prefers dark fantasy (60%) and horror (30%); themes: ..."."""
    parts = []
    if style.genres:
        parts.append("Prefers " + _list([f"{_pretty(s.name)} ({s.share:.0%})" for s in style.genres[:3]]))
    if style.themes:
        parts.append("themes: " + ", ".join(_pretty(s.name) for s in style.themes[:3]))
    length = "short" if style.avg_sentence_words < 10 else "medium-length" if style.avg_sentence_words < 18 else "long"
    description = (
        "spare"
        if style.descriptiveness < 0.07
        else "moderately descriptive"
        if style.descriptiveness < 0.13
        else "richly descriptive"
    )
    talk = (
        "little dialogue"
        if style.dialogue_share < 0.1
        else "some dialogue"
        if style.dialogue_share < 0.35
        else "much dialogue"
    )
    vocabulary = (
        "plain" if style.vocabulary_richness < 0.6 else "varied" if style.vocabulary_richness < 0.75 else "rich"
    )
    traits = (
        f"Writes {length} sentences (about {style.avg_sentence_words:.0f} words), {description}, "
        f"with {talk} ({style.dialogue_share:.0%} of sentences) and a {vocabulary} vocabulary."
    )
    head = "; ".join(parts)
    return f"{head}. {traits}" if head else traits
