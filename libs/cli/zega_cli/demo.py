"""`zega demo`: one user from 0 examples to a trained adapter, watched from outside like a client would.

Starts the local stack, creates a demo user and token, sends rated examples in a distinctive voice
through the gateway, follows threshold.reached and training.progress on NATS, and when adapter.ready
arrives generates the same prompts with the base model and with the user's adapter, side by side.
Writes a report (JSON + PNG plot) under <data_dir>/reports/, then stops the stack.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from zega_cli.admin_token import ensure_admin_token
from zega_cli.config import StackSettings
from zega_cli.report import write_report
from zega_cli.stack import Stack, free_ports
from zega_common import codec, subjects
from zega_common.v1 import events_pb2

DATA = Path(__file__).with_name("data") / "voices.jsonl"
DEMO_PROMPTS = ["Describe a forest that remembers", "Write a scene in a ruined cathedral"]
# Training report points at every step; the full demo trains 4 epochs (~25 steps, a few minutes on 2 cores).
DEMO_ENV = {"ZEGA_PROGRESS_EVERY_STEPS": "1", "ZEGA_EPOCHS": "4"}
QUICK_ENV = {"ZEGA_PROGRESS_EVERY_STEPS": "1", "ZEGA_MAX_STEPS": "6", "ZEGA_EPOCHS": "1"}

FAILED_STATES = (
    events_pb2.TRAINING_STATE_FAILED,
    events_pb2.TRAINING_STATE_REJECTED,
    events_pb2.TRAINING_STATE_CANCELLED,
)

console = Console()


@dataclass
class DemoRun:
    user_id: str
    phases: dict[str, float] = field(default_factory=dict)
    losses: list[tuple[int, float]] = field(default_factory=list)
    adapter: dict = field(default_factory=dict)
    generations: list[dict] = field(default_factory=list)


def load_voice(voice: str) -> list[dict]:
    return [row for row in map(json.loads, DATA.read_text().splitlines()) if row["voice"] == voice]


class Phase:
    def __init__(self, run: DemoRun, name: str) -> None:
        self.run, self.name = run, name

    def __enter__(self) -> None:
        console.rule(f"[bold]{self.name}")
        self.t0 = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        self.run.phases[self.name] = time.monotonic() - self.t0
        console.print(f"[dim]{self.name}: {self.run.phases[self.name]:.1f} s[/dim]")


def create_token(client: httpx.Client, user_id: str) -> str:
    reply = client.post("/admin/tokens", json={"user_id": user_id})
    reply.raise_for_status()
    return reply.json()["token"]


def send_examples(client: httpx.Client, user_id: str, rows: list[dict]) -> None:
    with Progress(TextColumn("examples"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
        task = bar.add_task("send", total=len(rows))
        for row in rows:
            body = {k: row[k] for k in ("prompt", "completion", "quality_score", "metadata")}
            client.post(f"/user/{user_id}/examples", json=body).raise_for_status()
            bar.advance(task)


async def follow_training(nats_url: str, user_id: str, run: DemoRun, wait_s: float) -> dict:
    """Wait for threshold.reached, show training.progress as a bar, return the AdapterReady as a dict."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    threshold = await js.subscribe(subjects.for_user(subjects.THRESHOLD_REACHED, user_id), ordered_consumer=True)
    events = await js.subscribe(f"*.*.{user_id}", stream=subjects.STREAM_EVENTS, ordered_consumer=True)
    try:
        with Phase(run, "threshold"):
            msg = await threshold.next_msg(timeout=wait_s)
            reached = codec.decode(msg.data, events_pb2.ThresholdReached)
            console.print(f"threshold.reached: index {reached.threshold_index}, {reached.examples_total} examples")
        with (
            Phase(run, "training"),
            Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console) as bar,
        ):
            task = bar.add_task("training", total=None)
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                msg = await events.next_msg(timeout=max(1.0, deadline - time.monotonic()))
                if msg.subject.startswith(subjects.ADAPTER_READY):
                    return codec.to_dict(codec.decode(msg.data, events_pb2.AdapterReady))
                progress = codec.decode(msg.data, events_pb2.TrainingProgress)
                state = events_pb2.TrainingState.Name(progress.state).removeprefix("TRAINING_STATE_").lower()
                if progress.total_steps:
                    bar.update(task, total=progress.total_steps, completed=progress.step)
                if progress.state == events_pb2.TRAINING_STATE_RUNNING and progress.step:
                    run.losses.append((progress.step, progress.loss))
                bar.update(task, description=f"training ({state}, loss {progress.loss:.3f})")
                if progress.state in (
                    events_pb2.TRAINING_STATE_FAILED,
                    events_pb2.TRAINING_STATE_REJECTED,
                    events_pb2.TRAINING_STATE_CANCELLED,
                ):
                    raise RuntimeError(f"training ended {state}: {progress.reason}")
            raise TimeoutError(f"no adapter.ready within {wait_s:.0f} s")
    finally:
        await nc.close()


def side_by_side(client: httpx.Client, user_id: str, run: DemoRun, max_tokens: int) -> None:
    table = Table(title=f"base model vs zega-{user_id}", show_lines=True)
    table.add_column("prompt", max_width=24)
    table.add_column("base", max_width=50)
    table.add_column("with the user's adapter", max_width=50)
    for prompt in DEMO_PROMPTS:
        outs = {}
        for custom in (False, True):
            body = {
                "user_id": user_id,
                "context": prompt,
                "use_custom_model": custom,
                "use_memory": False,
                "max_tokens": max_tokens,
                "temperature": 0,
            }
            reply = client.post("/predict", json=body, timeout=300)
            reply.raise_for_status()
            outs[custom] = reply.json()
        run.generations.append({"prompt": prompt, "base": outs[False], "adapter": outs[True]})
        table.add_row(
            prompt, escape(outs[False]["text"]), escape(f"(v{outs[True]['adapter_version']}) {outs[True]['text']}")
        )
    console.print(table)


def run_demo(settings: StackSettings, quick: bool = False, voice: str = "mara", user_id: str = "demo-mara") -> int:
    run = DemoRun(user_id)
    data_dir = settings.data_dir.resolve()
    token = ensure_admin_token(settings.admin_token, data_dir)
    env = {"ZEGA_ADMIN_TOKEN": token} | (QUICK_ENV if quick else DEMO_ENV)
    stack = Stack(data_dir, ports=free_ports(), nats_port=0, env=env)
    rows = load_voice(voice)[: settings.threshold]
    t_start = time.monotonic()
    with Phase(run, "start stack"):
        stack.start(settings.startup_timeout_s)
    try:
        admin = httpx.Client(base_url=stack.gateway_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        user = httpx.Client(
            base_url=stack.gateway_url, headers={"Authorization": f"Bearer {create_token(admin, user_id)}"}, timeout=60
        )
        with Phase(run, "send examples"):
            send_examples(user, user_id, rows)
        kept = sum(r["quality_score"] >= 7.0 for r in rows)
        console.print(f"{len(rows)} examples sent; {kept} rated 7.0 or more will be trained on")
        run.adapter = asyncio.run(follow_training(stack.nats.url, user_id, run, wait_s=900))
        ready, metrics = run.adapter, run.adapter.get("metrics", {})
        console.print(
            f"adapter.ready: v{ready['adapter_version']} trained on {ready['training_examples_used']} examples; "
            f"held-out loss base {metrics.get('eval_loss_base', 0):.3f} "
            f"-> adapter {metrics.get('eval_loss_adapter', 0):.3f}"
        )
        with Phase(run, "generate"):
            side_by_side(user, user_id, run, max_tokens=24 if quick else 60)
        report = write_report(data_dir / "reports", run)
        console.print(f"report: {report}")
    finally:
        with Phase(run, "stop stack"):
            stack.stop()
    console.print(
        f"[bold green]demo done in {time.monotonic() - t_start:.0f} s[/bold green] "
        + ", ".join(f"{k} {v:.0f} s" for k, v in run.phases.items())
    )
    return 0
