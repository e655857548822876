import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from signalhub.v1 import admin_pb2 as _admin_pb2
from signalhub.v1 import coalition_pb2 as _coalition_pb2
from signalhub.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmitStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBMIT_STATUS_UNSPECIFIED: _ClassVar[SubmitStatus]
    SUBMIT_STATUS_NEW: _ClassVar[SubmitStatus]
    SUBMIT_STATUS_CORROBORATED: _ClassVar[SubmitStatus]
    SUBMIT_STATUS_DUPLICATE: _ClassVar[SubmitStatus]
SUBMIT_STATUS_UNSPECIFIED: SubmitStatus
SUBMIT_STATUS_NEW: SubmitStatus
SUBMIT_STATUS_CORROBORATED: SubmitStatus
SUBMIT_STATUS_DUPLICATE: SubmitStatus

class GetWarningListsRequest(_message.Message):
    __slots__ = ("names", "if_version_after")
    NAMES_FIELD_NUMBER: _ClassVar[int]
    IF_VERSION_AFTER_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    if_version_after: int
    def __init__(self, names: _Optional[_Iterable[str]] = ..., if_version_after: _Optional[int] = ...) -> None: ...

class GetWarningListsResponse(_message.Message):
    __slots__ = ("lists", "version", "digest", "signature", "hub_public_key")
    LISTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    HUB_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    lists: _containers.RepeatedCompositeFieldContainer[_coalition_pb2.WarningList]
    version: int
    digest: bytes
    signature: bytes
    hub_public_key: bytes
    def __init__(self, lists: _Optional[_Iterable[_Union[_coalition_pb2.WarningList, _Mapping]]] = ..., version: _Optional[int] = ..., digest: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., hub_public_key: _Optional[bytes] = ...) -> None: ...

class ProposeWarningEntriesRequest(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.SignedEnvelope
    def __init__(self, envelope: _Optional[_Union[_common_pb2.SignedEnvelope, _Mapping]] = ...) -> None: ...

class ProposeWarningEntriesResponse(_message.Message):
    __slots__ = ("entries", "replayed")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_coalition_pb2.ProposedEntry]
    replayed: bool
    def __init__(self, entries: _Optional[_Iterable[_Union[_coalition_pb2.ProposedEntry, _Mapping]]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class ListWarningProposalsRequest(_message.Message):
    __slots__ = ("list",)
    LIST_FIELD_NUMBER: _ClassVar[int]
    list: str
    def __init__(self, list: _Optional[str] = ...) -> None: ...

class ListWarningProposalsResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_coalition_pb2.ProposedEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[_coalition_pb2.ProposedEntry, _Mapping]]] = ...) -> None: ...

class GetSnapshotRequest(_message.Message):
    __slots__ = ("after", "min_backlog")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    MIN_BACKLOG_FIELD_NUMBER: _ClassVar[int]
    after: str
    min_backlog: int
    def __init__(self, after: _Optional[str] = ..., min_backlog: _Optional[int] = ...) -> None: ...

class SnapshotHeader(_message.Message):
    __slots__ = ("cursor", "member_id", "signals", "created_at", "not_needed")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    NOT_NEEDED_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    member_id: str
    signals: int
    created_at: _timestamp_pb2.Timestamp
    not_needed: bool
    def __init__(self, cursor: _Optional[str] = ..., member_id: _Optional[str] = ..., signals: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_needed: _Optional[bool] = ...) -> None: ...

class SnapshotChunk(_message.Message):
    __slots__ = ("signals",)
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    signals: _containers.RepeatedCompositeFieldContainer[_common_pb2.Signal]
    def __init__(self, signals: _Optional[_Iterable[_Union[_common_pb2.Signal, _Mapping]]] = ...) -> None: ...

class SnapshotTrailer(_message.Message):
    __slots__ = ("digest", "signature", "hub_public_key")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    HUB_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    digest: bytes
    signature: bytes
    hub_public_key: bytes
    def __init__(self, digest: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., hub_public_key: _Optional[bytes] = ...) -> None: ...

class GetSnapshotResponse(_message.Message):
    __slots__ = ("header", "chunk", "trailer")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    TRAILER_FIELD_NUMBER: _ClassVar[int]
    header: SnapshotHeader
    chunk: SnapshotChunk
    trailer: SnapshotTrailer
    def __init__(self, header: _Optional[_Union[SnapshotHeader, _Mapping]] = ..., chunk: _Optional[_Union[SnapshotChunk, _Mapping]] = ..., trailer: _Optional[_Union[SnapshotTrailer, _Mapping]] = ...) -> None: ...

class ListSignalTypesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SignalTypeInfo(_message.Message):
    __slots__ = ("name", "description", "match", "bits", "default_threshold", "max_threshold", "personal", "origin", "pytx_name")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    BITS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MAX_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    PYTX_NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    match: str
    bits: int
    default_threshold: int
    max_threshold: int
    personal: bool
    origin: str
    pytx_name: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., match: _Optional[str] = ..., bits: _Optional[int] = ..., default_threshold: _Optional[int] = ..., max_threshold: _Optional[int] = ..., personal: _Optional[bool] = ..., origin: _Optional[str] = ..., pytx_name: _Optional[str] = ...) -> None: ...

class ListSignalTypesResponse(_message.Message):
    __slots__ = ("types", "fingerprint")
    TYPES_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    types: _containers.RepeatedCompositeFieldContainer[SignalTypeInfo]
    fingerprint: str
    def __init__(self, types: _Optional[_Iterable[_Union[SignalTypeInfo, _Mapping]]] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class SetOpinionRequest(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.SignedEnvelope
    def __init__(self, envelope: _Optional[_Union[_common_pb2.SignedEnvelope, _Mapping]] = ...) -> None: ...

class SetOpinionResponse(_message.Message):
    __slots__ = ("signal", "replayed")
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    signal: _common_pb2.Signal
    replayed: bool
    def __init__(self, signal: _Optional[_Union[_common_pb2.Signal, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class RetractSubmissionRequest(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.SignedEnvelope
    def __init__(self, envelope: _Optional[_Union[_common_pb2.SignedEnvelope, _Mapping]] = ...) -> None: ...

class RetractResult(_message.Message):
    __slots__ = ("signal_id", "removed")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    removed: bool
    def __init__(self, signal_id: _Optional[str] = ..., removed: _Optional[bool] = ...) -> None: ...

class RetractSubmissionResponse(_message.Message):
    __slots__ = ("results", "replayed")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RetractResult]
    replayed: bool
    def __init__(self, results: _Optional[_Iterable[_Union[RetractResult, _Mapping]]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class GetAuditHeadRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetMemberReportRequest(_message.Message):
    __slots__ = ("first_day", "last_day")
    FIRST_DAY_FIELD_NUMBER: _ClassVar[int]
    LAST_DAY_FIELD_NUMBER: _ClassVar[int]
    first_day: str
    last_day: str
    def __init__(self, first_day: _Optional[str] = ..., last_day: _Optional[str] = ...) -> None: ...

class GetMemberReportResponse(_message.Message):
    __slots__ = ("report_json",)
    REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    report_json: str
    def __init__(self, report_json: _Optional[str] = ...) -> None: ...

class GetAuditHeadResponse(_message.Message):
    __slots__ = ("head",)
    HEAD_FIELD_NUMBER: _ClassVar[int]
    head: _admin_pb2.AuditHead
    def __init__(self, head: _Optional[_Union[_admin_pb2.AuditHead, _Mapping]] = ...) -> None: ...

class SubmitSignalsRequest(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.SignedEnvelope
    def __init__(self, envelope: _Optional[_Union[_common_pb2.SignedEnvelope, _Mapping]] = ...) -> None: ...

class SubmitResult(_message.Message):
    __slots__ = ("index", "signal_id", "status")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    index: int
    signal_id: str
    status: SubmitStatus
    def __init__(self, index: _Optional[int] = ..., signal_id: _Optional[str] = ..., status: _Optional[_Union[SubmitStatus, str]] = ...) -> None: ...

class SubmitSignalsResponse(_message.Message):
    __slots__ = ("batch_id", "results", "cursor", "replayed")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    results: _containers.RepeatedCompositeFieldContainer[SubmitResult]
    cursor: str
    replayed: bool
    def __init__(self, batch_id: _Optional[str] = ..., results: _Optional[_Iterable[_Union[SubmitResult, _Mapping]]] = ..., cursor: _Optional[str] = ..., replayed: _Optional[bool] = ...) -> None: ...

class MatchQuery(_message.Message):
    __slots__ = ("type", "value", "max_distance")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    type: str
    value: str
    max_distance: int
    def __init__(self, type: _Optional[str] = ..., value: _Optional[str] = ..., max_distance: _Optional[int] = ...) -> None: ...

class MatchHashesRequest(_message.Message):
    __slots__ = ("queries", "max_distance", "min_query_match_percent", "min_compared_match_percent", "exclude_warned", "exclude_quarantined")
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    MAX_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    MIN_QUERY_MATCH_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MIN_COMPARED_MATCH_PERCENT_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_WARNED_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    queries: _containers.RepeatedCompositeFieldContainer[MatchQuery]
    max_distance: int
    min_query_match_percent: float
    min_compared_match_percent: float
    exclude_warned: bool
    exclude_quarantined: bool
    def __init__(self, queries: _Optional[_Iterable[_Union[MatchQuery, _Mapping]]] = ..., max_distance: _Optional[int] = ..., min_query_match_percent: _Optional[float] = ..., min_compared_match_percent: _Optional[float] = ..., exclude_warned: _Optional[bool] = ..., exclude_quarantined: _Optional[bool] = ...) -> None: ...

class Match(_message.Message):
    __slots__ = ("signal", "distance", "query_match_percent", "compared_match_percent", "frame_timestamp", "linked", "linked_truncated", "warning_lists", "quarantined")
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    QUERY_MATCH_PERCENT_FIELD_NUMBER: _ClassVar[int]
    COMPARED_MATCH_PERCENT_FIELD_NUMBER: _ClassVar[int]
    FRAME_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LINKED_FIELD_NUMBER: _ClassVar[int]
    LINKED_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    WARNING_LISTS_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    signal: _common_pb2.Signal
    distance: int
    query_match_percent: float
    compared_match_percent: float
    frame_timestamp: float
    linked: _containers.RepeatedCompositeFieldContainer[_common_pb2.Signal]
    linked_truncated: bool
    warning_lists: _containers.RepeatedScalarFieldContainer[str]
    quarantined: bool
    def __init__(self, signal: _Optional[_Union[_common_pb2.Signal, _Mapping]] = ..., distance: _Optional[int] = ..., query_match_percent: _Optional[float] = ..., compared_match_percent: _Optional[float] = ..., frame_timestamp: _Optional[float] = ..., linked: _Optional[_Iterable[_Union[_common_pb2.Signal, _Mapping]]] = ..., linked_truncated: _Optional[bool] = ..., warning_lists: _Optional[_Iterable[str]] = ..., quarantined: _Optional[bool] = ...) -> None: ...

class QueryMatches(_message.Message):
    __slots__ = ("query_index", "matches", "truncated", "excluded_warned", "excluded_quarantined")
    QUERY_INDEX_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_WARNED_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    query_index: int
    matches: _containers.RepeatedCompositeFieldContainer[Match]
    truncated: bool
    excluded_warned: int
    excluded_quarantined: int
    def __init__(self, query_index: _Optional[int] = ..., matches: _Optional[_Iterable[_Union[Match, _Mapping]]] = ..., truncated: _Optional[bool] = ..., excluded_warned: _Optional[int] = ..., excluded_quarantined: _Optional[int] = ...) -> None: ...

class MatchHashesResponse(_message.Message):
    __slots__ = ("results", "truncated")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[QueryMatches]
    truncated: bool
    def __init__(self, results: _Optional[_Iterable[_Union[QueryMatches, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class FetchUpdatesRequest(_message.Message):
    __slots__ = ("after", "limit", "follow", "urgent_only")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    URGENT_ONLY_FIELD_NUMBER: _ClassVar[int]
    after: str
    limit: int
    follow: bool
    urgent_only: bool
    def __init__(self, after: _Optional[str] = ..., limit: _Optional[int] = ..., follow: _Optional[bool] = ..., urgent_only: _Optional[bool] = ...) -> None: ...

class FetchUpdatesResponse(_message.Message):
    __slots__ = ("event", "events")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    event: _common_pb2.FeedEvent
    events: _containers.RepeatedCompositeFieldContainer[_common_pb2.FeedEvent]
    def __init__(self, event: _Optional[_Union[_common_pb2.FeedEvent, _Mapping]] = ..., events: _Optional[_Iterable[_Union[_common_pb2.FeedEvent, _Mapping]]] = ...) -> None: ...

class GetSignalRequest(_message.Message):
    __slots__ = ("signal_id", "page_size", "page_token")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    page_size: int
    page_token: str
    def __init__(self, signal_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetSignalResponse(_message.Message):
    __slots__ = ("signal", "submissions", "next_page_token")
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    signal: _common_pb2.Signal
    submissions: _containers.RepeatedCompositeFieldContainer[_common_pb2.Submission]
    next_page_token: str
    def __init__(self, signal: _Optional[_Union[_common_pb2.Signal, _Mapping]] = ..., submissions: _Optional[_Iterable[_Union[_common_pb2.Submission, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RecordAppealRequest(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.SignedEnvelope
    def __init__(self, envelope: _Optional[_Union[_common_pb2.SignedEnvelope, _Mapping]] = ...) -> None: ...

class RecordAppealResponse(_message.Message):
    __slots__ = ("signal", "replayed")
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    signal: _common_pb2.Signal
    replayed: bool
    def __init__(self, signal: _Optional[_Union[_common_pb2.Signal, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class ListReviewsRequest(_message.Message):
    __slots__ = ("include_reviewed", "page_size", "page_token")
    INCLUDE_REVIEWED_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    include_reviewed: bool
    page_size: int
    page_token: str
    def __init__(self, include_reviewed: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReviewsResponse(_message.Message):
    __slots__ = ("reviews", "next_page_token")
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reviews: _containers.RepeatedCompositeFieldContainer[_coalition_pb2.ReviewNotice]
    next_page_token: str
    def __init__(self, reviews: _Optional[_Iterable[_Union[_coalition_pb2.ReviewNotice, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MarkReviewedRequest(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.SignedEnvelope
    def __init__(self, envelope: _Optional[_Union[_common_pb2.SignedEnvelope, _Mapping]] = ...) -> None: ...

class MarkReviewedResponse(_message.Message):
    __slots__ = ("reviews", "replayed")
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    reviews: _containers.RepeatedCompositeFieldContainer[_coalition_pb2.ReviewNotice]
    replayed: bool
    def __init__(self, reviews: _Optional[_Iterable[_Union[_coalition_pb2.ReviewNotice, _Mapping]]] = ..., replayed: _Optional[bool] = ...) -> None: ...
