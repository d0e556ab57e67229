"""One generation from request to chunks: check the request, build the prompt, pick the adapter, run it
on the engine (or Ollama) and turn tokens into text deltas. The gRPC servicer only maps to protos."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.js.kv import KeyValue

from zega_common.errors import InvalidArgument, ResourceExhausted, Unavailable
from zega_inference import metrics
from zega_inference.adapters.manager import AdapterManager, Resident, Resolution
from zega_inference.adapters.store import AdapterStore
from zega_inference.domain.adapter_ref import AdapterMode
from zega_inference.domain.detokenizer import IncrementalDetokenizer
from zega_inference.domain.request import GenerationSpec, Limits, Sampling, spec_from_request
from zega_inference.engine.decoder import Event, Finished, Seq, Tokens
from zega_inference.engine.runtime import ModelRuntime
from zega_inference.ollama_backend import OllamaBackend

log = logging.getLogger(__name__)

MIN_PREFIX_TOKENS = 8
"""Shorter prompt prefixes are not worth caching."""
REMEMBERED_PREFIXES = 4096
"""Users whose last prompt prefix is kept, to warm it on their next adapter version before it goes live."""
_PROBE = "0"
"""Stands in for the last message to find where the prompt stops being the same from request to request."""


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
        self._recent_prefixes: collections.OrderedDict[str, tuple[int, ...]] = collections.OrderedDict()
        adapters.on_staged = self.warm
        adapters.on_dropped = self._drop_prefixes
        adapters.is_active = self._recent_prefixes.__contains__

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
        self.engine.prefixes.drop_user(user_id)
        self._recent_prefixes.pop(user_id, None)
        if self.ollama is not None:
            self.ollama.forget(user_id)

    def encode(self, spec: GenerationSpec) -> tuple[list[int], int]:
        """The prompt's tokens, and how many lead them that the user's next prompt likely repeats: all but
        the last message (the system prompt, earlier turns), found by rendering it with other content."""
        messages = [{"role": role, "content": content} for role, content in spec.messages]
        prefix_len = 0
        if self.tokenizer.chat_template:
            ids = self._render(messages)
            probe = self._render([*messages[:-1], {**messages[-1], "content": _PROBE}])
            prefix_len = _common_length(ids, probe)
        else:
            ids = self.tokenizer("\n".join(m["content"] for m in messages))["input_ids"]
        if len(ids) > self.limits.max_prompt_tokens:
            raise InvalidArgument(f"the prompt is {len(ids)} tokens; the limit is {self.limits.max_prompt_tokens}")
        return list(ids), prefix_len if prefix_len >= MIN_PREFIX_TOKENS else 0

    def _render(self, messages: list[dict]) -> list[int]:
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)["input_ids"]

    def _remember_prefix(self, user_id: str, prefix: tuple[int, ...]) -> None:
        self._recent_prefixes[user_id] = prefix
        self._recent_prefixes.move_to_end(user_id)
        if len(self._recent_prefixes) > REMEMBERED_PREFIXES:
            self._recent_prefixes.popitem(last=False)

    def warm(self, user_id: str, resident: Resident) -> bool:
        """Prefill the user's last prompt prefix with a version staged before its pointer moves, so the
        first request on it prefills only what follows. False when there is nothing to do or no room."""
        prefix = self._recent_prefixes.get(user_id)
        if prefix is None or self.engine.prefixes.contains(user_id, resident.weights, prefix):
            return False
        seq = Seq(
            prompt_ids=list(prefix),
            max_new_tokens=1,
            adapter=resident.weights,
            sampling=Sampling(),
            emit=lambda event: None,
            user_id=user_id,
            prefix_len=len(prefix),
        )
        try:
            self.engine.submit(seq)
        except (ResourceExhausted, Unavailable):
            return False
        log.info("warming %s's prompt prefix (%d tokens) on staged %s", user_id, len(prefix), resident.key)
        return True

    def _drop_prefixes(self, resident: Resident) -> None:
        self.engine.prefixes.drop_adapter(resident.weights)

    def _decode(self, ids) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    async def stream(self, request, deadline_s: float | None = None) -> AsyncIterator[Chunk]:
        """Chunks as tokens are produced; the last one has done=True. Closing the iterator early (the
        client went away, the deadline passed) stops the generation at the next decoding step."""
        spec = spec_from_request(request, self.limits)
        prompt_ids, prefix_len = self.encode(spec)
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
        if prefix_len:
            self._remember_prefix(spec.user_id, tuple(prompt_ids[:prefix_len]))
        async for chunk in self._stream_local(spec, prompt_ids, prefix_len, resolution, deadline_s):
            yield chunk

    async def _stream_local(
        self,
        spec: GenerationSpec,
        prompt_ids: list[int],
        prefix_len: int,
        resolution: Resolution,
        deadline_s: float | None,
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
            prefix_len=prefix_len,
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


def _common_length(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def limits_of(settings) -> Limits:
    return Limits(
        max_prompt_tokens=settings.max_prompt_tokens,
        max_new_tokens=settings.max_new_tokens,
        default_max_new_tokens=settings.default_max_new_tokens,
    )
