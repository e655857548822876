"""Warning lists as members and the operator call them (issue 21.1): the signed set of lists,
proposals, the operator's settings and edits, and the in-memory index the match path flags
matches with (`WarningCache`, rebuilt when the lists' version changes)."""

from __future__ import annotations

from collections.abc import Mapping

from signalhub import domain
from signalhub import warnings as wl
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, exchange_pb2

from ..auth import Caller
from ..errors import invalid
from ..store import StoreView
from .context import Hub
from .warning_index import full_lists

Metadata = Mapping[str, str | bytes]
MAX_LIST_NAMES = wl.MAX_LISTS
"""Names one GetWarningLists call may ask for."""


def refresh_metrics(hub: Hub) -> None:
    """Sets the warning-list gauges from the store (after a change, and at start)."""
    with hub.store.read() as view:
        for settings in view.warning_lists():
            count = view.warning_entry_count(settings.name)
            hub.metrics.warning_entries.labels(settings.name).set(count)
        hub.metrics.warning_proposals_open.set(view.warning_proposal_count())


def get_warning_lists(
    hub: Hub, message: exchange_pb2.GetWarningListsRequest
) -> exchange_pb2.GetWarningListsResponse:
    """The lists (all, or the named ones) with the version, signed by the hub key; without the
    lists when the caller already holds this version."""
    if len(message.names) > MAX_LIST_NAMES:
        raise invalid(f"at most {MAX_LIST_NAMES} names", [("names", f"got {len(message.names)}")])
    for i, name in enumerate(message.names):
        if not wl.is_list_name(name):
            raise invalid(f"names[{i}] is not a list name", [(f"names[{i}]", "not a list name")])
    with hub.store.read() as view:
        version = view.warning_version()
        current = bool(message.if_version_after) and message.if_version_after >= version
        lists = [] if current else full_lists(view, list(message.names))
    response = exchange_pb2.GetWarningListsResponse(lists=lists, version=version)
    response.digest = wl.lists_digest(version, lists)
    if hub.hub_key is not None:
        response.signature = hub.hub_key.sign(response.digest)
        response.hub_public_key = domain.raw_public_key(hub.hub_key)
    return response


def list_warning_proposals(
    view: StoreView, caller: Caller, message: exchange_pb2.ListWarningProposalsRequest
) -> exchange_pb2.ListWarningProposalsResponse:
    """The caller's own proposals and endorsements (of one list, or all), with their state:
    of who else endorses an entry, only how many."""
    _check_list_filter(message.list)
    response = exchange_pb2.ListWarningProposalsResponse()
    for proposal in view.warning_proposals(message.list):
        if caller.member_id in proposal.members:
            shown = response.entries.add()
            shown.CopyFrom(proposal)
            del shown.members[:]
            shown.members.append(caller.member_id)
    return response


def list_all_warning_proposals(
    view: StoreView, message: admin_pb2.ListAllWarningProposalsRequest
) -> admin_pb2.ListAllWarningProposalsResponse:
    """Every proposal (of one list, or all) with who proposed or endorsed it: the operator's."""
    _check_list_filter(message.list)
    found = view.warning_proposals(message.list)
    return admin_pb2.ListAllWarningProposalsResponse(
        entries=[p for p in found if message.include_approved or not p.approved]
    )


def _check_list_filter(name: str) -> None:
    if name and not wl.is_list_name(name):
        raise invalid("list is not a list name", [("list", "not a list name")])


def set_warning_list_command(m: admin_pb2.SetWarningListRequest) -> rec.SetWarningListCommand:
    """The command that creates a list or changes its settings."""
    return rec.SetWarningListCommand(
        name=m.name,
        description=m.description,
        max_distance=m.max_distance,
        endorsements_required=m.endorsements_required,
    )


def edit_warning_entries_command(
    m: admin_pb2.EditWarningEntriesRequest,
) -> rec.EditWarningEntriesCommand:
    """The command that approves, rejects or removes entries (bounded before it is logged)."""
    if len(m.entries) > wl.MAX_EDIT_ENTRIES:
        raise invalid(
            f"at most {wl.MAX_EDIT_ENTRIES:,} entries a call",
            [("entries", f"got {len(m.entries)}")],
        )
    return rec.EditWarningEntriesCommand(list=m.list, edit=m.edit, entries=m.entries)


def flag_matches(
    index: wl.WarningIndex,
    query: tuple[str, str],
    result: exchange_pb2.QueryMatches,
    drop: bool,
    values: list[tuple[str, str]] | None = None,
) -> int:
    """Flags a query's matches with the lists their stored value (`values`, in match order;
    default: the values the answer carries), or the query, is on; drops the flagged ones when
    `drop` (counted in `excluded_warned`). Returns how many it flagged."""
    if values is None:
        values = [(m.signal.type, m.signal.value) for m in result.matches]
    asked = [query] if query[1] else []
    flags = index.flags(asked + values)
    on_query = set(flags[0]) if asked else set()
    kept = []
    flagged = 0
    for match, names in zip(result.matches, flags[len(asked) :], strict=True):
        listed = sorted(on_query | set(names))
        flagged += bool(listed)
        if listed and drop:
            result.excluded_warned += 1
            continue
        match.warning_lists.extend(listed)
        kept.append(match)
    if drop and result.excluded_warned:
        del result.matches[:]
        result.matches.extend(kept)
    return flagged
