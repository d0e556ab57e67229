import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Trigger(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIGGER_UNSPECIFIED: _ClassVar[Trigger]
    TRIGGER_AUTO: _ClassVar[Trigger]
    TRIGGER_MANUAL: _ClassVar[Trigger]

class TrainingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAINING_STATE_UNSPECIFIED: _ClassVar[TrainingState]
    TRAINING_STATE_QUEUED: _ClassVar[TrainingState]
    TRAINING_STATE_RUNNING: _ClassVar[TrainingState]
    TRAINING_STATE_SUCCEEDED: _ClassVar[TrainingState]
    TRAINING_STATE_FAILED: _ClassVar[TrainingState]
    TRAINING_STATE_CANCELLED: _ClassVar[TrainingState]
    TRAINING_STATE_REJECTED: _ClassVar[TrainingState]
TRIGGER_UNSPECIFIED: Trigger
TRIGGER_AUTO: Trigger
TRIGGER_MANUAL: Trigger
TRAINING_STATE_UNSPECIFIED: TrainingState
TRAINING_STATE_QUEUED: TrainingState
TRAINING_STATE_RUNNING: TrainingState
TRAINING_STATE_SUCCEEDED: TrainingState
TRAINING_STATE_FAILED: TrainingState
TRAINING_STATE_CANCELLED: TrainingState
TRAINING_STATE_REJECTED: TrainingState

class ExampleCollected(_message.Message):
    __slots__ = ("schema_version", "example_id", "user_id", "prompt", "completion", "quality_score", "metadata", "source", "created_at")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_FIELD_NUMBER: _ClassVar[int]
    QUALITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    example_id: str
    user_id: str
    prompt: str
    completion: str
    quality_score: float
    metadata: _containers.ScalarMap[str, str]
    source: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, schema_version: _Optional[int] = ..., example_id: _Optional[str] = ..., user_id: _Optional[str] = ..., prompt: _Optional[str] = ..., completion: _Optional[str] = ..., quality_score: _Optional[float] = ..., metadata: _Optional[_Mapping[str, str]] = ..., source: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ThresholdReached(_message.Message):
    __slots__ = ("schema_version", "user_id", "threshold_index", "examples_total", "trigger", "job_id", "created_at")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_INDEX_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    user_id: str
    threshold_index: int
    examples_total: int
    trigger: Trigger
    job_id: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, schema_version: _Optional[int] = ..., user_id: _Optional[str] = ..., threshold_index: _Optional[int] = ..., examples_total: _Optional[int] = ..., trigger: _Optional[_Union[Trigger, str]] = ..., job_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TrainingProgress(_message.Message):
    __slots__ = ("schema_version", "user_id", "job_id", "state", "step", "total_steps", "loss", "reason", "threshold_index", "created_at")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_INDEX_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    user_id: str
    job_id: str
    state: TrainingState
    step: int
    total_steps: int
    loss: float
    reason: str
    threshold_index: int
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, schema_version: _Optional[int] = ..., user_id: _Optional[str] = ..., job_id: _Optional[str] = ..., state: _Optional[_Union[TrainingState, str]] = ..., step: _Optional[int] = ..., total_steps: _Optional[int] = ..., loss: _Optional[float] = ..., reason: _Optional[str] = ..., threshold_index: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AdapterMetrics(_message.Message):
    __slots__ = ("train_loss", "eval_loss_base", "eval_loss_adapter", "eval_loss_previous")
    TRAIN_LOSS_FIELD_NUMBER: _ClassVar[int]
    EVAL_LOSS_BASE_FIELD_NUMBER: _ClassVar[int]
    EVAL_LOSS_ADAPTER_FIELD_NUMBER: _ClassVar[int]
    EVAL_LOSS_PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    train_loss: float
    eval_loss_base: float
    eval_loss_adapter: float
    eval_loss_previous: float
    def __init__(self, train_loss: _Optional[float] = ..., eval_loss_base: _Optional[float] = ..., eval_loss_adapter: _Optional[float] = ..., eval_loss_previous: _Optional[float] = ...) -> None: ...

class AdapterReady(_message.Message):
    __slots__ = ("schema_version", "user_id", "adapter_version", "model_name", "base_model", "object_name", "sha256", "size_bytes", "training_examples_used", "metrics", "job_id", "created_at", "threshold_index", "total_training_steps", "training_time_seconds", "ollama_error")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    TRAINING_EXAMPLES_USED_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_INDEX_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TRAINING_STEPS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_TIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OLLAMA_ERROR_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    user_id: str
    adapter_version: int
    model_name: str
    base_model: str
    object_name: str
    sha256: str
    size_bytes: int
    training_examples_used: int
    metrics: AdapterMetrics
    job_id: str
    created_at: _timestamp_pb2.Timestamp
    threshold_index: int
    total_training_steps: int
    training_time_seconds: float
    ollama_error: str
    def __init__(self, schema_version: _Optional[int] = ..., user_id: _Optional[str] = ..., adapter_version: _Optional[int] = ..., model_name: _Optional[str] = ..., base_model: _Optional[str] = ..., object_name: _Optional[str] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., training_examples_used: _Optional[int] = ..., metrics: _Optional[_Union[AdapterMetrics, _Mapping]] = ..., job_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., threshold_index: _Optional[int] = ..., total_training_steps: _Optional[int] = ..., training_time_seconds: _Optional[float] = ..., ollama_error: _Optional[str] = ...) -> None: ...

class ForgetUser(_message.Message):
    __slots__ = ("schema_version", "user_id", "request_id", "created_at")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    user_id: str
    request_id: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, schema_version: _Optional[int] = ..., user_id: _Optional[str] = ..., request_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
