"""Input rules, applied the same way to gRPC requests and to indexed events.

- user_id: zega_common.user_id.check_user_id (refused otherwise).
- remembered text: empty is refused; longer than max_chars is cut at the last word boundary before
  the limit and flagged `truncated` (the embedding model reads only the first ~256 word pieces anyway,
  so the cut loses nothing recall uses, and an example is never lost for being long).
- query: empty or longer than max_chars is refused (a query that long is a client bug).
- k: 0 means the default; above max_k is refused.
- metadata and filters: at most 32 entries, keys 1-64 characters of [A-Za-z0-9_.-], values at most
  512 characters; refused otherwise.
- example_id: at most 128 characters; when empty, derived from the text so that remembering the same
  text twice keeps one item.
- fact key: 1-128 characters, letters, digits, spaces and _ . - ; the value must be JSON of at most
  max_bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from zega_common.errors import InvalidArgument

MAX_METADATA_ENTRIES = 32
MAX_METADATA_VALUE_CHARS = 512
MAX_EXAMPLE_ID_CHARS = 128
MAX_FACT_KEY_CHARS = 128
_METADATA_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_FACT_KEY = re.compile(r"^[\w .-]{1,128}$")


def clip_text(text: str, max_chars: int) -> tuple[str, bool]:
    """(text, False) if it fits; else its head cut at a word boundary (or hard at the limit) and True."""
    if not text.strip():
        raise InvalidArgument("text is empty")
    if len(text) <= max_chars:
        return text, False
    head = text[:max_chars]
    cut = head.rfind(" ", max_chars // 2)
    return (head[:cut] if cut > 0 else head).rstrip(), True


def check_query(query: str, max_chars: int) -> str:
    if not query.strip():
        raise InvalidArgument("query is empty")
    if len(query) > max_chars:
        raise InvalidArgument(f"query is {len(query)} characters long; at most {max_chars} are allowed")
    return query


def check_k(k: int, default_k: int, max_k: int) -> int:
    if k == 0:
        return default_k
    if k < 0 or k > max_k:
        raise InvalidArgument(f"k must be between 1 and {max_k} (0 = {default_k}), got {k}")
    return k


def check_metadata(metadata: Mapping[str, str], what: str = "metadata") -> dict[str, str]:
    if len(metadata) > MAX_METADATA_ENTRIES:
        raise InvalidArgument(f"{what} has {len(metadata)} entries; at most {MAX_METADATA_ENTRIES} are allowed")
    for key, value in metadata.items():
        if not _METADATA_KEY.fullmatch(key):
            raise InvalidArgument(f"{what} key {key[:80]!r} is not allowed: use 1-64 of A-Z a-z 0-9 _ . -")
        if len(value) > MAX_METADATA_VALUE_CHARS:
            raise InvalidArgument(
                f"{what} value of {key!r} is {len(value)} characters long; at most {MAX_METADATA_VALUE_CHARS}"
            )
    return dict(metadata)


def example_id_for(example_id: str, text: str) -> str:
    """The given example id, checked, or one derived from the text (same text, same id)."""
    if len(example_id) > MAX_EXAMPLE_ID_CHARS:
        raise InvalidArgument(f"example_id is longer than {MAX_EXAMPLE_ID_CHARS} characters")
    if example_id:
        return example_id
    return "t-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def check_fact_key(key: str) -> str:
    if not _FACT_KEY.fullmatch(key) or not key.strip():
        raise InvalidArgument(
            f"fact key {key[:80]!r} is not allowed: use 1-{MAX_FACT_KEY_CHARS} letters, digits, spaces, _ . -"
        )
    return key


def check_fact_value(value: Any, max_bytes: int) -> Any:
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > max_bytes:
        raise InvalidArgument(f"fact value is {size} bytes as JSON; at most {max_bytes} are allowed")
    return value
