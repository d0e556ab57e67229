"""One generation from request to chunks: check the request, build the prompt, pick the adapter, run it
on the engine (or Ollama) and turn tokens into text deltas. The gRPC servicer only maps to protos."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.js.kv import KeyValue

from zega_common.errors import InvalidArgument, Unavailable
from zega_inference import metrics
from zega_inference.adapters.manager import AdapterManager, Resolution
from zega_inference.adapters.store import AdapterStore
from zega_inference.domain.adapter_ref import AdapterMode
from zega_inference.domain.detokenizer import IncrementalDetokenizer
from zega_inference.domain.request import GenerationSpec, Limits, spec_from_request
from zega_inference.engine.decoder import Event, Finished, Seq, Tokens
from zega_inference.engine.runtime import ModelRuntime
from zega_inference.ollama_backend import OllamaBackend

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chunk:
    """Mirrors zega.v1.GenerateChunk."""

    delta: str = ""
    adapter_version: int = 0
    fallback_reason: str = ""
    done: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = ""


class GenerationService:
    def __init__(
        self,
        runtime: ModelRuntime,
        adapters: AdapterManager,
        limits: Limits,
        ollama: OllamaBackend | None = None,
    ) -> None:
        self.runtime = runtime
        self.adapters = adapters
        self.limits = limits
        self.ollama = ollama
        self.tokenizer = runtime.tokenizer

    @property
    def engine(self):
        return self.runtime.engine

    async def start(self, store: AdapterStore, pointers_kv: KeyValue | None) -> None:
        self.engine.start()
        await self.adapters.start(store, pointers_kv)

    async def stop(self) -> None:
        await self.adapters.stop()
        await asyncio.to_thread(self.engine.stop)

    @property
    def ready(self) -> bool:
        return self.engine.running and self.adapters.synced

    def forget(self, user_id: str) -> None:
        """user.forget: drop the user's adapters and stop their running generations."""
        self.adapters.forget(user_id)
        self.engine.cancel_user(user_id)
        if self.ollama is not None:
            self.ollama.forget(user_id)

    def encode(self, spec: GenerationSpec) -> list[int]:
        messages = [{"role": role, "content": content} for role, content in spec.messages]
        if self.tokenizer.chat_template:
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)["input_ids"]
        else:
            ids = self.tokenizer("\n".join(m["content"] for m in messages))["input_ids"]
        if len(ids) > self.limits.max_prompt_tokens:
            raise InvalidArgument(f"the prompt is {len(ids)} tokens; the limit is {self.limits.max_prompt_tokens}")
        return list(ids)

    def _decode(self, ids) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    async def stream(self, request, deadline_s: float | None = None) -> AsyncIterator[Chunk]:
        """Chunks as tokens are produced; the last one has done=True. Closing the iterator early (the
        client went away, the deadline passed) stops the generation at the next decoding step."""
        spec = spec_from_request(request, self.limits)
        prompt_ids = self.encode(spec)
        if await self._goes_to_ollama(spec):
            sent = False
            try:
                async for chunk in self._stream_ollama(spec):
                    sent = True
                    yield chunk
                return
            except Exception as exc:
                if sent:
                    raise Unavailable(f"Ollama failed mid-generation ({type(exc).__name__})") from exc
                log.warning("Ollama failed (%r); generating locally", exc)
        resolution = await self.adapters.resolve(spec.user_id, spec.adapter)
        async for chunk in self._stream_local(spec, prompt_ids, resolution, deadline_s):
            yield chunk

    async def _stream_local(
        self, spec: GenerationSpec, prompt_ids: list[int], resolution: Resolution, deadline_s: float | None
    ) -> AsyncIterator[Chunk]:
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Event] = asyncio.Queue()
        started = time.perf_counter()

        def emit(event: Event) -> None:
            try:
                loop.call_soon_threadsafe(events.put_nowait, event)
            except RuntimeError:  # the loop is gone: nobody reads any more
                seq.cancelled = True

        seq = Seq(
            prompt_ids=prompt_ids,
            max_new_tokens=spec.max_new_tokens,
            adapter=resolution.weights,
            sampling=spec.sampling,
            emit=emit,
            user_id=spec.user_id,
            deadline=None if deadline_s is None else time.monotonic() + deadline_s,
        )
        version, reason = resolution.version, resolution.fallback_reason
        self.engine.submit(seq)
        self._update_gauges()
        detokenizer = IncrementalDetokenizer(self._decode)
        first = True
        try:
            while True:
                event = await events.get()
                if isinstance(event, Tokens):
                    if first:
                        metrics.TIME_TO_FIRST_TOKEN.observe(time.perf_counter() - started)
                        first = False
                    delta = detokenizer.push(event.ids)
                    if delta:
                        yield Chunk(delta, version, reason)
                    continue
                assert isinstance(event, Finished)
                metrics.REQUESTS.labels("local", event.reason).inc()
                if event.reason == "error":
                    raise Unavailable("generation failed on this replica; retry")
                metrics.TOKENS.labels("local").inc(event.completion_tokens)
                yield Chunk(
                    detokenizer.flush(),
                    version,
                    reason,
                    done=True,
                    prompt_tokens=len(prompt_ids),
                    completion_tokens=event.completion_tokens,
                    finish_reason=event.reason,
                )
                return
        finally:
            self.engine.cancel(seq)
            self._update_gauges()

    def _update_gauges(self) -> None:
        metrics.QUEUED.set(self.engine.queued)
        metrics.ACTIVE.set(self.engine.active)

    async def _goes_to_ollama(self, spec: GenerationSpec) -> bool:
        return (
            self.ollama is not None
            and spec.adapter.mode is AdapterMode.AUTO
            and spec.user_id in self.adapters.pointers
            and await self.ollama.has_model(spec.user_id)
        )

    async def _stream_ollama(self, spec: GenerationSpec) -> AsyncIterator[Chunk]:
        assert self.ollama is not None
        version = self.adapters.pointers[spec.user_id].version
        async for piece in self.ollama.stream(spec):
            if piece.done:
                metrics.REQUESTS.labels("ollama", piece.finish_reason).inc()
                metrics.TOKENS.labels("ollama").inc(piece.completion_tokens)
            yield Chunk(
                piece.delta,
                version,
                done=piece.done,
                prompt_tokens=piece.prompt_tokens,
                completion_tokens=piece.completion_tokens,
                finish_reason=piece.finish_reason,
            )


def limits_of(settings) -> Limits:
    return Limits(
        max_prompt_tokens=settings.max_prompt_tokens,
        max_new_tokens=settings.max_new_tokens,
        default_max_new_tokens=settings.default_max_new_tokens,
    )
