"""The CUDA path of the inference engine, checked where a GPU is present (bf16): batched LoRA logits
against peft's, greedy tokens of requests alone against the same requests batched with others, and the
engine's greedy tokens against peft + transformers generate. Timings are bench/inference.py's and
bench/trainer.py's job (both pick CUDA by themselves); this prints what agrees and by how much.

    python bench/gpu_check.py [--tokens 16]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import threading
from pathlib import Path

import torch
from peft import PeftModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inference import DATA_DIR, make_adapters, prompts

from zega_inference.adapters.store import AdapterFiles
from zega_inference.domain.adapter_ref import AdapterKey
from zega_inference.domain.request import Sampling
from zega_inference.engine.decoder import Finished, Seq, Tokens
from zega_inference.engine.runtime import ModelRuntime
from zega_model import load_base_model


def generate(runtime: ModelRuntime, jobs, new_tokens: int) -> list[list[int]]:
    """Submit every (prompt_ids, weights) at once; each job's greedy tokens."""
    out: list[list[int]] = [[] for _ in jobs]
    left = [len(jobs)]
    done = threading.Event()

    def emit_for(i):
        def emit(event):
            if isinstance(event, Tokens):
                out[i].extend(event.ids)
            elif isinstance(event, Finished):
                left[0] -= 1
                if left[0] == 0:
                    done.set()

        return emit

    for i, (ids, weights) in enumerate(jobs):
        runtime.engine.submit(Seq(ids, new_tokens, weights, Sampling(), emit_for(i)))
    assert done.wait(300), "the engine did not finish"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=16)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this check is for the GPU path")
    served = load_base_model("smollm2", DATA_DIR, device="auto")
    reference = load_base_model("smollm2", DATA_DIR, device="auto")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, {served.dtype}")
    runtime = ModelRuntime.build(served.model, served.tokenizer, names={"smollm2"}, max_batch_size=32)
    runtime.engine.eos_ids = frozenset()
    paths = make_adapters(reference.model, 3, Path(tempfile.mkdtemp(prefix="zega-gpu-")))
    weights = []
    for i, path in enumerate(paths):
        data = (path / "adapter_model.safetensors").read_bytes()
        config = json.loads((path / "adapter_config.json").read_text())
        files = AdapterFiles(AdapterKey(f"u{i}", 1), config, data, hashlib.sha256(data).hexdigest())
        weights.append(runtime.prepare(files))
    peft_model = PeftModel.from_pretrained(
        load_base_model("smollm2", DATA_DIR, device="auto").model, paths[0], adapter_name="a0"
    ).eval()
    for i, path in enumerate(paths[1:], start=1):
        peft_model.load_adapter(path, adapter_name=f"a{i}")
    ids = prompts(runtime.tokenizer, 8)

    # 1. logits: our batched LoRA against peft, per adapter, every position of one prompt
    x = torch.tensor([ids[1]], device=runtime.device)
    with torch.inference_mode():
        for i, w in enumerate(weights):
            runtime.engine.lora.use([w])
            ours = runtime.model(input_ids=x).logits.float()
            peft_model.set_adapter(f"a{i}")
            ref = peft_model(input_ids=x).logits.float()
            top1 = (ours.argmax(-1) == ref.argmax(-1)).float().mean().item()
            print(
                f"logits a{i}: max |ours - peft| {(ours - ref).abs().max().item():.4f} "
                f"(logit scale {ref.abs().max().item():.1f}), same top-1 at {top1:.0%} of {x.shape[1]} positions"
            )
        runtime.engine.lora.clear()

    # 2. greedy alone against batched (base rows and three adapters mixed, different lengths)
    runtime.engine.start()
    jobs = [(ids[i], [None, *weights][i % 4]) for i in range(8)]
    alone = [generate(runtime, [job], args.tokens)[0] for job in jobs]
    together = generate(runtime, jobs, args.tokens)
    same = [a == b for a, b in zip(alone, together, strict=True)]
    first = [
        next((k for k, (p, q) in enumerate(zip(a, b, strict=True)) if p != q), len(a))
        for a, b in zip(alone, together, strict=True)
    ]
    print(
        f"greedy alone == batched: {sum(same)}/{len(same)} requests; tokens equal before the first difference {first}"
    )

    # 3. the engine against peft + transformers generate, one adapter
    engine_tokens = generate(runtime, [(ids[2], weights[2])], args.tokens)[0]
    runtime.engine.stop()
    peft_model.set_adapter("a2")
    with torch.inference_mode():
        out = peft_model.generate(
            input_ids=torch.tensor([ids[2]], device=runtime.device),
            attention_mask=torch.ones(1, len(ids[2]), dtype=torch.long, device=runtime.device),
            max_new_tokens=args.tokens,
            min_new_tokens=args.tokens,
            do_sample=False,
        )
    peft_tokens = out[0, len(ids[2]) :].tolist()
    agree = next(
        (k for k, (p, q) in enumerate(zip(engine_tokens, peft_tokens, strict=False)) if p != q), len(peft_tokens)
    )
    print(f"engine == peft generate: {engine_tokens == peft_tokens} (first {agree} of {args.tokens} tokens equal)")


if __name__ == "__main__":
    main()
