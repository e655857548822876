"""The Admin service's logic (operator calls only): the commands its RPCs log (members, keys,
groups, contacts, offboarding and erasure) and its reads (members, keys, groups). Offboarding
with erasure and erasing a signal first scan the store for what to erase (exchange.erasure)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2

from .. import erasure
from ..errors import HubError, invalid, permission_denied
from ..ledger import key_message, valid_time
from ..store import StoreView
from .context import Hub, RawRequest

M = TypeVar("M", bound=Message)
R = TypeVar("R", bound=Message)
LIST_PAGE_DEFAULT = 1000
"""Members in one ListMembers page, by default and at most."""


def operator_request(
    hub: Hub, method: str, request: RawRequest[M], metadata: Mapping[str, str | bytes]
) -> M:
    """The parsed request of an authenticated call by the hub's operator; PERMISSION_DENIED
    for anybody else."""
    caller, message = hub.authenticate(method, request, metadata)
    if not caller.is_operator:
        raise permission_denied(
            "only the hub's operator may call the Admin service", "not_operator"
        )
    return message


async def execute(hub: Hub, entry: rec.LogEntry, response_cls: type[R]) -> R:
    """Has a command applied; its answer."""
    applied = await hub.log.execute(entry)
    assert isinstance(applied.response, response_cls)
    return applied.response


def add_member_command(m: admin_pb2.AddMemberRequest) -> rec.AddMemberCommand:
    """The command that adds a member."""
    command = rec.AddMemberCommand(
        member_id=m.member_id, public_key=m.public_key, display_name=m.display_name
    )
    if m.HasField("contact"):
        command.contact.CopyFrom(m.contact)
    return command


def revoke_key_command(m: admin_pb2.RevokeKeyRequest) -> rec.RevokeKeyCommand:
    """The command that revokes a key (from a time on, when it was compromised)."""
    command = rec.RevokeKeyCommand(member_id=m.member_id, key_id=m.key_id)
    if m.HasField("compromised_since"):
        if not valid_time(m.compromised_since):
            raise invalid(
                "compromised_since is not a valid time",
                [("compromised_since", "a time from 1970 on")],
            )
        command.compromised_since.CopyFrom(m.compromised_since)
    return command


async def remove_member_command(
    hub: Hub, m: admin_pb2.RemoveMemberRequest
) -> rec.RemoveMemberCommand:
    """The command that offboards a member; to erase its submissions, with the log entries
    and feed records to scrub (scanned in worker threads)."""
    command = rec.RemoveMemberCommand(
        member_id=m.member_id, submissions=m.submissions, reason=m.reason
    )
    if m.submissions == admin_pb2.OFFBOARD_SUBMISSIONS_ERASE:
        with hub.store.read() as view:
            if view.member(m.member_id) is None:
                raise HubError(grpc.StatusCode.NOT_FOUND, f"no member {m.member_id!r}")
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, erasure.entries_of_member, hub.store, m.member_id)
        command.log_sequences.extend(found)
        theirs = await loop.run_in_executor(None, erasure.signals_of_member, hub.store, m.member_id)
        command.feed_scanned_to, feed = await loop.run_in_executor(
            None, erasure.feed_about, hub.store, theirs
        )
        command.feed_sequences.extend(feed)
    return command


async def erase_signal(hub: Hub, m: admin_pb2.EraseSignalRequest) -> admin_pb2.EraseSignalResponse:
    """Erases a signal and every trace of its value; scanned again (up to ERASE_ATTEMPTS
    times) when a signal carrying the value was stored after the scan looked."""
    loop = asyncio.get_running_loop()
    for attempt in range(1, erasure.ERASE_ATTEMPTS + 1):
        command = await loop.run_in_executor(
            None, erasure.erase_command, hub.store, m.signal_id, m.reason
        )
        entry = hub.log_entry(erase_signal=command)
        try:
            return await execute(hub, entry, admin_pb2.EraseSignalResponse)
        except HubError as e:
            # ABORTED: a signal carrying the value was stored after the scan looked.
            if e.code is not grpc.StatusCode.ABORTED or attempt == erasure.ERASE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def list_members(view: StoreView, m: admin_pb2.ListMembersRequest) -> admin_pb2.ListMembersResponse:
    """A page of members, in id order after the page token."""
    if m.page_size < 0:
        raise invalid("page_size is 0 or more", [("page_size", "negative")])
    size = min(m.page_size or LIST_PAGE_DEFAULT, LIST_PAGE_DEFAULT)
    members = view.members(m.page_token, size + 1)
    response = admin_pb2.ListMembersResponse(members=members[:size])
    if len(members) > size:
        response.next_page_token = members[size - 1].member_id
    return response


def list_keys(view: StoreView, m: admin_pb2.ListKeysRequest) -> admin_pb2.ListKeysResponse:
    """A member's keys; NOT_FOUND for an unknown member."""
    member = view.member(m.member_id)
    if member is None:
        raise HubError(grpc.StatusCode.NOT_FOUND, f"no member {m.member_id!r}")
    keys = [view.key(k) for k in member.key_ids]
    return admin_pb2.ListKeysResponse(keys=[key_message(k) for k in keys if k is not None])
