import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WarningAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WARNING_ACTION_UNSPECIFIED: _ClassVar[WarningAction]
    WARNING_ACTION_PROPOSE: _ClassVar[WarningAction]
    WARNING_ACTION_WITHDRAW: _ClassVar[WarningAction]

class QuarantineAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUARANTINE_ACTION_UNSPECIFIED: _ClassVar[QuarantineAction]
    QUARANTINE_ACTION_RELEASE: _ClassVar[QuarantineAction]
    QUARANTINE_ACTION_RETRACT: _ClassVar[QuarantineAction]

class ReviewReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_REASON_UNSPECIFIED: _ClassVar[ReviewReason]
    REVIEW_REASON_RETRACTED_FALSE_POSITIVE: _ClassVar[ReviewReason]
    REVIEW_REASON_APPEAL_UPHELD: _ClassVar[ReviewReason]
    REVIEW_REASON_QUARANTINE_RETRACTED: _ClassVar[ReviewReason]

class AppealOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPEAL_OUTCOME_UNSPECIFIED: _ClassVar[AppealOutcome]
    APPEAL_OUTCOME_UPHELD: _ClassVar[AppealOutcome]
    APPEAL_OUTCOME_DENIED: _ClassVar[AppealOutcome]
WARNING_ACTION_UNSPECIFIED: WarningAction
WARNING_ACTION_PROPOSE: WarningAction
WARNING_ACTION_WITHDRAW: WarningAction
QUARANTINE_ACTION_UNSPECIFIED: QuarantineAction
QUARANTINE_ACTION_RELEASE: QuarantineAction
QUARANTINE_ACTION_RETRACT: QuarantineAction
REVIEW_REASON_UNSPECIFIED: ReviewReason
REVIEW_REASON_RETRACTED_FALSE_POSITIVE: ReviewReason
REVIEW_REASON_APPEAL_UPHELD: ReviewReason
REVIEW_REASON_QUARANTINE_RETRACTED: ReviewReason
APPEAL_OUTCOME_UNSPECIFIED: AppealOutcome
APPEAL_OUTCOME_UPHELD: AppealOutcome
APPEAL_OUTCOME_DENIED: AppealOutcome

class SourceRecord(_message.Message):
    __slots__ = ("member_id", "source_ref", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    source_ref: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, member_id: _Optional[str] = ..., source_ref: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class WarningEntry(_message.Message):
    __slots__ = ("type", "value", "note")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    type: str
    value: str
    note: str
    def __init__(self, type: _Optional[str] = ..., value: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class WarningList(_message.Message):
    __slots__ = ("name", "description", "max_distance", "endorsements_required", "entries", "updated_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MAX_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    ENDORSEMENTS_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    max_distance: int
    endorsements_required: int
    entries: _containers.RepeatedCompositeFieldContainer[WarningEntry]
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., max_distance: _Optional[int] = ..., endorsements_required: _Optional[int] = ..., entries: _Optional[_Iterable[_Union[WarningEntry, _Mapping]]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WarningProposal(_message.Message):
    __slots__ = ("member_id", "request_id", "created_at", "list", "action", "entries")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    request_id: str
    created_at: _timestamp_pb2.Timestamp
    list: str
    action: WarningAction
    entries: _containers.RepeatedCompositeFieldContainer[WarningEntry]
    def __init__(self, member_id: _Optional[str] = ..., request_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., list: _Optional[str] = ..., action: _Optional[_Union[WarningAction, str]] = ..., entries: _Optional[_Iterable[_Union[WarningEntry, _Mapping]]] = ...) -> None: ...

class ProposedEntry(_message.Message):
    __slots__ = ("list", "entry", "endorsements", "members", "approved", "proposed_at")
    LIST_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    ENDORSEMENTS_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_AT_FIELD_NUMBER: _ClassVar[int]
    list: str
    entry: WarningEntry
    endorsements: int
    members: _containers.RepeatedScalarFieldContainer[str]
    approved: bool
    proposed_at: _timestamp_pb2.Timestamp
    def __init__(self, list: _Optional[str] = ..., entry: _Optional[_Union[WarningEntry, _Mapping]] = ..., endorsements: _Optional[int] = ..., members: _Optional[_Iterable[str]] = ..., approved: _Optional[bool] = ..., proposed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class QuarantinedSignal(_message.Message):
    __slots__ = ("signal_id", "type", "quarantined_at", "matches_per_hour", "baseline_per_hour")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_AT_FIELD_NUMBER: _ClassVar[int]
    MATCHES_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    BASELINE_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    type: str
    quarantined_at: _timestamp_pb2.Timestamp
    matches_per_hour: int
    baseline_per_hour: float
    def __init__(self, signal_id: _Optional[str] = ..., type: _Optional[str] = ..., quarantined_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., matches_per_hour: _Optional[int] = ..., baseline_per_hour: _Optional[float] = ...) -> None: ...

class ReviewNotice(_message.Message):
    __slots__ = ("review_id", "signal_id", "type", "reason", "matches", "first_match", "last_match", "requested_at", "reviewed_at", "review_note")
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    FIRST_MATCH_FIELD_NUMBER: _ClassVar[int]
    LAST_MATCH_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    REVIEWED_AT_FIELD_NUMBER: _ClassVar[int]
    REVIEW_NOTE_FIELD_NUMBER: _ClassVar[int]
    review_id: str
    signal_id: str
    type: str
    reason: ReviewReason
    matches: int
    first_match: _timestamp_pb2.Timestamp
    last_match: _timestamp_pb2.Timestamp
    requested_at: _timestamp_pb2.Timestamp
    reviewed_at: _timestamp_pb2.Timestamp
    review_note: str
    def __init__(self, review_id: _Optional[str] = ..., signal_id: _Optional[str] = ..., type: _Optional[str] = ..., reason: _Optional[_Union[ReviewReason, str]] = ..., matches: _Optional[int] = ..., first_match: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_match: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reviewed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., review_note: _Optional[str] = ...) -> None: ...

class Appeal(_message.Message):
    __slots__ = ("member_id", "request_id", "created_at", "signal_id", "outcome", "note")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    request_id: str
    created_at: _timestamp_pb2.Timestamp
    signal_id: str
    outcome: AppealOutcome
    note: str
    def __init__(self, member_id: _Optional[str] = ..., request_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signal_id: _Optional[str] = ..., outcome: _Optional[_Union[AppealOutcome, str]] = ..., note: _Optional[str] = ...) -> None: ...

class ReviewDone(_message.Message):
    __slots__ = ("member_id", "request_id", "created_at", "review_ids", "note")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVIEW_IDS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    request_id: str
    created_at: _timestamp_pb2.Timestamp
    review_ids: _containers.RepeatedScalarFieldContainer[str]
    note: str
    def __init__(self, member_id: _Optional[str] = ..., request_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., review_ids: _Optional[_Iterable[str]] = ..., note: _Optional[str] = ...) -> None: ...
