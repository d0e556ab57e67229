"""Settings shared by every service. Each service subclasses ZegaSettings in its own config.py."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ZegaSettings(BaseSettings):
    """Read from ZEGA_* environment variables; the defaults run the local stack."""

    model_config = SettingsConfigDict(env_prefix="ZEGA_", extra="ignore", use_attribute_docstrings=True)

    nats_url: str = "nats://127.0.0.1:4222"
    """NATS server(s), comma-separated."""
    data_dir: Path = Path(".zega")
    """Where local state lives (caches, the embedded nats-server's store, the vector index)."""
    log_level: str = "INFO"
    """Python logging level."""
    access_log: bool = False
    """Log every consumed message (FastStream's Received/Processed lines); off by default: it costs CPU per message."""
    otlp_endpoint: str = ""
    """OTLP/gRPC endpoint for traces (e.g. http://otel-collector:4317); empty = no export."""
    stream_replicas: int = Field(1, ge=1, le=5)
    """JetStream replicas of every stream, KV bucket and object store (3 in production)."""
    stream_storage: Literal["file", "memory"] = "file"
    """JetStream storage of every stream."""
    duplicate_window_s: float = Field(600.0, gt=0)
    """How long JetStream remembers Nats-Msg-Id values to drop duplicate publishes."""
    max_event_bytes: int = Field(256 * 1024, gt=0)
    """Largest event payload a consumer accepts; larger ones go to the dead-letter subject."""
    metrics_port: int = 0
    """Port of /metrics and /healthz (0 = the service's default)."""
