"""Members and their keys: adding members and keys, revoking a key (a compromised key's
submissions withdrawn), suspension, contact details, and offboarding (`apply_remove_member`:
keys revoked, out of every group, submissions kept, retracted or erased)."""

from __future__ import annotations

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from exchange.errors import HubError, invalid
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2

from ..contact import contact_violations, is_empty
from ..store import StoreTxn
from .common import MAX_REASON_CHARS, Applied, existing_member, retract_where
from .decisions import compromise_withdrawal, offboarding_withdrawal
from .erasure import erase_removed


def _new_key(tx: StoreTxn, member_id: str, public_key: bytes, when: Timestamp) -> str:
    if len(public_key) != 32:
        raise invalid(
            "an Ed25519 public key is 32 bytes",
            [("public_key", f"32 bytes required, got {len(public_key)}")],
        )
    kid = domain.key_id(public_key)
    if tx.key(kid) is not None:
        raise HubError(grpc.StatusCode.ALREADY_EXISTS, f"key {kid} is already registered")
    tx.put_key(
        rec.KeyRecord(key_id=kid, member_id=member_id, public_key=public_key, created_at=when)
    )
    return kid


def apply_add_member(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Adds a member with its first key (and contact details, if any)."""
    command = entry.add_member
    try:
        domain.validate_member_id(command.member_id)
    except domain.InvalidValue as e:
        raise invalid(str(e), [("member_id", str(e))]) from None
    _check_contact(command.contact)
    if tx.member(command.member_id) is not None:
        raise HubError(
            grpc.StatusCode.ALREADY_EXISTS, f"member {command.member_id!r} already exists"
        )
    kid = _new_key(tx, command.member_id, command.public_key, entry.received_at)
    member = admin_pb2.Member(
        member_id=command.member_id,
        display_name=command.display_name,
        key_ids=[kid],
        created_at=entry.received_at,
    )
    if not is_empty(command.contact):
        member.contact.CopyFrom(command.contact)
    tx.put_member(member)
    return Applied(admin_pb2.AddMemberResponse(member=member, key_id=kid))


def apply_add_key(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Registers another key of a member."""
    command = entry.add_key
    member = existing_member(tx, command.member_id)
    kid = _new_key(tx, command.member_id, command.public_key, entry.received_at)
    member.key_ids.append(kid)
    tx.put_member(member)
    return Applied(admin_pb2.AddKeyResponse(key_id=kid))


def apply_revoke_key(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Revokes a member's key; with `compromised_since`, also retracts what it signed from
    then on (decisions.withdrawn_by_compromise), even when the key was already revoked."""
    command = entry.revoke_key
    existing_member(tx, command.member_id)
    key = tx.key(command.key_id)
    if key is None or key.member_id != command.member_id:
        raise HubError(
            grpc.StatusCode.NOT_FOUND,
            f"member {command.member_id!r} has no key {command.key_id!r}",
        )
    withdraw = compromise_withdrawal(command)
    if key.HasField("revoked_at"):
        if withdraw is None:  # a compromise found later still retracts what the key signed
            raise HubError(
                grpc.StatusCode.FAILED_PRECONDITION, f"key {key.key_id} is already revoked"
            )
    else:
        key.revoked_at.CopyFrom(entry.received_at)
        tx.put_key(key)
    response = admin_pb2.RevokeKeyResponse(key=key_message(key))
    applied = Applied(response)
    if withdraw is not None:
        response.retracted_submissions, gone = retract_where(
            tx, applied, withdraw, entry.received_at
        )
        response.removed_signals = len(gone)
    return applied


def key_message(key: rec.KeyRecord) -> admin_pb2.Key:
    """A stored key as the admin API shows it."""
    out = admin_pb2.Key(
        key_id=key.key_id,
        member_id=key.member_id,
        public_key=key.public_key,
        created_at=key.created_at,
    )
    if key.HasField("revoked_at"):
        out.revoked_at.CopyFrom(key.revoked_at)
    return out


def apply_set_suspended(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Suspends or reinstates a member."""
    command = entry.set_member_suspended
    member = existing_member(tx, command.member_id)
    member.suspended = command.suspended
    tx.put_member(member)
    return Applied(admin_pb2.SetMemberSuspendedResponse(member=member))


def _check_contact(contact: admin_pb2.MemberContact) -> None:
    violations = contact_violations(contact)
    if violations:
        raise invalid(f"invalid {violations[0][0]}: {violations[0][1]}", violations)


def apply_set_member_contact(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Replaces a member's contact details (all empty: removes them)."""
    command = entry.set_member_contact
    _check_contact(command.contact)
    member = existing_member(tx, command.member_id)
    if is_empty(command.contact):
        member.ClearField("contact")
    else:
        member.contact.CopyFrom(command.contact)
    tx.put_member(member)
    return Applied(admin_pb2.SetMemberContactResponse(member=member))


def apply_remove_member(tx: StoreTxn, log_sequence: int, entry: rec.LogEntry) -> Applied:
    """Offboards a member: every key revoked, out of every privacy group, marked removed (its
    calls refused for good); its submissions kept, retracted or erased as the command says."""
    command = entry.remove_member
    member = existing_member(tx, command.member_id)
    if member.HasField("removed_at"):
        raise HubError(
            grpc.StatusCode.FAILED_PRECONDITION, f"member {command.member_id!r} was removed"
        )
    fate = command.submissions
    if fate not in (
        admin_pb2.OFFBOARD_SUBMISSIONS_KEEP,
        admin_pb2.OFFBOARD_SUBMISSIONS_RETRACT,
        admin_pb2.OFFBOARD_SUBMISSIONS_ERASE,
    ):
        raise invalid(
            "say what becomes of the member's submissions: keep, retract or erase",
            [("submissions", "KEEP, RETRACT or ERASE required")],
        )
    if len(command.reason) > MAX_REASON_CHARS:
        raise invalid(
            f"a reason is at most {MAX_REASON_CHARS} characters", [("reason", "too long")]
        )
    for key_id in member.key_ids:
        key = tx.key(key_id)
        if key is not None and not key.HasField("revoked_at"):
            key.revoked_at.CopyFrom(entry.received_at)
            tx.put_key(key)
    for group_id in member.group_ids:
        group = tx.group(group_id)
        if group is not None:
            kept = [m for m in group.member_ids if m != member.member_id]
            del group.member_ids[:]
            group.member_ids.extend(kept)
            tx.put_group(group)
    del member.group_ids[:]
    member.removed_at.CopyFrom(entry.received_at)
    tx.put_member(member)
    response = admin_pb2.RemoveMemberResponse()
    applied = Applied(response)
    withdraw = offboarding_withdrawal(command)
    if withdraw is not None:
        response.retracted_submissions, gone = retract_where(
            tx, applied, withdraw, entry.received_at
        )
        response.removed_signals = len(gone)
        if fate == admin_pb2.OFFBOARD_SUBMISSIONS_ERASE and gone:
            reason = f"member {member.member_id} offboarded" + (
                f": {command.reason}" if command.reason else ""
            )
            erase_removed(tx, gone, reason, command, entry.received_at, log_sequence)
    response.member.CopyFrom(member)
    return applied
