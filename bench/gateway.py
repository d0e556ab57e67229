"""Gateway overhead: 32 concurrent clients on POST /predict.

The real `zega-gateway` runs as its own process on an embedded nats-server; inference and memory are
fast in-bench gRPC servers (zega_gateway.testing's fakes, with an optional fixed inference delay) so
that what the gateway itself costs is visible. Every client has its own user and token (the auth
lookup, persona read, memory recall + style summary, inference call and the kept generation are
all on the path). The gateway reports the time it waited on inference in its Server-Timing header;
its own overhead is the client's total minus that.

    .venv/bin/python bench/gateway.py [--clients 32] [--requests 2000] [--inference-ms 0] [--no-memory]

Prints, for one sequential client and for N concurrent ones: requests/s, and p50/p99 of the total
latency, of the inference time, of the memory time and of the overhead (total - inference).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from zega_common.nats_server import EmbeddedNats, free_port, wait_for_port
from zega_gateway.testing import FakeInference, FakeMemory, LoopThread, serve_inference, serve_memory

ADMIN = "bench-admin-token"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def server_timing(header: str) -> dict[str, float]:
    spans = {}
    for part in filter(None, (p.strip() for p in header.split(","))):
        name, _, dur = part.partition(";dur=")
        spans[name] = float(dur) / 1000
    return spans


async def run_clients(url: str, tokens: list[str], total: int, use_memory: bool) -> tuple[list[dict], float]:
    samples: list[dict] = []
    remaining = iter(range(total))
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))

    async def client(index: int, http: httpx.AsyncClient) -> None:
        headers = {"Authorization": f"Bearer {tokens[index]}"}
        body = {
            "user_id": f"bench{index:03d}",
            "context": "Write a dark fantasy scene about a cursed lighthouse",
            "use_memory": use_memory,
            "max_tokens": 64,
        }
        for _ in remaining:
            start = time.perf_counter()
            reply = await http.post("/predict", json=body, headers=headers)
            elapsed = time.perf_counter() - start
            reply.raise_for_status()
            spans = server_timing(reply.headers.get("server-timing", ""))
            samples.append({"total": elapsed, **spans})

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
        for i in range(len(tokens)):  # warm-up: connections, gRPC channels, KV handles
            await http.post(
                "/predict",
                json={"user_id": f"bench{i:03d}", "context": "warm up", "use_memory": use_memory},
                headers={"Authorization": f"Bearer {tokens[i]}"},
            )
        start = time.perf_counter()
        await asyncio.gather(*(client(i, http) for i in range(len(tokens))))
        wall = time.perf_counter() - start
    return samples, wall


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux), to tell the gateway's cost from the machine's load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(label: str, samples: list[dict], wall: float, cpu_s: float) -> None:
    total = [s["total"] for s in samples]
    inference = [s.get("inference", 0.0) for s in samples]
    memory = [s.get("memory", 0.0) for s in samples]
    overhead = [s["total"] - s.get("inference", 0.0) for s in samples]
    ms = lambda values, q: percentile(values, q) * 1000  # noqa: E731
    print(f"\n{label}: {len(samples)} requests in {wall:.2f} s = {len(samples) / wall:,.0f} req/s")
    print(f"  gateway process CPU: {cpu_s / len(samples) * 1000:.2f} ms per request")
    print(f"  {'':<28}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for name, values in (
        ("total (client-side)", total),
        ("inference (gRPC call)", inference),
        ("memory (recall + style)", memory),
        ("gateway overhead", overhead),
        ("  of which not memory", [o - s.get("memory", 0.0) for o, s in zip(overhead, samples, strict=True)]),
    ):
        print(f"  {name:<28}{ms(values, 0.5):>10.2f}{ms(values, 0.99):>10.2f}{statistics.mean(values) * 1000:>10.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--inference-ms", type=float, default=0.0, help="fixed delay of the in-bench inference")
    parser.add_argument("--no-memory", action="store_true", help="use_memory=false (no recall, no style summary)")
    args = parser.parse_args()

    loop = LoopThread()
    inference_server, inference_addr = loop.run(serve_inference(FakeInference(delay_s=args.inference_ms / 1000)))
    memory_server, memory_addr = loop.run(serve_memory(FakeMemory()))
    with tempfile.TemporaryDirectory(prefix="zega-bench-gateway-") as tmp, EmbeddedNats(Path(tmp) / "nats") as nats:
        port = free_port()
        env = {
            **os.environ,
            "ZEGA_NATS_URL": nats.url,
            "ZEGA_DATA_DIR": tmp,
            "ZEGA_HTTP_PORT": str(port),
            "ZEGA_GRPC_PORT": str(free_port()),
            "ZEGA_INFERENCE_ADDR": inference_addr,
            "ZEGA_MEMORY_ADDR": memory_addr,
            "ZEGA_ADMIN_TOKEN": ADMIN,
            "ZEGA_LOG_LEVEL": "WARNING",
        }
        log = open(Path(tmp) / "gateway.log", "wb")  # noqa: SIM115
        gateway = subprocess.Popen([sys.executable, "-m", "zega_gateway.main"], env=env, stdout=log, stderr=log)
        try:
            wait_for_port("127.0.0.1", port, 60)
            url = f"http://127.0.0.1:{port}"
            admin = {"Authorization": f"Bearer {ADMIN}"}
            tokens = [
                httpx.post(f"{url}/admin/tokens", json={"user_id": f"bench{i:03d}"}, headers=admin).json()["token"]
                for i in range(args.clients)
            ]
            print(
                f"gateway pid {gateway.pid}; inference delay {args.inference_ms:g} ms; "
                f"use_memory={not args.no_memory}; cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}"
            )
            sequential = max(100, args.requests // 10)
            for label, clients, count in (
                ("1 client, sequential", tokens[:1], sequential),
                (f"{args.clients} concurrent clients", tokens, args.requests),
            ):
                cpu_before = cpu_seconds(gateway.pid)
                samples, wall = asyncio.run(run_clients(url, clients, count, not args.no_memory))
                report(label, samples, wall, cpu_seconds(gateway.pid) - cpu_before)
        except BaseException:
            log.flush()
            print((Path(tmp) / "gateway.log").read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            gateway.terminate()
            gateway.wait(30)
            log.close()
            loop.run(inference_server.stop(0))
            loop.run(memory_server.stop(0))
            loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
