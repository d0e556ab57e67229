"""The local stack: the embedded nats-server and the five services, each its own process.

Every service answers GET /readyz over HTTP (the gateway on its API port, the others on their metrics
port); the stack waits for all of them. `stop` sends SIGTERM to each process group, waits for them to
drain, and SIGKILLs whatever is left, so no process outlives the stack.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from zega_common.nats_server import EmbeddedNats, free_port

DEFAULT_PORTS = {
    "gateway_http": 8080,
    "gateway_grpc": 50051,
    "inference_grpc": 50052,
    "memory_grpc": 50053,
    "collector_metrics": 9102,
    "trainer_metrics": 9103,
    "inference_metrics": 9104,
    "memory_metrics": 9105,
}
SERVICES = ("memory", "inference", "collector", "trainer", "gateway")


def free_ports() -> dict[str, int]:
    return {name: free_port() for name in DEFAULT_PORTS}


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    ready_url: str
    listens: str
    log_path: Path
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        exe = Path(sys.executable).parent / f"zega-{self.name}"
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(exe)], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        try:
            return httpx.get(self.ready_url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def signal(self, sig: int) -> None:
        if self.alive():
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 30.0) -> None:
        if not self.alive():
            return
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait()


@dataclass
class Stack:
    data_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    nats_port: int = 4222
    env: dict[str, str] = field(default_factory=dict)
    services: tuple[str, ...] = SERVICES
    nats: EmbeddedNats | None = None
    procs: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway_http']}"

    def _service(self, name: str) -> ServiceProcess:
        p = self.ports
        env = {
            **os.environ,
            **self.env,
            "ZEGA_NATS_URL": self.nats.url,
            "ZEGA_DATA_DIR": str(self.data_dir),
            "ZEGA_INFERENCE_ADDR": f"127.0.0.1:{p['inference_grpc']}",
            "ZEGA_MEMORY_ADDR": f"127.0.0.1:{p['memory_grpc']}",
        }
        if name == "gateway":
            env |= {"ZEGA_HTTP_PORT": str(p["gateway_http"]), "ZEGA_GRPC_PORT": str(p["gateway_grpc"])}
            ready = f"http://127.0.0.1:{p['gateway_http']}/readyz"
            listens = f"http :{p['gateway_http']} (docs /docs), grpc :{p['gateway_grpc']}"
        else:
            env["ZEGA_METRICS_PORT"] = str(p[f"{name}_metrics"])
            ready = f"http://127.0.0.1:{p[f'{name}_metrics']}/readyz"
            listens = f"metrics :{p[f'{name}_metrics']}"
            if f"{name}_grpc" in p:
                env["ZEGA_GRPC_PORT"] = str(p[f"{name}_grpc"])
                listens = f"grpc :{p[f'{name}_grpc']}, " + listens
        logs = self.data_dir / "logs"
        return ServiceProcess(name, env, ready, listens, logs / f"{name}.log")

    def start(self, timeout: float = 180.0) -> None:
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.nats = EmbeddedNats(
            self.data_dir / "nats", port=self.nats_port, log_file=self.data_dir / "logs" / "nats.log"
        )
        self.nats.start()
        try:
            for name in self.services:
                self.procs[name] = self._service(name)
                self.procs[name].start()
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float = 180.0, names: tuple[str, ...] | None = None) -> None:
        deadline = time.monotonic() + timeout
        pending = set(names or self.procs)
        while pending:
            for name in sorted(pending):
                proc = self.procs[name]
                if not proc.alive():
                    tail = proc.log_path.read_text(errors="replace")[-2000:] if proc.log_path.exists() else ""
                    raise RuntimeError(f"zega-{name} exited with {proc.proc.returncode}:\n{tail}")
                if proc.ready():
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(
                    f"not ready after {timeout:.0f}s: {', '.join(sorted(pending))} (logs in {self.data_dir / 'logs'})"
                )
            if pending:
                time.sleep(0.25)

    def kill(self, name: str) -> None:
        """kill -9 one service (chaos tests)."""
        self.procs[name].signal(signal.SIGKILL)
        self.procs[name].proc.wait()

    def restart(self, name: str, timeout: float = 180.0) -> None:
        self.procs[name].stop()
        self.procs[name] = self._service(name)
        self.procs[name].start()
        self.wait_ready(timeout, (name,))

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            self.procs[name].signal(signal.SIGTERM)
        for proc in self.procs.values():
            proc.stop()
        if self.nats:
            self.nats.stop()

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
