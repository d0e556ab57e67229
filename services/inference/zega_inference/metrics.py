"""Prometheus metrics of the inference service. Labels have bounded values: never a user_id."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ADAPTER_HITS = Counter("zega_inference_adapter_cache_hits", "Requests whose adapter was resident.")
ADAPTER_MISSES = Counter("zega_inference_adapter_cache_misses", "Requests whose adapter had to be loaded.")
ADAPTER_LOAD_SECONDS = Histogram(
    "zega_inference_adapter_load_seconds",
    "Fetching, checking and preparing one adapter.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ADAPTER_EVICTIONS = Counter("zega_inference_adapter_evictions", "Adapters dropped from the cache.", ["reason"])
ADAPTERS_RESIDENT = Gauge("zega_inference_adapters_resident", "Adapters in the cache.")
ADAPTER_BYTES_RESIDENT = Gauge("zega_inference_adapter_bytes_resident", "Bytes of adapter weights in the cache.")
ADAPTER_SWAPS = Counter("zega_inference_adapter_swaps", "Pointer moves followed (new versions and rollbacks).")
FALLBACKS = Counter("zega_inference_fallbacks", "Requests served by the base model instead.", ["reason"])
REQUESTS = Counter("zega_inference_requests", "Generation requests by outcome.", ["backend", "finish_reason"])
TOKENS = Counter("zega_inference_generated_tokens", "Tokens generated.", ["backend"])
TIME_TO_FIRST_TOKEN = Histogram(
    "zega_inference_time_to_first_token_seconds",
    "From request to first token.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUED = Gauge("zega_inference_queued_requests", "Requests waiting for a batch slot.")
ACTIVE = Gauge("zega_inference_active_sequences", "Sequences in the running batch.")
PREFIX_HITS = Counter("zega_inference_prefix_cache_hits", "Prefills that started from a cached prompt prefix.")
PREFIX_MISSES = Counter("zega_inference_prefix_cache_misses", "Prefills whose prompt prefix was not cached.")
PREFIX_TOKENS_REUSED = Counter("zega_inference_prefix_cache_reused_tokens", "Prompt tokens not prefilled again.")
PREFIX_BYTES = Gauge("zega_inference_prefix_cache_bytes", "Bytes of cached prompt-prefix keys and values.")
