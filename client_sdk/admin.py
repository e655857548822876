"""`AdminClient`: the hub operator's connection, calls of the Admin service signed with the
operator key (DATA_DIR/operator.key). It sends wire messages and returns the plain values of
`admin_models`, converted here, at the edge."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import Message

from signalhub import domain
from signalhub.v1 import admin_pb2, coalition_pb2

from .admin_models import (
    AddMemberResult,
    AuditHead,
    EraseSignalResult,
    Key,
    Member,
    MemberContact,
    PrivacyGroup,
    QuarantineDecision,
    QuarantinedSignal,
    RemoveMemberResult,
    RevokeKeyResult,
    UsageReport,
)
from .client import RetryPolicy, TlsConfig, _Connection, load_key
from .errors import SignalhubError
from .signing import Signer
from .warnings import ProposedEntry, WarningEntry, WarningList, wire_entries

QUARANTINE_ACTIONS = {
    "release": coalition_pb2.QUARANTINE_ACTION_RELEASE,
    "retract": coalition_pb2.QUARANTINE_ACTION_RETRACT,
}
WARNING_EDITS = {
    "approve": admin_pb2.WARNING_EDIT_APPROVE,
    "reject": admin_pb2.WARNING_EDIT_REJECT,
    "remove": admin_pb2.WARNING_EDIT_REMOVE,
}

_R = TypeVar("_R", bound=Message)

Contact = MemberContact | admin_pb2.MemberContact
"""A contact as the SDK's value or as the wire message (both are taken)."""


class AdminClient:
    """The operator's client: calls of the Admin service, signed with the operator key."""

    def __init__(
        self,
        endpoint: str,
        operator_key: Ed25519PrivateKey | str | Path,
        *,
        timeout_seconds: float = 30.0,
        retry: RetryPolicy | None = None,
        tls: TlsConfig | None = None,
    ) -> None:
        self._conn = _Connection(
            endpoint,
            Signer(domain.OPERATOR_ID, load_key(operator_key)),
            timeout_seconds,
            retry or RetryPolicy(),
            tls,
        )

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel."""
        self._conn.close()

    def _call(self, method: str, request: Message, response_cls: type[_R]) -> _R:
        return self._conn.signed_unary(f"/signalhub.v1.Admin/{method}", request, response_cls)

    # --- members ------------------------------------------------------------------------------
    def add_member(
        self,
        member_id: str,
        public_key: bytes,
        display_name: str = "",
        contact: Contact | None = None,
    ) -> AddMemberResult:
        """Registers a member with its first Ed25519 public key (raw 32 bytes) and, optionally,
        who the operator contacts about it."""
        request = admin_pb2.AddMemberRequest(
            member_id=member_id, public_key=public_key, display_name=display_name
        )
        if contact is not None:
            request.contact.CopyFrom(MemberContact.of(contact).to_wire())
        response = self._call("AddMember", request, admin_pb2.AddMemberResponse)
        return AddMemberResult(Member.from_wire(response.member), response.key_id)

    def list_members(self) -> list[Member]:
        """Every registered member, by name."""
        out: list[Member] = []
        token = ""
        while True:
            page = self._call(
                "ListMembers",
                admin_pb2.ListMembersRequest(page_token=token),
                admin_pb2.ListMembersResponse,
            )
            out.extend(Member.from_wire(m) for m in page.members)
            token = page.next_page_token
            if not token:
                return out

    def set_member_contact(self, member_id: str, contact: Contact) -> Member:
        """Replaces a member's contact details (all fields empty: removes them)."""
        request = admin_pb2.SetMemberContactRequest(
            member_id=member_id, contact=MemberContact.of(contact).to_wire()
        )
        response = self._call("SetMemberContact", request, admin_pb2.SetMemberContactResponse)
        return Member.from_wire(response.member)

    def set_member_suspended(self, member_id: str, suspended: bool) -> Member:
        """Suspends (True) or reinstates (False) a member."""
        request = admin_pb2.SetMemberSuspendedRequest(member_id=member_id, suspended=suspended)
        response = self._call("SetMemberSuspended", request, admin_pb2.SetMemberSuspendedResponse)
        return Member.from_wire(response.member)

    def remove_member(
        self, member_id: str, submissions: str, reason: str = ""
    ) -> RemoveMemberResult:
        """Offboards a member; `submissions` is "keep", "retract" or "erase" (see RemoveMember)."""
        fate = f"OFFBOARD_SUBMISSIONS_{submissions.upper()}"
        request = admin_pb2.RemoveMemberRequest(
            member_id=member_id, reason=reason, submissions=fate
        )
        response = self._call("RemoveMember", request, admin_pb2.RemoveMemberResponse)
        return RemoveMemberResult(
            Member.from_wire(response.member),
            response.retracted_submissions,
            response.removed_signals,
        )

    def member_usage(
        self, member_id: str = "", first_day: date | str = "", last_day: date | str = ""
    ) -> UsageReport:
        """Per-member usage over UTC days first_day..last_day (default: the last 30 days):
        signals and batches submitted, queries, last call, submissions in force now. Every
        member, or one. Counts reach the hub's store every 5 s."""
        request = admin_pb2.GetMemberUsageRequest(
            member_id=member_id, first_day=str(first_day), last_day=str(last_day)
        )
        response = self._call("GetMemberUsage", request, admin_pb2.GetMemberUsageResponse)
        return UsageReport.from_wire(response)

    # --- keys ---------------------------------------------------------------------------------
    def add_key(self, member_id: str, public_key: bytes) -> str:
        """Adds a key to a member; returns its id."""
        request = admin_pb2.AddKeyRequest(member_id=member_id, public_key=public_key)
        return self._call("AddKey", request, admin_pb2.AddKeyResponse).key_id

    def list_keys(self, member_id: str) -> list[Key]:
        """A member's keys, revoked ones included."""
        request = admin_pb2.ListKeysRequest(member_id=member_id)
        response = self._call("ListKeys", request, admin_pb2.ListKeysResponse)
        return [Key.from_wire(k) for k in response.keys]

    def revoke_key(self, member_id: str, key_id: str) -> Key:
        """Revokes a member's key from now on."""
        request = admin_pb2.RevokeKeyRequest(member_id=member_id, key_id=key_id)
        return Key.from_wire(self._call("RevokeKey", request, admin_pb2.RevokeKeyResponse).key)

    def revoke_compromised_key(
        self, member_id: str, key_id: str, compromised_since: datetime
    ) -> RevokeKeyResult:
        """Revokes a compromised key (or one already revoked) and retracts every submission
        the hub received signed with it at or after `compromised_since`."""
        request = admin_pb2.RevokeKeyRequest(member_id=member_id, key_id=key_id)
        request.compromised_since.FromDatetime(compromised_since)
        response = self._call("RevokeKey", request, admin_pb2.RevokeKeyResponse)
        return RevokeKeyResult(
            Key.from_wire(response.key), response.retracted_submissions, response.removed_signals
        )

    # --- signals, groups, audit ---------------------------------------------------------------
    def erase_signal(self, signal_id: str, reason: str) -> EraseSignalResult:
        """Erases a signal on legal request (see EraseSignal): its value is scrubbed from the
        hub, a tombstone with `reason` is left, and it can never be submitted again."""
        request = admin_pb2.EraseSignalRequest(signal_id=signal_id, reason=reason)
        response = self._call("EraseSignal", request, admin_pb2.EraseSignalResponse)
        return EraseSignalResult.from_wire(response)

    def add_group_members(self, group_id: str, member_ids: Sequence[str]) -> PrivacyGroup:
        """Creates a privacy group or adds members to it."""
        request = admin_pb2.AddGroupMembersRequest(group_id=group_id, member_ids=member_ids)
        response = self._call("AddGroupMembers", request, admin_pb2.AddGroupMembersResponse)
        return PrivacyGroup.from_wire(response.group)

    def remove_group_members(self, group_id: str, member_ids: Sequence[str] = ()) -> PrivacyGroup:
        """Removes members from a group (all of them when none is named)."""
        request = admin_pb2.RemoveGroupMembersRequest(group_id=group_id, member_ids=member_ids)
        response = self._call("RemoveGroupMembers", request, admin_pb2.RemoveGroupMembersResponse)
        return PrivacyGroup.from_wire(response.group)

    def list_groups(self) -> list[PrivacyGroup]:
        """Every privacy group and its members."""
        request = admin_pb2.ListGroupsRequest()
        response = self._call("ListGroups", request, admin_pb2.ListGroupsResponse)
        return [PrivacyGroup.from_wire(g) for g in response.groups]

    def quarantined(self) -> list[QuarantinedSignal]:
        """The signals in flood quarantine, oldest quarantine first."""
        response = self._call(
            "ListQuarantined", admin_pb2.ListQuarantinedRequest(), admin_pb2.ListQuarantinedResponse
        )
        return [QuarantinedSignal.from_wire(q) for q in response.signals]

    def resolve_quarantine(self, signal_id: str, action: str, note: str = "") -> QuarantineDecision:
        """Releases ("release": its matches are no longer flagged) or retracts ("retract":
        every submission withdrawn, and members that matched it asked to review) a
        quarantined signal."""
        value = QUARANTINE_ACTIONS.get(action)
        if value is None:
            raise ValueError(f"action is one of {', '.join(QUARANTINE_ACTIONS)}, not {action!r}")
        request = admin_pb2.ResolveQuarantineRequest(signal_id=signal_id, action=value, note=note)
        response = self._call("ResolveQuarantine", request, admin_pb2.ResolveQuarantineResponse)
        return QuarantineDecision(
            QuarantinedSignal.from_wire(response.signal),
            response.retracted_submissions,
            response.removed,
        )

    def set_warning_list(
        self,
        name: str,
        description: str = "",
        *,
        max_distance: int = 0,
        endorsements_required: int = 0,
    ) -> WarningList:
        """Creates a warning list or changes its settings: `max_distance` (Hamming types: a
        value that near a listed one counts as listed), `endorsements_required` (0: only the
        operator approves; N: also N members proposing the same entry)."""
        request = admin_pb2.SetWarningListRequest(
            name=name,
            description=description,
            max_distance=max_distance,
            endorsements_required=endorsements_required,
        )
        response = self._call("SetWarningList", request, admin_pb2.SetWarningListResponse)
        return WarningList.from_wire(response.list)

    def edit_warning_entries(
        self, list_name: str, edit: str, entries: Sequence[WarningEntry]
    ) -> tuple[int, int]:
        """Approves ("approve": lists them, proposed or not), rejects ("reject": drops the
        proposals) or removes ("remove") entries; returns (entries changed, lists' version)."""
        value = WARNING_EDITS.get(edit)
        if value is None:
            raise SignalhubError(f"unknown edit {edit!r}: approve, reject or remove")
        request = admin_pb2.EditWarningEntriesRequest(
            list=list_name, edit=value, entries=wire_entries(entries)
        )
        response = self._call("EditWarningEntries", request, admin_pb2.EditWarningEntriesResponse)
        return response.changed, response.version

    def warning_proposals(
        self, list_name: str = "", *, include_approved: bool = False
    ) -> list[ProposedEntry]:
        """Every member's proposals (of one list, or all) with who proposed each."""
        request = admin_pb2.ListAllWarningProposalsRequest(
            list=list_name, include_approved=include_approved
        )
        response = self._call(
            "ListAllWarningProposals", request, admin_pb2.ListAllWarningProposalsResponse
        )
        return [ProposedEntry.from_wire(p) for p in response.entries]

    def sign_audit_head(self) -> AuditHead | None:
        """Has the hub sign the audit log's current head now (None: the log is empty)."""
        response = self._call(
            "SignAuditHead", admin_pb2.SignAuditHeadRequest(), admin_pb2.SignAuditHeadResponse
        )
        return AuditHead.from_wire(response.head) if response.HasField("head") else None


__all__ = ["AdminClient"]
