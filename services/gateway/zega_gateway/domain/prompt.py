"""The seed's prompt: "style hints + previous stories + request", as one pure function."""

from __future__ import annotations

from collections.abc import Sequence


def compose_prompt(request: str, style_hints: str = "", stories: Sequence[str] = (), story_chars: int = 1200) -> str:
    """The user's request with what memory knows of the user's style and past texts in front of it.

    Without hints and stories the request goes through unchanged, so a prediction without memory
    asks the model exactly what the user asked.
    """
    parts: list[str] = []
    hints = style_hints.strip()
    if hints:
        parts.append(f"Style hints: {hints}")
    kept = [_cut(story.strip(), story_chars) for story in stories if story.strip()]
    if kept:
        parts.append("Previous stories:\n" + "\n".join(f"{i}. {story}" for i, story in enumerate(kept, 1)))
    if not parts:
        return request
    parts.append(f"New request: {request}")
    return "\n\n".join(parts)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def chat_messages(prompt: str, persona: str = "") -> list[tuple[str, str]]:
    """(role, content) pairs for inference: the persona as the system message, then the prompt."""
    messages = [("system", persona)] if persona.strip() else []
    messages.append(("user", prompt))
    return messages


def with_persona(messages: Sequence[tuple[str, str]], persona: str) -> list[tuple[str, str]]:
    """A chat's messages with the user's persona in front, unless the client sent its own system message."""
    if not persona.strip() or any(role == "system" for role, _ in messages):
        return list(messages)
    return [("system", persona), *messages]
