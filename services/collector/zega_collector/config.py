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
