"""Warning lists (issue 21.1): the operator's list settings and edits, and members' signed
proposals and endorsements. Each change that alters the approved set bumps the version of the
lists and appends a WARNING_LISTS_CHANGED event every member sees (no signal, no member id)."""

from __future__ import annotations

import hashlib

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from exchange.errors import HubError, invalid
from signalhub import warnings as wl
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, coalition_pb2, common_pb2, exchange_pb2

from ..store import StoreTxn, StoreView
from .common import Applied, check_window, replayed, signed_request

REQUEST_KIND = "warning"
"""Kind of the stored answers of ProposeWarningEntries (requests table)."""


def _refused(error: wl.InvalidWarning, what: str) -> HubError:
    return invalid(f"invalid {what}: {error.field}: {error}", [(error.field, str(error))])


def _existing_list(tx: StoreView, name: str) -> coalition_pb2.WarningList:
    found = tx.warning_list(name) if wl.is_list_name(name) else None
    if found is None:
        raise HubError(grpc.StatusCode.NOT_FOUND, f"no warning list {name!r}")
    return found


def lists_changed(tx: StoreTxn, when: Timestamp) -> int:
    """Bumps the lists' version and tells every member (a feed event without a signal)."""
    version = tx.bump_warning_version()
    sequence = tx.next_counter("feed_seq")
    record = rec.FeedRecord(log_sequence=tx.counter("log_seq"))
    record.event.CopyFrom(
        common_pb2.FeedEvent(
            cursor=str(sequence),
            kind=common_pb2.EVENT_KIND_WARNING_LISTS_CHANGED,
            time=when,
            warning_lists_version=version,
        )
    )
    tx.put_feed(sequence, record)
    return version


def apply_set_warning_list(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Creates a list or changes its settings. Lowering endorsements_required approves the
    proposals that now have enough."""
    command = entry.set_warning_list
    try:
        wl.validate_list_settings(
            command.name, command.description, command.max_distance, command.endorsements_required
        )
    except wl.InvalidWarning as error:
        raise _refused(error, "warning list") from None
    old = tx.warning_list(command.name)
    if old is None and len(tx.warning_lists()) >= wl.MAX_LISTS:
        raise HubError(
            grpc.StatusCode.RESOURCE_EXHAUSTED, f"a hub holds at most {wl.MAX_LISTS} warning lists"
        )
    settings = coalition_pb2.WarningList(
        name=command.name,
        description=command.description,
        max_distance=command.max_distance,
        endorsements_required=command.endorsements_required,
    )
    if old is not None:
        unchanged = coalition_pb2.WarningList()
        unchanged.CopyFrom(old)
        unchanged.ClearField("updated_at")
        if unchanged == settings:
            return Applied(admin_pb2.SetWarningListResponse(list=old), stored=False)
    settings.updated_at.CopyFrom(entry.received_at)
    tx.put_warning_list(settings)
    if settings.endorsements_required:
        for proposal in tx.warning_proposals(settings.name):
            if not proposal.approved and proposal.endorsements >= settings.endorsements_required:
                _approve(tx, settings, proposal, proposal.entry.note)
    lists_changed(tx, entry.received_at)
    return Applied(admin_pb2.SetWarningListResponse(list=settings))


def _approve(
    tx: StoreTxn,
    settings: coalition_pb2.WarningList,
    proposal: coalition_pb2.ProposedEntry,
    note: str,
) -> None:
    """Lists a proposed entry: its endorsements stop counting against their members."""
    listed = coalition_pb2.WarningEntry(
        type=proposal.entry.type, value=proposal.entry.value, note=note
    )
    _list_entry(tx, settings, listed)
    for member_id in proposal.members:
        tx.count_warning_proposals(member_id, -1)
    proposal.approved = True
    tx.put_warning_proposal(proposal)


def _list_entry(
    tx: StoreTxn, settings: coalition_pb2.WarningList, entry: coalition_pb2.WarningEntry
) -> None:
    """Puts an entry on a list within the list's bound (RESOURCE_EXHAUSTED past it)."""
    new = tx.warning_entry(settings.name, entry.type, entry.value) is None
    if new and tx.warning_entry_count(settings.name) >= wl.MAX_ENTRIES_PER_LIST:
        raise HubError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"warning list {settings.name!r} holds at most {wl.MAX_ENTRIES_PER_LIST:,} entries",
        )
    tx.put_warning_entry(settings.name, entry)


def apply_edit_warning_entries(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """The operator approves, rejects or removes entries of a list."""
    command = entry.edit_warning_entries
    settings = _existing_list(tx, command.list)
    if command.edit not in (
        admin_pb2.WARNING_EDIT_APPROVE,
        admin_pb2.WARNING_EDIT_REJECT,
        admin_pb2.WARNING_EDIT_REMOVE,
    ):
        raise invalid("edit is APPROVE, REJECT or REMOVE", [("edit", "unspecified or unknown")])
    try:
        entries = wl.canonical_entries(command.entries, wl.MAX_EDIT_ENTRIES)
    except wl.InvalidWarning as error:
        raise _refused(error, "warning entries") from None
    changed = sum(_edit_one(tx, settings, command.edit, e) for e in entries)
    if not changed:
        response = admin_pb2.EditWarningEntriesResponse(version=tx.warning_version())
        return Applied(response, stored=False)
    version = lists_changed(tx, entry.received_at)
    return Applied(admin_pb2.EditWarningEntriesResponse(changed=changed, version=version))


def _edit_one(
    tx: StoreTxn,
    settings: coalition_pb2.WarningList,
    edit: admin_pb2.WarningEdit,
    entry: coalition_pb2.WarningEntry,
) -> bool:
    """One entry's edit; whether it changed the approved set or the proposals."""
    listed = tx.warning_entry(settings.name, entry.type, entry.value)
    proposal = tx.warning_proposal(settings.name, entry.type, entry.value)
    if edit == admin_pb2.WARNING_EDIT_APPROVE:
        if listed is not None and (not entry.note or entry.note == listed.note):
            return False
        if proposal is not None and not proposal.approved:
            _approve(tx, settings, proposal, entry.note or proposal.entry.note)
        else:
            _list_entry(tx, settings, entry)
        return True
    if edit == admin_pb2.WARNING_EDIT_REJECT:
        if proposal is None or proposal.approved:
            return False
        _drop_proposal(tx, proposal)
        return True
    if listed is None:  # REMOVE
        return False
    tx.delete_warning_entry(settings.name, entry.type, entry.value)
    if proposal is not None:  # its proposers may propose it again
        tx.delete_warning_proposal(settings.name, entry.type, entry.value)
    return True


def _drop_proposal(tx: StoreTxn, proposal: coalition_pb2.ProposedEntry) -> None:
    for member_id in proposal.members:
        tx.count_warning_proposals(member_id, -1)
    tx.delete_warning_proposal(proposal.list, proposal.entry.type, proposal.entry.value)


def apply_propose_warning_entries(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """A member's signed proposal (or endorsement, or withdrawal) of entries of a list."""
    proposal, _key = signed_request(
        tx, entry, coalition_pb2.WarningProposal, "propose_warning_entries"
    )
    if proposal.action not in (
        coalition_pb2.WARNING_ACTION_PROPOSE,
        coalition_pb2.WARNING_ACTION_WITHDRAW,
    ):
        raise invalid("action is PROPOSE or WITHDRAW", [("action", "unspecified or unknown")])
    try:
        entries = wl.canonical_entries(proposal.entries, wl.MAX_ENTRIES_PER_CALL)
    except wl.InvalidWarning as error:
        raise _refused(error, "warning proposal") from None
    digest = hashlib.sha256(
        proposal.list.encode()
        + b"\x00"
        + bytes([proposal.action])
        + b"".join(e.SerializeToString(deterministic=True) for e in entries)
    ).digest()
    member_id = proposal.member_id
    prior = replayed(
        tx,
        REQUEST_KIND,
        member_id,
        proposal.request_id,
        digest,
        exchange_pb2.ProposeWarningEntriesResponse,
    )
    if prior is not None:
        return Applied(prior, stored=False)
    check_window(entry, proposal.created_at)
    settings = _existing_list(tx, proposal.list)
    propose = proposal.action == coalition_pb2.WARNING_ACTION_PROPOSE
    outcomes = [
        _propose_one(tx, settings, one, member_id, entry.received_at)
        if propose
        else _withdraw_one(tx, settings, one, member_id)
        for one in entries
    ]
    if propose and tx.warning_proposal_count(member_id) > wl.MAX_PROPOSED_PER_MEMBER:
        raise HubError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"a member holds at most {wl.MAX_PROPOSED_PER_MEMBER:,} open warning proposals",
        )
    if APPROVED in outcomes:
        lists_changed(tx, entry.received_at)
    response = exchange_pb2.ProposeWarningEntriesResponse(
        entries=[proposal_state(tx, settings.name, e, member_id) for e in entries]
    )
    stored = rec.RequestRecord(content_digest=digest, response=response.SerializeToString())
    tx.put_request(REQUEST_KIND, member_id, proposal.request_id, stored)
    return Applied(response)


UNCHANGED, ENDORSED, APPROVED = 0, 1, 2
"""What a proposal did to one entry."""


def _propose_one(
    tx: StoreTxn,
    settings: coalition_pb2.WarningList,
    entry: coalition_pb2.WarningEntry,
    member_id: str,
    when: Timestamp,
) -> int:
    """Adds the member's endorsement; approves the entry once enough members endorse it."""
    if tx.warning_entry(settings.name, entry.type, entry.value) is not None:
        return UNCHANGED  # listed already
    proposal = tx.warning_proposal(settings.name, entry.type, entry.value)
    if proposal is None:
        proposal = coalition_pb2.ProposedEntry(list=settings.name, entry=entry, proposed_at=when)
    if member_id in proposal.members:
        return UNCHANGED
    proposal.members.append(member_id)
    proposal.members.sort()
    proposal.endorsements = len(proposal.members)
    tx.count_warning_proposals(member_id, +1)
    needed = settings.endorsements_required
    if needed and proposal.endorsements >= needed:
        _approve(tx, settings, proposal, proposal.entry.note)
        return APPROVED
    tx.put_warning_proposal(proposal)
    return ENDORSED


def _withdraw_one(
    tx: StoreTxn,
    settings: coalition_pb2.WarningList,
    entry: coalition_pb2.WarningEntry,
    member_id: str,
) -> int:
    """Takes the member's endorsement back (an approved entry stays listed)."""
    proposal = tx.warning_proposal(settings.name, entry.type, entry.value)
    if proposal is None or proposal.approved or member_id not in proposal.members:
        return UNCHANGED
    proposal.members.remove(member_id)
    proposal.endorsements = len(proposal.members)
    tx.count_warning_proposals(member_id, -1)
    if proposal.members:
        tx.put_warning_proposal(proposal)
    else:
        tx.delete_warning_proposal(settings.name, entry.type, entry.value)
    return ENDORSED


def proposal_state(
    tx: StoreView, list_name: str, entry: coalition_pb2.WarningEntry, member_id: str
) -> coalition_pb2.ProposedEntry:
    """An entry's state as a member sees it: whether it is listed, how many endorse it, and
    of who endorses it only the member itself (when it does)."""
    found = tx.warning_proposal(list_name, entry.type, entry.value)
    listed = tx.warning_entry(list_name, entry.type, entry.value)
    out = coalition_pb2.ProposedEntry(list=list_name, approved=listed is not None)
    out.entry.CopyFrom(found.entry if found is not None else entry)
    if found is not None:
        out.endorsements = found.endorsements
        out.proposed_at.CopyFrom(found.proposed_at)
        if member_id in found.members:
            out.members.append(member_id)
    return out
