"""Memory settings (ZEGA_* environment variables)."""

from typing import Literal

from zega_common.settings import ZegaSettings


class MemorySettings(ZegaSettings):
    grpc_port: int = 50053
    """Port of the zega.v1.Memory gRPC service."""
    metrics_port: int = 9105
    """Port of /metrics, /healthz and /readyz."""
    memory_backend: Literal["sqlite", "weaviate"] = "sqlite"
    """sqlite: a file under the data dir with sqlite-vec; weaviate: the server at weaviate_url."""
    weaviate_url: str = ""
    """Weaviate HTTP endpoint, e.g. http://weaviate:8080 (gRPC on port 50051 of the same host)."""
