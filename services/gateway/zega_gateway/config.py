"""Gateway settings (ZEGA_* environment variables)."""

from zega_common.settings import ZegaSettings


class GatewaySettings(ZegaSettings):
    http_port: int = 8080
    """Port of the REST and OpenAI-compatible API, /healthz, /readyz, /metrics and /docs."""
    grpc_port: int = 50051
    """Port of the zega.v1.Gateway gRPC service."""
    inference_addr: str = "127.0.0.1:50052"
    """host:port of zega-inference."""
    memory_addr: str = "127.0.0.1:50053"
    """host:port of zega-memory."""
    admin_token: str = ""
    """Bearer token with access to every user; `zega up` makes one when unset."""
