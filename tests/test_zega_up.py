"""`zega up` as a user runs it: prints where each service listens, and SIGTERM leaves no process behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil


def test_zega_up_starts_and_stops_everything(tmp_path):
    exe = Path(sys.executable).parent / "zega"
    env = {**os.environ, "ZEGA_DATA_DIR": str(tmp_path)}
    env.pop("ZEGA_ADMIN_TOKEN", None)
    proc = subprocess.Popen([str(exe), "up", "--free-ports"], env=env, stdout=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "Ctrl-C stops everything" in line or not line:
            break
    out = "".join(lines)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert "admin token: zega-admin-" in out, out
    for name in ("nats-server", "memory", "inference", "collector", "trainer", "gateway"):
        assert name in out
    assert (tmp_path / "admin-token").read_text().strip() in out
    assert len(children) >= 6
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.pid for p in alive]
