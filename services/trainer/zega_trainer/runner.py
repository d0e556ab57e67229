"""One training job from trigger to published adapter, exactly once per (user_id, job).

The job record in KV zega-jobs decides: a finished job is acknowledged again without work; a job whose
examples another job already covers is skipped; otherwise this replica claims the record (its revision
is the fencing token), trains in a worker thread while a heartbeat keeps the message and the claim
alive, and publishes objects, then the pointer, then adapter.ready. The candidate's weights go up
before its evaluation gate (staged: inference replicas load and warm them meanwhile); the manifest, the
pointer and adapter.ready only once it passes, and a rejected candidate's objects are deleted. A retry
after a crash reuses the version the first attempt allocated, so a version is never published twice
under two numbers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from prometheus_client import Counter, Gauge, Histogram

from zega_common import adapter_layout as layout
from zega_common.codec import now
from zega_common.v1 import events_pb2
from zega_model import BaseModel, load_base_model
from zega_model.loader import SMOLLM2, SMOLLM2_NAME
from zega_trainer.config import TrainerSettings
from zega_trainer.domain import manifest as lineage
from zega_trainer.domain import modelfile
from zega_trainer.domain.dataset import Dataset, TooFewExamples, build
from zega_trainer.domain.jobs import FINAL, JobRecord, State, covering, job_id_of, job_key, retry_delay
from zega_trainer.events import EventPublisher
from zega_trainer.ollama_registry import register
from zega_trainer.store import LostJob, TrainerStore
from zega_trainer.style import style_summary
from zega_trainer.training.session import Outcome, SessionResult, run_session

log = logging.getLogger(__name__)

JOBS = Counter("zega_trainer_jobs_total", "Training jobs by final outcome.", ["outcome"])
JOB_SECONDS = Histogram(
    "zega_trainer_job_seconds", "Wall time of training jobs.", buckets=(10, 30, 60, 120, 300, 600, 1200, 3600)
)
STAGE_TIMEOUT_S = 60.0
"""Longest the training thread waits for its candidate's upload before it goes on to the gate."""
TOKENS_PER_SECOND = Gauge("zega_trainer_tokens_per_second", "Training throughput of the last job.")

MANIFEST_SETTINGS = (
    "base_model",
    "min_quality",
    "eval_fraction",
    "min_eval_examples",
    "lora_rank",
    "lora_alpha",
    "lora_dropout",
    "lora_target_modules",
    "learning_rate",
    "warmup_steps",
    "epochs",
    "max_steps",
    "max_seq_len",
    "batch_tokens",
    "seed",
    "eval_margin",
)


@dataclass(frozen=True)
class Verdict:
    """What the handler does with the trigger: ack, retry (nak with delay), fail (dead-letter), or leave it."""

    action: str
    delay: float = 0.0
    reason: str = ""


ACK = Verdict("ack")


@dataclass
class Claim:
    """The job record's key and the revision this replica last wrote: writes through it are fenced."""

    key: str
    revision: int | None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def save(self, store: TrainerStore, record: JobRecord) -> None:
        async with self.lock:
            self.revision = await store.put_job(self.key, record, self.revision)


@dataclass
class ActiveJob:
    user_id: str
    job_id: str
    claim: Claim
    stop: threading.Event = field(default_factory=threading.Event)
    why: str = ""
    done: asyncio.Event = field(default_factory=asyncio.Event)
    staged: str = ""  # sha256 of the candidate's weights once uploaded before the gate
    staged_at: float = 0.0  # perf_counter() then

    def request_stop(self, why: str) -> None:
        if not self.stop.is_set():
            self.why = why
            self.stop.set()


class JobRunner:
    def __init__(self, settings: TrainerSettings, store: TrainerStore, events: EventPublisher) -> None:
        self.settings = settings
        self.store = store
        self.events = events
        self.owner = uuid.uuid4().hex[:12]
        self.active: dict[str, ActiveJob] = {}
        self._base: BaseModel | None = None
        self._base_lock = threading.Lock()

    @property
    def base_name(self) -> str:
        """The base model's name as adapters record it (the HF id for the built-in SmolLM2)."""
        return SMOLLM2_NAME if self.settings.base_model == SMOLLM2 else self.settings.base_model

    # control -------------------------------------------------------------------------------------

    def cancel(self, user_id: str, why: str = "cancel", job_id: str = "") -> bool:
        job = self.active.get(user_id)
        if job is None or (job_id and job.job_id != job_id):
            return False
        job.request_stop(why)
        return True

    def stop_all(self, why: str = "shutdown") -> None:
        for job in self.active.values():
            job.request_stop(why)

    async def wait_idle(self, user_id: str, timeout_s: float) -> None:
        job = self.active.get(user_id)
        if job is not None:
            await asyncio.wait_for(job.done.wait(), timeout_s)

    # one delivery of a trigger -------------------------------------------------------------------

    async def handle(
        self, trigger: events_pb2.ThresholdReached, delivered: int, keepalive: Callable[[], Awaitable[None]]
    ) -> Verdict:
        user_id, job_id = trigger.user_id, job_id_of(trigger)
        record, revision = await self.store.job(job_key(user_id, job_id))
        claim = Claim(job_key(user_id, job_id), revision)
        if record is not None and record.state in FINAL:
            log.info("job %s already ended (%s): acknowledged again", job_id, record.state)
            return ACK
        if record is None:
            record = JobRecord(job_id, user_id, trigger.threshold_index)
            await self._progress(record, State.QUEUED, f"{job_id}:queued")
        if delivered > self.settings.max_attempts:
            last_error = f"; last error: {record.reason}" if record.reason else ""
            reason = f"gave up after {delivered - 1} attempts{last_error}"
            return await self._give_up(claim, record, reason)

        last_seq = await self.store.last_example_seq(user_id)
        cover = covering(
            await self.store.user_jobs(user_id), last_seq, time.time(), 3 * self.settings.ack_wait_s, job_id
        )
        if cover is not None:
            record.examples_seq = max(record.examples_seq, last_seq)
            version = f" (adapter v{cover.adapter_version})" if cover.adapter_version else ""
            reason = f"no new examples: job {cover.job_id}{version} already covers all of them"
            await self._finish(claim, record, State.REJECTED, reason)
            return ACK

        record.state, record.attempt, record.owner, record.heartbeat = State.RUNNING, delivered, self.owner, time.time()
        if record.previous_version is None:
            pointer = await self.store.pointer(user_id)
            same_base = pointer is not None and pointer.get("base_model") == self.base_name
            record.previous_version = int(pointer["adapter_version"]) if same_base else 0
        try:
            await claim.save(self.store, record)
        except LostJob:
            log.info("job %s was claimed by another replica at the same time", job_id)
            return Verdict("retry", delay=self.settings.ack_wait_s)
        job = ActiveJob(user_id, job_id, claim)
        started = time.perf_counter()
        try:
            return await self._run(record, job, trigger, keepalive)
        except LostJob:
            log.warning("job %s was taken over by another replica; leaving it", job_id)
            return Verdict("leave")
        except Exception as exc:
            log.exception("job %s failed (delivery %d)", job_id, delivered)
            record.reason = f"{type(exc).__name__}: {exc}"[:1000]
            if delivered >= self.settings.max_attempts:
                return await self._give_up(claim, record, f"failed {delivered} times; {record.reason}")
            delay = retry_delay(delivered, self.settings.retry_backoff_s)
            record.state = State.QUEUED
            await self._try_save(claim, record)
            await self._progress(
                record, State.QUEUED, f"{job_id}:retry:{delivered}", reason=f"retrying in {delay:g} s: {record.reason}"
            )
            return Verdict("retry", delay=delay)
        finally:
            JOB_SECONDS.observe(time.perf_counter() - started)

    async def _run(
        self,
        record: JobRecord,
        job: ActiveJob,
        trigger: events_pb2.ThresholdReached,
        keepalive: Callable[[], Awaitable[None]],
    ) -> Verdict:
        s = self.settings
        self.active[record.user_id] = job
        heartbeat = asyncio.create_task(self._heartbeat(record, job, keepalive))
        try:
            examples = await self.store.read_examples(record.user_id)
            record.examples_seq = max(examples.last_seq, record.examples_seq)
            try:
                data = build(
                    examples.collected,
                    min_quality=s.min_quality,
                    min_examples=s.min_examples,
                    eval_fraction=s.eval_fraction,
                    min_eval=s.min_eval_examples,
                )
            except TooFewExamples as exc:
                await self._finish(job.claim, record, State.REJECTED, str(exc))
                return ACK
            persona = await self.store.persona(record.user_id)
            with tempfile.TemporaryDirectory(prefix="zega-trainer-") as tmp:
                work = Path(tmp)
                previous = None
                if record.previous_version:
                    prefix = lineage.object_prefix(record.user_id, record.previous_version)
                    files = await self.store.download_adapter(prefix)
                    previous = await asyncio.to_thread(_write_files, work / "previous", files) if files else None
                await self._progress(record, State.RUNNING, f"{record.job_id}:{record.attempt}:start")
                result = await asyncio.to_thread(
                    self._train,
                    data,
                    persona,
                    previous,
                    work / "adapter",
                    job,
                    self._step_reporter(record),
                    self._stager(record, job),
                )
                if job.why == "lost":
                    raise LostJob(record.job_id)
                if result.train is not None:
                    TOKENS_PER_SECOND.set(result.train.tokens_per_second)
                    log.info(
                        "job %s: %d steps on %d examples in %.1f s (%.0f tokens/s), %s",
                        record.job_id,
                        result.train.steps,
                        len(data.train),
                        result.train.seconds,
                        result.train.tokens_per_second,
                        result.outcome.value,
                    )
                return await self._conclude(record, job, trigger, data, persona, result, work / "adapter")
        finally:
            heartbeat.cancel()
            self.active.pop(record.user_id, None)
            job.done.set()

    async def _conclude(
        self,
        record: JobRecord,
        job: ActiveJob,
        trigger: events_pb2.ThresholdReached,
        data: Dataset,
        persona: str,
        result: SessionResult,
        adapter_dir: Path,
    ) -> Verdict:
        if result.outcome is Outcome.STOPPED:
            if job.why == "shutdown":
                return Verdict("retry", delay=0.0, reason="shutting down")
            if job.why == "forget":
                return ACK
            await self._finish(job.claim, record, State.CANCELLED, "cancelled on request", result)
            return ACK
        if result.outcome is Outcome.REJECTED:
            await self._withdraw(record)
            await self._finish(job.claim, record, State.REJECTED, result.reason, result)
            return ACK
        await self._publish(record, job, trigger, data, persona, result, adapter_dir)
        return ACK

    def _train(
        self,
        data: Dataset,
        persona: str,
        previous: Path | None,
        out_dir: Path,
        job: ActiveJob,
        on_step: Callable[[int, int, float], None],
        on_candidate: Callable[[Path], None],
    ) -> SessionResult:
        with self._base_lock:
            if self._base is None:
                if self.settings.torch_threads:
                    torch.set_num_threads(self.settings.torch_threads)
                self._base = load_base_model(self.settings.base_model, self.settings.data_dir, self.settings.device)
            try:
                return run_session(
                    self._base, data, persona, self.settings, previous, out_dir, job.stop.is_set, on_step, on_candidate
                )
            except BaseException:
                self._base = None  # the LoRA layers may not have come off cleanly: load afresh next time
                raise

    def _step_reporter(self, record: JobRecord) -> Callable[[int, int, float], None]:
        loop = asyncio.get_running_loop()

        def report(step: int, total: int, loss: float) -> None:
            msg_id = f"{record.job_id}:{record.attempt}:{step}"
            coro = self._progress(record, State.RUNNING, msg_id, step=step, total_steps=total, loss=loss)
            asyncio.run_coroutine_threadsafe(coro, loop)

        return report

    def _stager(self, record: JobRecord, job: ActiveJob) -> Callable[[Path], None]:
        """Called from the training thread with the candidate, before its evaluation: upload its weights
        under the version it will have, so inference replicas load and warm it while the gate runs and
        the pointer move finds it ready. A failure here only costs that head start."""
        loop = asyncio.get_running_loop()

        def stage(adapter_dir: Path) -> None:
            try:
                asyncio.run_coroutine_threadsafe(self._stage(record, job, adapter_dir), loop).result(STAGE_TIMEOUT_S)
            except Exception as exc:
                log.warning(
                    "job %s: could not stage its candidate (%r); it is uploaded when published", record.job_id, exc
                )

        return stage

    async def _stage(self, record: JobRecord, job: ActiveJob, adapter_dir: Path) -> None:
        if not record.adapter_version:
            record.adapter_version = await self.store.next_version(record.user_id)
            await job.claim.save(self.store, record)
        weights = (adapter_dir / layout.WEIGHTS_FILE).read_bytes()
        files = {layout.CONFIG_FILE: (adapter_dir / layout.CONFIG_FILE).read_bytes(), layout.WEIGHTS_FILE: weights}
        await self.store.upload(lineage.object_prefix(record.user_id, record.adapter_version), files)
        job.staged, job.staged_at = hashlib.sha256(weights).hexdigest(), time.perf_counter()

    async def _withdraw(self, record: JobRecord) -> None:
        """A candidate that will not be published (rejected, or its job given up): delete its staged
        objects and give its version number back if it is still the latest, so versions stay 1, 2, 3 for
        what was published. Never touches a published version (an earlier attempt got that far)."""
        version = record.adapter_version
        if not version:
            return
        prefix = lineage.object_prefix(record.user_id, version)
        pointer = await self.store.pointer(record.user_id)
        if (pointer is not None and pointer.get("adapter_version") == version) or await self.store.is_published(prefix):
            return
        await self.store.delete_adapter(prefix)
        if await self.store.release_version(record.user_id, version):
            record.adapter_version = 0

    async def _heartbeat(self, record: JobRecord, job: ActiveJob, keepalive: Callable[[], Awaitable[None]]) -> None:
        """Tell NATS the job is alive (in-progress ack) and renew the claim, well within AckWait."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            try:
                await keepalive()
                record.heartbeat = time.time()
                await job.claim.save(self.store, record)
            except LostJob:
                job.request_stop("lost")
                return
            except Exception as exc:
                log.warning("heartbeat of job %s failed: %s", record.job_id, exc)

    # publishing ----------------------------------------------------------------------------------

    async def _publish(
        self,
        record: JobRecord,
        job: ActiveJob,
        trigger: events_pb2.ThresholdReached,
        data: Dataset,
        persona: str,
        result: SessionResult,
        adapter_dir: Path,
    ) -> None:
        s, user_id = self.settings, record.user_id
        assert result.metrics is not None and result.train is not None
        if not record.adapter_version:
            record.adapter_version = await self.store.next_version(user_id)
        record.state, record.metrics = State.PUBLISHING, result.metrics.as_dict()
        await job.claim.save(self.store, record)
        version = record.adapter_version
        prefix = lineage.object_prefix(user_id, version)
        created = now()

        weights = (adapter_dir / "adapter_model.safetensors").read_bytes()
        sha256 = hashlib.sha256(weights).hexdigest()
        style = await style_summary(s.memory_addr, user_id, s.memory_timeout_s) or modelfile.style_from_examples(
            data.all
        )
        system = modelfile.system_prompt(persona, style)
        (adapter_dir / "Modelfile").write_text(modelfile.render(s.ollama_base_tag, system, user_id, version))
        base_name = self.base_name
        manifest = lineage.manifest(
            user_id=user_id,
            version=version,
            created_at=created.isoformat(),
            job_id=record.job_id,
            threshold_index=record.threshold_index,
            base_model=base_name,
            sha256=sha256,
            size_bytes=len(weights),
            example_ids=[ex.example_id for ex in data.train],
            held_out_ids=[ex.example_id for ex in data.held_out],
            settings=s.model_dump(include=set(MANIFEST_SETTINGS)),
            metrics=result.metrics,
            total_training_steps=result.train.steps,
            training_time_seconds=result.train.seconds,
            previous_version=record.previous_version if result.warm_start else None,
        )
        files = {
            layout.CONFIG_FILE: (adapter_dir / layout.CONFIG_FILE).read_bytes(),
            layout.WEIGHTS_FILE: weights,
            layout.MODELFILE: (adapter_dir / layout.MODELFILE).read_bytes(),
            layout.MANIFEST_FILE: lineage.dump(manifest),
        }
        if job.staged == sha256:  # uploaded before the gate: replicas may hold it already
            files.pop(layout.CONFIG_FILE), files.pop(layout.WEIGHTS_FILE)
        await self.store.upload(prefix, files)
        moved = time.perf_counter()
        await self.store.put_pointer(user_id, lineage.pointer(user_id, version, sha256, base_name, created.isoformat()))
        ollama_error = ""
        if s.ollama_host:
            ollama_error = await asyncio.to_thread(
                register, s.ollama_host, f"zega-{user_id}", s.ollama_base_tag, adapter_dir, system
            )
        ready = events_pb2.AdapterReady(
            user_id=user_id,
            adapter_version=version,
            model_name=f"zega-{user_id}",
            base_model=base_name,
            object_name=prefix,
            sha256=sha256,
            size_bytes=len(weights),
            training_examples_used=len(data.train),
            metrics=events_pb2.AdapterMetrics(**result.metrics.as_dict()),
            job_id=record.job_id,
            threshold_index=record.threshold_index,
            total_training_steps=result.train.steps,
            training_time_seconds=result.train.seconds,
            ollama_error=ollama_error,
        )
        ready.created_at.FromDatetime(created)
        await self.events.adapter_ready(ready)
        await self._finish(job.claim, record, State.SUCCEEDED, f"published {prefix}", result)
        ahead = f"; staged {moved - job.staged_at:.2f} s before the pointer moved" if job.staged == sha256 else ""
        log.info("job %s published %s (%s)%s", record.job_id, prefix, result.reason, ahead)

    # records and events --------------------------------------------------------------------------

    async def _finish(
        self,
        claim: Claim,
        record: JobRecord,
        state: State,
        reason: str,
        result: SessionResult | None = None,
    ) -> None:
        record.state, record.reason, record.updated_at = state, reason, now().isoformat()
        if result is not None and result.metrics is not None:
            record.metrics = result.metrics.as_dict()
        await claim.save(self.store, record)
        JOBS.labels(state.value).inc()
        train = result.train if result else None
        await self._progress(
            record,
            state,
            f"{record.job_id}:{state.value}",
            step=train.steps if train else 0,
            total_steps=train.total_steps if train else 0,
            loss=record.metrics.get("train_loss", 0.0),
            reason=reason,
        )
        log.info("job %s %s: %s", record.job_id, state.value, reason)

    async def _give_up(self, claim: Claim, record: JobRecord, reason: str) -> Verdict:
        try:
            await self._withdraw(record)
        except Exception as exc:
            log.warning("job %s: could not withdraw its candidate: %r", record.job_id, exc)
        try:
            await self._finish(claim, record, State.FAILED, reason)
        except LostJob:
            log.warning("job %s: could not record the failure (record changed)", record.job_id)
        return Verdict("fail", reason=reason)

    async def _try_save(self, claim: Claim, record: JobRecord) -> None:
        try:
            await claim.save(self.store, record)
        except Exception as exc:
            log.warning("could not update job record %s: %s", claim.key, exc)

    async def _progress(self, record: JobRecord, state: State, msg_id: str, **fields) -> None:
        try:
            await self.events.progress(
                record.user_id, record.job_id, record.threshold_index, state, msg_id=msg_id, **fields
            )
        except Exception as exc:
            log.warning("could not publish progress of job %s: %s", record.job_id, exc)


def _write_files(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory
