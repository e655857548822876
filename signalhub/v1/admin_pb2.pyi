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

class WarningEdit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WARNING_EDIT_UNSPECIFIED: _ClassVar[WarningEdit]
    WARNING_EDIT_APPROVE: _ClassVar[WarningEdit]
    WARNING_EDIT_REJECT: _ClassVar[WarningEdit]
    WARNING_EDIT_REMOVE: _ClassVar[WarningEdit]

class OffboardSubmissions(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OFFBOARD_SUBMISSIONS_UNSPECIFIED: _ClassVar[OffboardSubmissions]
    OFFBOARD_SUBMISSIONS_KEEP: _ClassVar[OffboardSubmissions]
    OFFBOARD_SUBMISSIONS_RETRACT: _ClassVar[OffboardSubmissions]
    OFFBOARD_SUBMISSIONS_ERASE: _ClassVar[OffboardSubmissions]
WARNING_EDIT_UNSPECIFIED: WarningEdit
WARNING_EDIT_APPROVE: WarningEdit
WARNING_EDIT_REJECT: WarningEdit
WARNING_EDIT_REMOVE: WarningEdit
OFFBOARD_SUBMISSIONS_UNSPECIFIED: OffboardSubmissions
OFFBOARD_SUBMISSIONS_KEEP: OffboardSubmissions
OFFBOARD_SUBMISSIONS_RETRACT: OffboardSubmissions
OFFBOARD_SUBMISSIONS_ERASE: OffboardSubmissions

class SetWarningListRequest(_message.Message):
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

class SetWarningListResponse(_message.Message):
    __slots__ = ("list",)
    LIST_FIELD_NUMBER: _ClassVar[int]
    list: _coalition_pb2.WarningList
    def __init__(self, list: _Optional[_Union[_coalition_pb2.WarningList, _Mapping]] = ...) -> None: ...

class EditWarningEntriesRequest(_message.Message):
    __slots__ = ("list", "edit", "entries")
    LIST_FIELD_NUMBER: _ClassVar[int]
    EDIT_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    list: str
    edit: WarningEdit
    entries: _containers.RepeatedCompositeFieldContainer[_coalition_pb2.WarningEntry]
    def __init__(self, list: _Optional[str] = ..., edit: _Optional[_Union[WarningEdit, str]] = ..., entries: _Optional[_Iterable[_Union[_coalition_pb2.WarningEntry, _Mapping]]] = ...) -> None: ...

class EditWarningEntriesResponse(_message.Message):
    __slots__ = ("changed", "version")
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    changed: int
    version: int
    def __init__(self, changed: _Optional[int] = ..., version: _Optional[int] = ...) -> None: ...

class ListAllWarningProposalsRequest(_message.Message):
    __slots__ = ("list", "include_approved")
    LIST_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_APPROVED_FIELD_NUMBER: _ClassVar[int]
    list: str
    include_approved: bool
    def __init__(self, list: _Optional[str] = ..., include_approved: _Optional[bool] = ...) -> None: ...

class ListAllWarningProposalsResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_coalition_pb2.ProposedEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[_coalition_pb2.ProposedEntry, _Mapping]]] = ...) -> None: ...

class MemberContact(_message.Message):
    __slots__ = ("name", "email", "phone", "notes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    email: str
    phone: str
    notes: str
    def __init__(self, name: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ..., notes: _Optional[str] = ...) -> None: ...

class SetMemberContactRequest(_message.Message):
    __slots__ = ("member_id", "contact")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    contact: MemberContact
    def __init__(self, member_id: _Optional[str] = ..., contact: _Optional[_Union[MemberContact, _Mapping]] = ...) -> None: ...

class SetMemberContactResponse(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: Member
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...

class GetMemberUsageRequest(_message.Message):
    __slots__ = ("member_id", "first_day", "last_day")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_DAY_FIELD_NUMBER: _ClassVar[int]
    LAST_DAY_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    first_day: str
    last_day: str
    def __init__(self, member_id: _Optional[str] = ..., first_day: _Optional[str] = ..., last_day: _Optional[str] = ...) -> None: ...

class MemberUsage(_message.Message):
    __slots__ = ("member_id", "signals_submitted", "batches", "queries", "queries_with_match", "last_seen", "live_submissions", "queries_today", "match_budget_per_day", "sweeping", "misses_last_hour")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    QUERIES_WITH_MATCH_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LIVE_SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    QUERIES_TODAY_FIELD_NUMBER: _ClassVar[int]
    MATCH_BUDGET_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    SWEEPING_FIELD_NUMBER: _ClassVar[int]
    MISSES_LAST_HOUR_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    signals_submitted: int
    batches: int
    queries: int
    queries_with_match: int
    last_seen: _timestamp_pb2.Timestamp
    live_submissions: int
    queries_today: int
    match_budget_per_day: int
    sweeping: bool
    misses_last_hour: int
    def __init__(self, member_id: _Optional[str] = ..., signals_submitted: _Optional[int] = ..., batches: _Optional[int] = ..., queries: _Optional[int] = ..., queries_with_match: _Optional[int] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., live_submissions: _Optional[int] = ..., queries_today: _Optional[int] = ..., match_budget_per_day: _Optional[int] = ..., sweeping: _Optional[bool] = ..., misses_last_hour: _Optional[int] = ...) -> None: ...

class GetMemberUsageResponse(_message.Message):
    __slots__ = ("usage", "first_day", "last_day")
    USAGE_FIELD_NUMBER: _ClassVar[int]
    FIRST_DAY_FIELD_NUMBER: _ClassVar[int]
    LAST_DAY_FIELD_NUMBER: _ClassVar[int]
    usage: _containers.RepeatedCompositeFieldContainer[MemberUsage]
    first_day: str
    last_day: str
    def __init__(self, usage: _Optional[_Iterable[_Union[MemberUsage, _Mapping]]] = ..., first_day: _Optional[str] = ..., last_day: _Optional[str] = ...) -> None: ...

class RemoveMemberRequest(_message.Message):
    __slots__ = ("member_id", "submissions", "reason")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    submissions: OffboardSubmissions
    reason: str
    def __init__(self, member_id: _Optional[str] = ..., submissions: _Optional[_Union[OffboardSubmissions, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class RemoveMemberResponse(_message.Message):
    __slots__ = ("member", "retracted_submissions", "removed_signals")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    RETRACTED_SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_SIGNALS_FIELD_NUMBER: _ClassVar[int]
    member: Member
    retracted_submissions: int
    removed_signals: int
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ..., retracted_submissions: _Optional[int] = ..., removed_signals: _Optional[int] = ...) -> None: ...

class EraseSignalRequest(_message.Message):
    __slots__ = ("signal_id", "reason")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    reason: str
    def __init__(self, signal_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class EraseSignalResponse(_message.Message):
    __slots__ = ("tombstone", "log_entries_redacted", "feed_events_scrubbed", "also_erased")
    TOMBSTONE_FIELD_NUMBER: _ClassVar[int]
    LOG_ENTRIES_REDACTED_FIELD_NUMBER: _ClassVar[int]
    FEED_EVENTS_SCRUBBED_FIELD_NUMBER: _ClassVar[int]
    ALSO_ERASED_FIELD_NUMBER: _ClassVar[int]
    tombstone: ErasedSignal
    log_entries_redacted: int
    feed_events_scrubbed: int
    also_erased: _containers.RepeatedCompositeFieldContainer[ErasedSignal]
    def __init__(self, tombstone: _Optional[_Union[ErasedSignal, _Mapping]] = ..., log_entries_redacted: _Optional[int] = ..., feed_events_scrubbed: _Optional[int] = ..., also_erased: _Optional[_Iterable[_Union[ErasedSignal, _Mapping]]] = ...) -> None: ...

class ErasedSignal(_message.Message):
    __slots__ = ("signal_id", "type", "reason", "erased_at")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ERASED_AT_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    type: str
    reason: str
    erased_at: _timestamp_pb2.Timestamp
    def __init__(self, signal_id: _Optional[str] = ..., type: _Optional[str] = ..., reason: _Optional[str] = ..., erased_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AddKeyRequest(_message.Message):
    __slots__ = ("member_id", "public_key")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    public_key: bytes
    def __init__(self, member_id: _Optional[str] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class AddKeyResponse(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class RevokeKeyRequest(_message.Message):
    __slots__ = ("member_id", "key_id", "compromised_since")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    COMPROMISED_SINCE_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    key_id: str
    compromised_since: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., key_id: _Optional[str] = ..., compromised_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RevokeKeyResponse(_message.Message):
    __slots__ = ("key", "retracted_submissions", "removed_signals")
    KEY_FIELD_NUMBER: _ClassVar[int]
    RETRACTED_SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_SIGNALS_FIELD_NUMBER: _ClassVar[int]
    key: Key
    retracted_submissions: int
    removed_signals: int
    def __init__(self, key: _Optional[_Union[Key, _Mapping]] = ..., retracted_submissions: _Optional[int] = ..., removed_signals: _Optional[int] = ...) -> None: ...

class SetMemberSuspendedRequest(_message.Message):
    __slots__ = ("member_id", "suspended")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    suspended: bool
    def __init__(self, member_id: _Optional[str] = ..., suspended: _Optional[bool] = ...) -> None: ...

class SetMemberSuspendedResponse(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: Member
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...

class Key(_message.Message):
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

class ListKeysRequest(_message.Message):
    __slots__ = ("member_id",)
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    def __init__(self, member_id: _Optional[str] = ...) -> None: ...

class ListKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[Key]
    def __init__(self, keys: _Optional[_Iterable[_Union[Key, _Mapping]]] = ...) -> None: ...

class PrivacyGroup(_message.Message):
    __slots__ = ("group_id", "member_ids")
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    group_id: str
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, group_id: _Optional[str] = ..., member_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AddGroupMembersRequest(_message.Message):
    __slots__ = ("group_id", "member_ids")
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    group_id: str
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, group_id: _Optional[str] = ..., member_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AddGroupMembersResponse(_message.Message):
    __slots__ = ("group",)
    GROUP_FIELD_NUMBER: _ClassVar[int]
    group: PrivacyGroup
    def __init__(self, group: _Optional[_Union[PrivacyGroup, _Mapping]] = ...) -> None: ...

class RemoveGroupMembersRequest(_message.Message):
    __slots__ = ("group_id", "member_ids")
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    group_id: str
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, group_id: _Optional[str] = ..., member_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RemoveGroupMembersResponse(_message.Message):
    __slots__ = ("group",)
    GROUP_FIELD_NUMBER: _ClassVar[int]
    group: PrivacyGroup
    def __init__(self, group: _Optional[_Union[PrivacyGroup, _Mapping]] = ...) -> None: ...

class ListGroupsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListGroupsResponse(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[PrivacyGroup]
    def __init__(self, groups: _Optional[_Iterable[_Union[PrivacyGroup, _Mapping]]] = ...) -> None: ...

class SignAuditHeadRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SignAuditHeadResponse(_message.Message):
    __slots__ = ("head",)
    HEAD_FIELD_NUMBER: _ClassVar[int]
    head: AuditHead
    def __init__(self, head: _Optional[_Union[AuditHead, _Mapping]] = ...) -> None: ...

class AuditHead(_message.Message):
    __slots__ = ("sequence", "chain_hash", "signed_at", "hub_public_key", "signature")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    HUB_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    chain_hash: bytes
    signed_at: _timestamp_pb2.Timestamp
    hub_public_key: bytes
    signature: bytes
    def __init__(self, sequence: _Optional[int] = ..., chain_hash: _Optional[bytes] = ..., signed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hub_public_key: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("member_id", "display_name", "key_ids", "created_at", "suspended", "group_ids", "contact", "removed_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    REMOVED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    display_name: str
    key_ids: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    suspended: bool
    group_ids: _containers.RepeatedScalarFieldContainer[str]
    contact: MemberContact
    removed_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., display_name: _Optional[str] = ..., key_ids: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., suspended: _Optional[bool] = ..., group_ids: _Optional[_Iterable[str]] = ..., contact: _Optional[_Union[MemberContact, _Mapping]] = ..., removed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AddMemberRequest(_message.Message):
    __slots__ = ("member_id", "public_key", "display_name", "contact")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    public_key: bytes
    display_name: str
    contact: MemberContact
    def __init__(self, member_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., display_name: _Optional[str] = ..., contact: _Optional[_Union[MemberContact, _Mapping]] = ...) -> None: ...

class AddMemberResponse(_message.Message):
    __slots__ = ("member", "key_id")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    member: Member
    key_id: str
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ..., key_id: _Optional[str] = ...) -> None: ...

class ListMembersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMembersResponse(_message.Message):
    __slots__ = ("members", "next_page_token")
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[Member]
    next_page_token: str
    def __init__(self, members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListQuarantinedRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListQuarantinedResponse(_message.Message):
    __slots__ = ("signals",)
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    signals: _containers.RepeatedCompositeFieldContainer[_coalition_pb2.QuarantinedSignal]
    def __init__(self, signals: _Optional[_Iterable[_Union[_coalition_pb2.QuarantinedSignal, _Mapping]]] = ...) -> None: ...

class ResolveQuarantineRequest(_message.Message):
    __slots__ = ("signal_id", "action", "note")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    action: _coalition_pb2.QuarantineAction
    note: str
    def __init__(self, signal_id: _Optional[str] = ..., action: _Optional[_Union[_coalition_pb2.QuarantineAction, str]] = ..., note: _Optional[str] = ...) -> None: ...

class ResolveQuarantineResponse(_message.Message):
    __slots__ = ("signal", "retracted_submissions", "removed")
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    RETRACTED_SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    signal: _coalition_pb2.QuarantinedSignal
    retracted_submissions: int
    removed: bool
    def __init__(self, signal: _Optional[_Union[_coalition_pb2.QuarantinedSignal, _Mapping]] = ..., retracted_submissions: _Optional[int] = ..., removed: _Optional[bool] = ...) -> None: ...
