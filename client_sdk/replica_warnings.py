"""The coalition's warning lists in a local replica (issue 21.1): `sync` keeps the hub's signed
lists in the replica's meta table (fetched again only when their version moved, re-verified
when read), and local matches are flagged, or left out, as the hub's are."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import lmdb

from signalhub import warnings as wl
from signalhub.v1 import exchange_pb2

from .models import MatchResult
from .warnings import verified_lists

LISTS_KEY = b"warning_lists"
"""Meta key of the stored GetWarningListsResponse (signed, as received)."""

ListsFetcher = Callable[..., exchange_pb2.GetWarningListsResponse]
"""`Client.warning_lists_wire`: (if_version_after=, hub_key=) -> a verified answer."""


def stored_lists(
    txn: lmdb.Transaction, meta: lmdb._Database
) -> exchange_pb2.GetWarningListsResponse:
    """The lists the replica holds (an empty answer at version 0 before the first sync)."""
    raw = txn.get(LISTS_KEY, db=meta)
    if raw is None:
        return exchange_pb2.GetWarningListsResponse()
    return exchange_pb2.GetWarningListsResponse.FromString(bytes(raw))


def fetch_lists(
    fetch: ListsFetcher, held: exchange_pb2.GetWarningListsResponse, hub_key: bytes | None
) -> exchange_pb2.GetWarningListsResponse | None:
    """The hub's lists when they changed since `held` (verified, by `hub_key` when given),
    else None."""
    response = fetch(if_version_after=held.version, hub_key=hub_key)
    if held.version and response.version <= held.version and not response.lists:
        return None
    return response


class ReplicaWarnings:
    """The index of the stored lists, rebuilt when their version changes."""

    def __init__(self) -> None:
        self._index = wl.WarningIndex([], 0)

    def index(self, stored: exchange_pb2.GetWarningListsResponse) -> wl.WarningIndex:
        """The index of `stored` (verified again: the replica's bytes could have changed)."""
        if stored.version != self._index.version:
            if stored.version:
                verified_lists(stored, bytes(stored.hub_public_key))
            self._index = wl.WarningIndex(stored.lists, stored.version)
        return self._index


def flag_results(
    index: wl.WarningIndex,
    queries: list[tuple[str, str]],
    results: list[MatchResult],
    exclude: bool,
) -> list[MatchResult]:
    """Each result's matches flagged with the lists their value or the query is on; the
    flagged ones left out (and counted) when `exclude`."""
    if not index:
        return results
    out = []
    for (type_name, value), result in zip(queries, results, strict=True):
        asked = [(type_name, value)] if type_name != "vpdq" else []
        flags = index.flags(asked + [(m.signal.type, m.signal.value) for m in result.matches])
        on_query = set(flags[0]) if asked else set()
        kept, excluded = [], 0
        for match, names in zip(result.matches, flags[len(asked) :], strict=True):
            listed = tuple(sorted(on_query | set(names)))
            if listed and exclude:
                excluded += 1
            else:
                kept.append(replace(match, warning_lists=listed))
        out.append(replace(result, matches=tuple(kept), excluded_warned=excluded))
    return out


def flag_quarantined(results: list[MatchResult], exclude: bool) -> list[MatchResult]:
    """Each result's matches of quarantined signals (as last synced) flagged, or left out and
    counted when `exclude`."""
    out = []
    for result in results:
        held = [m for m in result.matches if m.signal.quarantined]
        if not held:
            out.append(result)
            continue
        if exclude:
            kept = tuple(m for m in result.matches if not m.signal.quarantined)
            out.append(replace(result, matches=kept, excluded_quarantined=len(held)))
        else:
            marked = tuple(replace(m, quarantined=m.signal.quarantined) for m in result.matches)
            out.append(replace(result, matches=marked))
    return out
