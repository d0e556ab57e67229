"""The model side on a tiny random Llama: LoRA math against peft, refusals, continuous batching that
gives every request the same greedy tokens it gets alone, cancellation and the bounded queue."""

from __future__ import annotations

import json
import threading
import time

import pytest
import torch
from safetensors.torch import load as load_safetensors
from transformers.cache_utils import DynamicLayer

from zega_common.errors import ResourceExhausted
from zega_inference.adapters.store import AdapterFiles
from zega_inference.domain.adapter_ref import AdapterKey
from zega_inference.domain.request import Sampling
from zega_inference.engine import kv, lora
from zega_inference.engine.decoder import Finished, Seq, Tokens, prefill_groups
from zega_inference.engine.lora import UnusableAdapter
from zega_inference.engine.packed import PackedLinear, pack_lm_head
from zega_inference.engine.prefix import PrefixCache
from zega_inference.engine.runtime import ModelRuntime
from zega_model import tiny_llama

PROMPTS = [
    "Hello there",
    "Write a short poem about the sea, the wind and the sky, please",
    "x",
    "Once upon a time in a land far away",
]


def weights_of(runtime, files):
    config = json.loads(files.config)
    return runtime.prepare(AdapterFiles(AdapterKey("u", 1), config, files.weights, files.sha256))


class Collector:
    def __init__(self, n: int) -> None:
        self.tokens = [[] for _ in range(n)]
        self.finished: list[Finished | None] = [None] * n
        self._left = n
        self._lock = threading.Lock()
        self.done = threading.Event()

    def emit_for(self, i: int):
        def emit(event):
            if isinstance(event, Tokens):
                self.tokens[i].extend(event.ids)
                return
            self.finished[i] = event
            with self._lock:
                self._left -= 1
                if self._left == 0:
                    self.done.set()

        return emit


def run(runtime, jobs, max_new_tokens=10, delays=None):
    """jobs: [(prompt or token ids, weights[, prefix_len])]; optional delays (s) before submitting each.
    Returns token lists."""
    runtime.engine.start()
    collector = Collector(len(jobs))
    for i, (prompt, weights, *prefix_len) in enumerate(jobs):
        if delays:
            time.sleep(delays[i])
        ids = runtime.tokenizer(prompt)["input_ids"] if isinstance(prompt, str) else prompt
        seq = Seq(ids, max_new_tokens, weights, Sampling(), collector.emit_for(i), prefix_len=sum(prefix_len))
        runtime.engine.submit(seq)
    assert collector.done.wait(60)
    return collector.tokens


def test_lora_matches_peft_logits(tiny_runtime, adapter_factory, tokenizer):
    for seed, rank, extra in [(1, 4, {}), (2, 8, {"use_rslora": True}), (3, 16, {"alpha_pattern": {"q_proj": 64}})]:
        files = adapter_factory(seed, rank, **extra)
        weights = weights_of(tiny_runtime, files)
        ids = tokenizer(PROMPTS[1], return_tensors="pt")
        with torch.no_grad():
            tiny_runtime.engine.lora.use([weights])
            ours = tiny_runtime.model(**ids).logits
            reference = files.peft_model(**ids).logits
            tiny_runtime.engine.lora.use([None])
            base = tiny_runtime.model(**ids).logits
        assert torch.allclose(ours, reference, atol=1e-4), (seed, (ours - reference).abs().max())
        assert not torch.allclose(base, reference, atol=1e-2)


def test_mixed_batch_rows_compute_what_they_compute_alone(tiny_runtime, adapter_factory, tokenizer):
    """Ranks 4 and 16 and a base row in one batch (smaller ranks padded, base rows zeros): each row's
    logits are those of the row alone, where its stacks are views of its own weights."""
    rows = [weights_of(tiny_runtime, adapter_factory(1, 4)), None, weights_of(tiny_runtime, adapter_factory(3, 16))]
    ids = tokenizer([PROMPTS[1]] * len(rows), return_tensors="pt")
    with torch.no_grad():
        tiny_runtime.engine.lora.use(rows)
        together = tiny_runtime.model(**ids).logits
        # the same prompt in every row: only the adapters tell the rows apart
        assert not torch.allclose(together[0], together[1], atol=1e-3)
        assert not torch.allclose(together[2], together[1], atol=1e-3)
        for i, weights in enumerate(rows):
            tiny_runtime.engine.lora.use([weights])
            alone = tiny_runtime.model(input_ids=ids["input_ids"][i : i + 1]).logits[0]
            assert torch.allclose(together[i], alone, atol=1e-5), (i, (together[i] - alone).abs().max())
    tiny_runtime.engine.lora.clear()


def test_unusable_adapters_are_refused_with_a_reason(tiny_runtime, adapter_factory):
    files = adapter_factory(1, 8)
    config = json.loads(files.config)
    state = load_safetensors(files.weights)

    def prepare(config, state):
        return lora.lora_from_peft("u/v1", config, state, tiny_runtime.targets, 8, torch.device("cpu"), torch.float32)

    with pytest.raises(UnusableAdapter, match="use_dora"):
        prepare({**config, "use_dora": True}, state)
    with pytest.raises(UnusableAdapter, match="rank 16 exceeds"):
        prepare(config, {k: torch.cat([v, v], dim=0 if "lora_A" in k else 1) for k, v in state.items()})
    with pytest.raises(UnusableAdapter, match="do not fit"):
        prepare(config, {k: v[:, :10] if "lora_A" in k else v for k, v in state.items()})
    with pytest.raises(UnusableAdapter, match="not finite"):
        prepare(config, {k: v * float("nan") for k, v in state.items()})
    with pytest.raises(UnusableAdapter, match="cannot apply"):
        prepare(config, {**state, "base_model.model.lm_head.weight": torch.zeros(2, 2)})


def test_batched_greedy_equals_alone_with_mixed_adapters_and_lengths(tiny_runtime, adapter_factory):
    adapters = [None] + [weights_of(tiny_runtime, adapter_factory(s, r)) for s, r in [(1, 4), (2, 8), (3, 16)]]
    jobs = [(PROMPTS[i % 4], adapters[(i * 3) % 4]) for i in range(8)]
    alone = [run(tiny_runtime, [job])[0] for job in jobs]
    together = run(tiny_runtime, jobs)
    assert together == alone
    assert len({tuple(t) for t in alone}) > 2  # the adapters really change the outputs
    assert tiny_runtime.engine.stats.prefills >= 9


def test_requests_join_and_leave_between_steps(tiny_runtime, adapter_factory):
    adapters = [None, weights_of(tiny_runtime, adapter_factory(1, 8)), weights_of(tiny_runtime, adapter_factory(2, 8))]
    jobs = [(PROMPTS[i % 4], adapters[i % 3]) for i in range(6)]
    alone = [run(tiny_runtime, [job], max_new_tokens=24)[0] for job in jobs]
    steps_before = tiny_runtime.engine.stats.steps
    staggered = run(tiny_runtime, jobs, max_new_tokens=24, delays=[0, 0.02, 0.05, 0.0, 0.1, 0.03])
    assert staggered == alone
    # Sharing steps: far fewer decode steps than running the six one after another.
    assert tiny_runtime.engine.stats.steps - steps_before < 6 * 23


def test_a_cached_prompt_prefix_gives_the_tokens_a_full_prefill_gives(tiny_runtime, adapter_factory, tokenizer):
    adapters = [None, weights_of(tiny_runtime, adapter_factory(1, 8)), weights_of(tiny_runtime, adapter_factory(2, 16))]
    systems = [tokenizer(s)["input_ids"] for s in ("You are a poet of the sea and the wind.", "Answer briefly.")]
    jobs = [
        (systems[i % 2] + tokenizer(PROMPTS[i % 4])["input_ids"], adapters[i % 3], len(systems[i % 2]))
        for i in range(12)
    ]
    no_cache = [run(tiny_runtime, [(ids, weights)])[0] for ids, weights, _ in jobs]
    engine = tiny_runtime.engine
    engine.prefixes = PrefixCache(64 * 1024**2)
    first = run(tiny_runtime, jobs[:6])  # six distinct (system, adapter) pairs: all miss, all stored
    assert first == no_cache[:6]
    assert (engine.prefixes.stats.hits, len(engine.prefixes)) == (0, 6)
    again = [run(tiny_runtime, [job])[0] for job in jobs[6:]]  # alone: every one hits
    assert engine.prefixes.stats.hits == 6
    together = run(tiny_runtime, jobs)  # hits of different prefix lengths beside each other
    assert again == no_cache[6:] and together == no_cache
    assert engine.prefixes.stats.hits == 18
    unused = weights_of(tiny_runtime, adapter_factory(3, 8))
    assert engine.prefixes.get("", unused, systems[0]) is None  # a prefix is reused with its own adapter only
    assert engine.prefixes.drop_adapter(adapters[1]) == 2 and len(engine.prefixes) == 4


def test_prefix_cache_keeps_within_its_bytes_and_forgets_users():
    layers = tuple((torch.zeros(1, 2, 10, 4), torch.zeros(1, 2, 10, 4)) for _ in range(3))  # 1,920 bytes
    cache = PrefixCache(max_bytes=4000)
    cache.put("ann", None, [1, 2], layers)
    cache.put("bob", None, [3, 4], layers)
    assert len(cache) == 2 and cache.total_bytes == 3840
    assert cache.get("ann", None, [1, 2]) is layers  # now the most recently used
    assert cache.get("bob", None, [1, 2]) is None  # another user's entry is not theirs
    cache.put("bob", None, [5, 6], layers)  # over 4,000 bytes: the least recently used goes
    assert cache.get("bob", None, [3, 4]) is None and cache.get("ann", None, [1, 2]) is layers
    assert cache.drop_user("bob") == 1 and cache.total_bytes == 1920
    cache.put("ann", None, list(range(20)), layers + layers + layers)  # larger than the whole cache: not kept
    assert len(cache) == 1
    off = PrefixCache(max_bytes=0)
    off.put("ann", None, [1, 2], layers)
    assert len(off) == 0 and not off.enabled


def test_cancel_stops_generating(tiny_runtime):
    tiny_runtime.engine.start()
    collector = Collector(1)
    seq = Seq(tiny_runtime.tokenizer("hi")["input_ids"], 10_000, None, Sampling(), collector.emit_for(0))
    tiny_runtime.engine.submit(seq)
    time.sleep(0.2)
    tiny_runtime.engine.cancel(seq)
    assert collector.done.wait(5)
    assert collector.finished[0].reason == "cancelled"
    assert 0 < collector.finished[0].completion_tokens < 10_000


def test_deadline_stops_generating(tiny_runtime):
    tiny_runtime.engine.start()
    collector = Collector(1)
    seq = Seq(
        tiny_runtime.tokenizer("hi")["input_ids"],
        10_000,
        None,
        Sampling(),
        collector.emit_for(0),
        deadline=time.monotonic() + 0.2,
    )
    tiny_runtime.engine.submit(seq)
    assert collector.done.wait(5)
    assert collector.finished[0].reason == "cancelled"


def test_full_queue_is_refused(tokenizer):
    runtime = ModelRuntime.build(tiny_llama(0, vocab_from=tokenizer), tokenizer, max_batch_size=1, max_queued=1)
    try:
        runtime.engine.start()
        collector = Collector(2)
        ids = tokenizer("hi")["input_ids"]
        first = Seq(ids, 10_000, None, Sampling(), collector.emit_for(0))
        runtime.engine.submit(first)
        time.sleep(0.1)  # first is running, the batch is full
        second = Seq(ids, 10_000, None, Sampling(), collector.emit_for(1))
        runtime.engine.submit(second)  # waits in the queue
        with pytest.raises(ResourceExhausted, match="waiting"):
            runtime.engine.submit(Seq(ids, 5, None, Sampling(), lambda e: None))
        runtime.engine.cancel(first)
        runtime.engine.cancel(second)
        assert collector.done.wait(5)
    finally:
        runtime.engine.stop()


def test_sampling_with_a_seed_is_reproducible(tiny_runtime):
    tiny_runtime.engine.start()
    outputs = []
    for _ in range(2):
        collector = Collector(1)
        ids = tiny_runtime.tokenizer("hi")["input_ids"]
        tiny_runtime.engine.submit(Seq(ids, 8, None, Sampling(1.0, 0.9, 42), collector.emit_for(0)))
        assert collector.done.wait(10)
        outputs.append(collector.tokens[0])
    assert outputs[0] == outputs[1]


def test_engine_tokens_equal_transformers_generate(tiny_runtime, adapter_factory, tokenizer):
    """The KV cache, positions and LoRA of the engine against peft + transformers' own generate."""
    references = [(None, tiny_llama(0, vocab_from=tokenizer))]
    for seed, rank in [(1, 4), (2, 8)]:
        files = adapter_factory(seed, rank)
        references.append((weights_of(tiny_runtime, files), files.peft_model))
    for prompt in PROMPTS[:2]:
        ids = tokenizer(prompt, return_tensors="pt")
        for weights, model in references:
            with torch.no_grad():
                expected = model.generate(**ids, max_new_tokens=16, do_sample=False)[0, ids["input_ids"].shape[1] :]
            assert run(tiny_runtime, [(prompt, weights)], max_new_tokens=16)[0] == expected.tolist()


def test_prefill_groups_keep_padding_low():
    lengths = [40, 3, 41, 52, 39, 50, 1]
    groups = prefill_groups(lengths, max_padding=0.1)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for group in groups:
        longest, real = max(lengths[i] for i in group), sum(lengths[i] for i in group)
        assert len(group) * longest <= real * 1.1 or len(group) == 1
    assert prefill_groups([7] * 5) == [[0, 1, 2, 3, 4]]
    assert prefill_groups([]) == []


def test_growing_kv_layer_equals_transformers_dynamic_layer():
    """Appends, whole-tensor sets (rows joining/leaving) and appends again give what DynamicLayer gives."""
    torch.manual_seed(0)
    assert all(isinstance(layer, kv.GrowingLayer) for layer in kv.new_cache(tiny_llama(0).config).layers)
    grow, plain = kv.GrowingLayer(), DynamicLayer()
    buffers = set()
    for step in range(kv.HEADROOM + 5):  # past the first buffer's room
        k, v = torch.randn(2, 3, 4 if step == 0 else 1, 8), torch.randn(2, 3, 4 if step == 0 else 1, 8)
        got, want = grow.update(k, v), plain.update(k, v)
        assert all(torch.equal(g, w) for g, w in zip(got, want, strict=True))
        buffers.add(got[0].data_ptr())
    assert len(buffers) == 2  # written in place: one buffer, then one grown copy when its room ran out
    for layer in (grow, plain):
        layer.keys, layer.values = layer.keys[1:], layer.values[1:]  # a row leaves
    k, v = torch.randn(1, 3, 1, 8), torch.randn(1, 3, 1, 8)
    assert all(torch.equal(g, w) for g, w in zip(grow.update(k, v), plain.update(k, v), strict=True))
    assert grow.get_seq_length() == plain.get_seq_length() == kv.HEADROOM + 9


def test_runtime_packs_every_decoder_linear_on_cpu(tiny_runtime):
    """The GEMMs go through oneDNN's packed weights; the plain weights are not kept beside them."""
    assert tiny_runtime.targets
    assert all(isinstance(w.base, PackedLinear) for w in tiny_runtime.targets.values())
    assert not any(isinstance(m, torch.nn.Linear) for m in tiny_runtime.model.model.layers.modules())


def test_linears_stay_plain_where_onednn_cannot_take_them(monkeypatch, tokenizer):
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    model = tiny_llama(0, vocab_from=tokenizer)
    runtime = ModelRuntime.build(model, tokenizer, max_batch_size=2)
    assert all(type(w.base) is torch.nn.Linear for w in runtime.targets.values())
    assert type(model.get_output_embeddings()) is torch.nn.Linear


def test_packed_lm_head_gives_the_same_logits():
    model = tiny_llama(0)
    plain = model.get_output_embeddings()
    assert pack_lm_head(model)
    x = torch.randn(2, 5, plain.in_features)
    with torch.no_grad():
        assert torch.allclose(model.get_output_embeddings()(x), plain(x), atol=1e-5)
