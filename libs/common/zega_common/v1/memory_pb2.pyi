from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RememberRequest(_message.Message):
    __slots__ = ("user_id", "text", "metadata", "example_id")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    text: str
    metadata: _containers.ScalarMap[str, str]
    example_id: str
    def __init__(self, user_id: _Optional[str] = ..., text: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., example_id: _Optional[str] = ...) -> None: ...

class RememberResponse(_message.Message):
    __slots__ = ("example_id", "truncated")
    EXAMPLE_ID_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    example_id: str
    truncated: bool
    def __init__(self, example_id: _Optional[str] = ..., truncated: _Optional[bool] = ...) -> None: ...

class RecallRequest(_message.Message):
    __slots__ = ("user_id", "query", "k", "filters", "hybrid")
    class FiltersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    HYBRID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    query: str
    k: int
    filters: _containers.ScalarMap[str, str]
    hybrid: bool
    def __init__(self, user_id: _Optional[str] = ..., query: _Optional[str] = ..., k: _Optional[int] = ..., filters: _Optional[_Mapping[str, str]] = ..., hybrid: _Optional[bool] = ...) -> None: ...

class RecallItem(_message.Message):
    __slots__ = ("text", "score", "example_id", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    text: str
    score: float
    example_id: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, text: _Optional[str] = ..., score: _Optional[float] = ..., example_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Fact(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: _struct_pb2.Value
    def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class RecallResponse(_message.Message):
    __slots__ = ("items", "facts")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[RecallItem]
    facts: _containers.RepeatedCompositeFieldContainer[Fact]
    def __init__(self, items: _Optional[_Iterable[_Union[RecallItem, _Mapping]]] = ..., facts: _Optional[_Iterable[_Union[Fact, _Mapping]]] = ...) -> None: ...

class StyleSummaryRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class Share(_message.Message):
    __slots__ = ("name", "count", "share")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    name: str
    count: int
    share: float
    def __init__(self, name: _Optional[str] = ..., count: _Optional[int] = ..., share: _Optional[float] = ...) -> None: ...

class StyleSummaryResponse(_message.Message):
    __slots__ = ("summary", "genres", "themes", "avg_sentence_words", "descriptiveness", "dialogue_share", "vocabulary_richness", "items")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    GENRES_FIELD_NUMBER: _ClassVar[int]
    THEMES_FIELD_NUMBER: _ClassVar[int]
    AVG_SENTENCE_WORDS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTIVENESS_FIELD_NUMBER: _ClassVar[int]
    DIALOGUE_SHARE_FIELD_NUMBER: _ClassVar[int]
    VOCABULARY_RICHNESS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    summary: str
    genres: _containers.RepeatedCompositeFieldContainer[Share]
    themes: _containers.RepeatedCompositeFieldContainer[Share]
    avg_sentence_words: float
    descriptiveness: float
    dialogue_share: float
    vocabulary_richness: float
    items: int
    def __init__(self, summary: _Optional[str] = ..., genres: _Optional[_Iterable[_Union[Share, _Mapping]]] = ..., themes: _Optional[_Iterable[_Union[Share, _Mapping]]] = ..., avg_sentence_words: _Optional[float] = ..., descriptiveness: _Optional[float] = ..., dialogue_share: _Optional[float] = ..., vocabulary_richness: _Optional[float] = ..., items: _Optional[int] = ...) -> None: ...

class ForgetRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ForgetResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class LearnFactRequest(_message.Message):
    __slots__ = ("user_id", "fact")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    FACT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    fact: Fact
    def __init__(self, user_id: _Optional[str] = ..., fact: _Optional[_Union[Fact, _Mapping]] = ...) -> None: ...

class LearnFactResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListFactsRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ListFactsResponse(_message.Message):
    __slots__ = ("facts",)
    FACTS_FIELD_NUMBER: _ClassVar[int]
    facts: _containers.RepeatedCompositeFieldContainer[Fact]
    def __init__(self, facts: _Optional[_Iterable[_Union[Fact, _Mapping]]] = ...) -> None: ...

class DeleteFactRequest(_message.Message):
    __slots__ = ("user_id", "key")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    key: str
    def __init__(self, user_id: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class DeleteFactResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...
