"""Request and response bodies, with the validation rules of every edge (REST validates them through
FastAPI, gRPC through `parse` in the servicer): one set of rules for both transports."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from zega_common.user_id import USER_ID_PATTERN, check_user_id

CONTEXT_CHARS = 8000
COMPLETION_CHARS = 32_000
PERSONA_CHARS = 4000
MAX_TOKENS = 2048
DEFAULT_MAX_TOKENS = 256
CHAT_MESSAGES = 64
METADATA_ENTRIES = 16
METADATA_KEY_CHARS = 64
METADATA_VALUE_CHARS = 256


def _unicode(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it contains a lone surrogate)") from None
    return text


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty or only whitespace")
    return text


UserId = Annotated[
    str,
    AfterValidator(check_user_id),
    WithJsonSchema({"type": "string", "pattern": USER_ID_PATTERN, "minLength": 1, "maxLength": 64}),
]
Request = Annotated[
    str, Field(min_length=1, max_length=CONTEXT_CHARS), AfterValidator(_unicode), AfterValidator(_not_blank)
]
Prompt = Annotated[str, Field(max_length=CONTEXT_CHARS), AfterValidator(_unicode)]
Completion = Annotated[
    str, Field(min_length=1, max_length=COMPLETION_CHARS), AfterValidator(_unicode), AfterValidator(_not_blank)
]
Score = Annotated[float, Field(ge=0.0, le=10.0, allow_inf_nan=False)]
MetaKey = Annotated[str, Field(min_length=1, max_length=METADATA_KEY_CHARS), AfterValidator(_unicode)]
MetaValue = Annotated[str, Field(max_length=METADATA_VALUE_CHARS), AfterValidator(_unicode)]
Temperature = Annotated[float, Field(ge=0.0, le=2.0, allow_inf_nan=False)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PredictIn(Body):
    user_id: UserId
    context: Request = Field(description="The request, e.g. 'Write a dark fantasy scene'.")
    use_custom_model: bool = Field(True, description="Use the user's fine-tuned adapter (if any); false = base model.")
    use_memory: bool = Field(True, description="Put the user's style hints and most similar past texts in the prompt.")
    max_tokens: int = Field(DEFAULT_MAX_TOKENS, ge=1, le=MAX_TOKENS)
    temperature: Temperature = Field(0.8, description="0 = greedy.")


class PredictOut(BaseModel):
    text: str
    model: str = Field(description="zega-<user_id> when the user's adapter generated it, else base.")
    adapter_version: int
    generation_id: str = Field(description="Rate it with POST /feedback.")
    notice: str = Field("", description="Empty unless memory or the wanted adapter could not be used.")


class QualityScores(BaseModel):
    average: float = 0.0
    highest: float = 0.0
    lowest: float = 0.0


class TrainingStatsOut(BaseModel):
    user_id: str
    training_examples: int = 0
    examples_until_next_training: int = 0
    last_fine_tune: str | None = None
    quality_scores: QualityScores = QualityScores()
    examples_above_min_quality: int = 0
    genre_preferences: dict[str, int] = {}
    themes: dict[str, int] = {}
    total_training_steps: int = 0
    custom_model_exists: bool = False
    custom_model_name: str = ""
    adapter_version: int = 0


class TriggerOut(BaseModel):
    status: Literal["queued", "success", "failed", "rejected", "cancelled", "timeout"]
    message: str
    training_examples_used: int = 0
    training_time_seconds: float = 0.0
    model_size_mb: float = 0.0
    job_id: str


class ExampleIn(Body):
    prompt: Prompt
    completion: Completion
    quality_score: Score
    metadata: dict[MetaKey, MetaValue] = Field(default_factory=dict, max_length=METADATA_ENTRIES)


class ExampleOut(BaseModel):
    example_id: str
    duplicate: bool = Field(False, description="True when this example was already collected (counted once).")


class FeedbackIn(Body):
    generation_id: str = Field(min_length=1, max_length=200, description="From POST /predict or a chat completion.")
    rating: Score = Field(description="0-10; 7 and above are used for training.")


class AdapterVersionOut(BaseModel):
    adapter_version: int
    created_at: str
    training_examples_used: int
    train_loss: float
    eval_loss_base: float
    eval_loss_adapter: float
    eval_loss_previous: float
    size_bytes: int
    current: bool


class AdaptersOut(BaseModel):
    user_id: str
    current_version: int = Field(description="0 = the base model (no adapter).")
    adapters: list[AdapterVersionOut]


class RollbackIn(Body):
    adapter_version: int = Field(0, ge=0, le=1_000_000, description="0 = the version before the current one.")


class RollbackOut(BaseModel):
    user_id: str
    adapter_version: int


class DeleteOut(BaseModel):
    user_id: str
    request_id: str


class PersonaIn(Body):
    system_prompt: Annotated[str, Field(max_length=PERSONA_CHARS), AfterValidator(_unicode)]


class PersonaOut(BaseModel):
    user_id: str
    system_prompt: str
    updated_at: str | None = None


class TokenIn(Body):
    user_id: UserId


class TokenOut(BaseModel):
    user_id: str
    token: str
    expires_at: str


# --- OpenAI-compatible chat ----------------------------------------------------------------------


class TextPart(BaseModel):
    type: Literal["text"]
    text: Annotated[str, Field(max_length=CONTEXT_CHARS), AfterValidator(_unicode)]


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: (
        Annotated[str, Field(max_length=CONTEXT_CHARS), AfterValidator(_unicode)]
        | Annotated[list[TextPart], Field(max_length=CHAT_MESSAGES)]
    )

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionIn(BaseModel):
    """The OpenAI request; fields ZEGA does not use are accepted and ignored, as OpenAI clients send many."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=80, description="base or zega-<user_id>.")
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=CHAT_MESSAGES)
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    temperature: Temperature = 1.0
    top_p: float = Field(1.0, gt=0.0, le=1.0, allow_inf_nan=False)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    n: int = Field(1, ge=1, le=1, description="Only 1 is supported.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=256)

    def token_budget(self) -> int:
        return self.max_completion_tokens or self.max_tokens or DEFAULT_MAX_TOKENS


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatMessageOut
    finish_reason: str
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletionOut(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    generation_id: str = Field(description="ZEGA extension: rate the answer with POST /feedback.")
    system_fingerprint: str | None = None


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "zega"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]
