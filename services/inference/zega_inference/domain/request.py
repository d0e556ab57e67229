"""A GenerateRequest checked against the limits, as an immutable spec. No I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from zega_common.errors import InvalidArgument
from zega_common.user_id import check_user_id
from zega_inference.domain.adapter_ref import AdapterRef

ROLES = ("system", "user", "assistant")
MAX_MESSAGES = 256
MAX_TEMPERATURE = 5.0
# Characters per token is rarely above ~8; the char cap refuses absurd prompts before tokenizing them.
CHARS_PER_TOKEN_CAP = 16


@dataclass(frozen=True)
class Limits:
    max_prompt_tokens: int
    max_new_tokens: int
    default_max_new_tokens: int


@dataclass(frozen=True)
class Sampling:
    """temperature 0 = greedy; top_p 1 = no nucleus cut; seed 0 = not reproducible."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass(frozen=True)
class GenerationSpec:
    user_id: str
    messages: tuple[tuple[str, str], ...]
    max_new_tokens: int
    sampling: Sampling
    adapter: AdapterRef


class _Message(Protocol):
    role: str
    content: str


class _Request(Protocol):
    user_id: str
    prompt: str
    messages: list[_Message]
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int
    adapter: str


def spec_from_request(request: _Request, limits: Limits) -> GenerationSpec:
    """Check every field; raises InvalidArgument (or InvalidUserId) with a message saying what is wrong."""
    user_id = check_user_id(request.user_id)
    messages = _messages(request, limits)
    max_new = request.max_new_tokens or limits.default_max_new_tokens
    if max_new > limits.max_new_tokens:
        raise InvalidArgument(f"max_new_tokens is {max_new}; the limit is {limits.max_new_tokens}")
    temperature = float(request.temperature)
    if not math.isfinite(temperature) or not 0.0 <= temperature <= MAX_TEMPERATURE:
        raise InvalidArgument(f"temperature must be between 0 and {MAX_TEMPERATURE}, got {temperature}")
    top_p = float(request.top_p) or 1.0
    if not math.isfinite(top_p) or not 0.0 < top_p <= 1.0:
        raise InvalidArgument(f"top_p must be in (0, 1], got {top_p}")
    return GenerationSpec(
        user_id=user_id,
        messages=messages,
        max_new_tokens=max_new,
        sampling=Sampling(temperature=temperature, top_p=top_p, seed=int(request.seed)),
        adapter=AdapterRef.parse(request.adapter),
    )


def _messages(request: _Request, limits: Limits) -> tuple[tuple[str, str], ...]:
    max_chars = limits.max_prompt_tokens * CHARS_PER_TOKEN_CAP
    if request.messages:
        if len(request.messages) > MAX_MESSAGES:
            raise InvalidArgument(f"{len(request.messages)} messages; at most {MAX_MESSAGES} are allowed")
        out = []
        for i, message in enumerate(request.messages):
            role = message.role.strip().lower()
            if role not in ROLES:
                raise InvalidArgument(f"messages[{i}].role is {message.role[:20]!r}; use one of {', '.join(ROLES)}")
            out.append((role, message.content))
        if all(role == "system" for role, _ in out):
            raise InvalidArgument("messages hold no user or assistant message")
    elif request.prompt.strip():
        out = [("user", request.prompt)]
    else:
        raise InvalidArgument("prompt and messages are both empty: send one of them")
    if sum(len(content) for _, content in out) > max_chars:
        raise InvalidArgument(f"the prompt is longer than {max_chars} characters")
    return tuple(out)
