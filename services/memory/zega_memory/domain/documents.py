"""How a collected example becomes a remembered item.

The item's text is the completion (the user's own voice, what a prompt shows as a past text); the
vector is of prompt and completion together, so that a request like the original prompt finds it.
Event metadata is cleaned rather than refused (the example was already accepted upstream): entries
with a key our rule refuses are dropped, values clipped; `source` and the head of the prompt are added.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from zega_memory.domain.limits import MAX_METADATA_ENTRIES, MAX_METADATA_VALUE_CHARS, clip_text

_METADATA_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Document:
    example_id: str
    text: str
    embed_text: str
    metadata: dict[str, str]
    truncated: bool


def clean_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    kept = {k: v[:MAX_METADATA_VALUE_CHARS] for k, v in metadata.items() if _METADATA_KEY.fullmatch(k)}
    return dict(sorted(kept.items())[: MAX_METADATA_ENTRIES - 2])


def example_document(
    example_id: str, prompt: str, completion: str, metadata: Mapping[str, str], source: str, max_chars: int
) -> Document:
    text, truncated = clip_text(completion, max_chars)
    meta = clean_metadata(metadata)
    if source:
        meta["source"] = source[:MAX_METADATA_VALUE_CHARS]
    if prompt.strip():
        meta["prompt"] = prompt[:MAX_METADATA_VALUE_CHARS]
    embed_text = f"{prompt.strip()}\n\n{text}" if prompt.strip() else text
    return Document(example_id, text, embed_text, meta, truncated)
