"""The decoding loop: one thread owns the model and runs continuous batching.

Each iteration admits waiting sequences (one padded prefill forward for all that fit), then runs one
decode step over every active sequence, with each row on its own adapter. Sequences join and leave
between steps; the event loop only submits, cancels and reads tokens, so it never waits on the model.
A sequence whose leading tokens (`prefix_len`) were prefilled before with the same adapter starts from
their cached keys and values (engine/prefix.py) and prefills only the rest.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache, PreTrainedModel

from zega_common.errors import ResourceExhausted, Unavailable
from zega_inference.domain.request import Sampling
from zega_inference.engine import kv
from zega_inference.engine.lora import LoRABatch, LoRAWeights
from zega_inference.engine.prefix import Layers, PrefixCache
from zega_inference.engine.sampler import make_generator, sample

log = logging.getLogger(__name__)

PREFILL_MAX_PADDING = 0.10
"""Joiners prefill in one forward while left padding stays under this share of their tokens."""


@dataclass(frozen=True)
class Tokens:
    ids: tuple[int, ...]


@dataclass(frozen=True)
class Finished:
    reason: str  # stop, length, cancelled, or error (the step failed)
    completion_tokens: int


Event = Tokens | Finished


@dataclass(eq=False)
class Seq:
    """One request inside the engine. `emit` is called from the engine thread."""

    prompt_ids: list[int]
    max_new_tokens: int
    adapter: LoRAWeights | None
    sampling: Sampling
    emit: Callable[[Event], None]
    user_id: str = ""
    deadline: float | None = None
    prefix_len: int = 0  # leading prompt tokens worth keeping the keys and values of (0: none)
    id: int = field(default_factory=itertools.count().__next__)
    cancelled: bool = False
    finished: str = ""
    generated: int = 0
    position: int = 0  # where last_token sits in the sequence: its RoPE position
    last_token: int = 0
    generator: torch.Generator | None = None


@dataclass
class EngineStats:
    steps: int = 0
    prefills: int = 0
    tokens: int = 0
    regathers: int = 0


def prefill_groups(lengths: Sequence[int], max_padding: float = PREFILL_MAX_PADDING) -> list[list[int]]:
    """Indices by ascending length, cut where padding to the group's longest would exceed max_padding
    of the group's real tokens."""
    groups: list[list[int]] = []
    group: list[int] = []
    real = 0
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if group and (len(group) + 1) * lengths[i] > (real + lengths[i]) * (1 + max_padding):
            groups.append(group)
            group, real = [], 0
        group.append(i)
        real += lengths[i]
    if group:
        groups.append(group)
    return groups


class Engine:
    def __init__(
        self,
        model: PreTrainedModel,
        lora: LoRABatch,
        eos_ids: Sequence[int],
        max_batch_size: int = 32,
        max_queued: int = 128,
        max_prefill_tokens: int = 8192,
    ) -> None:
        self.model = model
        self.lora = lora
        self.eos_ids = frozenset(eos_ids)
        self.max_batch_size = max_batch_size
        self.max_queued = max_queued
        self.max_prefill_tokens = max_prefill_tokens
        self.device = next(model.parameters()).device
        self.stats = EngineStats()
        self.prefixes = PrefixCache(0)  # off until the service sets its own (ZEGA_PREFIX_CACHE_MAX_BYTES)
        self._waiting: collections.deque[Seq] = collections.deque()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._active: list[Seq] = []
        self._joiners: list[Seq] = []
        self._joining = 0
        self._cache: DynamicCache | None = None
        self._mask: torch.Tensor | None = None

    # ---- called from the event loop -------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="zega-decoder", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def queued(self) -> int:
        return len(self._waiting)

    @property
    def active(self) -> int:
        """Sequences in the batch, counting those being prefilled to join it."""
        return len(self._active) + self._joining

    def submit(self, seq: Seq) -> None:
        """Queue a sequence; raises ResourceExhausted when the queue is full."""
        with self._wake:
            if self._stopping or not self.running:
                raise Unavailable("the inference engine is not running")
            if self.active + len(self._waiting) >= self.max_batch_size + self.max_queued:
                raise ResourceExhausted(f"{len(self._waiting)} requests are waiting already; retry later")
            self._waiting.append(seq)
            self._wake.notify()

    def cancel(self, seq: Seq) -> None:
        """Stop generating for seq at the next step (idempotent)."""
        seq.cancelled = True

    def cancel_user(self, user_id: str) -> None:
        for seq in [*self._active, *self._waiting]:
            if seq.user_id == user_id:
                seq.cancelled = True

    # ---- the engine thread ----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            with torch.inference_mode():
                while True:
                    with self._wake:
                        while not self._stopping and not self._waiting and not self._active:
                            self._wake.wait()
                        if self._stopping:
                            break
                    try:
                        self._iterate()
                    except Exception:
                        log.exception("a decoding step failed; its sequences end with an error")
                        self._fail_batch()
        finally:
            for seq in [*self._active, *self._waiting]:
                self._finish(seq, "cancelled")
            self._active, self._cache, self._mask, self._joining = [], None, None, 0
            self._waiting.clear()

    def _fail_batch(self) -> None:
        for seq in [*self._active, *self._joiners]:
            self._finish(seq, "error")
        self._active, self._joiners, self._cache, self._mask, self._joining = [], [], None, None, 0
        self.lora.clear()

    def _iterate(self) -> None:
        self._drop_finished_or_cancelled()
        self._joiners = self._take_joiners()
        if self._joiners:
            self._prefill(self._joiners)
            self._joiners = []
            self._drop_finished_or_cancelled()
        if self._active:
            self._decode_step()

    def _take_joiners(self) -> list[Seq]:
        joiners: list[Seq] = []
        longest = 0
        with self._wake:
            while self._waiting and len(self._active) + len(joiners) < self.max_batch_size:
                seq = self._waiting[0]
                if seq.cancelled:
                    self._waiting.popleft()
                    self._finish(seq, "cancelled")
                    continue
                longest_next = max(longest, len(seq.prompt_ids))
                if joiners and longest_next * (len(joiners) + 1) > self.max_prefill_tokens:
                    break
                longest = longest_next
                joiners.append(self._waiting.popleft())
            self._joining = len(joiners)
        return joiners

    def _prefill(self, joiners: list[Seq]) -> None:
        """Joiners of similar length to compute prefill together: left padding costs as much as real tokens."""
        cached = [self._cached_prefix(s) for s in joiners]
        todo = [len(s.prompt_ids) - (0 if c is None else s.prefix_len) for s, c in zip(joiners, cached, strict=True)]
        for group in prefill_groups(todo):
            self._prefill_group([joiners[i] for i in group], [cached[i] for i in group])

    def _cached_prefix(self, seq: Seq) -> Layers | None:
        if not 0 < seq.prefix_len < len(seq.prompt_ids) or not self.prefixes.enabled:
            return None
        return self.prefixes.get(seq.user_id, seq.adapter, seq.prompt_ids[: seq.prefix_len])

    def _prefill_group(self, joiners: list[Seq], cached: list[Layers | None]) -> None:
        """One forward over the tokens not cached. Row layout: [padding, cached prefix | padding, the rest],
        the cached part ending where the forward's input starts; the mask hides both paddings."""
        done = [0 if c is None else s.prefix_len for s, c in zip(joiners, cached, strict=True)]
        past = max(done)
        width = max(len(s.prompt_ids) - d for s, d in zip(joiners, done, strict=True))
        ids = torch.zeros(len(joiners), width, dtype=torch.long)
        positions = torch.zeros(len(joiners), width, dtype=torch.long)
        mask = torch.zeros(len(joiners), past + width, dtype=torch.long)
        for i, (seq, d) in enumerate(zip(joiners, done, strict=True)):
            n = len(seq.prompt_ids)
            ids[i, width - (n - d) :] = torch.tensor(seq.prompt_ids[d:])
            positions[i, width - (n - d) :] = torch.arange(d, n)
            mask[i, past - d : past] = 1
            mask[i, past + width - (n - d) :] = 1
            seq.position = n
            seq.generator = make_generator(seq.sampling, self.device)
        cache = kv.new_cache(self.model.config)
        if past:
            kv.fill_right_aligned(cache, cached, past, self.device)
        self.lora.use([s.adapter for s in joiners])
        out = self.model(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        self.stats.prefills += 1
        self._keep_prefixes(joiners, done, cache, past + width)
        tokens = sample(out.logits[:, -1, :], [s.sampling for s in joiners], [s.generator for s in joiners])
        mask = mask.to(self.device)
        if self._cache is None:
            self._cache, self._mask = cache, mask
        else:
            self._cache, self._mask = kv.concat(self._cache, self._mask, cache, mask)
        self._active.extend(joiners)
        self._joining = max(0, self._joining - len(joiners))
        self._accept(joiners, tokens)

    def _keep_prefixes(self, joiners: list[Seq], done: list[int], cache: DynamicCache, end: int) -> None:
        """Cache the prefix of each row that computed it in this forward (its tokens end at column `end`)."""
        if not self.prefixes.enabled:
            return
        for i, (seq, d) in enumerate(zip(joiners, done, strict=True)):
            if d or not 0 < seq.prefix_len <= len(seq.prompt_ids):
                continue
            start = end - len(seq.prompt_ids)
            layers = kv.row_slice(cache, i, start, start + seq.prefix_len)
            self.prefixes.put(seq.user_id, seq.adapter, seq.prompt_ids[: seq.prefix_len], layers)

    def _decode_step(self) -> None:
        rows = self._active
        ids = torch.tensor([[s.last_token] for s in rows], device=self.device)
        positions = torch.tensor([[s.position] for s in rows], device=self.device)
        self._mask = torch.cat([self._mask, self._mask.new_ones(len(rows), 1)], dim=1)
        self.lora.use([s.adapter for s in rows])
        out = self.model(
            input_ids=ids,
            attention_mask=self._mask,
            position_ids=positions,
            cache=self._cache,
            use_cache=True,
            logits_to_keep=1,
        )
        self.stats.steps += 1
        for seq in rows:
            seq.position += 1
        tokens = sample(out.logits[:, -1, :], [s.sampling for s in rows], [s.generator for s in rows])
        self._accept(rows, tokens)

    def _accept(self, rows: Sequence[Seq], tokens: Sequence[int]) -> None:
        """Hand each row its new token, and finish the rows that are done (removed before the next step)."""
        now = time.monotonic()
        for seq, token in zip(rows, tokens, strict=True):
            seq.generated += 1
            seq.last_token = token
            self.stats.tokens += 1
            if token in self.eos_ids:
                self._finish(seq, "stop")
                continue
            seq.emit(Tokens((token,)))
            if seq.generated >= seq.max_new_tokens:
                self._finish(seq, "length")
            elif seq.deadline is not None and now >= seq.deadline:
                self._finish(seq, "cancelled")

    def _finish(self, seq: Seq, reason: str) -> None:
        """Mark seq done (idempotent) and tell its reader; the next _drop removes it from the batch."""
        if seq.finished:
            return
        seq.finished = reason
        try:
            seq.emit(Finished(reason, seq.generated))
        except Exception:
            log.exception("could not deliver the end of sequence %d", seq.id)

    def _drop_finished_or_cancelled(self) -> None:
        keep: list[int] = []
        for i, seq in enumerate(self._active):
            if seq.cancelled:
                self._finish(seq, "cancelled")
            if not seq.finished:
                keep.append(i)
        if len(keep) == len(self._active):
            return
        if not keep:
            self._active, self._cache, self._mask = [], None, None
            self.lora.clear()
            return
        self._cache, self._mask = kv.select(self._cache, self._mask, keep)
        self._active = [self._active[i] for i in keep]
