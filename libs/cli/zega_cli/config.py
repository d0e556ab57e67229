"""Settings of the local stack (ZEGA_* environment variables)."""

from zega_common.settings import ZegaSettings


class StackSettings(ZegaSettings):
    admin_token: str = ""
    """The gateway's admin token; when empty, `zega up` makes one and keeps it in <data_dir>/admin-token."""
    http_port: int = 8080
    """Gateway HTTP port."""
    nats_port: int = 4222
    """Port of the embedded nats-server."""
    threshold: int = 50
    """Examples per training round (the collector's ZEGA_THRESHOLD); the demo sends this many."""
    startup_timeout_s: float = 180.0
    """How long `zega up` waits for every service to report ready."""
