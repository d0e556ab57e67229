"""The gateway's operations, once: REST routes and the gRPC servicer are thin shells around this.

Every per-user operation starts with `who.check_access(user_id)` (valid id, own data or admin).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from faststream.nats import NatsBroker
from google.protobuf.message import Message
from nats.js.errors import KeyWrongLastSequenceError, NoKeysError
from pydantic import ValidationError

from zega_common import codec, subjects
from zega_common.errors import FailedPrecondition, NotFound, Unavailable
from zega_common.v1 import events_pb2, inference_pb2
from zega_gateway.auth import Authenticator
from zega_gateway.clients import InferenceClient, MemoryClient
from zega_gateway.config import GatewaySettings
from zega_gateway.domain import adapters, finetune, ids, models, prompt, stats
from zega_gateway.domain.principal import Principal
from zega_gateway.schemas import (
    AdaptersOut,
    AdapterVersionOut,
    ChatChoice,
    ChatCompletionIn,
    ChatCompletionOut,
    ChatMessageOut,
    DeleteOut,
    ExampleIn,
    ExampleOut,
    FeedbackIn,
    ModelList,
    ModelOut,
    PersonaIn,
    PersonaOut,
    PredictIn,
    PredictOut,
    RollbackIn,
    RollbackOut,
    TokenOut,
    TrainingStatsOut,
    TriggerOut,
    Usage,
)
from zega_gateway.state import GatewayState, dump, get_json, get_object_json

log = logging.getLogger(__name__)

T = TypeVar("T")
MEMORY_DOWN = "memory unavailable ({}): generated without style hints and previous stories"


@dataclass
class Timings:
    """Seconds spent waiting on other services during one request (Server-Timing header)."""

    spans: dict[str, float] = field(default_factory=dict)

    @asynccontextmanager
    async def span(self, name: str) -> AsyncIterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.spans[name] = self.spans.get(name, 0.0) + time.perf_counter() - start


@dataclass
class Prediction:
    response: PredictOut
    timings: Timings


@dataclass
class ChatStream:
    """An answer being streamed: its ids, then the inference chunks (the first already arrived)."""

    id: str
    created: int
    model: str
    generation_id: str
    chunks: AsyncIterator[inference_pb2.GenerateChunk]


class GatewayService:
    def __init__(self, settings: GatewaySettings, broker: NatsBroker) -> None:
        self.settings = settings
        self.broker = broker
        self.auth = Authenticator(settings.admin_token, settings.token_ttl_s, settings.token_cache_s)
        self._state: GatewayState | None = None
        self.inference: InferenceClient | None = None
        self.memory: MemoryClient | None = None

    async def start(self) -> None:
        """Open the NATS resources (the broker is connected) and the gRPC channels (inside the loop)."""
        self._state = await GatewayState.open(self.broker.connection.jetstream(), self.settings)
        self.auth.bind(self._state.tokens)
        self.inference = InferenceClient(self.settings.inference_addr, self.settings.inference_timeout_s)
        self.memory = MemoryClient(self.settings.memory_addr, self.settings.memory_timeout_s)

    async def close(self) -> None:
        for client in (self.inference, self.memory):
            if client is not None:
                await client.close()

    @property
    def state(self) -> GatewayState:
        if self._state is None:
            raise Unavailable("the gateway is starting: NATS resources are not open yet")
        return self._state

    # --- prediction -----------------------------------------------------------------------------

    async def predict(self, who: Principal, req: PredictIn) -> Prediction:
        """The seed's prediction: style hints + previous stories + request, then the user's adapter."""
        who.check_access(req.user_id)
        timings = Timings()
        notices: list[str] = []
        persona, (hints, stories, memory_notice) = await asyncio.gather(
            self._persona_prompt(req.user_id),
            self._memory_context(req.user_id, req.context, timings) if req.use_memory else _no_memory(),
        )
        if memory_notice:
            notices.append(memory_notice)
        composed = prompt.compose_prompt(req.context, hints, stories, self.settings.recalled_story_chars)
        request = inference_pb2.GenerateRequest(
            user_id=req.user_id,
            messages=[inference_pb2.ChatMessage(role=r, content=c) for r, c in prompt.chat_messages(composed, persona)],
            max_new_tokens=req.max_tokens,
            temperature=req.temperature,
            adapter="auto" if req.use_custom_model else "base",
        )
        async with timings.span("inference"):
            reply = await self.inference.generate(request)
        if reply.fallback_reason:
            notices.append(f"adapter not used: {reply.fallback_reason}")
        model = models.served_model(req.user_id, reply.adapter_version)
        generation_id = await self._keep_generation(req.user_id, req.context, reply.text, model, reply.adapter_version)
        response = PredictOut(
            text=reply.text,
            model=model,
            adapter_version=reply.adapter_version,
            generation_id=generation_id,
            notice="; ".join(notices),
        )
        return Prediction(response, timings)

    async def _memory_context(self, user_id: str, query: str, timings: Timings) -> tuple[str, list[str], str]:
        """Style hints and recalled texts; with memory down, whatever arrived and a notice saying so."""
        async with timings.span("memory"):
            recall, style = await asyncio.gather(
                _attempt(self.memory.recall(user_id, query, self.settings.recall_k)),
                _attempt(self.memory.style_summary(user_id)),
            )
        stories = [item.text for item in recall.items] if not isinstance(recall, Exception) else []
        hints = style.summary if not isinstance(style, Exception) else ""
        failure = next((r for r in (recall, style) if isinstance(r, Exception)), None)
        if failure is None:
            return hints, stories, ""
        log.warning("prediction without (all of) memory: %s", failure)
        return hints, stories, MEMORY_DOWN.format(failure)

    async def _keep_generation(self, user_id: str, request: str, text: str, model: str, version: int) -> str:
        generation_id = ids.new_generation_id(user_id)
        await self._put_generation(generation_id, user_id, request, text, model, version)
        return generation_id

    async def _put_generation(
        self, generation_id: str, user_id: str, request: str, text: str, model: str, version: int
    ) -> None:
        """Keep a generation (generation_ttl_s) so that it can be rated; its id is its key."""
        record = {
            "user_id": user_id,
            "prompt": request,
            "completion": text,
            "model": model,
            "adapter_version": version,
            "created_at": _now(),
        }
        await self.state.generations.put(generation_id, dump(record))

    # --- examples and feedback ------------------------------------------------------------------

    async def add_example(self, who: Principal, user_id: str, req: ExampleIn) -> ExampleOut:
        who.check_access(user_id)
        example = events_pb2.ExampleCollected(
            example_id=ids.api_example_id(user_id, req.prompt, req.completion),
            user_id=user_id,
            prompt=req.prompt,
            completion=req.completion,
            quality_score=req.quality_score,
            metadata=req.metadata,
            source="api",
        )
        duplicate = await self._publish(example, example.example_id, subjects.EXAMPLE_COLLECTED)
        return ExampleOut(example_id=example.example_id, duplicate=duplicate)

    async def feedback(self, who: Principal, req: FeedbackIn) -> ExampleOut:
        """A rating turns the rated generation into a training example with that score; rating the
        same generation again gives the same example_id, which is counted once."""
        owner = ids.generation_owner(req.generation_id)
        who.check_access(owner)
        record, _ = await get_json(self.state.generations, req.generation_id)
        if record is None:
            days = self.settings.generation_ttl_s / 86400
            raise NotFound(
                f"generation {req.generation_id!r} is unknown or older than the {days:g} days generations are kept"
            )
        if not str(record.get("completion", "")).strip():
            raise FailedPrecondition("the rated generation's text is empty: there is nothing to learn from")
        example = events_pb2.ExampleCollected(
            example_id=ids.feedback_example_id(req.generation_id),
            user_id=owner,
            prompt=record.get("prompt", ""),
            completion=record["completion"],
            quality_score=req.rating,
            metadata={
                "generation_id": req.generation_id,
                "model": str(record.get("model", "")),
                "adapter_version": str(record.get("adapter_version", 0)),
            },
            source="feedback",
        )
        duplicate = await self._publish(example, example.example_id, subjects.EXAMPLE_COLLECTED)
        return ExampleOut(example_id=example.example_id, duplicate=duplicate)

    # --- training -------------------------------------------------------------------------------

    async def training_stats(self, who: Principal, user_id: str) -> TrainingStatsOut:
        who.check_access(user_id)
        stored, _ = await get_json(self.state.stats, user_id)
        try:
            return TrainingStatsOut.model_validate(stats.training_stats(user_id, stored, self.settings.threshold))
        except ValidationError as exc:
            log.error("malformed stats of a user in KV %s: %s", subjects.KV_STATS, exc)
            raise Unavailable(f"the stored training stats of {user_id!r} are malformed") from None

    async def trigger_finetuning(
        self, who: Principal, user_id: str, wait: bool = False, timeout_s: float | None = None
    ) -> TriggerOut:
        """Publish a manual threshold.reached; with `wait`, answer with the job's outcome (or timeout)."""
        current = await self.training_stats(who, user_id)
        job_id = ids.manual_job_id(user_id)
        event = events_pb2.ThresholdReached(
            user_id=user_id,
            threshold_index=stats.manual_threshold_index(current.training_examples, self.settings.threshold),
            examples_total=current.training_examples,
            trigger=events_pb2.TRIGGER_MANUAL,
            job_id=job_id,
        )
        if not wait:
            await self._publish(event, job_id, subjects.THRESHOLD_REACHED)
            return _trigger_out(finetune.queued(job_id))
        limit = min(timeout_s or self.settings.trigger_wait_s, self.settings.max_trigger_wait_s)
        async with self._job_events(user_id) as events:
            await self._publish(event, job_id, subjects.THRESHOLD_REACHED)
            try:
                async with asyncio.timeout(limit):
                    while True:
                        outcome = finetune.outcome_of(await events.get(), job_id)
                        if outcome is not None:
                            return _trigger_out(outcome)
            except TimeoutError:
                return _trigger_out(finetune.timed_out(job_id, limit))

    @asynccontextmanager
    async def _job_events(self, user_id: str) -> AsyncIterator[asyncio.Queue]:
        """The user's training.progress and adapter.ready events from now on, decoded, in a queue.

        Plain NATS subscriptions (JetStream-published messages reach them too), made before the
        trigger is published so that no outcome slips by."""
        queue: asyncio.Queue = asyncio.Queue()
        kinds = {
            subjects.for_user(subjects.TRAINING_PROGRESS, user_id): events_pb2.TrainingProgress,
            subjects.for_user(subjects.ADAPTER_READY, user_id): events_pb2.AdapterReady,
        }

        async def deliver(msg) -> None:
            try:
                queue.put_nowait(codec.decode(msg.data, kinds[msg.subject], self.settings.max_event_bytes))
            except codec.EventDecodeError as exc:
                log.warning("ignoring an undecodable event on %s: %s", msg.subject, exc.reason)

        nc = self.broker.connection
        subs = [await nc.subscribe(subject, cb=deliver) for subject in kinds]
        try:
            yield queue
        finally:
            for sub in subs:
                await sub.unsubscribe()

    # --- adapters -------------------------------------------------------------------------------

    async def list_adapters(self, who: Principal, user_id: str) -> AdaptersOut:
        who.check_access(user_id)
        pointer, _ = await get_json(self.state.adapters, user_id)
        current = _version_of(pointer)
        manifests = await self._manifests(user_id, current)
        lines = [adapters.summarize(manifests[v], current) for v in sorted(manifests)]
        return AdaptersOut(
            user_id=user_id,
            current_version=current,
            adapters=[AdapterVersionOut.model_validate(line, from_attributes=True) for line in lines],
        )

    async def rollback(self, who: Principal, user_id: str, req: RollbackIn) -> RollbackOut:
        """Move the KV pointer (inference follows it); refused if it moved since we read it."""
        who.check_access(user_id)
        pointer, revision = await get_json(self.state.adapters, user_id)
        current = _version_of(pointer)
        manifests = await self._manifests(user_id, current) if current else {}
        target = adapters.rollback_target(current, req.adapter_version, set(manifests))
        if target != current:
            try:
                await self.state.adapters.update(
                    user_id, dump(adapters.pointer_for(user_id, manifests[target])), last=revision
                )
            except KeyWrongLastSequenceError:
                raise FailedPrecondition(
                    "the adapter pointer moved meanwhile (a new version was published?): look again and retry"
                ) from None
        return RollbackOut(user_id=user_id, adapter_version=target)

    async def _manifests(self, user_id: str, current: int) -> dict[int, dict]:
        """The user's manifests by version. Versions are numbered 1, 2, ... without gaps, so they are
        found by probing outward from the current one (listing the store would read every user's)."""
        found: dict[int, dict] = {}
        store = self.state.adapter_objects
        version = max(current, 1)
        while (manifest := await get_object_json(store, adapters.manifest_name(user_id, version))) is not None:
            found[version] = dict(manifest, adapter_version=version)
            version += 1
        version = current - 1
        while version >= 1 and (manifest := await get_object_json(store, adapters.manifest_name(user_id, version))):
            found[version] = dict(manifest, adapter_version=version)
            version -= 1
        return found

    # --- persona, erasure, tokens ---------------------------------------------------------------

    async def get_persona(self, who: Principal, user_id: str) -> PersonaOut:
        who.check_access(user_id)
        record, _ = await get_json(self.state.personas, user_id)
        record = record or {}
        return PersonaOut(
            user_id=user_id,
            system_prompt=str(record.get("system_prompt") or ""),
            updated_at=record.get("updated_at"),
        )

    async def set_persona(self, who: Principal, user_id: str, req: PersonaIn) -> PersonaOut:
        who.check_access(user_id)
        updated_at = _now()
        await self.state.personas.put(user_id, dump({"system_prompt": req.system_prompt, "updated_at": updated_at}))
        return PersonaOut(user_id=user_id, system_prompt=req.system_prompt, updated_at=updated_at)

    async def _persona_prompt(self, user_id: str) -> str:
        record, _ = await get_json(self.state.personas, user_id)
        return str((record or {}).get("system_prompt") or "")

    async def delete_user(self, who: Principal, user_id: str) -> DeleteOut:
        """Publish user.forget (every service erases the user) and erase the gateway's part now."""
        who.check_access(user_id)
        request_id = uuid.uuid4().hex
        event = events_pb2.ForgetUser(user_id=user_id, request_id=request_id)
        await self._publish(event, f"{user_id}:forget:{request_id}", subjects.USER_FORGET)
        await self.erase(user_id)
        return DeleteOut(user_id=user_id, request_id=request_id)

    async def erase(self, user_id: str) -> None:
        """The gateway's share of forgetting a user: persona, tokens, kept generations. Idempotent."""
        state = self.state
        self.auth.forget(user_id)
        await state.personas.purge(user_id)
        await state.erase_prefix(self.settings.tokens_bucket, user_id)
        await state.erase_prefix(self.settings.generations_bucket, user_id)
        log.info("erased the gateway's data of a user")

    async def issue_token(self, who: Principal, user_id: str) -> TokenOut:
        who.check_admin()
        token, expires_at = await self.auth.issue(user_id)
        return TokenOut(user_id=user_id, token=token, expires_at=expires_at)

    # --- OpenAI-compatible chat -----------------------------------------------------------------

    async def chat(self, who: Principal, req: ChatCompletionIn) -> ChatCompletionOut:
        user_id, request, asked = await self._chat_request(who, req)
        reply = await self.inference.generate(request)
        model = models.served_model(user_id, reply.adapter_version)
        generation_id = await self._keep_generation(user_id, asked, reply.text, model, reply.adapter_version)
        return ChatCompletionOut(
            id=_chat_id(generation_id),
            created=int(time.time()),
            model=req.model,
            choices=[
                ChatChoice(message=ChatMessageOut(content=reply.text), finish_reason=reply.finish_reason or "stop")
            ],
            usage=Usage(
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
                total_tokens=reply.prompt_tokens + reply.completion_tokens,
            ),
            generation_id=generation_id,
        )

    async def chat_stream(self, who: Principal, req: ChatCompletionIn) -> ChatStream:
        """Start streaming; inference failing before its first chunk raises here (a 503, not a
        broken stream). The generation is kept once the stream has ended."""
        user_id, request, asked = await self._chat_request(who, req)
        chunks = self.inference.generate_stream(request)
        first = await anext(chunks, inference_pb2.GenerateChunk(done=True, finish_reason="stop"))
        generation_id = ids.new_generation_id(user_id)

        async def relay() -> AsyncIterator[inference_pb2.GenerateChunk]:
            text, chunk, version = [], first, first.adapter_version
            try:
                while True:
                    text.append(chunk.delta)
                    version = chunk.adapter_version or version
                    yield chunk
                    if chunk.done:
                        break
                    chunk = await anext(chunks, inference_pb2.GenerateChunk(done=True, finish_reason="stop"))
            finally:
                await chunks.aclose()
            model = models.served_model(user_id, version)
            await self._put_generation(generation_id, user_id, asked, "".join(text), model, version)

        return ChatStream(_chat_id(generation_id), int(time.time()), req.model, generation_id, relay())

    async def _chat_request(
        self, who: Principal, req: ChatCompletionIn
    ) -> tuple[str, inference_pb2.GenerateRequest, str]:
        """Whose generation, the inference request, and the last user message (the example's prompt)."""
        choice = models.parse_model(req.model)
        user_id = choice.user_id or _base_user(who, req.user)
        who.check_access(user_id)
        persona = await self._persona_prompt(user_id)
        messages = prompt.with_persona([(_role(m.role), m.text()) for m in req.messages], persona)
        request = inference_pb2.GenerateRequest(
            user_id=user_id,
            messages=[inference_pb2.ChatMessage(role=r, content=c) for r, c in messages],
            max_new_tokens=req.token_budget(),
            temperature=req.temperature,
            top_p=req.top_p,
            seed=req.seed or 0,
            adapter=choice.adapter,
        )
        asked = next((m.text() for m in reversed(req.messages) if m.role == "user"), "")
        return user_id, request, asked

    async def list_models(self, who: Principal) -> ModelList:
        """base, and zega-<user_id> for the caller (for the admin: every user with an adapter)."""
        created = int(time.time())
        names = [models.BASE_MODEL]
        if who.admin:
            with suppress(NoKeysError):
                names += sorted(models.user_model(user) for user in await self.state.adapters.keys())
        else:
            names.append(models.user_model(who.user_id))
        return ModelList(data=[ModelOut(id=name, created=created) for name in names])

    # --- publishing -----------------------------------------------------------------------------

    async def _publish(self, event: Message, msg_id: str, prefix: str) -> bool:
        """Publish to JetStream with the codec's headers; True when the server dropped it as a duplicate."""
        body, headers = codec.encode(event, msg_id)
        ack = await self.broker.publish(
            body,
            subjects.for_user(prefix, event.user_id),
            headers=headers,
            stream=_STREAM_OF[prefix],
            timeout=self.settings.publish_timeout_s,
        )
        return bool(getattr(ack, "duplicate", False))


_STREAM_OF = {
    subjects.EXAMPLE_COLLECTED: subjects.STREAM_EXAMPLES,
    subjects.THRESHOLD_REACHED: subjects.STREAM_TRAINING,
    subjects.USER_FORGET: subjects.STREAM_EVENTS,
}


async def _attempt(call: Awaitable[T]) -> T | Exception:
    """The call's result, or the error it raised (memory is optional to a prediction)."""
    try:
        return await call
    except Exception as exc:
        return exc


async def _no_memory() -> tuple[str, list[str], str]:
    return "", [], ""


def _version_of(pointer: dict | None) -> int:
    try:
        return max(int((pointer or {}).get("adapter_version") or 0), 0)
    except (TypeError, ValueError):
        return 0


def _trigger_out(outcome: finetune.TriggerOutcome) -> TriggerOut:
    return TriggerOut.model_validate(outcome, from_attributes=True)


def _chat_id(generation_id: str) -> str:
    return "chatcmpl-" + generation_id.partition(".")[2]


def _role(role: str) -> str:
    return "system" if role == "developer" else role


def _base_user(who: Principal, user: str | None) -> str:
    """Whose generation a `base` chat is: the caller's; the admin may name a user in `user`."""
    if not who.admin:
        return who.user_id
    return user or "admin"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
