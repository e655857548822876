import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from signalhub.v1 import admin_pb2 as _admin_pb2
from signalhub.v1 import coalition_pb2 as _coalition_pb2
from signalhub.v1 import common_pb2 as _common_pb2
from signalhub.v1 import exchange_pb2 as _exchange_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LogEntry(_message.Message):
    __slots__ = ("received_at", "window_seconds", "submit", "add_member", "add_key", "revoke_key", "set_member_suspended", "add_group_members", "remove_group_members", "set_opinion", "retract", "expire_tick", "remove_member", "erase_signal", "set_member_contact", "set_warning_list", "edit_warning_entries", "propose_warning_entries", "match_counts", "resolve_quarantine", "record_appeal", "mark_reviewed", "redaction", "normalisation_rule", "review_window_days")
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_FIELD_NUMBER: _ClassVar[int]
    ADD_MEMBER_FIELD_NUMBER: _ClassVar[int]
    ADD_KEY_FIELD_NUMBER: _ClassVar[int]
    REVOKE_KEY_FIELD_NUMBER: _ClassVar[int]
    SET_MEMBER_SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    ADD_GROUP_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_GROUP_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    SET_OPINION_FIELD_NUMBER: _ClassVar[int]
    RETRACT_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TICK_FIELD_NUMBER: _ClassVar[int]
    REMOVE_MEMBER_FIELD_NUMBER: _ClassVar[int]
    ERASE_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    SET_MEMBER_CONTACT_FIELD_NUMBER: _ClassVar[int]
    SET_WARNING_LIST_FIELD_NUMBER: _ClassVar[int]
    EDIT_WARNING_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    PROPOSE_WARNING_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MATCH_COUNTS_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_QUARANTINE_FIELD_NUMBER: _ClassVar[int]
    RECORD_APPEAL_FIELD_NUMBER: _ClassVar[int]
    MARK_REVIEWED_FIELD_NUMBER: _ClassVar[int]
    REDACTION_FIELD_NUMBER: _ClassVar[int]
    NORMALISATION_RULE_FIELD_NUMBER: _ClassVar[int]
    REVIEW_WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    received_at: _timestamp_pb2.Timestamp
    window_seconds: int
    submit: SubmitCommand
    add_member: AddMemberCommand
    add_key: AddKeyCommand
    revoke_key: RevokeKeyCommand
    set_member_suspended: SetMemberSuspendedCommand
    add_group_members: GroupMembersCommand
    remove_group_members: GroupMembersCommand
    set_opinion: SignedCommand
    retract: SignedCommand
    expire_tick: ExpireTick
    remove_member: RemoveMemberCommand
    erase_signal: EraseSignalCommand
    set_member_contact: SetMemberContactCommand
    set_warning_list: SetWarningListCommand
    edit_warning_entries: EditWarningEntriesCommand
    propose_warning_entries: SignedCommand
    match_counts: MatchCountsCommand
    resolve_quarantine: ResolveQuarantineCommand
    record_appeal: SignedCommand
    mark_reviewed: SignedCommand
    redaction: Redaction
    normalisation_rule: int
    review_window_days: int
    def __init__(self, received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_seconds: _Optional[int] = ..., submit: _Optional[_Union[SubmitCommand, _Mapping]] = ..., add_member: _Optional[_Union[AddMemberCommand, _Mapping]] = ..., add_key: _Optional[_Union[AddKeyCommand, _Mapping]] = ..., revoke_key: _Optional[_Union[RevokeKeyCommand, _Mapping]] = ..., set_member_suspended: _Optional[_Union[SetMemberSuspendedCommand, _Mapping]] = ..., add_group_members: _Optional[_Union[GroupMembersCommand, _Mapping]] = ..., remove_group_members: _Optional[_Union[GroupMembersCommand, _Mapping]] = ..., set_opinion: _Optional[_Union[SignedCommand, _Mapping]] = ..., retract: _Optional[_Union[SignedCommand, _Mapping]] = ..., expire_tick: _Optional[_Union[ExpireTick, _Mapping]] = ..., remove_member: _Optional[_Union[RemoveMemberCommand, _Mapping]] = ..., erase_signal: _Optional[_Union[EraseSignalCommand, _Mapping]] = ..., set_member_contact: _Optional[_Union[SetMemberContactCommand, _Mapping]] = ..., set_warning_list: _Optional[_Union[SetWarningListCommand, _Mapping]] = ..., edit_warning_entries: _Optional[_Union[EditWarningEntriesCommand, _Mapping]] = ..., propose_warning_entries: _Optional[_Union[SignedCommand, _Mapping]] = ..., match_counts: _Optional[_Union[MatchCountsCommand, _Mapping]] = ..., resolve_quarantine: _Optional[_Union[ResolveQuarantineCommand, _Mapping]] = ..., record_appeal: _Optional[_Union[SignedCommand, _Mapping]] = ..., mark_reviewed: _Optional[_Union[SignedCommand, _Mapping]] = ..., redaction: _Optional[_Union[Redaction, _Mapping]] = ..., normalisation_rule: _Optional[int] = ..., review_window_days: _Optional[int] = ...) -> None: ...

class Redaction(_message.Message):
    __slots__ = ("original_entry_hash", "erased_by", "signals", "content_digest")
    ORIGINAL_ENTRY_HASH_FIELD_NUMBER: _ClassVar[int]
    ERASED_BY_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    original_entry_hash: bytes
    erased_by: int
    signals: _containers.RepeatedCompositeFieldContainer[RedactedSignal]
    content_digest: bytes
    def __init__(self, original_entry_hash: _Optional[bytes] = ..., erased_by: _Optional[int] = ..., signals: _Optional[_Iterable[_Union[RedactedSignal, _Mapping]]] = ..., content_digest: _Optional[bytes] = ...) -> None: ...

class RedactedSignal(_message.Message):
    __slots__ = ("index", "signal_id", "type", "pdq_rows")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PDQ_ROWS_FIELD_NUMBER: _ClassVar[int]
    index: int
    signal_id: str
    type: str
    pdq_rows: int
    def __init__(self, index: _Optional[int] = ..., signal_id: _Optional[str] = ..., type: _Optional[str] = ..., pdq_rows: _Optional[int] = ...) -> None: ...

class RemoveMemberCommand(_message.Message):
    __slots__ = ("member_id", "submissions", "reason", "log_sequences", "feed_scanned_to", "feed_sequences")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    LOG_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    FEED_SCANNED_TO_FIELD_NUMBER: _ClassVar[int]
    FEED_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    submissions: _admin_pb2.OffboardSubmissions
    reason: str
    log_sequences: _containers.RepeatedScalarFieldContainer[int]
    feed_scanned_to: int
    feed_sequences: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, member_id: _Optional[str] = ..., submissions: _Optional[_Union[_admin_pb2.OffboardSubmissions, str]] = ..., reason: _Optional[str] = ..., log_sequences: _Optional[_Iterable[int]] = ..., feed_scanned_to: _Optional[int] = ..., feed_sequences: _Optional[_Iterable[int]] = ...) -> None: ...

class EraseSignalCommand(_message.Message):
    __slots__ = ("signal_id", "reason", "log_sequences", "feed_scanned_to", "feed_sequences", "carriers_scanned", "scanned_type", "frame_ids", "carrier_ids", "pdq_rows_scanned_to")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    LOG_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    FEED_SCANNED_TO_FIELD_NUMBER: _ClassVar[int]
    FEED_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    CARRIERS_SCANNED_FIELD_NUMBER: _ClassVar[int]
    SCANNED_TYPE_FIELD_NUMBER: _ClassVar[int]
    FRAME_IDS_FIELD_NUMBER: _ClassVar[int]
    CARRIER_IDS_FIELD_NUMBER: _ClassVar[int]
    PDQ_ROWS_SCANNED_TO_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    reason: str
    log_sequences: _containers.RepeatedScalarFieldContainer[int]
    feed_scanned_to: int
    feed_sequences: _containers.RepeatedScalarFieldContainer[int]
    carriers_scanned: bool
    scanned_type: str
    frame_ids: _containers.RepeatedScalarFieldContainer[str]
    carrier_ids: _containers.RepeatedScalarFieldContainer[str]
    pdq_rows_scanned_to: int
    def __init__(self, signal_id: _Optional[str] = ..., reason: _Optional[str] = ..., log_sequences: _Optional[_Iterable[int]] = ..., feed_scanned_to: _Optional[int] = ..., feed_sequences: _Optional[_Iterable[int]] = ..., carriers_scanned: _Optional[bool] = ..., scanned_type: _Optional[str] = ..., frame_ids: _Optional[_Iterable[str]] = ..., carrier_ids: _Optional[_Iterable[str]] = ..., pdq_rows_scanned_to: _Optional[int] = ...) -> None: ...

class SetMemberContactCommand(_message.Message):
    __slots__ = ("member_id", "contact")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    contact: _admin_pb2.MemberContact
    def __init__(self, member_id: _Optional[str] = ..., contact: _Optional[_Union[_admin_pb2.MemberContact, _Mapping]] = ...) -> None: ...

class SignedCommand(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.SignedEnvelope
    def __init__(self, envelope: _Optional[_Union[_common_pb2.SignedEnvelope, _Mapping]] = ...) -> None: ...

class ExpireTick(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class OpinionRecord(_message.Message):
    __slots__ = ("member_id", "opinion", "note", "time")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    OPINION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    opinion: _common_pb2.Opinion
    note: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., opinion: _Optional[_Union[_common_pb2.Opinion, str]] = ..., note: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RequestRecord(_message.Message):
    __slots__ = ("content_digest", "response")
    CONTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    content_digest: bytes
    response: bytes
    def __init__(self, content_digest: _Optional[bytes] = ..., response: _Optional[bytes] = ...) -> None: ...

class AddKeyCommand(_message.Message):
    __slots__ = ("member_id", "public_key")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    public_key: bytes
    def __init__(self, member_id: _Optional[str] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class RevokeKeyCommand(_message.Message):
    __slots__ = ("member_id", "key_id", "compromised_since")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    COMPROMISED_SINCE_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    key_id: str
    compromised_since: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., key_id: _Optional[str] = ..., compromised_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetMemberSuspendedCommand(_message.Message):
    __slots__ = ("member_id", "suspended")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    suspended: bool
    def __init__(self, member_id: _Optional[str] = ..., suspended: _Optional[bool] = ...) -> None: ...

class GroupMembersCommand(_message.Message):
    __slots__ = ("group_id", "member_ids")
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    group_id: str
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, group_id: _Optional[str] = ..., member_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class FeedRecord(_message.Message):
    __slots__ = ("event", "audience", "target_member", "private", "members", "log_sequence", "withdraws", "withholds_value")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_MEMBER_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    LOG_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWS_FIELD_NUMBER: _ClassVar[int]
    WITHHOLDS_VALUE_FIELD_NUMBER: _ClassVar[int]
    event: _common_pb2.FeedEvent
    audience: _containers.RepeatedScalarFieldContainer[str]
    target_member: str
    private: bool
    members: _containers.RepeatedScalarFieldContainer[str]
    log_sequence: int
    withdraws: bool
    withholds_value: bool
    def __init__(self, event: _Optional[_Union[_common_pb2.FeedEvent, _Mapping]] = ..., audience: _Optional[_Iterable[str]] = ..., target_member: _Optional[str] = ..., private: _Optional[bool] = ..., members: _Optional[_Iterable[str]] = ..., log_sequence: _Optional[int] = ..., withdraws: _Optional[bool] = ..., withholds_value: _Optional[bool] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("entry_hash", "chain_hash")
    ENTRY_HASH_FIELD_NUMBER: _ClassVar[int]
    CHAIN_HASH_FIELD_NUMBER: _ClassVar[int]
    entry_hash: bytes
    chain_hash: bytes
    def __init__(self, entry_hash: _Optional[bytes] = ..., chain_hash: _Optional[bytes] = ...) -> None: ...

class SubmitCommand(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.SignedEnvelope
    def __init__(self, envelope: _Optional[_Union[_common_pb2.SignedEnvelope, _Mapping]] = ...) -> None: ...

class AddMemberCommand(_message.Message):
    __slots__ = ("member_id", "public_key", "display_name", "contact")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    public_key: bytes
    display_name: str
    contact: _admin_pb2.MemberContact
    def __init__(self, member_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., display_name: _Optional[str] = ..., contact: _Optional[_Union[_admin_pb2.MemberContact, _Mapping]] = ...) -> None: ...

class SignalRecord(_message.Message):
    __slots__ = ("signal", "members", "pdq_row", "restricted", "frame_rows")
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    PDQ_ROW_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_FIELD_NUMBER: _ClassVar[int]
    FRAME_ROWS_FIELD_NUMBER: _ClassVar[int]
    signal: _common_pb2.Signal
    members: _containers.RepeatedScalarFieldContainer[str]
    pdq_row: int
    restricted: bool
    frame_rows: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, signal: _Optional[_Union[_common_pb2.Signal, _Mapping]] = ..., members: _Optional[_Iterable[str]] = ..., pdq_row: _Optional[int] = ..., restricted: _Optional[bool] = ..., frame_rows: _Optional[_Iterable[int]] = ...) -> None: ...

class SubmissionRecord(_message.Message):
    __slots__ = ("member_id", "key_id", "batch_id", "index", "labels", "tags", "received_at", "log_sequence", "audience", "industry", "confidence", "expires_at", "urgent", "classifier", "incident", "sharing", "source_ref", "metadata")
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
    LOG_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    URGENT_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    SHARING_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    key_id: str
    batch_id: str
    index: int
    labels: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.RepeatedScalarFieldContainer[str]
    received_at: _timestamp_pb2.Timestamp
    log_sequence: int
    audience: _containers.RepeatedScalarFieldContainer[str]
    industry: str
    confidence: int
    expires_at: _timestamp_pb2.Timestamp
    urgent: bool
    classifier: _common_pb2.ClassifierVerdict
    incident: str
    sharing: _common_pb2.Sharing
    source_ref: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, member_id: _Optional[str] = ..., key_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., index: _Optional[int] = ..., labels: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[str]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., log_sequence: _Optional[int] = ..., audience: _Optional[_Iterable[str]] = ..., industry: _Optional[str] = ..., confidence: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., urgent: _Optional[bool] = ..., classifier: _Optional[_Union[_common_pb2.ClassifierVerdict, _Mapping]] = ..., incident: _Optional[str] = ..., sharing: _Optional[_Union[_common_pb2.Sharing, str]] = ..., source_ref: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class BatchRecord(_message.Message):
    __slots__ = ("content_digest", "response")
    CONTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    content_digest: bytes
    response: _exchange_pb2.SubmitSignalsResponse
    def __init__(self, content_digest: _Optional[bytes] = ..., response: _Optional[_Union[_exchange_pb2.SubmitSignalsResponse, _Mapping]] = ...) -> None: ...

class KeyRecord(_message.Message):
    __slots__ = ("key_id", "member_id", "public_key", "created_at", "revoked_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    member_id: str
    public_key: bytes
    created_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., member_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetWarningListCommand(_message.Message):
    __slots__ = ("name", "description", "max_distance", "endorsements_required")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MAX_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    ENDORSEMENTS_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    max_distance: int
    endorsements_required: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., max_distance: _Optional[int] = ..., endorsements_required: _Optional[int] = ...) -> None: ...

class EditWarningEntriesCommand(_message.Message):
    __slots__ = ("list", "edit", "entries")
    LIST_FIELD_NUMBER: _ClassVar[int]
    EDIT_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    list: str
    edit: _admin_pb2.WarningEdit
    entries: _containers.RepeatedCompositeFieldContainer[_coalition_pb2.WarningEntry]
    def __init__(self, list: _Optional[str] = ..., edit: _Optional[_Union[_admin_pb2.WarningEdit, str]] = ..., entries: _Optional[_Iterable[_Union[_coalition_pb2.WarningEntry, _Mapping]]] = ...) -> None: ...

class QuarantinePolicy(_message.Message):
    __slots__ = ("ratio", "min_matches_per_hour", "baseline_hours", "disabled")
    RATIO_FIELD_NUMBER: _ClassVar[int]
    MIN_MATCHES_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    BASELINE_HOURS_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    ratio: float
    min_matches_per_hour: int
    baseline_hours: int
    disabled: bool
    def __init__(self, ratio: _Optional[float] = ..., min_matches_per_hour: _Optional[int] = ..., baseline_hours: _Optional[int] = ..., disabled: _Optional[bool] = ...) -> None: ...

class MatchCountsCommand(_message.Message):
    __slots__ = ("node", "serial", "counts", "policy")
    NODE_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    node: str
    serial: int
    counts: _containers.RepeatedCompositeFieldContainer[MatchCount]
    policy: QuarantinePolicy
    def __init__(self, node: _Optional[str] = ..., serial: _Optional[int] = ..., counts: _Optional[_Iterable[_Union[MatchCount, _Mapping]]] = ..., policy: _Optional[_Union[QuarantinePolicy, _Mapping]] = ...) -> None: ...

class MatchCount(_message.Message):
    __slots__ = ("signal_id", "member_id", "matches", "first", "last")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    member_id: str
    matches: int
    first: _timestamp_pb2.Timestamp
    last: _timestamp_pb2.Timestamp
    def __init__(self, signal_id: _Optional[str] = ..., member_id: _Optional[str] = ..., matches: _Optional[int] = ..., first: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MatchDayRecord(_message.Message):
    __slots__ = ("matches", "first_ms", "last_ms")
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    FIRST_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_MS_FIELD_NUMBER: _ClassVar[int]
    matches: int
    first_ms: int
    last_ms: int
    def __init__(self, matches: _Optional[int] = ..., first_ms: _Optional[int] = ..., last_ms: _Optional[int] = ...) -> None: ...

class MatchRateRecord(_message.Message):
    __slots__ = ("hours", "matches", "released_floor")
    HOURS_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FLOOR_FIELD_NUMBER: _ClassVar[int]
    hours: _containers.RepeatedScalarFieldContainer[int]
    matches: _containers.RepeatedScalarFieldContainer[int]
    released_floor: float
    def __init__(self, hours: _Optional[_Iterable[int]] = ..., matches: _Optional[_Iterable[int]] = ..., released_floor: _Optional[float] = ...) -> None: ...

class QuarantineRecord(_message.Message):
    __slots__ = ("signal", "log_sequence")
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    LOG_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    signal: _coalition_pb2.QuarantinedSignal
    log_sequence: int
    def __init__(self, signal: _Optional[_Union[_coalition_pb2.QuarantinedSignal, _Mapping]] = ..., log_sequence: _Optional[int] = ...) -> None: ...

class ResolveQuarantineCommand(_message.Message):
    __slots__ = ("signal_id", "action", "note")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    action: _coalition_pb2.QuarantineAction
    note: str
    def __init__(self, signal_id: _Optional[str] = ..., action: _Optional[_Union[_coalition_pb2.QuarantineAction, str]] = ..., note: _Optional[str] = ...) -> None: ...

class ReviewRecord(_message.Message):
    __slots__ = ("notice", "log_sequence")
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    LOG_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    notice: _coalition_pb2.ReviewNotice
    log_sequence: int
    def __init__(self, notice: _Optional[_Union[_coalition_pb2.ReviewNotice, _Mapping]] = ..., log_sequence: _Optional[int] = ...) -> None: ...
