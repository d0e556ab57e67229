from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PredictRequest(_message.Message):
    __slots__ = ("user_id", "context", "use_custom_model", "use_memory", "max_tokens", "temperature")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    USE_CUSTOM_MODEL_FIELD_NUMBER: _ClassVar[int]
    USE_MEMORY_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    context: str
    use_custom_model: bool
    use_memory: bool
    max_tokens: int
    temperature: float
    def __init__(self, user_id: _Optional[str] = ..., context: _Optional[str] = ..., use_custom_model: _Optional[bool] = ..., use_memory: _Optional[bool] = ..., max_tokens: _Optional[int] = ..., temperature: _Optional[float] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("text", "model", "adapter_version", "generation_id", "notice")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    text: str
    model: str
    adapter_version: int
    generation_id: str
    notice: str
    def __init__(self, text: _Optional[str] = ..., model: _Optional[str] = ..., adapter_version: _Optional[int] = ..., generation_id: _Optional[str] = ..., notice: _Optional[str] = ...) -> None: ...

class QualityScores(_message.Message):
    __slots__ = ("average", "highest", "lowest")
    AVERAGE_FIELD_NUMBER: _ClassVar[int]
    HIGHEST_FIELD_NUMBER: _ClassVar[int]
    LOWEST_FIELD_NUMBER: _ClassVar[int]
    average: float
    highest: float
    lowest: float
    def __init__(self, average: _Optional[float] = ..., highest: _Optional[float] = ..., lowest: _Optional[float] = ...) -> None: ...

class TrainingStatsRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class TrainingStats(_message.Message):
    __slots__ = ("user_id", "training_examples", "examples_until_next_training", "last_fine_tune", "quality_scores", "examples_above_min_quality", "genre_preferences", "themes", "total_training_steps", "custom_model_exists", "custom_model_name", "adapter_version")
    class GenrePreferencesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ThemesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TRAINING_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_UNTIL_NEXT_TRAINING_FIELD_NUMBER: _ClassVar[int]
    LAST_FINE_TUNE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_SCORES_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_ABOVE_MIN_QUALITY_FIELD_NUMBER: _ClassVar[int]
    GENRE_PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    THEMES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TRAINING_STEPS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_MODEL_EXISTS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    training_examples: int
    examples_until_next_training: int
    last_fine_tune: str
    quality_scores: QualityScores
    examples_above_min_quality: int
    genre_preferences: _containers.ScalarMap[str, int]
    themes: _containers.ScalarMap[str, int]
    total_training_steps: int
    custom_model_exists: bool
    custom_model_name: str
    adapter_version: int
    def __init__(self, user_id: _Optional[str] = ..., training_examples: _Optional[int] = ..., examples_until_next_training: _Optional[int] = ..., last_fine_tune: _Optional[str] = ..., quality_scores: _Optional[_Union[QualityScores, _Mapping]] = ..., examples_above_min_quality: _Optional[int] = ..., genre_preferences: _Optional[_Mapping[str, int]] = ..., themes: _Optional[_Mapping[str, int]] = ..., total_training_steps: _Optional[int] = ..., custom_model_exists: _Optional[bool] = ..., custom_model_name: _Optional[str] = ..., adapter_version: _Optional[int] = ...) -> None: ...

class TriggerFineTuningRequest(_message.Message):
    __slots__ = ("user_id", "wait", "timeout_seconds")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    wait: bool
    timeout_seconds: int
    def __init__(self, user_id: _Optional[str] = ..., wait: _Optional[bool] = ..., timeout_seconds: _Optional[int] = ...) -> None: ...

class TriggerFineTuningResponse(_message.Message):
    __slots__ = ("status", "message", "training_examples_used", "training_time_seconds", "model_size_mb", "job_id")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRAINING_EXAMPLES_USED_FIELD_NUMBER: _ClassVar[int]
    TRAINING_TIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MODEL_SIZE_MB_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    status: str
    message: str
    training_examples_used: int
    training_time_seconds: float
    model_size_mb: float
    job_id: str
    def __init__(self, status: _Optional[str] = ..., message: _Optional[str] = ..., training_examples_used: _Optional[int] = ..., training_time_seconds: _Optional[float] = ..., model_size_mb: _Optional[float] = ..., job_id: _Optional[str] = ...) -> None: ...

class AddExampleRequest(_message.Message):
    __slots__ = ("user_id", "prompt", "completion", "quality_score", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_FIELD_NUMBER: _ClassVar[int]
    QUALITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    prompt: str
    completion: str
    quality_score: float
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, user_id: _Optional[str] = ..., prompt: _Optional[str] = ..., completion: _Optional[str] = ..., quality_score: _Optional[float] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class AddExampleResponse(_message.Message):
    __slots__ = ("example_id",)
    EXAMPLE_ID_FIELD_NUMBER: _ClassVar[int]
    example_id: str
    def __init__(self, example_id: _Optional[str] = ...) -> None: ...

class FeedbackRequest(_message.Message):
    __slots__ = ("generation_id", "rating")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    rating: float
    def __init__(self, generation_id: _Optional[str] = ..., rating: _Optional[float] = ...) -> None: ...

class FeedbackResponse(_message.Message):
    __slots__ = ("example_id",)
    EXAMPLE_ID_FIELD_NUMBER: _ClassVar[int]
    example_id: str
    def __init__(self, example_id: _Optional[str] = ...) -> None: ...

class AdapterVersion(_message.Message):
    __slots__ = ("adapter_version", "created_at", "training_examples_used", "train_loss", "eval_loss_base", "eval_loss_adapter", "eval_loss_previous", "size_bytes", "current")
    ADAPTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    TRAINING_EXAMPLES_USED_FIELD_NUMBER: _ClassVar[int]
    TRAIN_LOSS_FIELD_NUMBER: _ClassVar[int]
    EVAL_LOSS_BASE_FIELD_NUMBER: _ClassVar[int]
    EVAL_LOSS_ADAPTER_FIELD_NUMBER: _ClassVar[int]
    EVAL_LOSS_PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    adapter_version: int
    created_at: str
    training_examples_used: int
    train_loss: float
    eval_loss_base: float
    eval_loss_adapter: float
    eval_loss_previous: float
    size_bytes: int
    current: bool
    def __init__(self, adapter_version: _Optional[int] = ..., created_at: _Optional[str] = ..., training_examples_used: _Optional[int] = ..., train_loss: _Optional[float] = ..., eval_loss_base: _Optional[float] = ..., eval_loss_adapter: _Optional[float] = ..., eval_loss_previous: _Optional[float] = ..., size_bytes: _Optional[int] = ..., current: _Optional[bool] = ...) -> None: ...

class ListUserAdaptersRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ListUserAdaptersResponse(_message.Message):
    __slots__ = ("adapters",)
    ADAPTERS_FIELD_NUMBER: _ClassVar[int]
    adapters: _containers.RepeatedCompositeFieldContainer[AdapterVersion]
    def __init__(self, adapters: _Optional[_Iterable[_Union[AdapterVersion, _Mapping]]] = ...) -> None: ...

class RollbackRequest(_message.Message):
    __slots__ = ("user_id", "adapter_version")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    adapter_version: int
    def __init__(self, user_id: _Optional[str] = ..., adapter_version: _Optional[int] = ...) -> None: ...

class RollbackResponse(_message.Message):
    __slots__ = ("adapter_version",)
    ADAPTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    adapter_version: int
    def __init__(self, adapter_version: _Optional[int] = ...) -> None: ...

class DeleteUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class DeleteUserResponse(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class PersonaRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class SetPersonaRequest(_message.Message):
    __slots__ = ("user_id", "system_prompt")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    system_prompt: str
    def __init__(self, user_id: _Optional[str] = ..., system_prompt: _Optional[str] = ...) -> None: ...

class Persona(_message.Message):
    __slots__ = ("user_id", "system_prompt")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    system_prompt: str
    def __init__(self, user_id: _Optional[str] = ..., system_prompt: _Optional[str] = ...) -> None: ...
