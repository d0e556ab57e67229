"""Collector settings (ZEGA_* environment variables)."""

from pydantic import Field

from zega_common.settings import ZegaSettings


class CollectorSettings(ZegaSettings):
    metrics_port: int = 9102
    """Port of /metrics, /healthz and /readyz."""
    threshold: int = Field(50, ge=1)
    """Emit threshold.reached at every this many examples of a user."""
    min_quality: float = Field(7.0, ge=0, le=10)
    """Examples at or above this score count as usable for training (stats only; the trainer filters)."""
    batch_size: int = Field(256, ge=1, le=1024)
    """Most examples fetched per pull request and handled together by one replica: one settlement
    per user per batch. A fetch takes what is there at once, so small traffic is not delayed."""
    ack_wait_s: float = Field(30.0, gt=0)
    """How long the server waits for an acknowledgement before redelivering (fixed when the durable
    consumer is first created)."""
    retry_delay_s: float = Field(1.0, ge=0)
    """Delay before a message whose handling failed (NATS unavailable, timeouts) is delivered again."""
    label_cap: int = Field(20, ge=1, le=200)
    """Distinct genres (and themes) counted by name per user; later ones are counted under `other`."""
    fetch_timeout_s: float = Field(5.0, gt=0)
    """How long one pull request waits for messages."""
