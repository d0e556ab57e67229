"""The real zega-trainer process, killed with SIGKILL mid-job: a second one finishes the job, exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from zega_common import subjects
from zega_common.nats_server import free_port
from zega_common.v1 import events_pb2

pytestmark = pytest.mark.timeout(300)


def spawn(env: dict, log: Path) -> subprocess.Popen:
    script = Path(sys.executable).with_name("zega-trainer")
    with open(log, "ab") as out:
        return subprocess.Popen([str(script)], env=env, stdout=out, stderr=subprocess.STDOUT)


async def test_kill_9_mid_job_finishes_exactly_once(jetstream, watch, kit, trainer_env, tmp_path):
    user = "gina"
    seen = await watch(user)
    await kit.publish_examples(jetstream, [kit.example(user, i) for i in range(14)])
    env = {
        **os.environ,
        **{f"ZEGA_{k.upper()}": str(v) for k, v in trainer_env.items()},
        "ZEGA_ACK_WAIT_S": "4",
        "ZEGA_MAX_STEPS": "24",
        "ZEGA_EPOCHS": "10",
        "ZEGA_BATCH_TOKENS": "160",
        "ZEGA_PROGRESS_EVERY_STEPS": "1",
        "ZEGA_LOG_LEVEL": "INFO",
    }
    log = tmp_path / "trainer.log"
    first = spawn({**env, "ZEGA_METRICS_PORT": str(free_port())}, log)
    second = None
    try:
        job_id = await kit.publish_trigger(jetstream, user, 1)
        await seen.until(lambda w: any(p.job_id == job_id and p.step >= 2 for p in w.progress), 120)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        steps_before = max(p.step for p in seen.progress)

        second = spawn({**env, "ZEGA_METRICS_PORT": str(free_port())}, log)
        final = await seen.final(job_id, 180)
        assert final.state == events_pb2.TRAINING_STATE_SUCCEEDED, final.reason + log.read_text()[-3000:]
        assert steps_before < final.total_steps
        assert [r.adapter_version for r in seen.ready] == [1]
        info = await jetstream.stream_info(
            subjects.STREAM_EVENTS, subjects_filter=subjects.for_user(subjects.ADAPTER_READY, user)
        )
        assert info.state.subjects == {subjects.for_user(subjects.ADAPTER_READY, user): 1}
        finals = [p for p in seen.progress if p.state == events_pb2.TRAINING_STATE_SUCCEEDED]
        assert len(finals) == 1
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
