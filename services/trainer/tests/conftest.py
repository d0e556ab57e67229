"""Trainer fixtures: the real tokenizer, a tiny saved model that uses it, and helpers to drive jobs over NATS."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from zega_common import codec, subjects
from zega_common.runtime import make_broker
from zega_common.settings import ZegaSettings
from zega_common.v1 import events_pb2
from zega_model import tiny_llama
from zega_model.loader import resolve
from zega_trainer.config import TrainerSettings
from zega_trainer.handlers import Trainer, register

REPO = Path(__file__).resolve().parents[3]
DATA = Path(__file__).with_name("data")


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """The shared cache of the real base model (dequantized once, ~40 s, then reused)."""
    return REPO / ".zega"


@pytest.fixture(scope="session")
def smol_dir(model_cache: Path) -> Path:
    return Path(resolve("smollm2", model_cache))


@pytest.fixture(scope="session")
def tokenizer(smol_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smol_dir)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer) -> Path:
    """A tiny random Llama with the real tokenizer, saved like any transformers model (ZEGA_BASE_MODEL=<dir>)."""
    target = tmp_path_factory.mktemp("tiny-model")
    tiny_llama(seed=0, vocab_from=tokenizer).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def style_rows() -> list[dict]:
    return [json.loads(line) for line in (DATA / "style.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture
def trainer_env(zega_settings: ZegaSettings, tiny_model_dir: Path) -> dict:
    """Settings of a fast trainer on the tiny model (as keyword arguments)."""
    return dict(
        nats_url=zega_settings.nats_url,
        data_dir=zega_settings.data_dir,
        duplicate_window_s=zega_settings.duplicate_window_s,
        base_model=str(tiny_model_dir),
        device="cpu",
        min_examples=6,
        epochs=2,
        max_steps=8,
        learning_rate=3e-3,
        batch_tokens=1024,
        ack_wait_s=6.0,
        heartbeat_s=1.0,
        retry_backoff_s=0.2,
        progress_every_steps=2,
        memory_addr="",
    )


def example(user_id: str, i: int, score: float = 8.5, completion: str | None = None) -> events_pb2.ExampleCollected:
    rows = style_rows()
    row = rows[i % len(rows)]
    return events_pb2.ExampleCollected(
        example_id=f"{user_id}-ex{i}",
        user_id=user_id,
        prompt=row["prompt"],
        completion=completion or row["completion"],
        quality_score=score,
        metadata=row.get("metadata", {}),
        source="test",
    )


async def publish_examples(js: JetStreamContext, examples: list[events_pb2.ExampleCollected]) -> None:
    for ex in examples:
        body, headers = codec.encode(ex, f"{ex.user_id}:{ex.example_id}")
        await js.publish(subjects.for_user(subjects.EXAMPLE_COLLECTED, ex.user_id), body, headers=headers)


async def publish_trigger(js: JetStreamContext, user_id: str, index: int, job_id: str = "", msg_id: str = "") -> str:
    job_id = job_id or f"{user_id}-t{index}"
    trigger = events_pb2.ThresholdReached(
        user_id=user_id, threshold_index=index, examples_total=50 * index, trigger=events_pb2.TRIGGER_AUTO
    )
    trigger.job_id = job_id
    body, headers = codec.encode(trigger, msg_id or job_id)
    await js.publish(subjects.for_user(subjects.THRESHOLD_REACHED, user_id), body, headers=headers)
    return job_id


@dataclass
class Watch:
    """Every training.progress and adapter.ready of a user, as they arrive (core NATS)."""

    progress: list[events_pb2.TrainingProgress] = field(default_factory=list)
    ready: list[events_pb2.AdapterReady] = field(default_factory=list)

    def states(self, job_id: str | None = None) -> list[int]:
        return [p.state for p in self.progress if job_id is None or p.job_id == job_id]

    async def until(self, check: Callable[[Watch], bool], wait_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while not check(self):
            if loop.time() > deadline:
                raise TimeoutError(f"waited {wait_s} s; progress states {self.states()}, ready {len(self.ready)}")
            await asyncio.sleep(0.05)

    async def final(self, job_id: str, wait_s: float) -> events_pb2.TrainingProgress:
        finals = {
            events_pb2.TRAINING_STATE_SUCCEEDED,
            events_pb2.TRAINING_STATE_FAILED,
            events_pb2.TRAINING_STATE_CANCELLED,
            events_pb2.TRAINING_STATE_REJECTED,
        }
        await self.until(lambda w: any(p.job_id == job_id and p.state in finals for p in w.progress), wait_s)
        return next(p for p in self.progress if p.job_id == job_id and p.state in finals)


@pytest.fixture
async def watch(nc: Client) -> AsyncIterator[Callable[[str], asyncio.Future]]:
    subs = []

    async def start(user_id: str) -> Watch:
        seen = Watch()

        async def on_progress(msg) -> None:
            seen.progress.append(codec.decode(msg.data, events_pb2.TrainingProgress))

        async def on_ready(msg) -> None:
            seen.ready.append(codec.decode(msg.data, events_pb2.AdapterReady))

        subs.append(await nc.subscribe(subjects.for_user(subjects.TRAINING_PROGRESS, user_id), cb=on_progress))
        subs.append(await nc.subscribe(subjects.for_user(subjects.ADAPTER_READY, user_id), cb=on_ready))
        await nc.flush()
        return seen

    yield start
    for sub in subs:
        await sub.unsubscribe()


@pytest.fixture(scope="session")
def kit():
    """The helpers above, for test modules (importlib mode does not import conftest as a module)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        example=example, publish_examples=publish_examples, publish_trigger=publish_trigger, style_rows=style_rows
    )


@pytest.fixture
async def start_trainer(jetstream: JetStreamContext, trainer_env: dict) -> AsyncIterator[Callable]:
    """Start the trainer's handlers in this process (as many replicas as called), stopped at the end."""
    brokers = []

    async def start(**overrides) -> Trainer:
        settings = TrainerSettings(**{**trainer_env, **overrides})
        broker = make_broker(settings, "trainer")
        trainer = Trainer(broker, settings)
        register(broker, settings, trainer)
        await broker.start()
        brokers.append((broker, trainer))
        return trainer

    yield start
    for broker, trainer in brokers:
        await trainer.shutdown()
        await broker.stop()
