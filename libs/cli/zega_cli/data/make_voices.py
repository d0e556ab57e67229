"""Writes voices.jsonl: the demo's data set of two users with clearly different voices.

Each text is put together from sentences written for this project in that user's voice (an opening, two
middles, a closing), so every text is different but the voice is constant. Run it to regenerate the file
(deterministic): python libs/cli/zega_cli/data/make_voices.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

VOICES = {
    "mara": {
        "genres": ["dark_fantasy", "gothic", "mythic"],
        "themes": ["forbidden_knowledge", "ancient_evil", "sacrifice", "moral_ambiguity"],
        "prompts": [
            "Write a scene in a ruined cathedral",
            "Describe a cursed artifact",
            "Write the opening of a tale about a drowned city",
            "Describe a witch's library at midnight",
            "Write a scene where a knight breaks an oath",
            "Describe a forest that remembers",
            "Write about a bargain with something old",
            "Describe a funeral under a red moon",
            "Write a scene in a lighthouse at the edge of the world",
            "Describe a queen who cannot sleep",
            "Write about the last keeper of a forgotten god",
            "Describe a storm over the salt marshes",
        ],
        "openings": [
            "The candles guttered in the nave, and the old stones wept their slow black tears.",
            "Beneath the ashen sky the obsidian chest lay waiting, patient as a buried oath.",
            "Long before the bells fell silent, the drowned city had learned to whisper.",
            "In the hush of the midnight library, the shelves leaned close like conspirators.",
            "Ser Aldric knelt in the frost, and the oath he had sworn curdled upon his tongue.",
            "The forest did not forget; every root held a name, and every name held a grief.",
            "It came to her in the grey hour before dawn, wearing the voice of her dead mother.",
            "Under the crimson moon the mourners walked, their lanterns trembling like frightened hearts.",
            "At the edge of the world the lighthouse burned, a lonely eye against the endless dark.",
            "The queen had not slept in forty nights, and the palace had begun to dream for her.",
            "Old Wenna tended the altar of a god whose name the world had long since misplaced.",
            "Over the salt marshes the storm gathered its grievances, slow and deliberate and cold.",
        ],
        "middles": [
            "Shadows pooled in the hollows of the vaulted ceiling, thick and velvet and hungry.",
            "Somewhere far below, water dripped with the measured cadence of a funeral drum.",
            "The air tasted of iron and old incense, of promises broken in languages no longer spoken.",
            "Her fingers, stained with the ink of forbidden tomes, traced runes that hummed with cold fire.",
            "Each step deeper felt like crossing a threshold that would not suffer her return.",
            "The wind carried the scent of rain and rot, of lilies laid upon unquiet graves.",
            "Ivy crept over the shattered windows like a slow green absolution.",
            "Every whisper in the dark was a question, and every question had a price.",
            "The silver of the moon lay across the floor like a blade laid down in surrender.",
            "Ancient things stirred beneath the hill, dreaming their long and patient dreams of dominion.",
            "She remembered the warnings of the crones, and she remembered, too, how little they had mattered.",
            "The bells of the sunken towers tolled beneath the waves, mournful and unhurried.",
            "Ravens gathered on the broken battlements, black sentinels of an older sorrow.",
            "What she sought had a cost, and the cost, she knew, would be paid in memory.",
        ],
        "closings": [
            (
                "And in the darkness something smiled, for it had waited a thousand years, "
                "and it could wait a little longer."
            ),
            "She closed the book, but the words had already found their way into her blood.",
            "When dawn came at last, it came grey and grudging, and it found the altar empty.",
            "The price was paid; the door was open; and nothing, nothing would ever be the same.",
            "Far away, beneath the sea, the drowned bells answered.",
            "He walked on into the mist, and the mist, gently, took him.",
            "Only the candles remembered, and candles, as everyone knows, do not live long.",
            "So the old evil woke, and stretched, and began, very softly, to sing.",
        ],
    },
    "jules": {
        "genres": ["sci_fi", "noir", "thriller"],
        "themes": ["corporate_power", "betrayal", "memory", "survival"],
        "prompts": [
            "Write a scene on a space station bar",
            "Describe a detective meeting an informant",
            "Write the opening of a heist on Mars",
            "Describe a city run by an AI",
            "Write a scene where a pilot loses contact",
            "Describe an interrogation in a cargo bay",
            "Write about a courier with a stolen memory",
            "Describe a blackout in a megacity",
            "Write a scene where a deal goes wrong",
            "Describe the first hour on a colony ship",
            "Write about a hacker who gets caught",
            "Describe a chase through a data center",
        ],
        "openings": [
            "Rain again. Neon again. Kade hated both.",
            "The bar on Ring Four smelled like coolant and bad decisions.",
            "Vega slid into the booth. She didn't sit. She landed.",
            "Mars Port at 0300. Dust on everything. Cops on nothing.",
            "The signal died at 14:02. Nobody on the bridge said a word.",
            "Cargo Bay Six. Cold steel. One chair. One very nervous man.",
            "I carried other people's memories for a living. Tonight one carried me.",
            "The grid went dark at midnight. Ten million people held their breath.",
            "The money was on the table. The guns were under it.",
            "Day one on the Meridian. Two thousand sleepers. One of them awake.",
            "They caught Pike at dawn. He was still typing.",
            "Server racks. Blue light. Footsteps behind me. Fast ones.",
        ],
        "middles": [
            '"You got the chip?" she asked. "Depends," I said. "You got the cash?"',
            "The city hummed. It always hummed. Tonight it sounded like a warning.",
            "I checked the clip. Six rounds. Enough for a conversation.",
            '"Nobody leaves," the voice said. Flat. Synthetic. Bored.',
            "The AI ran the traffic, the water, the cops. It didn't run me. Not yet.",
            "Somebody had sold us out. Somebody always does.",
            '"Talk," I said. He talked. Most of it was lies. Some of it wasn\'t.',
            "My implant itched. It did that when the odds got bad.",
            "Sirens, three blocks out. Closing. I had ninety seconds, maybe less.",
            "The corp logo watched from every screen. Smiling. Always smiling.",
            '"It\'s just business," he said. It was never just business.',
            "Oxygen at forty percent. Falling. I did the math and didn't like it.",
            "I ran. Left, right, down the stairwell, through the fire door.",
            "The deal was simple. Simple deals are the ones that kill you.",
        ],
        "closings": [
            "I walked out into the rain. It didn't wash anything off. It never does.",
            '"See you around," she said. I knew I wouldn\'t.',
            "The screen blinked once. Then it blinked my name.",
            "Another night. Another lie. Another paycheck.",
            "Behind me the station burned. I didn't look back.",
            "Somewhere a server logged it all. Nobody would ever read it.",
            "I lit a cigarette. My hands were steady. My heart wasn't.",
            "The door hissed shut. Game over. Or maybe just level two.",
        ],
    },
}

SCORES = [9.6, 9.1, 8.7, 8.2, 7.8, 7.3, 9.3, 8.5, 6.4, 7.6, 8.9, 9.8, 5.9, 8.1, 7.1]


def build(n_per_user: int = 64, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for user, voice in VOICES.items():
        seen = set()
        i = 0
        while i < n_per_user:
            k = rng.randrange(len(voice["prompts"]))
            m1, m2 = rng.sample(range(len(voice["middles"])), 2)
            c = rng.randrange(len(voice["closings"]))
            key = (k, m1, m2, c)
            if key in seen:
                continue
            seen.add(key)
            text = " ".join([voice["openings"][k], voice["middles"][m1], voice["middles"][m2], voice["closings"][c]])
            rows.append(
                {
                    "voice": user,
                    "prompt": voice["prompts"][k],
                    "completion": text,
                    "quality_score": SCORES[i % len(SCORES)],
                    "metadata": {"genre": rng.choice(voice["genres"]), "theme": rng.choice(voice["themes"])},
                }
            )
            i += 1
    return rows


if __name__ == "__main__":
    out = Path(__file__).with_name("voices.jsonl")
    out.write_text("".join(json.dumps(row) + "\n" for row in build()))
    print(f"wrote {out}")
