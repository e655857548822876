"""MatchHashes after planning (exchange.service.query_plan): one batched PDQ search for every
photo hash and video frame, lookups of each index-matched type and exact digest, the signals
linked by incidents, all as the caller may see them, within the answer's budgets."""

from __future__ import annotations

import asyncio
import logging
import math

import numpy as np

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2, exchange_pb2
from signalhub.vpdq_format import VpdqFrame, scored_videos, vpdq_frames, vpdq_retained
from signalhub.warnings import WarningIndex

from ..auth import Caller
from ..errors import HubError
from ..extraction import refusal_reason
from ..store import StoreView
from ..visibility import Viewer, signal_view
from .context import Hub
from .quarantine import flag_quarantined
from .query_plan import MatchPlan, VideoThresholds, plan_match
from .warnings import flag_matches

MAX_MATCHES_PER_QUERY = 1000
MAX_MATCHES_PER_CALL = 50_000
"""Bounds on one MatchHashes answer: the response must fit in a gRPC message."""
MATCH_VIEW_CHUNK = 256
"""Queries answered in one read transaction (short ones: a long one would pin the map)."""
MAX_LINKED = 100
"""Signals linked by incidents shown with one match."""
MAX_LINKED_PER_CALL = 2000
"""Linked signals shown in one MatchHashes answer, in all."""
MAX_LINKED_CASES_PER_CALL = 64
"""Incidents (member, case reference) whose signals one MatchHashes call walks: each walk reads
the submissions of the incident's signals, so this and the two above bound the work."""
MAX_ANSWER_BYTES = 8 * 1024 * 1024
"""Size budget of one MatchHashes answer, decided while it is built (never a half-built
300 MB message): the rest is marked truncated, to be asked again in smaller calls."""

log = logging.getLogger("signalhub.service")
Hits = list[list[tuple[int, int]]]
"""Per search row: [(PDQ table row, distance)]."""


async def match_hashes(
    hub: Hub, caller: Caller, message: exchange_pb2.MatchHashesRequest
) -> exchange_pb2.MatchHashesResponse:
    """Plans the request, charges the caller's share of match work and matches (in a worker
    thread)."""
    plan = plan_match(message)
    if not caller.is_operator:
        hub.match_work.check(caller.member_id)
        admit_queries(hub, caller.member_id, len(plan.queries))
    loop = asyncio.get_running_loop()
    response = await loop.run_in_executor(None, find_matches, hub, plan, caller.member_id)
    if not caller.is_operator:
        cost = sum(1 + len(m.linked) for r in response.results for m in r.matches)
        hub.match_work.charge(caller.member_id, cost)
        misses = sum(1 for r in response.results if missed(r))
        record_queries(hub, caller.member_id, len(plan.queries), misses)
    return response


def admit_queries(hub: Hub, member_id: str, queries: int) -> None:
    """Charges a member's queries to its match budget, or refuses the call before any work
    (RESOURCE_EXHAUSTED: budget spent, or throttled as sweeping; exchange.extraction)."""
    try:
        hub.extraction.admit(member_id, queries)
    except HubError as e:
        hub.metrics.match_refusals.labels(refusal_reason(e)).inc()
        raise


def record_queries(hub: Hub, member_id: str, queries: int, misses: int) -> None:
    """Counts answered queries for the sweep detector (and the metric when it trips)."""
    if hub.extraction.record(member_id, queries, misses):
        hub.metrics.match_sweeps_detected.inc()
        log.warning("sweep detector: a member is sweeping (signalhub admin usage says which)")


def missed(result: exchange_pb2.QueryMatches) -> bool:
    """A query whose answer holds nothing the caller may see (nor excluded as warned or
    quarantined): what the sweep detector counts. Left unanswered (truncated): not a miss."""
    return not (
        result.matches or result.excluded_warned or result.excluded_quarantined or result.truncated
    )


class _RowLookup:
    """Rows of the PDQ table and signals as one caller may see them, cached for one call."""

    def __init__(self, view: StoreView, viewer: Viewer) -> None:
        self.view = view
        self.viewer = viewer
        self._records: dict[str, rec.SignalRecord | None] = {}
        self._views: dict[str, common_pb2.Signal | None] = {}
        self._frames: dict[str, dict[bytes, float]] = {}
        self._cases: dict[tuple[str, str], list[str]] = {}
        self._linked_ids: dict[str, tuple[list[str], bool]] = {}
        self.linked_left = MAX_LINKED_PER_CALL
        self.quarantined_seen = False
        """Whether a signal shown so far is quarantined: until one is, no answer needs the
        quarantine pass (every match's signal is shown through `visible`)."""

    def row(self, row: int) -> tuple[bytes, str] | None:
        """(hash, signal id) of a PDQ table row."""
        return self.view.pdq_row(row)

    def record(self, signal_id: str) -> rec.SignalRecord | None:
        """The stored signal, whoever may see it."""
        if signal_id not in self._records:
            self._records[signal_id] = self.view.signal(signal_id)
        return self._records[signal_id]

    def visible(self, signal_id: str) -> common_pb2.Signal | None:
        """The signal as the caller may see it (None: not at all)."""
        if signal_id not in self._views:
            record = self.record(signal_id)
            shown = None if record is None else signal_view(self.view, record, self.viewer)
            self._views[signal_id] = shown
            if shown is not None and shown.quarantined:
                self.quarantined_seen = True
        return self._views[signal_id]

    def stored_value(self, signal: common_pb2.Signal) -> tuple[str, str]:
        """(type, stored value) of a signal in an answer, its value withheld or not."""
        if not signal.value_withheld:
            return signal.type, signal.value
        record = self.record(signal.signal_id)
        return signal.type, record.signal.value if record is not None else ""

    def linked(self, signal_id: str) -> tuple[list[common_pb2.Signal], bool]:
        """Signals linked to this one by an incident: for each (member, incident) of a
        submission of it the caller may see, that member's other signals of the incident
        through a submission the caller may see; at most MAX_LINKED, sorted by id, and within
        the call's budgets (MAX_LINKED_PER_CALL, MAX_LINKED_CASES_PER_CALL). Also whether any
        were left out. Budgets are spent on what the caller sees only, so what it is shown
        never depends on what it may not see."""
        if signal_id not in self._linked_ids:  # once a call per signal: matches repeat
            cases = {
                (s.member_id, s.incident)
                for s in self.view.submissions(signal_id)
                if s.incident and self.viewer.sees(s.member_id, s.audience)
            }
            found: set[str] = set()
            cut_cases = False
            for case in sorted(cases):
                members = self._case(case)
                if members is None:
                    cut_cases = True
                    continue
                found.update(m for m in members if m != signal_id)
            self._linked_ids[signal_id] = (sorted(found), cut_cases)
        ids, cut = self._linked_ids[signal_id]
        room = min(MAX_LINKED, self.linked_left)
        if len(ids) > room:
            ids, cut = ids[:room], True
        self.linked_left -= len(ids)
        shown = [self.visible(k) for k in ids]
        return [s for s in shown if s is not None], cut

    def _case(self, case: tuple[str, str]) -> list[str] | None:
        """The signals of one incident the caller may see through the incident's own
        submissions, walked once a call; None once the call's incident budget is spent."""
        if case not in self._cases:
            if len(self._cases) >= MAX_LINKED_CASES_PER_CALL:
                return None
            member_id, incident = case
            members: list[str] = []
            for other in self.view.incident_signals(member_id, incident):
                carried = any(
                    s.member_id == member_id
                    and s.incident == incident
                    and self.viewer.sees(s.member_id, s.audience)
                    for s in self.view.submissions(other)
                )
                if carried and self.visible(other) is not None:
                    members.append(other)
                    if len(members) > MAX_LINKED:  # enough for any one match
                        break
            self._cases[case] = members
        return self._cases[case]

    def frame_time(self, signal_id: str, hash32: bytes) -> float | None:
        """Time of a video's retained frame with this hash (retained hashes are distinct)."""
        if signal_id not in self._frames:
            record = self.record(signal_id)
            frames = vpdq_retained(vpdq_frames(record.signal.value)) if record else []
            self._frames[signal_id] = {bytes.fromhex(f.pdq): f.timestamp for f in frames}
        return self._frames[signal_id].get(hash32)


class _Searched:
    """Where each photo and video query's hits are in the batched PDQ search: one search for
    every photo hash and the first frames of each video query, then one for the other frames
    of the videos those did not rule out (`frames_to_rule_out`)."""

    def __init__(self, hub: Hub, plan: MatchPlan) -> None:
        hexes: list[str] = []  # the hashes of every search row, in order
        self.spans: dict[int, tuple[int, int]] = {}  # query position -> its search rows
        self.video_frames: dict[int, list[VpdqFrame]] = {}
        for i, (type_name, value) in enumerate(plan.queries):
            spec = domain.SIGNAL_TYPES[type_name]
            how = spec.match
            if spec.indexed:
                continue  # a plug-in's own index (any Hamming width but pdq's): typed
            if how is domain.MatchKind.HAMMING:
                self.spans[i] = (len(hexes), len(hexes) + 1)
                hexes.append(value)
            elif how is domain.MatchKind.VIDEO:
                videos = plan.videos
                kept = vpdq_retained(videos[i] if videos else vpdq_frames(value))
                self.video_frames[i] = kept
                self.spans[i] = (len(hexes), len(hexes) + len(kept))
                hexes.extend(f.pdq for f in kept)
        self.hits: Hits = [[] for _ in hexes]
        first: list[int] = []  # rows searched first
        later: dict[int, tuple[int, int, int]] = {}  # video query -> (lo, rows first, hi)
        for i, (lo, hi) in self.spans.items():
            if i not in self.video_frames:
                first.append(lo)
                continue
            ahead = frames_to_rule_out(hi - lo, plan.thresholds.query)
            first.extend(range(lo, lo + ahead))
            if ahead < hi - lo:
                later[i] = (lo, lo + ahead, hi)
        self._search(hub, plan, hexes, first)
        rest = [
            row
            for lo, mid, hi in later.values()
            if any(self.hits[row] for row in range(lo, mid))  # else: ruled out
            for row in range(mid, hi)
        ]
        self._search(hub, plan, hexes, rest)

    def _search(self, hub: Hub, plan: MatchPlan, hexes: list[str], rows: list[int]) -> None:
        """Searches the hashes of `rows` in one batch and files their hits."""
        if not rows:
            return
        # One fromhex for the batch: a call a frame was a tenth of a video's parsing.
        packed = bytes.fromhex("".join([hexes[row] for row in rows]))
        array = np.frombuffer(packed, dtype=np.uint8).reshape(-1, 32)
        search = hub.search or hub.index.search
        lims, found, distances = search(array, plan.max_distance)
        bounds = lims.tolist()
        for row, lo, hi in zip(rows, bounds[:-1], bounds[1:], strict=True):
            if hi > lo:
                self.hits[row] = list(
                    zip(found[lo:hi].tolist(), distances[lo:hi].tolist(), strict=True)
                )


def frames_to_rule_out(frames: int, min_query_percent: float) -> int:
    """How many of a video query's `frames` (retained) must all find nothing for no stored
    video to reach `min_query_percent` of them, computed as `scored_videos` computes the
    share: the smallest k with 100 * (frames - k) / frames < min_query_percent (`frames`
    when there is none, as at 0 %). Searching those first and stopping when none finds
    anything answers an unrelated video, the common query, at a fraction of the search; the
    answer is the same, since frames not searched could only have found more of videos
    that cannot be matched."""
    if frames <= 0 or min_query_percent <= 0:
        return frames
    k = max(0, min(frames, math.floor(frames - min_query_percent * frames / 100)))
    while k > 0 and 100.0 * (frames - (k - 1)) / frames < min_query_percent:
        k -= 1
    while k < frames and not 100.0 * (frames - k) / frames < min_query_percent:
        k += 1
    return k


def find_matches(hub: Hub, plan: MatchPlan, member_id: str) -> exchange_pb2.MatchHashesResponse:
    """The answer to a planned MatchHashes call, as `member_id` may see it (in a worker
    thread): at most MAX_MATCHES_PER_QUERY a query, MAX_MATCHES_PER_CALL and MAX_ANSWER_BYTES
    a call; what does not fit is marked truncated."""
    response = exchange_pb2.MatchHashesResponse()
    searched = _Searched(hub, plan)
    budget = MAX_MATCHES_PER_CALL
    answer_bytes = 0
    queries = plan.queries
    for start in range(0, len(queries), MATCH_VIEW_CHUNK):
        if response.truncated:
            break
        # Short read transactions: a long one would pin the map and block its growth.
        with hub.store.read() as view:
            lookup = _RowLookup(view, Viewer.load(view, member_id))
            incidents = view.entries("incidents") > 0
            warned = hub.warnings.index(view)
            for i in range(start, min(start + MATCH_VIEW_CHUNK, len(queries))):
                type_name = queries[i][0]
                result = response.results.add(query_index=i)
                _answer_query(
                    hub, plan, searched, i, result, lookup, min(MAX_MATCHES_PER_QUERY, budget)
                )
                if result.matches:
                    _flag(hub, plan, warned, queries[i], result, lookup)
                if incidents:
                    for m in result.matches:
                        linked, cut = lookup.linked(m.signal.signal_id)
                        m.linked.extend(linked)
                        m.linked_truncated = cut
                answer_bytes += result.ByteSize()
                if answer_bytes > MAX_ANSWER_BYTES:
                    # Over the size budget: this query's answer is cut where it crossed,
                    # and every later one is left unanswered (truncated), to ask again.
                    _cut_to_budget(result, answer_bytes - MAX_ANSWER_BYTES)
                    response.truncated = True
                    for rest in range(i + 1, len(queries)):
                        response.results.add(query_index=rest, truncated=True)
                    break
                budget -= len(result.matches)
                if result.matches:
                    hub.metrics.matches.labels(type_name).inc(len(result.matches))
    matched = [[m.signal.signal_id for m in r.matches] for r in response.results]
    hub.usage.record_match_call(member_id, matched)
    if member_id:  # an operator's matches are not members' matches
        hub.tally.record(member_id, (sid for sids in matched for sid in sids))
    return response


def _flag(
    hub: Hub,
    plan: MatchPlan,
    warned: WarningIndex,
    query: tuple[str, str],
    result: exchange_pb2.QueryMatches,
    lookup: _RowLookup,
) -> None:
    """Flags (or drops, as the plan asks) a query's matches that a warning list names or whose
    signal is quarantined, counting them in the metrics. Warning lists are checked against
    the stored values (a match-only signal's is withheld from the answer, not from this). The
    quarantine pass runs only once the call has shown a quarantined signal
    (`_RowLookup.quarantined_seen`): reading each match's flag back was most of quarantine's
    cost per query (benchmarks/quarantine.py)."""
    if warned:
        values = [lookup.stored_value(m.signal) for m in result.matches]
        flagged = flag_matches(warned, query, result, plan.exclude_warned, values)
        if flagged:
            outcome = "excluded" if plan.exclude_warned else "flagged"
            hub.metrics.matches_warned.labels(query[0], outcome).inc(flagged)
    if not lookup.quarantined_seen:
        return
    held = flag_quarantined(result, plan.exclude_quarantined)
    if held:
        outcome = "excluded" if plan.exclude_quarantined else "flagged"
        hub.metrics.matches_quarantined.labels(outcome).inc(held)


def _answer_query(
    hub: Hub,
    plan: MatchPlan,
    searched: _Searched,
    i: int,
    result: exchange_pb2.QueryMatches,
    lookup: _RowLookup,
    limit: int,
) -> None:
    """Fills query `i`'s matches (at most `limit`), by how its type is matched."""
    type_name, value = plan.queries[i]
    if i in searched.video_frames:
        lo, hi = searched.spans[i]
        _video_matches(result, lookup, searched.hits[lo:hi], plan.thresholds, limit)
    elif i in searched.spans:
        _pdq_matches(result, lookup, searched.hits[searched.spans[i][0]], limit)
    elif i in plan.typed_limits:
        found = hub.index.search_typed(type_name, value, plan.typed_limits[i])
        for sid, distance in found:
            signal = lookup.visible(sid)
            if signal is None:
                continue
            if _full(result, limit):
                break
            result.matches.add(signal=signal, distance=distance)
    else:
        signal = lookup.visible(domain.signal_id(type_name, value))
        if signal is not None:
            result.matches.add(signal=signal, distance=0)


def _pdq_matches(
    result: exchange_pb2.QueryMatches,
    lookup: _RowLookup,
    candidates: list[tuple[int, int]],
    limit: int,
) -> None:
    """Signals near one PDQ hash, nearest first: photos, and videos with a frame like it (once
    a video, at its nearest frame, with that frame's time)."""
    seen: set[str] = set()
    for row, distance in sorted(candidates, key=lambda c: (c[1], c[0])):
        entry = lookup.row(row)
        if entry is None or entry[1] in seen:
            continue
        hash32, sid = entry
        signal = lookup.visible(sid)
        if signal is None:
            continue
        if _full(result, limit):
            break
        seen.add(sid)
        match = result.matches.add(signal=signal, distance=distance)
        if signal.type == "vpdq":
            when = lookup.frame_time(sid, hash32)
            if when is not None:
                match.frame_timestamp = when


def _full(result: exchange_pb2.QueryMatches, limit: int) -> bool:
    """Whether a query's answer already holds `limit` matches (then it is marked truncated:
    another one the caller may see was found)."""
    if len(result.matches) >= limit:
        result.truncated = True
        return True
    return False


def _cut_to_budget(result: exchange_pb2.QueryMatches, excess: int) -> None:
    """Drops a query's last matches until `excess` bytes are gone; marks it truncated."""
    result.truncated = True
    while result.matches and excess > 0:
        excess -= result.matches[-1].ByteSize() + 8  # and its framing, at most
        del result.matches[-1]


def _video_matches(
    result: exchange_pb2.QueryMatches,
    lookup: _RowLookup,
    frame_hits: Hits,
    thresholds: VideoThresholds,
    limit: int,
) -> None:
    """Stored videos sharing enough frames with a query video, as pytx's vPDQ matcher decides:
    the share of the query's retained frames that match any frame of the video, and the share
    of the video's retained frames that match any frame of the query."""

    def video_of_row(row: int) -> str | None:
        entry = lookup.row(row)
        if entry is None:
            return None
        record = lookup.record(entry[1])
        if record is None or not record.frame_rows:
            return None  # a photo: video queries match videos
        return entry[1]

    def frames_of(sid: str) -> int:
        record = lookup.record(sid)
        assert record is not None
        return len(record.frame_rows)

    scores = scored_videos(
        frame_hits, video_of_row, frames_of, thresholds.query, thresholds.compared
    )
    for score in scores:
        signal = lookup.visible(score.signal_id)
        if signal is None:
            continue
        if _full(result, limit):
            break
        result.matches.add(
            signal=signal,
            distance=score.distance,
            query_match_percent=score.query_percent,
            compared_match_percent=score.compared_percent,
        )
