"""Optional delegation to Ollama: a user whose `zega-<user_id>` model exists there (the trainer registers
it when ZEGA_OLLAMA_HOST is set) may be served by it. Anything going wrong there falls back to local."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import ollama

from zega_inference.domain.request import GenerationSpec

log = logging.getLogger(__name__)

MODEL_CHECK_TTL_S = 30.0


def model_name(user_id: str) -> str:
    return f"zega-{user_id}"


@dataclass(frozen=True)
class OllamaPiece:
    delta: str
    done: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = ""


class OllamaBackend:
    def __init__(self, host: str, timeout_s: float) -> None:
        self._client = ollama.AsyncClient(host=host, timeout=timeout_s)
        self._known: dict[str, tuple[bool, float]] = {}

    async def has_model(self, user_id: str) -> bool:
        """Whether zega-<user_id> exists there (remembered for a short while either way)."""
        name = model_name(user_id)
        known = self._known.get(name)
        if known is not None and time.monotonic() - known[1] < MODEL_CHECK_TTL_S:
            return known[0]
        try:
            await self._client.show(name)
            exists = True
        except ollama.ResponseError:
            exists = False
        except Exception as exc:
            log.warning("Ollama is not answering (%s); generating locally", exc)
            exists = False
        self._known[name] = (exists, time.monotonic())
        return exists

    def forget(self, user_id: str) -> None:
        self._known.pop(model_name(user_id), None)

    async def stream(self, spec: GenerationSpec) -> AsyncIterator[OllamaPiece]:
        options: dict = {"num_predict": spec.max_new_tokens, "temperature": spec.sampling.temperature}
        if spec.sampling.top_p < 1.0:
            options["top_p"] = spec.sampling.top_p
        if spec.sampling.seed:
            options["seed"] = spec.sampling.seed
        parts = await self._client.chat(
            model=model_name(spec.user_id),
            messages=[{"role": role, "content": content} for role, content in spec.messages],
            stream=True,
            options=options,
        )
        async for part in parts:
            if part.done:
                yield OllamaPiece(
                    part.message.content or "",
                    done=True,
                    prompt_tokens=part.prompt_eval_count or 0,
                    completion_tokens=part.eval_count or 0,
                    finish_reason="length" if part.done_reason == "length" else "stop",
                )
                return
            yield OllamaPiece(part.message.content or "")
