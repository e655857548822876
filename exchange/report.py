"""Transparency reports: the coalition's periodic report (`signalhub admin report`) and a
member's own report (`member_report`).

Everything is computed from the hub's own records. The command log is the history: a replay of
it in memory (no store is written) tells when each signal was first submitted, when a second
member corroborated it, which labels it carried at any moment, who withdrew what and what
expired, even for signals long removed from the state tables. The usage counts of the `stats`
database (exchange.usage) add what the log does not hold: matches, queries and propagation
latency, per UTC day.

The coalition report names no member. Every count in it is a *cell*; a cell below the
threshold (default 10) is shown as "<10" (primary suppression), and cells from which such a
count could be worked out with a table's sums (a total minus the other cells of its column) are
suppressed too (secondary suppression, shown as "suppressed"): see `Sheet`.
Values computed from a suppressed cell (shares, medians, percentiles) are "suppressed".
docs/report.md says what each number means; the report carries the same text (`METHOD`).
"""

from __future__ import annotations

import base64
import bisect
import csv
import heapq
import html
import io
import json
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import lmdb
from google.protobuf.message import DecodeError

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, common_pb2

from . import usage
from .errors import HubError
from .ledger import canonical_batch, parse_batch
from .store import Store, StoreView
from .visibility import Viewer

DAY_MS = 86_400_000
EPOCH = date(1970, 1, 1)
DEFAULT_MIN_COUNT = 10
LOG_CHUNK_ENTRIES = 2048
"""Log entries read per read transaction: short transactions never pin the hub's map."""
FORMATS = ("html", "json", "csv")
NO_LABEL = "(none)"
UNKNOWN = "(unknown)"
FORMAT_VERSION = 1

Json = dict[str, Any]


# --- time -----------------------------------------------------------------------------------------
def day_number(day: date) -> int:
    """Days since 1970-01-01, as exchange.usage keys them."""
    return (day - EPOCH).days


def date_of(day: int) -> date:
    return EPOCH + timedelta(days=day)


def parse_date(text: str) -> date:
    """An ISO date, YYYY-MM-DD (UTC)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _ms(ts: Any) -> int:
    return int(ts.ToMilliseconds())


@dataclass(frozen=True)
class Period:
    """Whole UTC days `first`..`last`, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"the period ends ({self.last}) before it starts ({self.first})")

    @property
    def first_day(self) -> int:
        return day_number(self.first)

    @property
    def last_day(self) -> int:
        return day_number(self.last)

    @property
    def days(self) -> int:
        return self.last_day - self.first_day + 1

    @property
    def start_ms(self) -> int:
        return self.first_day * DAY_MS

    @property
    def end_ms(self) -> int:
        """The first millisecond after the period."""
        return (self.last_day + 1) * DAY_MS

    def contains(self, ms: int) -> bool:
        return self.start_ms <= ms < self.end_ms


@dataclass(frozen=True)
class Buckets:
    """The trend's time buckets: whole days, or ISO weeks (Monday to Sunday) clipped to the
    period."""

    granularity: str
    ranges: tuple[tuple[date, date], ...]
    _index: tuple[int, ...]
    """Bucket of each day of the period, by offset from its first day."""
    first_day: int

    @classmethod
    def of(cls, period: Period, granularity: str = "auto") -> Buckets:
        if granularity == "auto":
            granularity = "day" if period.days <= 31 else "week"
        if granularity not in ("day", "week"):
            raise ValueError(f"trend granularity is day, week or auto, not {granularity!r}")
        ranges: list[tuple[date, date]] = []
        index: list[int] = []
        for offset in range(period.days):
            day = period.first + timedelta(days=offset)
            if granularity == "day" or not ranges or day.weekday() == 0:
                ranges.append((day, day))
            else:
                ranges[-1] = (ranges[-1][0], day)
            index.append(len(ranges) - 1)
        return cls(granularity, tuple(ranges), tuple(index), period.first_day)

    def of_day(self, day: int) -> int:
        return self._index[day - self.first_day]

    def of_ms(self, ms: int) -> int:
        return self.of_day(ms // DAY_MS)


def week_start(day: int) -> date:
    d = date_of(day)
    return d - timedelta(days=d.weekday())


# --- reading the store ----------------------------------------------------------------------------
@contextmanager
def read_view(store: Store) -> Iterator[StoreView]:
    """A short read transaction of a store opened read-only while the hub may be writing:
    when the hub grew the map meanwhile (LMDB's MDB_MAP_RESIZED), adopts the new size."""
    try:
        txn = store.env.begin(buffers=False)
    except lmdb.MapResizedError:
        store.env.set_mapsize(0)
        txn = store.env.begin(buffers=False)
    with txn:
        yield StoreView(txn, store.dbs)


def log_entries(store: Store, last: int | None = None) -> Iterator[tuple[int, rec.LogEntry]]:
    """(sequence, entry) of the log up to `last` (default: its end when called), read in
    chunks of short read transactions (the log is append-only: chunks are consistent)."""
    if last is None:
        with read_view(store) as view:
            last = view.counter("log_seq")
    for start in range(1, last + 1, LOG_CHUNK_ENTRIES):
        stop = min(last, start + LOG_CHUNK_ENTRIES - 1)
        with read_view(store) as view:
            chunk = [(n, view.log_entry(n)) for n in range(start, stop + 1)]
        for n, entry in chunk:
            if entry is not None:
                yield n, entry


def view_log_entries(view: StoreView) -> Iterator[tuple[int, rec.LogEntry]]:
    """(sequence, entry) of the whole log inside one transaction."""
    for n in range(1, view.counter("log_seq") + 1):
        entry = view.log_entry(n)
        if entry is not None:
            yield n, entry


@dataclass
class Usage:
    """The usage counts (exchange.usage) of a period."""

    matches: list[usage.MatchCount] = field(default_factory=list)
    queries: list[usage.QueryCount] = field(default_factory=list)
    propagation: dict[int, tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def read(cls, view: StoreView, period: Period) -> Usage:
        first, last = period.first_day, period.last_day
        out = cls()
        out.matches = [usage.decode_match(k, v) for k, v in view.stats(usage.MATCH, first, last)]
        out.queries = [
            usage.decode_queries(k, v) for k, v in view.stats(usage.QUERIES, first, last)
        ]
        for key, value in view.stats(usage.PROPAGATION, first, last):
            out.propagation[int.from_bytes(key[1:5], "big")] = usage.decode_propagation(value)
        return out


# --- replaying the log ----------------------------------------------------------------------------
@dataclass(slots=True)
class _Sub:
    """A live submission: (log sequence, index in its batch) names it, as the store does."""

    sequence: int
    index: int
    member: str
    labels: tuple[str, ...]
    visible: bool
    key_id: str = ""
    ms: int = 0
    """When the hub received it."""
    audience: tuple[str, ...] = ()


class _Signal:
    """What the replay keeps of one signal; compact (one per signal ever submitted)."""

    __slots__ = ("corroborated_ms", "first_ms", "labels", "live", "own", "submitters", "type")

    def __init__(self, type_name: str, first_ms: int) -> None:
        self.type = type_name
        self.first_ms = first_ms
        self.corroborated_ms = -1
        """When two distinct members first held live submissions of it (-1: never)."""
        self.live: list[_Sub] = []
        self.submitters: list[tuple[str, int]] = []
        """(member, time of its first submission), in order (in a member's report: only
        submissions it may see)."""
        self.labels: list[tuple[int, frozenset[str]]] = []
        """Its labels over time: the union over its live (visible) submissions from each time
        on; an empty set while it has none."""
        self.own: _Own | None = None
        """A member's report, for the member's signals."""

    def first_by(self, member: str) -> int | None:
        return next((t for m, t in self.submitters if m == member), None)

    def labels_at(self, ms: int) -> frozenset[str]:
        """Its labels at `ms`; when it had none (removed, or not yet submitted), those it
        had last (or first)."""
        i = bisect.bisect_right(self.labels, ms, key=lambda x: x[0]) - 1
        if i < 0:
            return self.labels[0][1] if self.labels else frozenset()
        while i > 0 and not self.labels[i][1]:
            i -= 1
        return self.labels[i][1]

    def own_live_between(self, start_ms: int, end_ms: int) -> bool:
        """Did the focus member hold a live submission at some moment in [start, end)?"""
        if self.own is None:
            return False
        times, live = self.own.times, self.own.live
        i = bisect.bisect_right(times, start_ms) - 1
        if i >= 0 and live[i]:
            return True
        j = bisect.bisect_left(times, end_ms)
        return any(live[max(i + 1, 0) : j])


@dataclass(slots=True)
class _Own:
    """A member's report: its labels of one of its signals, and when it held a live
    submission of it (live[i] from times[i] on)."""

    labels: set[str] = field(default_factory=set)
    times: list[int] = field(default_factory=list)
    live: list[bool] = field(default_factory=list)
    value: str = ""
    """The signal's value (a member's own report may show it: the member submitted it)."""
    audiences: set[tuple[str, ...]] = field(default_factory=set)
    """The audiences the member shared it with: another member's match or opinion of it
    counts only when that member could see one of them."""


@dataclass(frozen=True, slots=True)
class Contribution:
    """One submission accepted in the period."""

    ms: int
    signal_id: str
    type: str
    member: str
    labels: tuple[str, ...]
    new: bool
    """The first submission of the signal ever (in a member's report: the first it may see)."""


@dataclass(frozen=True, slots=True)
class OpinionGiven:
    ms: int
    signal_id: str
    member: str
    opinion: int
    labels: frozenset[str]
    own: bool
    """A member's report: the signal was the member's (a live submission of it) then."""


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """A member's retraction of its submissions of one signal, or submissions that expired."""

    ms: int
    signal_id: str
    member: str
    submissions: int
    removed: bool
    """No submission of the signal was left: it was removed."""


class History:
    """The log replayed in memory, keeping what the reports need: every signal's first
    submission, corroboration, labels over time and submitters; and the contributions,
    opinions, retractions and expiries of one period.

    With `focus` (a member's report) labels and submitters count only submissions the member
    may see (its current groups), as the hub shows them to it, and the member's own
    submissions are followed."""

    def __init__(
        self,
        period: Period,
        focus: Viewer | None = None,
        viewer_of: Callable[[str], Viewer] | None = None,
    ) -> None:
        self.period = period
        self.focus = focus
        self.viewer_of = viewer_of
        """With `focus`: another member's groups, to decide which of its actions the focus
        may count (only those through a submission the focus sees)."""
        self.signals: dict[str, _Signal] = {}
        self.contributions: list[Contribution] = []
        self.opinions: dict[tuple[str, str], OpinionGiven] = {}
        """(signal, member) -> the member's latest opinion of it given in the period."""
        self.retractions: list[Withdrawal] = []
        self.expiries: list[Withdrawal] = []
        self.corroboration_ms: list[int] = []
        """Time from first submission to corroboration, of signals corroborated in the
        period."""
        self.last_sequence = 0
        self.unreadable: list[int] = []
        """Log entries the replay could not read (none in a store that passes audit verify)."""
        self._expiries: list[tuple[int, str, int, int]] = []
        """(expires_at ms, signal, sequence, index) of submissions with an expiry."""
        self._interned: dict[Any, Any] = {}
        """Label sets and tuples are few: one object each, however many signals carry them."""

    def _intern(self, value: Any) -> Any:
        return self._interned.setdefault(value, value)

    def replay(self, entries: Iterable[tuple[int, rec.LogEntry]]) -> History:
        for sequence, entry in entries:
            self.apply(sequence, entry)
        return self

    def apply(self, sequence: int, entry: rec.LogEntry) -> None:
        self.last_sequence = sequence
        which = entry.WhichOneof("command")
        ms = _ms(entry.received_at)
        try:
            if which == "submit":
                erased = (
                    {r.index: r for r in entry.redaction.signals}
                    if entry.HasField("redaction")
                    else None
                )
                self._submit(sequence, ms, entry.submit.envelope.payload,
                             entry.submit.envelope.key_id, erased)  # fmt: skip
            elif which == "set_opinion":
                self._opinion(ms, entry.set_opinion.envelope.payload)
            elif which == "retract":
                self._retract(ms, entry.retract.envelope.payload)
            elif which == "expire_tick":
                self._expire(ms)
            elif which == "revoke_key" and entry.revoke_key.HasField("compromised_since"):
                command = entry.revoke_key
                since = _ms(command.compromised_since)
                self._withdraw_where(
                    ms, command.member_id,
                    lambda s: s.key_id == command.key_id and s.ms >= since,
                )  # fmt: skip
            elif which == "remove_member" and entry.remove_member.submissions in (
                admin_pb2.OFFBOARD_SUBMISSIONS_RETRACT,
                admin_pb2.OFFBOARD_SUBMISSIONS_ERASE,
            ):
                self._withdraw_where(ms, entry.remove_member.member_id, lambda _: True)
            elif which == "erase_signal":
                record = self.signals.get(entry.erase_signal.signal_id)
                for member in sorted({s.member for s in record.live} if record else ()):
                    self._withdraw_where(ms, member, lambda _: True,
                                         [entry.erase_signal.signal_id])  # fmt: skip
        except (HubError, DecodeError):
            self.unreadable.append(sequence)

    # a submission batch: each distinct signal of it is one submission (as apply stores it)
    def _submit(
        self,
        sequence: int,
        ms: int,
        payload: bytes,
        key_id: str = "",
        erased: dict[int, rec.RedactedSignal] | None = None,
    ) -> None:
        batch = parse_batch(payload)
        audience = tuple(sorted(set(batch.audience)))
        member = batch.member_id
        focus = self.focus.member_id if self.focus is not None else None
        visible = self.focus is None or self.focus.sees(member, audience)
        seen: set[str] = set()
        for index, signal in enumerate(canonical_batch(batch, erased)):
            sid = signal.signal_id
            if sid in seen:
                continue
            seen.add(sid)
            record = self.signals.get(sid)
            first_ever = record is None
            if record is None:
                record = self.signals[sid] = _Signal(self._intern(signal.type), ms)
            labels: tuple[str, ...] = self._intern(signal.labels)
            corroborates = any(s.member != member for s in record.live)
            record.live.append(_Sub(sequence, index, member, labels, visible, key_id, ms, audience))
            if signal.expires_at_ms:
                heapq.heappush(self._expiries, (signal.expires_at_ms, sid, sequence, index))
            if record.corroborated_ms < 0 and corroborates:
                record.corroborated_ms = ms
                if self.period.contains(ms):
                    self.corroboration_ms.append(ms - record.first_ms)
            new = first_ever if focus is None else visible and not record.submitters
            if visible and record.first_by(member) is None:
                record.submitters.append((member, ms))
            self._relabel(record, ms)
            if member == focus:
                if record.own is None:
                    record.own = _Own(value=signal.value)
                record.own.labels.update(labels)
                record.own.audiences.add(audience)
                self._own(record, ms)
            if self._counts(ms, member):
                self.contributions.append(Contribution(ms, sid, record.type, member, labels, new))

    def shares(self, member: str, record: _Signal) -> bool:
        """With `focus`: whether `member` sees a submission of the signal the focus sees —
        one of the focus's own, or a live one visible to it. An action of a member who saw
        the signal only through submissions the focus may not see is as if it never was."""
        if self.focus is None or self.viewer_of is None or member == self.focus.member_id:
            return True
        other = self.viewer_of(member)
        focus = self.focus.member_id
        if record.own is not None and any(other.sees(focus, a) for a in record.own.audiences):
            return True
        return any(s.visible and other.sees(s.member, s.audience) for s in record.live)

    def _relabel(self, record: _Signal, ms: int) -> None:
        labels = frozenset(x for s in record.live if s.visible for x in s.labels)
        if not record.labels or record.labels[-1][1] != labels:
            labels = self._intern(labels)
            if record.labels and record.labels[-1][0] == ms:
                record.labels[-1] = (ms, labels)
            else:
                record.labels.append((ms, labels))

    def _own(self, record: _Signal, ms: int) -> None:
        if self.focus is None or record.own is None:
            return
        live = any(s.member == self.focus.member_id for s in record.live)
        own = record.own
        if not own.live or own.live[-1] != live:
            own.times.append(ms)
            own.live.append(live)

    def _opinion(self, ms: int, payload: bytes) -> None:
        change = common_pb2.OpinionChange.FromString(payload)
        record = self.signals.get(change.signal_id)
        if record is None or not self.period.contains(ms):
            return
        own = record.own_live_between(ms, ms + 1) and self.shares(change.member_id, record)
        self.opinions[(change.signal_id, change.member_id)] = OpinionGiven(
            ms, change.signal_id, change.member_id, int(change.opinion), record.labels_at(ms), own
        )

    def _retract(self, ms: int, payload: bytes) -> None:
        retraction = common_pb2.Retraction.FromString(payload)
        self._withdraw_where(ms, retraction.member_id, lambda _: True, retraction.signal_ids)

    def _withdraw_where(
        self,
        ms: int,
        member: str,
        chosen: Callable[[_Sub], bool],
        signal_ids: Iterable[str] | None = None,
    ) -> None:
        """A member's submissions withdrawn (its retraction, a compromised key's, an
        offboarding or an erasure): of `signal_ids`, or of every signal."""
        ids = list(self.signals) if signal_ids is None else list(dict.fromkeys(signal_ids))
        for sid in ids:
            record = self.signals.get(sid)
            if record is None:
                continue
            kept = [s for s in record.live if s.member != member or not chosen(s)]
            withdrawn = len(record.live) - len(kept)
            if not withdrawn:
                continue
            record.live = kept
            self._after_removal(record, ms)
            if self._counts(ms, member):
                # Removed as the focus sees it: a submission it may not see that keeps the
                # signal stored must not show (as RetractSubmission answers).
                gone = not any(s.visible for s in kept)
                self.retractions.append(Withdrawal(ms, sid, member, withdrawn, gone))

    def _expire(self, ms: int) -> None:
        due: dict[str, set[tuple[int, int]]] = defaultdict(set)
        while self._expiries and self._expiries[0][0] <= ms:
            _, sid, sequence, index = heapq.heappop(self._expiries)
            due[sid].add((sequence, index))
        for sid in sorted(due):
            record = self.signals[sid]
            expired = [s for s in record.live if (s.sequence, s.index) in due[sid]]
            if not expired:  # retracted before it expired
                continue
            record.live = [s for s in record.live if (s.sequence, s.index) not in due[sid]]
            by_member: dict[str, int] = defaultdict(int)
            for sub in expired:
                by_member[sub.member] += 1
            self._after_removal(record, ms)
            for member, n in sorted(by_member.items()):
                if self._counts(ms, member):
                    self.expiries.append(Withdrawal(ms, sid, member, n, not record.live))

    def _counts(self, ms: int, member: str) -> bool:
        """Does something done at `ms` by `member` count in this report?"""
        in_focus = self.focus is None or member == self.focus.member_id
        return in_focus and self.period.contains(ms)

    def _after_removal(self, record: _Signal, ms: int) -> None:
        self._relabel(record, ms)
        self._own(record, ms)


# --- suppression ----------------------------------------------------------------------------------
SHOWN, PRIMARY, SECONDARY = "shown", "primary", "secondary"


class Cell:
    """One count of the coalition report. `state`: shown; primary (below the threshold k,
    shown as "<k"); secondary (k or more, suppressed so that no primary cell can be worked
    out from a sum: shown as "suppressed")."""

    __slots__ = ("state", "value")

    def __init__(self, value: int) -> None:
        if value < 0:
            raise ValueError(f"a count is never negative ({value})")
        self.value = value
        self.state = SHOWN

    def __repr__(self) -> str:
        return f"Cell({self.value}, {self.state})"

    def public(self, k: int) -> int | str:
        if self.state == SHOWN:
            return self.value
        if self.state == PRIMARY:
            return f"<{k}"
        return "suppressed"


@dataclass(frozen=True)
class Relation:
    """total = sum(parts) (exact: a column of a table and its total) or total <= sum(parts)
    (a cover: a signal with two labels counts under both)."""

    total: Cell
    parts: tuple[Cell, ...]
    exact: bool


class Sheet:
    """The sums that tie a report's cells together, and their protection.

    `protect` suppresses every cell below k (primary), then applies the usual complementary
    rule to every sum whose total is shown: its suppressed cells must be two or more and add
    up to k or more, else its smallest shown cells are suppressed too (secondary), so that
    no suppressed cell is the total minus the shown ones. A cover (labels: a signal with two
    labels counts under both, so the cells add up to at least the total) only gives a lower
    bound of its suppressed cells' sum: one suppressed cell alone is not allowed while the
    total exceeds the shown cells. Totals are never suppressed for their parts' sake."""

    def __init__(self, k: int) -> None:
        if k < 1:
            raise ValueError("the threshold is at least 1")
        self.k = k
        self.relations: list[Relation] = []

    def sums(self, total: Cell, parts: Sequence[Cell], exact: bool = True) -> None:
        if parts:
            self.relations.append(Relation(total, tuple(parts), exact))

    def protect(self, cells: Iterable[Cell]) -> None:
        for cell in cells:
            if cell.state == SHOWN and cell.value < self.k:
                cell.state = PRIMARY
        changed = True
        while changed:
            changed = False
            for relation in self.relations:
                while not self.safe(relation):
                    shown = [c for c in relation.parts if c.state == SHOWN]
                    if not shown:
                        break
                    min(shown, key=lambda c: c.value).state = SECONDARY
                    changed = True

    def safe(self, relation: Relation) -> bool:
        """Does the sum keep its suppressed cells from being worked out?"""
        if relation.total.state != SHOWN:
            return True
        hidden = [c for c in relation.parts if c.state != SHOWN]
        if not hidden:
            return True
        if relation.exact:
            return len(hidden) >= 2 and sum(c.value for c in hidden) >= self.k
        shown = sum(c.value for c in relation.parts if c.state == SHOWN)
        return len(hidden) >= 2 or relation.total.value <= shown


class Derived:
    """A value computed from cells: shown only when all of them are."""

    def __init__(self, inputs: Sequence[Cell], compute: Callable[[], Any]) -> None:
        self.inputs = tuple(inputs)
        self.compute = compute

    def public(self) -> Any:
        if all(c.state == SHOWN for c in self.inputs):
            return self.compute()
        return "suppressed"


def _cells(tree: Any) -> Iterator[Cell]:
    if isinstance(tree, Cell):
        yield tree
    elif isinstance(tree, dict):
        for value in tree.values():
            yield from _cells(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _cells(value)


def resolve(tree: Any, k: int, public: bool = True) -> Any:
    """The tree with each cell's public value (or, `public=False`, its true value: for tests
    and the operator's own checks, never written to a coalition report)."""
    if isinstance(tree, Cell):
        return tree.public(k) if public else tree.value
    if isinstance(tree, Derived):
        return tree.public() if public else tree.compute()
    if isinstance(tree, dict):
        return {key: resolve(value, k, public) for key, value in tree.items()}
    if isinstance(tree, list):
        return [resolve(value, k, public) for value in tree]
    return tree


# --- the coalition report -------------------------------------------------------------------------
def percentile_bucket(counts: Sequence[int], q: float) -> dict[str, int | None]:
    """The latency bucket holding the q-quantile (nearest rank) of a histogram over
    usage.PROPAGATION_MS: {"from_ms": lower bound (excluded), "to_ms": upper bound (included;
    None for the last, unbounded bucket)}."""
    total = sum(counts)
    rank = max(1, math.ceil(q * total))
    running = 0
    for i, n in enumerate(counts):
        running += n
        if running >= rank:
            lower = usage.PROPAGATION_MS[i - 1] if i else 0
            upper = usage.PROPAGATION_MS[i] if i < len(usage.PROPAGATION_MS) else None
            return {"from_ms": lower, "to_ms": upper}
    raise ValueError("an empty histogram has no percentile")


NONE = frozenset({NO_LABEL})


class _MatchRow(NamedTuple):
    """One usage count of matches, with what the report groups it by."""

    day: int
    signal_id: str
    type: str
    labels: frozenset[str]
    """The signal's labels on that day ({NO_LABEL} when it had none)."""
    other: bool
    """The querying member had not submitted the signal by the end of that day."""
    matches: int


def _counts_by(items: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for key, value in items:
        out[key].add(value)
    return out


def coalition_tree(
    history: History, used: Usage, buckets: Buckets, k: int = DEFAULT_MIN_COUNT
) -> tuple[Json, Sheet]:
    """The coalition report as a tree of cells (true values), and its protected sheet."""
    period = history.period
    sheet = Sheet(k)
    cells: list[Cell] = []

    def cell(value: int) -> Cell:
        c = Cell(value)
        cells.append(c)
        return c

    types = sorted(domain.SIGNAL_TYPES)
    labels = [*sorted(domain.LABELS), NO_LABEL]
    contribs = history.contributions

    def label_keys(xs: Iterable[str]) -> list[str]:
        found = sorted(set(xs))
        return found or [NO_LABEL]

    # contributions
    signals = {c.signal_id for c in contribs}
    new = {c.signal_id for c in contribs if c.new}
    sig_type = {c.signal_id: c.type for c in contribs}
    by_label_signals = _counts_by(
        (label, sid) for sid, labs in _union_labels(contribs).items() for label in label_keys(labs)
    )
    sub_labels: dict[str, int] = defaultdict(int)
    for c in contribs:
        for label in label_keys(c.labels):
            sub_labels[label] += 1
    # matches: each (day, signal, member) count, with the signal's labels and type
    match_rows: list[_MatchRow] = []
    for m in used.matches:
        record = history.signals.get(m.signal_id)
        end = (m.day + 1) * DAY_MS
        if record is None:
            kind, labs, other = UNKNOWN, frozenset({UNKNOWN}), True
        else:
            kind, labs = record.type, record.labels_at(end - 1)
            first = record.first_by(m.member_id)
            other = first is None or first >= end
        match_rows.append(_MatchRow(m.day, m.signal_id, kind, labs or NONE, other, m.count))
    if any(r.type == UNKNOWN for r in match_rows):
        types.append(UNKNOWN)
        labels.append(UNKNOWN)

    total_signals, total_new = cell(len(signals)), cell(len(new))
    total_subs = cell(len(contribs))
    members = cell(len({c.member for c in contribs}))

    matches_total = cell(sum(r.matches for r in match_rows))
    matches_other = cell(sum(r.matches for r in match_rows if r.other))
    matched_signals = cell(len({r.signal_id for r in match_rows}))
    queries = [q for q in used.queries if q.queries]
    queries_total = cell(sum(q.queries for q in queries))
    queries_matched = cell(sum(q.matched for q in queries))
    querying = cell(len({q.member_id for q in queries}))

    # opinions: each member's latest opinion of each signal given in the period
    held = [o for o in history.opinions.values() if o.opinion]
    kinds = {
        "true_positive": common_pb2.OPINION_TRUE_POSITIVE,
        "false_positive": common_pb2.OPINION_FALSE_POSITIVE,
        "disputed": common_pb2.OPINION_DISPUTED,
    }
    opinion_cells = {
        name: cell(sum(1 for o in held if o.opinion == v)) for name, v in kinds.items()
    }

    corroborated = cell(len(history.corroboration_ms))
    retracted = cell(len(history.retractions))
    retract_removed = cell(sum(1 for w in history.retractions if w.removed))
    expired = cell(sum(w.submissions for w in history.expiries))
    expire_removed = cell(len({(w.ms, w.signal_id) for w in history.expiries if w.removed}))

    # by type
    type_rows: list[Json] = []
    columns: dict[str, list[Cell]] = defaultdict(list)
    for kind in types:
        ids = {s for s in signals if sig_type[s] == kind}
        row: Json = {
            "type": kind,
            "signals": cell(len(ids)),
            "new_signals": cell(len(ids & new)),
            "submissions": cell(sum(1 for c in contribs if c.type == kind)),
            "matches": cell(sum(r.matches for r in match_rows if r.type == kind)),
            "signals_matched": cell(len({r.signal_id for r in match_rows if r.type == kind})),
        }
        for name in ("signals", "new_signals", "submissions", "matches", "signals_matched"):
            columns[name].append(row[name])
        type_rows.append(row)
    totals = {
        "signals": total_signals,
        "new_signals": total_new,
        "submissions": total_subs,
        "matches": matches_total,
        "signals_matched": matched_signals,
    }
    for name, parts in columns.items():
        sheet.sums(totals[name], parts)

    # by label
    label_rows: list[Json] = []
    columns = defaultdict(list)
    for label in labels:
        ids = by_label_signals.get(label, set())
        mrows = [r for r in match_rows if label in r.labels]
        ops = [o for o in held if label in (o.labels or {NO_LABEL})]
        row = {
            "label": label,
            "signals": cell(len(ids)),
            "new_signals": cell(len(ids & new)),
            "submissions": cell(sub_labels.get(label, 0)),
            "matches": cell(sum(r.matches for r in mrows)),
            "signals_matched": cell(len({r.signal_id for r in mrows})),
            **{name: cell(sum(1 for o in ops if o.opinion == v)) for name, v in kinds.items()},
        }
        row["false_positive_share"] = _share_of(row["false_positive"], row["true_positive"])
        for name in ("signals", "new_signals", "submissions", "matches", "signals_matched"):
            columns[name].append(row[name])
        for name in kinds:
            columns[name].append(row[name])
        label_rows.append(row)
    totals.update(opinion_cells)
    for name, parts in columns.items():
        sheet.sums(totals[name], parts, exact=False)

    # trend
    trend_rows: list[Json] = []
    per_bucket: dict[str, list[Any]] = {
        "signals": [set() for _ in buckets.ranges],
        "new_signals": [set() for _ in buckets.ranges],
        "submissions": [0] * len(buckets.ranges),
        "matches": [0] * len(buckets.ranges),
        "queries": [0] * len(buckets.ranges),
    }
    for c in contribs:
        b = buckets.of_ms(c.ms)
        per_bucket["signals"][b].add(c.signal_id)
        if c.new:
            per_bucket["new_signals"][b].add(c.signal_id)
        per_bucket["submissions"][b] += 1
    for r in match_rows:
        per_bucket["matches"][buckets.of_day(r.day)] += r.matches
    for q in queries:
        per_bucket["queries"][buckets.of_day(q.day)] += q.queries
    columns = defaultdict(list)
    for b, (bucket_first, bucket_last) in enumerate(buckets.ranges):
        row = {"start": bucket_first.isoformat(), "end": bucket_last.isoformat()}
        for name, values in per_bucket.items():
            value = values[b]
            row[name] = cell(len(value) if isinstance(value, set) else value)
            columns[name].append(row[name])
        trend_rows.append(row)
    totals["queries"] = queries_total
    for name, parts in columns.items():
        sheet.sums(totals[name], parts, exact=name != "signals")

    # propagation
    histogram = [0] * (len(usage.PROPAGATION_MS) + 1)
    for counts in used.propagation.values():
        for i, n in enumerate(counts):
            histogram[i] += n
    deliveries = cell(sum(histogram))
    bucket_cells = [cell(n) for n in histogram]
    sheet.sums(deliveries, bucket_cells)
    propagation_rows: list[Json] = [
        {
            "from_ms": usage.PROPAGATION_MS[i - 1] if i else 0,
            "to_ms": usage.PROPAGATION_MS[i] if i < len(usage.PROPAGATION_MS) else None,
            "deliveries": c,
        }
        for i, c in enumerate(bucket_cells)
    ]

    delays = sorted(history.corroboration_ms)
    summary: Json = {
        "contributions": {
            "signals": total_signals,
            "new_signals": total_new,
            "submissions": total_subs,
            "contributing_members": members,
        },
        "corroboration": {
            "corroborated_signals": corroborated,
            "median_hours_to_corroboration": Derived(
                [corroborated],
                lambda: round(statistics.median(delays) / 3_600_000, 2) if delays else None,
            ),
        },
        "matches": {
            "queries": queries_total,
            "queries_with_match": queries_matched,
            "querying_members": querying,
            "matches": matches_total,
            "matches_of_signals_from_other_members": matches_other,
            "signals_matched": matched_signals,
        },
        "opinions": {
            **opinion_cells,
            "false_positive_share": _share_of(
                opinion_cells["false_positive"], opinion_cells["true_positive"]
            ),
        },
        "removals": {
            "retractions": retracted,
            "signals_removed_by_retraction": retract_removed,
            "expired_submissions": expired,
            "signals_removed_by_expiry": expire_removed,
        },
        "propagation": {
            "deliveries": deliveries,
            "p50": Derived([deliveries], lambda: percentile_bucket(histogram, 0.5)),
            "p99": Derived([deliveries], lambda: percentile_bucket(histogram, 0.99)),
        },
    }
    tree: Json = {
        "report": "signalhub coalition transparency report",
        "format_version": FORMAT_VERSION,
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "days": period.days,
        },
        "through_log_entry": history.last_sequence,
        "unreadable_log_entries": len(history.unreadable),
        "suppression": {"min_count": k, "below_threshold": f"<{k}", "secondary": "suppressed"},
        "trend_granularity": buckets.granularity,
        "summary": summary,
        "tables": {
            "by_type": type_rows,
            "by_label": label_rows,
            "trend": trend_rows,
            "propagation": propagation_rows,
        },
        "method": [{"title": t, "text": x.format(k=k)} for t, x in METHOD],
    }
    sheet.protect([*cells, *_cells(tree)])
    return tree, sheet


def _union_labels(contribs: Iterable[Contribution]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for c in contribs:
        out[c.signal_id].update(c.labels)
    return out


def _share_of(false: Cell, true: Cell) -> Derived:
    """false / (false + true), 4 decimals (None when both are 0); shown when both are."""
    return Derived(
        [false, true],
        lambda: (
            round(false.value / (false.value + true.value), 4) if false.value + true.value else None
        ),
    )


METHOD: tuple[tuple[str, str], ...] = (
    ("Source",
     "Every number comes from the hub's own records: its command log (every accepted "
     "submission, opinion, retraction and expiry, with the time the hub received it), replayed "
     "in memory, and its usage counts (matches, queries and feed-propagation times, kept per "
     "UTC day). The period is whole UTC days, both ends included."),
    ("Signals contributed",
     "A submission is one member's submission of one signal in one batch (a value repeated "
     "inside a batch counts once). 'Signals' counts distinct signals with at least one "
     "submission in the period; 'new signals' those whose first submission ever falls in the "
     "period; 'contributing members' the number of distinct members that submitted (never "
     "who). By label, a signal counts under every label its submissions in the period carry, "
     "'(none)' when they carry none, so label rows add up to more than the total."),
    ("Corroboration",
     "A signal is corroborated at the moment a second distinct member submits it while the "
     "first member's submission is still in force (what the hub reports as corroboration). "
     "Counted are signals corroborated in the period; the median time runs from the signal's "
     "first submission ever to that moment."),
    ("Matches",
     "Each query of a match call that found a signal counts one match of that signal (a "
     "query matching three signals counts three). Matches are counted per signal, per querying "
     "member and per day; a match stays counted when its signal is later removed. A match "
     "counts under the labels the signal carried at the end of that day, or, if it had been "
     "removed by then, the labels it carried last. 'From other members' counts matches by a "
     "member that had not submitted the signal by the end of that day. Queries count every "
     "query of every match call, matched or not."),
    ("Opinions",
     "For each member and signal the latest opinion given in the period counts once (a "
     "member changing its mind counts its last opinion; a cleared one counts nothing). By "
     "label, under the labels the signal carried when the opinion was given. The "
     "false-positive share is false positives divided by true plus false positives; "
     "disputed opinions (disagreement with the labels) are counted apart. No total of all "
     "opinions is given: with it, a rare kind of opinion would follow from the other two."),
    ("Retractions and expiries",
     "A retraction is one member withdrawing its submissions of one signal; a signal is "
     "removed when no submission is left. Expired submissions are counted when the hub's "
     "expiry check removed them, not at their expiry time (the check runs every minute by "
     "default)."),
    ("Propagation",
     "The time from the hub receiving a change to delivering it to a member following the "
     "feed, sampled once per message sent to a follower (its newest event), counted in fixed "
     "buckets (1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 2500, 5000, "
     "10000, 60000 ms and more). The p50 and p99 are estimated from these buckets: the report "
     "gives the bucket that holds them (nearest rank), not an exact time."),
    ("Suppression",
     "No member is named. Every count below {k} (zero included) is shown as '<{k}'. Where a "
     "column adds up to a shown total, its suppressed counts are at least two and together at "
     "least {k}: otherwise its smallest shown counts are suppressed as well, shown as "
     "'suppressed' (they are {k} or more), so that no count below {k} is the total minus the "
     "others. Shares, medians and percentiles computed from a suppressed count are "
     "'suppressed' too. A reader can still bound a suppressed count (never below 0, and at "
     "most what the total leaves), and differences between two different measures or between "
     "reports of overlapping periods are not protected."),
    ("Limits",
     "Usage counts are written every few seconds: a hub crash can lose the last seconds of "
     "them, never a submission. Match labels are resolved per day, not per moment."),
)  # fmt: skip


def coalition_report(
    store: Store,
    first: date,
    last: date,
    min_count: int = DEFAULT_MIN_COUNT,
    granularity: str = "auto",
) -> Json:
    """The coalition report of days first..last (UTC, inclusive), suppressed, as JSON data."""
    period = Period(first, last)
    buckets = Buckets.of(period, granularity)
    # Usage counts first: every signal they name is then in the log read after them, even
    # while the hub goes on writing.
    with read_view(store) as view:
        used = Usage.read(view, period)
    history = History(period).replay(log_entries(store))
    tree, sheet = coalition_tree(history, used, buckets, min_count)
    out: Json = resolve(tree, sheet.k)
    out["generated_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


# --- a member's own report ------------------------------------------------------------------------
def member_report(view: StoreView, member_id: str, first_day: date, last_day: date) -> Json:
    """A member's own contribution and use over days first_day..last_day (UTC, inclusive):
    its numbers unsuppressed, nothing about any other member but counts (how often its
    signals matched at others, others' opinions of its signals), and only what it may see
    (labels and corroboration from submissions visible to it)."""
    period = Period(first_day, last_day)
    viewer = Viewer.load(view, member_id)
    viewers: dict[str, Viewer] = {}

    def viewer_of(member: str) -> Viewer:
        if member not in viewers:
            viewers[member] = Viewer.load(view, member)
        return viewers[member]

    history = History(period, focus=viewer, viewer_of=viewer_of).replay(view_log_entries(view))
    used = Usage.read(view, period)
    contribs = history.contributions
    signals = {c.signal_id for c in contribs}
    types: dict[str, set[str]] = defaultdict(set)
    labels: dict[str, set[str]] = defaultdict(set)
    for c in contribs:
        types[c.type].add(c.signal_id)
        for label in c.labels or (NO_LABEL,):
            labels[label].add(c.signal_id)
    corroborated = sum(
        1
        for sid in signals
        if any(m != member_id and t < period.end_ms for m, t in history.signals[sid].submitters)
    )

    # matches of its signals by other members
    def own_labels(record: _Signal) -> list[str]:
        return sorted(record.own.labels if record.own else ()) or [NO_LABEL]

    by_others = _MatchTally()
    mine = _MatchTally()
    for m in used.matches:
        record = history.signals.get(m.signal_id)
        day_start = m.day * DAY_MS
        if m.member_id == member_id:
            labs = sorted(record.labels_at(day_start + DAY_MS - 1)) if record else []
            mine.add(m.day, m.signal_id, labs or [NO_LABEL], m.count)
        elif (
            record is not None
            and record.own_live_between(day_start, day_start + DAY_MS)
            and history.shares(m.member_id, record)
        ):
            by_others.add(m.day, m.signal_id, own_labels(record), m.count)
    own_queries = [q for q in used.queries if q.member_id == member_id]
    weeks: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for q in own_queries:
        week = weeks[week_start(q.day).isoformat()]
        week[0] += q.queries
        week[1] += q.matched

    # others' opinions of its signals
    opinion_names: dict[int, str] = {
        common_pb2.OPINION_TRUE_POSITIVE: "true_positive",
        common_pb2.OPINION_FALSE_POSITIVE: "false_positive",
        common_pb2.OPINION_DISPUTED: "disputed",
    }
    opinions: dict[str, int] = dict.fromkeys(opinion_names.values(), 0)
    opinions_by_label: dict[str, dict[str, int]] = {}
    by_signal: dict[str, dict[str, int]] = {}
    for o in history.opinions.values():
        if o.member == member_id or not o.own or o.opinion not in opinion_names:
            continue
        name = opinion_names[o.opinion]
        opinions[name] += 1
        for label in own_labels(history.signals[o.signal_id]):
            row = opinions_by_label.setdefault(label, dict.fromkeys(opinion_names.values(), 0))
            row[name] += 1
        by_signal.setdefault(o.signal_id, dict.fromkeys(opinion_names.values(), 0))[name] += 1
    disputed = sorted(
        (sid for sid, n in by_signal.items() if n["false_positive"] or n["disputed"]),
        key=lambda sid: (-by_signal[sid]["false_positive"] - by_signal[sid]["disputed"], sid),
    )

    return {
        "report": "signalhub member report",
        "format_version": FORMAT_VERSION,
        "member_id": member_id,
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "days": period.days,
        },
        "contributions": {
            "signals": len(signals),
            "new_signals": len({c.signal_id for c in contribs if c.new}),
            "submissions": len(contribs),
            "corroborated_by_others": corroborated,
            "by_type": {k: len(v) for k, v in sorted(types.items())},
            "by_label": {k: len(v) for k, v in sorted(labels.items())},
        },
        "matches_of_your_signals_by_others": by_others.summary(),
        "your_queries": {
            "queries": sum(q.queries for q in own_queries),
            "queries_with_match": sum(q.matched for q in own_queries),
            **mine.summary(),
            "queries_by_week": [
                {"week_start": w, "queries": n, "queries_with_match": hit}
                for w, (n, hit) in sorted(weeks.items())
            ],
        },
        "opinions_of_your_signals_by_others": {
            **opinions,
            "by_label": dict(sorted(opinions_by_label.items())),
        },
        "disputed_signals": [
            _disputed_row(sid, history.signals[sid], by_signal[sid]) for sid in disputed
        ],
        "removals": {
            "retractions": len(history.retractions),
            "signals_removed_by_retraction": sum(1 for w in history.retractions if w.removed),
            "expired_submissions": sum(w.submissions for w in history.expiries),
        },
        "method": [{"title": t, "text": x} for t, x in MEMBER_METHOD],
    }


def _disputed_row(signal_id: str, record: _Signal, counts: dict[str, int]) -> Json:
    own = record.own
    return {
        "signal_id": signal_id,
        "type": record.type,
        "value": own.value if own else "",
        "labels": sorted(own.labels) if own else [],
        **counts,
    }


class _MatchTally:
    def __init__(self) -> None:
        self.matches = 0
        self.signals: set[str] = set()
        self.labels: dict[str, list[Any]] = {}
        self.weeks: dict[str, list[Any]] = {}

    def add(self, day: int, sid: str, labels: Sequence[str], n: int) -> None:
        self.matches += n
        self.signals.add(sid)
        for label in labels:
            row = self.labels.setdefault(label, [0, set()])
            row[0] += n
            row[1].add(sid)
        week = self.weeks.setdefault(week_start(day).isoformat(), [0, set(), {}])
        week[0] += n
        week[1].add(sid)
        for label in labels:
            week[2][label] = week[2].get(label, 0) + n

    def summary(self) -> Json:
        return {
            "matches": self.matches,
            "signals_matched": len(self.signals),
            "by_label": {
                label: {"matches": n, "signals_matched": len(ids)}
                for label, (n, ids) in sorted(self.labels.items())
            },
            "by_week": [
                {"week_start": w, "matches": n, "signals_matched": len(ids),
                 "matches_by_label": dict(sorted(labs.items()))}
                for w, (n, ids, labs) in sorted(self.weeks.items())
            ],
        }  # fmt: skip


MEMBER_METHOD: tuple[tuple[str, str], ...] = (
    ("Your contributions",
     "Your submissions accepted in the period (one per signal per batch); 'new signals' are "
     "those nobody had submitted before as far as you may see; 'corroborated by others' "
     "counts your signals of the period that another member also submitted (by the end of "
     "the period) in a submission you may see. By label: the labels of your own submissions."),
    ("Matches of your signals",
     "Matches by other members (all of them together, never who) of signals you held a "
     "submission of on that day, per label (your labels) and per ISO week (from Monday)."),
    ("Your queries",
     "Your match calls' queries; a match is one query finding one signal, counted under the "
     "labels you could see on that day."),
    ("Opinions",
     "Other members' latest opinions in the period of signals you held a submission of "
     "when they gave them."),
    ("Disputed signals",
     "Your signals with at least one such opinion that is a false positive or disputed, "
     "most first: each with your labels and the count of each kind, never who gave them."),
)  # fmt: skip


# --- files ----------------------------------------------------------------------------------------
def table_rows(report: Json) -> dict[str, list[Json]]:
    """The report's tables, as written to CSV: one file each."""
    return {name: rows for name, rows in report["tables"].items()}


def summary_rows(report: Json) -> list[tuple[str, Any]]:
    """(metric, value) of the summary, dotted names (e.g. contributions.signals)."""
    out: list[tuple[str, Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            out.append((prefix, value))

    walk("", report["summary"])
    return out


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return _range_text(value)
    return str(value)


def write_csv(report: Json, out: Path) -> list[Path]:
    written = []
    path = out / "summary.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["metric", "value"])
        for metric, value in summary_rows(report):
            writer.writerow([metric, _csv_value(value)])
    written.append(path)
    for name, rows in table_rows(report).items():
        path = out / f"{name}.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            if rows:
                writer.writerow(list(rows[0]))
            for row in rows:
                writer.writerow([_csv_value(v) for v in row.values()])
        written.append(path)
    return written


def write_report(report: Json, out: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Writes report.json, the CSV files and report.html into `out`; returns their paths."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {unknown[0]!r}; formats are {', '.join(FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if "json" in formats:
        path = out / "report.json"
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    if "csv" in formats:
        written.extend(write_csv(report, out))
    if "html" in formats:
        path = out / "report.html"
        path.write_text(render_html(report), encoding="utf-8")
        written.append(path)
    return written


# --- HTML -----------------------------------------------------------------------------------------
def _range_text(value: Any) -> str:
    if isinstance(value, dict):
        if value.get("to_ms") is None:
            return f"> {value['from_ms']:,} ms"
        return f"{value['from_ms']:,}\u2013{value['to_ms']:,} ms"
    return str(value)


def _fmt(value: Any, kind: str = "count") -> str:
    if value is None:
        return "\u2013"
    if isinstance(value, str):
        return value.replace("<", "< ")
    if kind == "share":
        return f"{value * 100:.1f} %"
    if kind == "hours":
        return f"{value:,.1f} h"
    if isinstance(value, dict):
        return _range_text(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


_CSS = """
:root { --ink: #1d2430; --muted: #5b6472; --line: #d5dae1; --accent: #1f5fa8; --soft: #f3f5f8; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial,
       sans-serif; color: var(--ink); margin: 0; line-height: 1.45; background: #fff; }
main { max-width: 980px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 34px 0 10px; border-bottom: 2px solid var(--accent);
     padding-bottom: 4px; }
p.lead { color: var(--muted); margin: 0 0 18px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px; }
.card { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
        padding: 10px 12px; }
.card .v { font-size: 1.45rem; font-weight: 650; }
.card .k { color: var(--muted); font-size: .85rem; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; margin: 8px 0 4px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: right; }
td { white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: var(--soft); font-weight: 600; }
tr.sub td { color: var(--muted); }
figure { margin: 10px 0 16px; }
figure img { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: .82rem; }
.method dt { font-weight: 600; margin-top: 8px; }
.method dd { margin: 2px 0 0 0; }
.note { font-size: .85rem; color: var(--muted); }
@page { size: A4; margin: 16mm 14mm; }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  figure, table, .card { break-inside: avoid; }
  .cards { grid-template-columns: repeat(3, 1fr); }
}
"""


def render_html(report: Json) -> str:
    """One self-contained HTML page: inline CSS, charts as inline SVG data (no external
    resource of any kind)."""
    e = html.escape
    s = report["summary"]
    period = report["period"]
    k = report["suppression"]["min_count"]
    charts = render_charts(report)
    parts: list[str] = []
    add = parts.append
    add("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>")
    add("<meta name='viewport' content='width=device-width, initial-scale=1'>")
    add(f"<title>Signal sharing transparency report {e(period['from'])} to "
        f"{e(period['to'])}</title><style>{_CSS}</style></head><body><main>")  # fmt: skip
    add("<h1>Signal sharing transparency report</h1>")
    add(f"<p class='lead'>{e(period['from'])} to {e(period['to'])} (UTC, {period['days']} "
        f"days) · generated {e(report.get('generated_at', ''))} from the hub's records "
        f"through log entry {report['through_log_entry']:,} · counts below {k} are shown as "
        f"“&lt; {k}” and no member is named.</p>")  # fmt: skip
    c, m, o, p = s["contributions"], s["matches"], s["opinions"], s["propagation"]
    cards = [
        ("signals contributed", _fmt(c["signals"])),
        ("new signals", _fmt(c["new_signals"])),
        ("contributing members", _fmt(c["contributing_members"])),
        ("corroborated signals", _fmt(s["corroboration"]["corroborated_signals"])),
        ("median time to corroboration",
         _fmt(s["corroboration"]["median_hours_to_corroboration"], "hours")),
        ("matches answered", _fmt(m["matches"])),
        ("… of signals from other members", _fmt(m["matches_of_signals_from_other_members"])),
        ("false-positive share of opinions", _fmt(o["false_positive_share"], "share")),
        ("propagation p50 (bucket)", _fmt(p["p50"])),
        ("propagation p99 (bucket)", _fmt(p["p99"])),
    ]  # fmt: skip
    add("<section class='cards'>")
    for label, value in cards:
        add(f"<div class='card'><div class='v'>{e(value)}</div><div class='k'>{e(label)}</div>"
            "</div>")  # fmt: skip
    add("</section>")

    granularity = "week" if report["trend_granularity"] == "week" else "day"
    add(f"<h2>Trend by {granularity}</h2>")
    add(_figure(charts["trend"], f"Signals contributed and matches answered per {granularity}", k))
    add(_table(report["tables"]["trend"],
               [("start", "from"), ("end", "to"), ("new_signals", "new signals"),
                ("signals", "signals"), ("submissions", "submissions"),
                ("matches", "matches"), ("queries", "queries")]))  # fmt: skip

    add("<h2>By label</h2>")
    add(_figure(charts["label"], "Signals contributed and matches answered, by label", k))
    add(_table(report["tables"]["by_label"],
               [("label", "label"), ("signals", "signals"), ("new_signals", "new"),
                ("submissions", "submissions"), ("matches", "matches"),
                ("signals_matched", "signals matched"), ("true_positive", "true pos."),
                ("false_positive", "false pos."), ("disputed", "disputed"),
                ("false_positive_share", "false-pos. share")]))  # fmt: skip

    add("<h2>By signal type</h2>")
    add(_figure(charts["type"], "Signals contributed and matches answered, by signal type", k))
    add(_table(report["tables"]["by_type"],
               [("type", "type"), ("signals", "signals"), ("new_signals", "new"),
                ("submissions", "submissions"), ("matches", "matches"),
                ("signals_matched", "signals matched")]))  # fmt: skip

    add("<h2>Contributions, corroboration, use and removals</h2>")
    add(_key_values([
        ("Signals contributed", c["signals"], ""), ("New signals", c["new_signals"], ""),
        ("Submissions", c["submissions"], ""),
        ("Contributing members", c["contributing_members"], ""),
        ("Corroborated signals", s["corroboration"]["corroborated_signals"], ""),
        ("Median time from first submission to corroboration",
         s["corroboration"]["median_hours_to_corroboration"], "hours"),
        ("Queries", m["queries"], ""), ("Queries with a match", m["queries_with_match"], ""),
        ("Querying members", m["querying_members"], ""), ("Matches answered", m["matches"], ""),
        ("Matches of signals from other members", m["matches_of_signals_from_other_members"],
         ""),
        ("Distinct signals matched", m["signals_matched"], ""),
        ("Opinions: true positive", o["true_positive"], ""),
        ("Opinions: false positive", o["false_positive"], ""),
        ("Opinions: disputed", o["disputed"], ""),
        ("False-positive share", o["false_positive_share"], "share"),
        ("Retractions", s["removals"]["retractions"], ""),
        ("Signals removed by retraction", s["removals"]["signals_removed_by_retraction"], ""),
        ("Expired submissions", s["removals"]["expired_submissions"], ""),
        ("Signals removed by expiry", s["removals"]["signals_removed_by_expiry"], ""),
    ]))  # fmt: skip

    add("<h2>Propagation to following members</h2>")
    add(f"<p>{e(_fmt(p['deliveries']))} deliveries; p50 in {e(_fmt(p['p50']))}, p99 in "
        f"{e(_fmt(p['p99']))} (estimated from latency buckets).</p>")  # fmt: skip
    add(_figure(charts["propagation"], "Deliveries per latency bucket", k))
    rows = [
        {"bucket": _range_text(r), "deliveries": r["deliveries"]}
        for r in report["tables"]["propagation"]
    ]
    add(_table(rows, [("bucket", "latency"), ("deliveries", "deliveries")]))

    add("<h2>Method</h2><dl class='method'>")
    for item in report["method"]:
        add(f"<dt>{e(item['title'])}</dt><dd>{e(item['text'])}</dd>")
    add(
        "</dl><p class='note'>The same numbers are in report.json and the CSV files "
        "(summary.csv, by_type.csv, by_label.csv, trend.csv, propagation.csv).</p>"
    )
    add("</main></body></html>\n")
    return "".join(parts)


def _figure(uri: str, caption: str, k: int) -> str:
    e = html.escape
    return (f"<figure><img src='{uri}' alt='{e(caption)}'><figcaption>{e(caption)}. A hatched "
            f"bar is a count below {k} (drawn up to {k}); “s” marks a suppressed count."
            "</figcaption></figure>")  # fmt: skip


def _table(rows: Sequence[Json], columns: Sequence[tuple[str, str]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(title)}</th>" for _, title in columns)
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            kind = "share" if key.endswith("_share") else "count"
            cells.append(f"<td>{e(_fmt(row[key], kind))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _key_values(rows: Sequence[tuple[str, Any, str]]) -> str:
    e = html.escape
    body = "".join(
        f"<tr><td>{e(name)}</td><td>{e(_fmt(value, kind or 'count'))}</td></tr>"
        for name, value, kind in rows
    )
    return f"<table><tbody>{body}</tbody></table>"


# --- charts ---------------------------------------------------------------------------------------
def render_charts(report: Json) -> dict[str, str]:
    """The report's charts as data: URIs of SVG images, drawn with matplotlib (Agg, no
    display) from the report's public values only: a suppressed count is a hatched bar up to
    the threshold ("<k") or a mark at the axis ("suppressed"), never its value."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    k = report["suppression"]["min_count"]
    tables = report["tables"]
    style: Any = {
        "svg.hashsalt": "signalhub-report",
        "svg.fonttype": "path",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    out: dict[str, str] = {}
    with matplotlib.rc_context(style):
        fig = Figure(figsize=(9, 5.2), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True)
        trend = tables["trend"]
        names = [r["start"][5:] if report["trend_granularity"] == "day" else r["start"]
                 for r in trend]  # fmt: skip
        contributed = [
            ("new signals", [r["new_signals"] for r in trend], "#1f5fa8"),
            ("submissions", [r["submissions"] for r in trend], "#8fb3de"),
        ]
        _bars(top, names, contributed, k)
        top.set_title("Signals contributed", loc="left")
        _bars(bottom, names, [("matches", [r["matches"] for r in trend], "#c2571a")], k)
        bottom.set_title("Matches answered", loc="left")
        if len(names) > 12:
            bottom.tick_params(axis="x", labelrotation=60)
        out["trend"] = _svg(fig)

        for name, key, rows in (("label", "label", tables["by_label"]),
                                ("type", "type", tables["by_type"])):  # fmt: skip
            fig = Figure(figsize=(9, 3.6 if name == "label" else 4.2), layout="constrained")
            left, right = fig.subplots(1, 2, sharey=True)
            categories = [r[key] for r in rows]
            _bars(left, categories, [("signals", [r["signals"] for r in rows], "#1f5fa8")], k,
                  horizontal=True)  # fmt: skip
            left.set_title("Signals contributed", loc="left")
            _bars(right, categories, [("matches", [r["matches"] for r in rows], "#c2571a")], k,
                  horizontal=True)  # fmt: skip
            right.set_title("Matches answered", loc="left")
            left.invert_yaxis()
            out[name] = _svg(fig)

        fig = Figure(figsize=(9, 2.8), layout="constrained")
        ax = fig.subplots()
        rows = tables["propagation"]
        names = [f"≤{r['to_ms']}" if r["to_ms"] is not None else f">{r['from_ms']}"
                 for r in rows]  # fmt: skip
        _bars(ax, names, [("deliveries", [r["deliveries"] for r in rows], "#3c8d5a")], k)
        ax.set_xlabel("latency (ms)")
        out["propagation"] = _svg(fig)
    return out


def _bars(
    ax: Any,
    names: Sequence[str],
    series: Sequence[tuple[str, Sequence[Any], str]],
    k: int,
    horizontal: bool = False,
) -> None:
    width = 0.8 / len(series)
    positions = range(len(names))
    for n, (label, values, colour) in enumerate(series):
        offset = (n - (len(series) - 1) / 2) * width
        at = [p + offset for p in positions]
        shown = [v if isinstance(v, int) else 0 for v in values]
        masked = [k if v == f"<{k}" else 0 for v in values]
        draw = ax.barh if horizontal else ax.bar
        draw(at, shown, width, label=label, color=colour)
        draw(at, masked, width, color="white", edgecolor=colour, hatch="////", linewidth=0.6)
        for x, v in zip(at, values, strict=True):
            if v == "suppressed":
                if horizontal:
                    ax.text(0, x, " s", va="center", fontsize=7, color="#5b6472")
                else:
                    ax.text(x, 0, "s", ha="center", va="bottom", fontsize=7, color="#5b6472")
    if horizontal:
        ax.set_yticks(list(positions), list(names))
    else:
        ax.set_xticks(list(positions), list(names))
    if len(series) > 1:
        ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="x" if horizontal else "y", color="#e3e6ea", linewidth=0.6)
    ax.set_axisbelow(True)


def _svg(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = re.sub(rb"<!DOCTYPE[^>]*>\s*", b"", buffer.getvalue())  # names a DTD by URL: drop it
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
