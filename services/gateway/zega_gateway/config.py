"""Gateway settings (ZEGA_* environment variables)."""

from pydantic import Field, model_validator

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

    threshold: int = Field(50, ge=1)
    """Examples per training round (ZEGA_THRESHOLD): stats of a new user and a manual trigger's index."""
    token_ttl_s: float = Field(90 * 24 * 3600.0, gt=0)
    """How long a user token issued by POST /admin/tokens stays valid."""
    generation_ttl_s: float = Field(7 * 24 * 3600.0, gt=0)
    """How long a generation is kept so that POST /feedback can rate it."""
    token_cache_s: float = Field(10.0, ge=0)
    """How long a replica keeps a resolved user token in memory (0 = read KV on every request); an
    erased user's token stops working at once on the replica that erased it, within this on others."""
    tokens_bucket: str = "zega-gateway-tokens"
    """The gateway's KV bucket of user tokens (sha256 of the token, never the token)."""
    generations_bucket: str = "zega-gateway-generations"
    """The gateway's KV bucket of recent generations (kept generation_ttl_s)."""

    max_body_bytes: int = Field(256 * 1024, ge=1024)
    """Largest request body accepted; larger ones get 413."""
    max_context_chars: int = Field(8000, ge=1)
    """Longest request text (context, a chat message, an example's prompt)."""
    max_completion_chars: int = Field(32_000, ge=1)
    """Longest completion of an example (the event codec's own limit is 32,000)."""
    max_tokens_limit: int = Field(2048, ge=1)
    """Largest max_tokens a client may ask for."""
    default_max_tokens: int = Field(256, ge=1)
    """max_tokens when a request does not say."""
    max_persona_chars: int = Field(4000, ge=1)
    """Longest persona system prompt."""
    max_chat_messages: int = Field(64, ge=1)
    """Most messages in one chat completion request."""

    memory_timeout_s: float = Field(1.0, gt=0)
    """Deadline of memory Recall and StyleSummary; past it the generation goes on without memory."""
    inference_timeout_s: float = Field(120.0, gt=0)
    """Deadline of an inference Generate call (and of a stream's whole run)."""
    recall_k: int = Field(3, ge=0, le=20)
    """How many of the user's past texts a prediction puts in the prompt."""
    recalled_story_chars: int = Field(1200, ge=50)
    """Each recalled text is cut to this many characters in the prompt."""
    trigger_wait_s: float = Field(900.0, gt=0)
    """How long trigger-finetuning?wait=true waits for the job's outcome when the request does not say."""
    max_trigger_wait_s: float = Field(3600.0, gt=0)
    """The longest wait a client may ask for."""
    publish_timeout_s: float = Field(5.0, gt=0)
    """How long a JetStream publish waits for the server's acknowledgement."""

    @model_validator(mode="after")
    def _check_limits(self) -> "GatewaySettings":
        if self.default_max_tokens > self.max_tokens_limit:
            raise ValueError("default_max_tokens must not exceed max_tokens_limit")
        if self.trigger_wait_s > self.max_trigger_wait_s:
            raise ValueError("trigger_wait_s must not exceed max_trigger_wait_s")
        if self.tokens_bucket == self.generations_bucket:
            raise ValueError("tokens_bucket and generations_bucket must differ")
        return self
