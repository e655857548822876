"""Privacy groups: adding and removing members, with a feed event for each member gaining or
losing sight of a signal shared with the group."""

from __future__ import annotations

import grpc
from google.protobuf.message import Message

from exchange.errors import HubError, invalid
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, common_pb2

from ..store import StoreTxn
from ..visibility import Viewer, withheld_for
from .common import Applied


def _apply_group_members(
    tx: StoreTxn, entry: rec.LogEntry, command: rec.GroupMembersCommand, adding: bool
) -> Applied:
    """Changes a group's membership and tells each affected member's feed which signals it
    gained or lost sight of."""
    try:
        domain.validate_member_id(command.group_id)
    except domain.InvalidValue as e:
        message = str(e).replace("member id", "group id")
        raise invalid(message, [("group_id", message)]) from None
    group = tx.group(command.group_id)
    if group is None:
        if not adding:
            raise HubError(grpc.StatusCode.NOT_FOUND, f"no privacy group {command.group_id!r}")
        group = admin_pb2.PrivacyGroup(group_id=command.group_id)
    violations = [
        (f"member_ids[{i}]", f"no member {m!r}")
        for i, m in enumerate(command.member_ids)
        if tx.member(m) is None
    ]
    if violations:
        raise invalid(f"invalid members: {violations[0][1]}", violations)
    current = set(group.member_ids)
    named = set(command.member_ids)
    leaving = (named & current) if named else current
    changed = sorted(named - current) if adding else sorted(leaving)
    after = current | named if adding else current - leaving
    signals = tx.group_signals(command.group_id)
    for member_id in changed:
        member = tx.member(member_id)
        assert member is not None
        before_viewer = Viewer(member_id, frozenset(member.group_ids))
        groups = set(member.group_ids)
        groups = groups | {command.group_id} if adding else groups - {command.group_id}
        del member.group_ids[:]
        member.group_ids.extend(sorted(groups))
        tx.put_member(member)
        after_viewer = Viewer(member_id, frozenset(groups))
        for sid in signals:
            subs = tx.submissions(sid)
            saw = any(before_viewer.sees(s.member_id, s.audience) for s in subs)
            sees = any(after_viewer.sees(s.member_id, s.audience) for s in subs)
            if saw == sees:
                continue
            record = tx.signal(sid)
            assert record is not None
            kind = (
                common_pb2.EVENT_KIND_SIGNAL_UPDATED
                if sees
                else common_pb2.EVENT_KIND_SIGNAL_REMOVED
            )
            sequence = tx.next_counter("feed_seq")
            bare = common_pb2.Signal(
                signal_id=sid, type=record.signal.type, value=record.signal.value
            )
            event = common_pb2.FeedEvent(
                cursor=str(sequence), kind=kind, signal=bare, time=entry.received_at
            )
            # A removal names the value only to a member that had it (match-only: did not).
            withholds = not sees and withheld_for(
                [s for s in subs if before_viewer.sees(s.member_id, s.audience)], before_viewer
            )
            tx.put_feed(
                sequence,
                rec.FeedRecord(event=event, target_member=member_id, withholds_value=withholds),
            )
    del group.member_ids[:]
    group.member_ids.extend(sorted(after))
    tx.put_group(group)
    response: Message
    if adding:
        response = admin_pb2.AddGroupMembersResponse(group=group)
    else:
        response = admin_pb2.RemoveGroupMembersResponse(group=group)
    return Applied(response)


def apply_add_group_members(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Adds members to a privacy group (creating it), as `add_group_members` says."""
    return _apply_group_members(tx, entry, entry.add_group_members, adding=True)


def apply_remove_group_members(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Removes members from a privacy group (all when it names none)."""
    return _apply_group_members(tx, entry, entry.remove_group_members, adding=False)
