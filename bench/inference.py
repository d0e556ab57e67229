"""Multi-LoRA inference on the real base model (SmolLM2-135M-Instruct) with random rank-16 adapters
(q,k,v,o, alpha 32, B scaled to a trained adapter's size).

One run, one table:
1. throughput of N concurrent requests x T new tokens on the engine (continuous batching, batched LoRA):
   N distinct adapters, 1 shared adapter, the base model only;
2. the same adapters one request at a time on the engine, and the naive baseline (peft, one request at a
   time, set_adapter per request, transformers generate);
3. optionally peft's own mixed-adapter batch (generate(adapter_names=[...])) for comparison;
4. through the real service (embedded nats-server, object store, KV pointer watch, gRPC): hot-swap
   latency from the pointer move + adapter.ready to the first response on the new version, staged as the
   trainer publishes (weights up before its gate; the replica loads them and prefills the user's prompt
   prefix meanwhile; the bench moves the pointer once that is done and says how long it took) and not
   staged (weights and pointer at once); and time to first token of a non-resident adapter over a
   resident one.

EOS is ignored in the throughput runs, so every request generates exactly T tokens. The throughput runs
repeat for each T of --new-tokens: prefill costs the same per prompt token batched or not (it is
compute-bound either way), so the batching gain grows with the share of decoding in a request.

    .venv/bin/python bench/inference.py [--requests 32] [--new-tokens 32,128] [--sequential 8] [--swaps 5]
                                        [--peft-mixed] [--device cpu] [--threads 0]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from zega_common import adapter_layout as layout
from zega_common import codec, subjects
from zega_common.nats_server import EmbeddedNats, free_port
from zega_common.v1 import events_pb2, inference_pb2, inference_pb2_grpc
from zega_inference.adapters.store import AdapterFiles
from zega_inference.domain.adapter_ref import AdapterKey
from zega_inference.domain.request import Sampling
from zega_inference.engine.decoder import Finished, Seq
from zega_inference.engine.runtime import ModelRuntime
from zega_model import load_base_model

DATA_DIR = Path(__file__).resolve().parents[1] / ".zega"
TOPICS = [
    "a storm over the sea",
    "the last train home",
    "a city under snow",
    "an old lighthouse",
    "a market at dawn",
    "a forgotten garden",
    "the first day of school",
    "a letter never sent",
    "a night in the desert",
    "a robot learning to paint",
    "a wedding in the rain",
    "the smell of bread",
    "a broken violin",
    "a dragon who fears fire",
    "a ship made of glass",
    "the end of summer",
]


def prompts(tokenizer, n: int) -> list[list[int]]:
    out = []
    for i in range(n):
        words = " ".join(["Please make it vivid."] * (i % 4))
        chat = [{"role": "user", "content": f"Write about {TOPICS[i % len(TOPICS)]}. {words}"}]
        out.append(list(tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)["input_ids"]))
    return out


def make_adapters(base_model, count: int, out_dir: Path) -> list[Path]:
    """`count` random rank-16 PEFT adapter directories, as the trainer would save them."""
    paths = []
    model = None
    for i in range(count):
        torch.manual_seed(100 + i)
        config = LoraConfig(
            r=16,
            lora_alpha=32,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
            init_lora_weights=False,
            task_type="CAUSAL_LM",
        )
        if model is None:
            model = get_peft_model(base_model, config, adapter_name="a0")
        else:
            model.add_adapter(f"a{i}", config)
        with torch.no_grad():
            for name, param in model.named_parameters():
                if f"lora_B.a{i}." in name:
                    param.mul_(0.05)
        path = out_dir / f"a{i}"
        model.save_pretrained(path, selected_adapters=[f"a{i}"])
        # save_pretrained puts non-default adapters in a subfolder named after them
        paths.append(path / f"a{i}" if (path / f"a{i}").exists() else path)
    return paths


def files_of(path: Path, key: AdapterKey) -> AdapterFiles:
    weights = (path / layout.WEIGHTS_FILE).read_bytes()
    config = json.loads((path / layout.CONFIG_FILE).read_text())
    return AdapterFiles(key, config, weights, hashlib.sha256(weights).hexdigest())


def run_engine(runtime: ModelRuntime, jobs, new_tokens: int) -> tuple[float, int]:
    """Submit every (prompt_ids, weights) at once; seconds until all finished, tokens generated."""
    done = threading.Event()
    left = [len(jobs)]
    tokens = [0]
    lock = threading.Lock()

    def emit(event):
        if isinstance(event, Finished):
            with lock:
                tokens[0] += event.completion_tokens
                left[0] -= 1
                if left[0] == 0:
                    done.set()

    started = time.perf_counter()
    for ids, weights in jobs:
        runtime.engine.submit(Seq(ids, new_tokens, weights, Sampling(), emit))
    done.wait()
    return time.perf_counter() - started, tokens[0]


def run_one_at_a_time(runtime: ModelRuntime, jobs, new_tokens: int) -> tuple[float, int]:
    total_s, total_tokens = 0.0, 0
    for job in jobs:
        s, t = run_engine(runtime, [job], new_tokens)
        total_s += s
        total_tokens += t
    return total_s, total_tokens


def run_naive_peft(peft_model: PeftModel, jobs, names, new_tokens: int) -> tuple[float, int]:
    """One request at a time, set_adapter per request, transformers generate."""
    started = time.perf_counter()
    tokens = 0
    for (ids, _), name in zip(jobs, names, strict=True):
        peft_model.set_adapter(name)
        with torch.no_grad():
            out = peft_model.generate(
                input_ids=torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
            )
        tokens += out.shape[1] - len(ids)
    return time.perf_counter() - started, tokens


def run_peft_mixed(peft_model: PeftModel, tokenizer, jobs, names, new_tokens: int) -> tuple[float, int]:
    width = max(len(ids) for ids, _ in jobs)
    ids = torch.full((len(jobs), width), tokenizer.pad_token_id)
    mask = torch.zeros(len(jobs), width, dtype=torch.long)
    for i, (p, _) in enumerate(jobs):
        ids[i, width - len(p) :] = torch.tensor(p)
        mask[i, width - len(p) :] = 1
    started = time.perf_counter()
    with torch.no_grad():
        out = peft_model.generate(
            input_ids=ids,
            attention_mask=mask,
            adapter_names=names,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
        )
    return time.perf_counter() - started, (out.shape[1] - width) * len(jobs)


async def service_latencies(runtime: ModelRuntime, adapter_paths: list[Path], swaps: int, base_name: str):
    """Hot-swap latencies, staged and not, and TTFT non-resident / resident through NATS + gRPC.
    Returns ({"staged" | "unstaged": (swap ms, pointer move -> resident ms, staging ms)}, and TTFT in
    seconds: non-resident, resident, resident with its prompt prefix cached)."""
    import grpc

    from zega_inference.config import InferenceSettings
    from zega_inference.main import wire

    with tempfile.TemporaryDirectory() as tmp, EmbeddedNats(Path(tmp) / "nats") as server:
        settings = InferenceSettings(
            nats_url=server.url, data_dir=Path(tmp), grpc_port=free_port(), log_level="WARNING"
        )
        wired = wire(settings, runtime)
        await wired.app.start()
        import nats

        nc = await nats.connect(server.url)
        js = nc.jetstream()
        objects = await js.object_store(subjects.OBJECT_STORE_ADAPTERS)
        pointers = await js.key_value(subjects.KV_ADAPTERS)

        async def stage(user: str, version: int, path: Path) -> str:
            """The trainer's upload before its gate: config and weights. Returns their sha256."""
            weights = (path / layout.WEIGHTS_FILE).read_bytes()
            prefix = layout.object_prefix(user, version)
            await objects.put(f"{prefix}/{layout.CONFIG_FILE}", (path / layout.CONFIG_FILE).read_bytes())
            await objects.put(f"{prefix}/{layout.WEIGHTS_FILE}", weights)
            return hashlib.sha256(weights).hexdigest()

        async def commit(user: str, version: int, sha: str, announce: bool = True) -> float:
            """The trainer's publication once the gate passed: manifest, pointer, adapter.ready. Returns
            the time just before the pointer moved."""
            prefix = layout.object_prefix(user, version)
            await objects.put(f"{prefix}/{layout.MANIFEST_FILE}", json.dumps({"sha256": sha}).encode())
            moved = time.perf_counter()
            pointer = layout.pointer(user, version, sha, base_name, datetime.now(UTC).isoformat())
            await pointers.put(user, json.dumps(pointer).encode())
            if announce:
                ready = events_pb2.AdapterReady(
                    user_id=user, adapter_version=version, object_name=prefix, sha256=sha, base_model=base_name
                )
                data, headers = codec.encode(ready, f"{user}:v{version}")
                await js.publish(subjects.for_user(subjects.ADAPTER_READY, user), data, headers=headers)
            return moved

        async def publish(user: str, version: int, path: Path, announce: bool = True) -> float:
            return await commit(user, version, await stage(user, version, path), announce)

        async with grpc.aio.insecure_channel(f"127.0.0.1:{wired.grpc.port}") as channel:
            stub = inference_pb2_grpc.InferenceStub(channel)

            def request(user: str, new_tokens: int = 1) -> inference_pb2.GenerateRequest:
                return inference_pb2.GenerateRequest(
                    user_id=user, prompt="Write about the sea.", max_new_tokens=new_tokens
                )

            async def ttft(user: str) -> float:
                started = time.perf_counter()
                call = stub.GenerateStream(request(user, 4), timeout=60)
                chunk = await call.read()
                elapsed = time.perf_counter() - started
                while chunk is not grpc.aio.EOF and not chunk.done:
                    chunk = await call.read()
                return elapsed

            async def until(predicate, within_s: float = 10.0) -> float:
                """Milliseconds until predicate() holds, polled every 2 ms (the state lives in the service)."""
                started = time.perf_counter()
                for _ in range(int(within_s / 0.002)):
                    if predicate():
                        break
                    await asyncio.sleep(0.002)
                return (time.perf_counter() - started) * 1000

            await stub.Generate(request("warmup"), timeout=60)
            # hot-swap: a resident user, a new version published; poll until a response is on it
            service = wired.service
            await publish("swapper", 1, adapter_paths[0])
            await asyncio.sleep(0.2)
            assert (await stub.Generate(request("swapper"), timeout=60)).adapter_version == 1
            prefix = service._recent_prefixes["swapper"]

            def staged_and_warm(version: int) -> bool:
                staged = service.adapters.cache.peek(AdapterKey("swapper", version))
                return staged is not None and service.engine.prefixes.contains("swapper", staged.weights, prefix)

            swaps_out = {"staged": ([], [], []), "unstaged": ([], [], [])}
            version = 1
            for k in range(2 * swaps):
                kind = "staged" if k % 2 == 0 else "unstaged"
                swap_ms, resident_ms, staging_ms = swaps_out[kind]
                version += 1
                path = adapter_paths[(k + 1) % len(adapter_paths)]
                if kind == "staged":  # the candidate goes up, the replica loads and warms it, the gate passes
                    sha = await stage("swapper", version, path)
                    staging_ms.append(await until(lambda v=version: staged_and_warm(v)))
                    moved = await commit("swapper", version, sha)
                else:  # everything at once, as if the gate took no time
                    moved = await publish("swapper", version, path)
                await until(lambda v=version: AdapterKey("swapper", v) in service.adapters.cache)
                resident_ms.append((time.perf_counter() - moved) * 1000)
                while (await stub.Generate(request("swapper"), timeout=60)).adapter_version != version:
                    pass
                swap_ms.append((time.perf_counter() - moved) * 1000)
            # TTFT: first request of users whose adapter is not resident, then again (resident)
            cold, warm, warm_prefix = [], [], []
            for k in range(swaps):
                user = f"ttft{k}"
                await publish(user, 1, adapter_paths[k % len(adapter_paths)], announce=False)
                await until(lambda u=user: u in service.adapters.pointers)
                cold.append(await ttft(user))
                service.engine.prefixes.drop_user(user)  # resident adapter, but its prompt prefix not cached
                warm.append(await ttft(user))
                warm_prefix.append(await ttft(user))
        await nc.close()
        await wired.app.stop()
    return swaps_out, cold, warm, warm_prefix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument(
        "--new-tokens", default="32,128", help="tokens per request, one throughput comparison for each (comma list)"
    )
    parser.add_argument("--sequential", type=int, default=8, help="requests in the one-at-a-time runs")
    parser.add_argument("--swaps", type=int, default=5, help="hot-swaps through the service (0: no service runs)")
    parser.add_argument("--peft-mixed", action="store_true", help="also time peft's adapter_names batch")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: every core; 1 on a busy machine)")
    args = parser.parse_args()
    n, new_tokens = args.requests, [int(t) for t in args.new_tokens.split(",")]

    phase = time.perf_counter()

    def log(what: str) -> None:
        nonlocal phase
        print(f"  [{time.perf_counter() - phase:6.1f} s] {what}", flush=True)
        phase = time.perf_counter()

    runtime = ModelRuntime.load(
        "smollm2", DATA_DIR, device=args.device, torch_threads=args.threads, max_batch_size=n, max_queued=4 * n
    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, SmolLM2-135M-Instruct on {runtime.device}")
    runtime.engine.eos_ids = frozenset()  # every request generates exactly the tokens asked for
    reference = load_base_model("smollm2", DATA_DIR, device=args.device)
    log("models loaded")
    tmp = Path(tempfile.mkdtemp(prefix="zega-bench-"))
    adapter_paths = make_adapters(reference.model, n, tmp)
    weights = [runtime.prepare(files_of(p, AdapterKey(f"u{i}", 1))) for i, p in enumerate(adapter_paths)]
    ids = prompts(runtime.tokenizer, n)
    log(f"{n} adapters made and prepared")
    runtime.engine.start()
    # warm-up at full size (allocator, oneDNN, the gathered LoRA stacks), so no measured run pays it
    run_engine(runtime, list(zip(ids, weights, strict=True)), 2)
    run_engine(runtime, [(ids[0], weights[0])], 2)

    rows: list[tuple[str, float, int]] = []

    def record(label: str, result: tuple[float, int]) -> float:
        seconds, tokens = result
        rows.append((label, seconds, tokens))
        return tokens / seconds

    peft_model = PeftModel.from_pretrained(
        load_base_model("smollm2", DATA_DIR, device=args.device).model, adapter_paths[0], adapter_name="a0"
    ).eval()
    for i, path in enumerate(adapter_paths[1:], start=1):
        peft_model.load_adapter(path, adapter_name=f"a{i}")
    names = [f"a{i}" for i in range(n)]
    seq_jobs = list(zip(ids, weights, strict=True))[: args.sequential]
    ratios = {}
    for t in new_tokens:
        runtime.engine.start()
        distinct = record(
            f"{n} x {t} tok, {n} distinct adapters", run_engine(runtime, list(zip(ids, weights, strict=True)), t)
        )
        shared = record(f"{n} x {t} tok, 1 shared adapter", run_engine(runtime, [(p, weights[0]) for p in ids], t))
        base = record(f"{n} x {t} tok, base model only", run_engine(runtime, [(p, None) for p in ids], t))
        one = record(f"one at a time ({args.sequential}) x {t} tok, engine", run_one_at_a_time(runtime, seq_jobs, t))
        runtime.engine.stop()
        naive = record(
            f"naive: one at a time, set_adapter ({args.sequential}) x {t}",
            run_naive_peft(peft_model, seq_jobs, names[: args.sequential], t),
        )
        mixed = None
        if args.peft_mixed:
            mixed = record(
                f"peft adapter_names batch, {n} distinct x {t}",
                run_peft_mixed(peft_model, runtime.tokenizer, list(zip(ids, weights, strict=True)), names, t),
            )
        ratios[t] = (distinct, shared, base, one, naive, mixed)
        log(f"throughput runs, {t} new tokens")
    del peft_model

    swaps, cold, warm, warm_prefix = {}, [], [], []
    if args.swaps:
        swaps, cold, warm, warm_prefix = asyncio.run(
            service_latencies(runtime, adapter_paths, args.swaps, reference.name)
        )
        log("service runs (nats, grpc)")
    print()
    print(f"{'run':<52} {'seconds':>8} {'tokens':>7} {'tokens/s':>9}")
    for label, seconds, tokens in rows:
        print(f"{label:<52} {seconds:>8.2f} {tokens:>7d} {tokens / seconds:>9.1f}")
    print()
    print(f"{'comparison':<52} {'measured':>10} {'goal':>12}")
    comparisons = []
    for t, (distinct, shared, base, one, naive, mixed) in ratios.items():
        comparisons += [
            (f"{t} tok: {n} distinct / base-only tokens/s", f"{distinct / base:.2f}", ">= 0.70 (0.88)"),
            (f"{t} tok: {n} distinct / 1 shared tokens/s", f"{distinct / shared:.2f}", ">= 0.90"),
            (f"{t} tok: batch of {n} / one at a time, aggregate", f"{distinct / one:.1f}x", ">= 8x"),
            (f"{t} tok: batch of {n} / naive set_adapter baseline", f"{distinct / naive:.1f}x", "(gain)"),
        ]
        if mixed is not None:
            label = f"{t} tok: batched LoRA / peft adapter_names batch"
            comparisons.append((label, f"{distinct / mixed:.1f}x", "(gain)"))
    if swaps:
        staged, unstaged = swaps["staged"], swaps["unstaged"]
        comparisons += [
            (
                "hot-swap staged: pointer+adapter.ready -> 1st resp.",
                f"{statistics.median(staged[0]):.0f} ms",
                "<= 250 ms",
            ),
            ("  before it: upload -> loaded and warmed, p50", f"{statistics.median(staged[2]):.0f} ms", "(< the gate)"),
            ("hot-swap, not staged (upload and move at once)", f"{statistics.median(unstaged[0]):.0f} ms", ""),
            ("  of which: pointer move -> version resident, p50", f"{statistics.median(unstaged[1]):.0f} ms", ""),
            ("TTFT non-resident adapter, p50", f"{statistics.median(cold) * 1000:.0f} ms", ""),
            ("TTFT resident adapter, prefix not cached, p50", f"{statistics.median(warm) * 1000:.0f} ms", ""),
            ("TTFT resident adapter, prefix cached, p50", f"{statistics.median(warm_prefix) * 1000:.0f} ms", ""),
            ("TTFT non-resident / resident (p50)", f"{statistics.median(cold) / statistics.median(warm):.2f}", "<= 2"),
            (
                "TTFT non-resident / resident + prefix (p50)",
                f"{statistics.median(cold) / statistics.median(warm_prefix):.2f}",
                "",
            ),
        ]
    for label, value, goal in comparisons:
        print(f"{label:<52} {value:>10} {goal:>12}")
    if not swaps:
        return
    for kind, (swap_ms, resident_ms, staging_ms) in swaps.items():
        print(
            f"\nhot-swap {kind} ms: {[round(x) for x in swap_ms]} (resident after {[round(x) for x in resident_ms]}"
            + (f"; staging {[round(x) for x in staging_ms]})" if staging_ms else ")")
        )
    print(
        f"TTFT ms non-resident {[round(x * 1000) for x in cold]}, resident {[round(x * 1000) for x in warm]}, "
        f"resident + prefix {[round(x * 1000) for x in warm_prefix]}"
    )


if __name__ == "__main__":
    main()
