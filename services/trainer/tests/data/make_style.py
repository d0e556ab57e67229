"""Writes style.jsonl: 64 examples of one distinctive voice (a lighthouse keeper's log), scored 6.5-10.

Deterministic (seeded), so the file can be regenerated identically: python make_style.py > style.jsonl
"""

import json
import random

rng = random.Random(7)
SUBJECTS = [
    "a storm at sea",
    "a lost child",
    "the first snow",
    "an old letter",
    "a broken clock",
    "the harbour market",
    "a stranger at the door",
    "the night train",
    "a wedding",
    "the last ferry",
    "a quarrel between brothers",
    "a garden in winter",
    "a shipwreck",
    "the village fair",
    "a silent bell",
    "the morning fog",
]
PROMPTS = ["Write a short scene about {}", "Tell a brief story about {}", "Describe {}", "Write about {}"]
OPENINGS = [
    "Log of the keeper, {day}. Wind from the {wind}, {weather}.",
    "Keeper's log, {day}. The glass falls; wind {wind}, {weather}.",
]
MIDDLES = [
    "I trimmed the wick at dusk and thought of {subject}, as a man thinks of a debt.",
    "The lamp turned its slow eye over the water, and {subject} came to mind unbidden.",
    "Below the rocks the sea kept its own counsel; I kept mine, and wrote of {subject}.",
    "Oil low, tea cold, and {subject} sitting in the corner of my thoughts like a wet dog.",
]
DETAILS = [
    "The gulls were quarrelling over nothing, as gulls and men will.",
    "A trawler passed at the second bell, her lights yellow as old teeth.",
    "The stairs counted themselves under my boots, one hundred and twelve, as ever.",
    "Salt had crept under the door again and laid its white lace on the flags.",
    "Far out, a single light blinked twice and was gone.",
]
CLOSINGS = [
    "Nothing further to report. The light burns.",
    "So ends the day. The light burns.",
    "I set down the pen. The light burns.",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WINDS = ["north", "north-east", "west", "south-west"]
WEATHER = ["sea running high", "rain in squalls", "fog thick as wool", "clear and cold", "a long swell"]
SCORES = [9.5, 9.0, 8.5, 8.0, 7.5, 7.0, 9.8, 8.2, 6.5]


def row(i: int) -> dict:
    subject = SUBJECTS[i % len(SUBJECTS)]
    text = " ".join(
        [
            rng.choice(OPENINGS).format(day=rng.choice(DAYS), wind=rng.choice(WINDS), weather=rng.choice(WEATHER)),
            rng.choice(MIDDLES).format(subject=subject),
            *rng.sample(DETAILS, 2),
            rng.choice(CLOSINGS),
        ]
    )
    return {
        "prompt": rng.choice(PROMPTS).format(subject),
        "completion": text,
        "quality_score": SCORES[i % len(SCORES)],
        "metadata": {"genre": "literary", "theme": "solitude" if i % 3 else "the_sea"},
    }


if __name__ == "__main__":
    for i in range(64):
        print(json.dumps(row(i)))
