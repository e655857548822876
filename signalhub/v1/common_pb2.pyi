import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from signalhub.v1 import coalition_pb2 as _coalition_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Opinion(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPINION_UNSPECIFIED: _ClassVar[Opinion]
    OPINION_TRUE_POSITIVE: _ClassVar[Opinion]
    OPINION_FALSE_POSITIVE: _ClassVar[Opinion]
    OPINION_DISPUTED: _ClassVar[Opinion]

class RetractReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RETRACT_REASON_UNSPECIFIED: _ClassVar[RetractReason]
    RETRACT_REASON_FALSE_POSITIVE: _ClassVar[RetractReason]

class Sharing(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SHARING_FULL: _ClassVar[Sharing]
    SHARING_MATCH_ONLY: _ClassVar[Sharing]

class EventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_KIND_UNSPECIFIED: _ClassVar[EventKind]
    EVENT_KIND_SIGNAL_ADDED: _ClassVar[EventKind]
    EVENT_KIND_SIGNAL_UPDATED: _ClassVar[EventKind]
    EVENT_KIND_SIGNAL_REMOVED: _ClassVar[EventKind]
    EVENT_KIND_SIGNAL_ERASED: _ClassVar[EventKind]
    EVENT_KIND_SIGNAL_QUARANTINED: _ClassVar[EventKind]
    EVENT_KIND_SIGNAL_RELEASED: _ClassVar[EventKind]
    EVENT_KIND_REVIEW_REQUESTED: _ClassVar[EventKind]
    EVENT_KIND_WARNING_LISTS_CHANGED: _ClassVar[EventKind]
OPINION_UNSPECIFIED: Opinion
OPINION_TRUE_POSITIVE: Opinion
OPINION_FALSE_POSITIVE: Opinion
OPINION_DISPUTED: Opinion
RETRACT_REASON_UNSPECIFIED: RetractReason
RETRACT_REASON_FALSE_POSITIVE: RetractReason
SHARING_FULL: Sharing
SHARING_MATCH_ONLY: Sharing
EVENT_KIND_UNSPECIFIED: EventKind
EVENT_KIND_SIGNAL_ADDED: EventKind
EVENT_KIND_SIGNAL_UPDATED: EventKind
EVENT_KIND_SIGNAL_REMOVED: EventKind
EVENT_KIND_SIGNAL_ERASED: EventKind
EVENT_KIND_SIGNAL_QUARANTINED: EventKind
EVENT_KIND_SIGNAL_RELEASED: EventKind
EVENT_KIND_REVIEW_REQUESTED: EventKind
EVENT_KIND_WARNING_LISTS_CHANGED: EventKind

class ClassifierVerdict(_message.Message):
    __slots__ = ("classifier", "score", "human_reviewed")
    CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    HUMAN_REVIEWED_FIELD_NUMBER: _ClassVar[int]
    classifier: str
    score: float
    human_reviewed: bool
    def __init__(self, classifier: _Optional[str] = ..., score: _Optional[float] = ..., human_reviewed: _Optional[bool] = ...) -> None: ...

class SignalSubmission(_message.Message):
    __slots__ = ("type", "value", "labels", "tags", "industry", "confidence", "expires_at", "classifier", "incident", "source_ref", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    type: str
    value: str
    labels: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.RepeatedScalarFieldContainer[str]
    industry: str
    confidence: int
    expires_at: _timestamp_pb2.Timestamp
    classifier: ClassifierVerdict
    incident: str
    source_ref: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, type: _Optional[str] = ..., value: _Optional[str] = ..., labels: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[str]] = ..., industry: _Optional[str] = ..., confidence: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., classifier: _Optional[_Union[ClassifierVerdict, _Mapping]] = ..., incident: _Optional[str] = ..., source_ref: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class OpinionCounts(_message.Message):
    __slots__ = ("true_positive", "false_positive", "disputed")
    TRUE_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    FALSE_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    DISPUTED_FIELD_NUMBER: _ClassVar[int]
    true_positive: int
    false_positive: int
    disputed: int
    def __init__(self, true_positive: _Optional[int] = ..., false_positive: _Optional[int] = ..., disputed: _Optional[int] = ...) -> None: ...

class OpinionChange(_message.Message):
    __slots__ = ("member_id", "request_id", "created_at", "signal_id", "opinion", "note")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    OPINION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    request_id: str
    created_at: _timestamp_pb2.Timestamp
    signal_id: str
    opinion: Opinion
    note: str
    def __init__(self, member_id: _Optional[str] = ..., request_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signal_id: _Optional[str] = ..., opinion: _Optional[_Union[Opinion, str]] = ..., note: _Optional[str] = ...) -> None: ...

class Retraction(_message.Message):
    __slots__ = ("member_id", "request_id", "created_at", "signal_ids", "reason", "note")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_IDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    request_id: str
    created_at: _timestamp_pb2.Timestamp
    signal_ids: _containers.RepeatedScalarFieldContainer[str]
    reason: RetractReason
    note: str
    def __init__(self, member_id: _Optional[str] = ..., request_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signal_ids: _Optional[_Iterable[str]] = ..., reason: _Optional[_Union[RetractReason, str]] = ..., note: _Optional[str] = ...) -> None: ...

class SubmissionBatch(_message.Message):
    __slots__ = ("member_id", "batch_id", "created_at", "signals", "audience", "validate_only", "urgent", "sharing")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    URGENT_FIELD_NUMBER: _ClassVar[int]
    SHARING_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    batch_id: str
    created_at: _timestamp_pb2.Timestamp
    signals: _containers.RepeatedCompositeFieldContainer[SignalSubmission]
    audience: _containers.RepeatedScalarFieldContainer[str]
    validate_only: bool
    urgent: bool
    sharing: Sharing
    def __init__(self, member_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signals: _Optional[_Iterable[_Union[SignalSubmission, _Mapping]]] = ..., audience: _Optional[_Iterable[str]] = ..., validate_only: _Optional[bool] = ..., urgent: _Optional[bool] = ..., sharing: _Optional[_Union[Sharing, str]] = ...) -> None: ...

class SignedEnvelope(_message.Message):
    __slots__ = ("payload", "key_id", "signature")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    key_id: str
    signature: bytes
    def __init__(self, payload: _Optional[bytes] = ..., key_id: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Signal(_message.Message):
    __slots__ = ("signal_id", "type", "value", "labels", "tags", "corroboration", "first_seen", "last_seen", "opinions", "classifiers", "sources", "sources_truncated", "value_withheld", "quarantined")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CORROBORATION_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    OPINIONS_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIERS_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    SOURCES_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    VALUE_WITHHELD_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    type: str
    value: str
    labels: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.RepeatedScalarFieldContainer[str]
    corroboration: int
    first_seen: _timestamp_pb2.Timestamp
    last_seen: _timestamp_pb2.Timestamp
    opinions: OpinionCounts
    classifiers: _containers.RepeatedCompositeFieldContainer[ClassifierVerdict]
    sources: _containers.RepeatedCompositeFieldContainer[_coalition_pb2.SourceRecord]
    sources_truncated: bool
    value_withheld: bool
    quarantined: bool
    def __init__(self, signal_id: _Optional[str] = ..., type: _Optional[str] = ..., value: _Optional[str] = ..., labels: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[str]] = ..., corroboration: _Optional[int] = ..., first_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., opinions: _Optional[_Union[OpinionCounts, _Mapping]] = ..., classifiers: _Optional[_Iterable[_Union[ClassifierVerdict, _Mapping]]] = ..., sources: _Optional[_Iterable[_Union[_coalition_pb2.SourceRecord, _Mapping]]] = ..., sources_truncated: _Optional[bool] = ..., value_withheld: _Optional[bool] = ..., quarantined: _Optional[bool] = ...) -> None: ...

class Submission(_message.Message):
    __slots__ = ("member_id", "key_id", "batch_id", "index", "labels", "tags", "received_at", "envelope", "public_key", "audience", "industry", "confidence", "expires_at", "classifier", "incident", "envelope_redacted", "source_ref", "metadata", "sharing", "envelope_withheld")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_REDACTED_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SHARING_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_WITHHELD_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    key_id: str
    batch_id: str
    index: int
    labels: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.RepeatedScalarFieldContainer[str]
    received_at: _timestamp_pb2.Timestamp
    envelope: SignedEnvelope
    public_key: bytes
    audience: _containers.RepeatedScalarFieldContainer[str]
    industry: str
    confidence: int
    expires_at: _timestamp_pb2.Timestamp
    classifier: ClassifierVerdict
    incident: str
    envelope_redacted: bool
    source_ref: str
    metadata: _containers.ScalarMap[str, str]
    sharing: Sharing
    envelope_withheld: bool
    def __init__(self, member_id: _Optional[str] = ..., key_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., index: _Optional[int] = ..., labels: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[str]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., envelope: _Optional[_Union[SignedEnvelope, _Mapping]] = ..., public_key: _Optional[bytes] = ..., audience: _Optional[_Iterable[str]] = ..., industry: _Optional[str] = ..., confidence: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., classifier: _Optional[_Union[ClassifierVerdict, _Mapping]] = ..., incident: _Optional[str] = ..., envelope_redacted: _Optional[bool] = ..., source_ref: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., sharing: _Optional[_Union[Sharing, str]] = ..., envelope_withheld: _Optional[bool] = ...) -> None: ...

class FeedEvent(_message.Message):
    __slots__ = ("cursor", "kind", "signal", "member_id", "time", "urgent", "review", "warning_lists_version")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    URGENT_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    WARNING_LISTS_VERSION_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    kind: EventKind
    signal: Signal
    member_id: str
    time: _timestamp_pb2.Timestamp
    urgent: bool
    review: _coalition_pb2.ReviewNotice
    warning_lists_version: int
    def __init__(self, cursor: _Optional[str] = ..., kind: _Optional[_Union[EventKind, str]] = ..., signal: _Optional[_Union[Signal, _Mapping]] = ..., member_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., urgent: _Optional[bool] = ..., review: _Optional[_Union[_coalition_pb2.ReviewNotice, _Mapping]] = ..., warning_lists_version: _Optional[int] = ...) -> None: ...
