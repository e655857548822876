"""Extraction limits (docs/match-only.md): a match-only list may be matched against but not
downloaded, so what is left to an extracting member is asking. Two limits bound that:

- a **match budget**: at most `match_budget_per_day` queries (hashes asked in MatchHashes, and
  GetSignal lookups, which are exact-match lookups by id) per member per UTC day; a call that
  would go over it is refused RESOURCE_EXHAUSTED, with RetryInfo of the next UTC midnight,
  before any work, so nothing is answered, counted or stored for it;
- a **sweep detector**: a member whose queries in the last hour matched nothing at least
  `sweep_misses_per_hour` times, and at least `sweep_min_miss_fraction` of its queries, is
  *sweeping* (enumeration looks like this: many guesses far from anything stored). It is
  counted (signalhub_match_sweeps_detected_total, signalhub_match_members_sweeping, the
  alert SignalhubMatchSweep) and, with `sweep_throttle`, refused RESOURCE_EXHAUSTED for
  `sweep_cooldown_seconds`. A miss is a query with nothing the member may see in its answer,
  so the detector moves exactly alike whether a hidden signal was near or nothing was: its
  state never tells the member about signals it may not see.

The counts are kept per node, in memory (a cluster of N nodes grants up to N x the budget),
each member's day seeded, when first counted, from the match queries the node's usage
statistics stored for it that day (`exchange.usage`, written every few seconds and at
shutdown), so a restart forgets at most those few seconds. They are a brake on extraction,
not an audit record (the usage statistics are). Memory is bounded: per member one day counter
and WINDOW_BUCKETS minute buckets, for at most MAX_MEMBERS members (least recently seen
dropped first; only registered members call, so the bound is reached only by a hub with that
many members active at once). The operator is never limited.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import grpc

from .errors import HubError
from .store import Store

DAY_SECONDS = 86_400
BUCKET_SECONDS = 60
WINDOW_BUCKETS = 60
"""The sweep detector's window: the last hour, in one-minute buckets."""
BUDGET_REFUSAL = "match budget"
SWEEP_REFUSAL = "match queries paused"
"""How the two refusals begin (`refusal_reason` tells them apart for the metric)."""
MAX_MEMBERS = 100_000
"""Members whose counts are kept at once (each costs about a kilobyte at most)."""


def refusal_reason(error: HubError) -> str:
    """The `reason` label of a refusal `ExtractionLimits.admit` raised: budget or sweep."""
    return "sweep" if error.message.startswith(SWEEP_REFUSAL) else "budget"


@dataclass(frozen=True)
class ExtractionSettings:
    """The limits in force (exchange.config: match_budget_per_day, sweep_*)."""

    match_budget_per_day: int = 1_000_000
    """Queries per member per UTC day (0 = unlimited)."""
    sweep_misses_per_hour: int = 100_000
    """Misses in the last hour that make a member sweeping (0 = no detector)."""
    sweep_min_miss_fraction: float = 0.99
    """...when they are also at least this share of its queries in that hour."""
    sweep_throttle: bool = False
    """Refuse a sweeping member's queries for `sweep_cooldown_seconds`."""
    sweep_cooldown_seconds: float = 3600.0

    @classmethod
    def of(cls, config: object) -> ExtractionSettings:
        """The settings of a server configuration (its fields of the same names)."""
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})


@dataclass
class _Member:
    """One member's counts: its queries on `day`, its last hour per minute, when it was last
    found sweeping (0: not in the window) and until when it is throttled."""

    day: int = -1
    queries_today: int = 0
    buckets: list[list[int]] = field(default_factory=list)  # [minute, queries, misses]
    sweeping_since: float = 0.0
    throttled_until: float = 0.0

    def window(self, minute: int) -> tuple[int, int]:
        """(queries, misses) in the last WINDOW_BUCKETS minutes up to `minute`."""
        first = minute - WINDOW_BUCKETS + 1
        queries = misses = 0
        for at, q, m in self.buckets:
            if at >= first:
                queries += q
                misses += m
        return queries, misses


@dataclass(frozen=True)
class MemberLimits:
    """What the node counts of one member now (GetMemberUsage)."""

    queries_today: int
    match_budget_per_day: int
    sweeping: bool
    misses_last_hour: int


class ExtractionLimits:
    """The match budget and sweep detector of one node; thread-safe (matches run in worker
    threads)."""

    def __init__(
        self,
        settings: ExtractionSettings | None = None,
        seed: Callable[[str, int], int] | None = None,
        max_members: int = MAX_MEMBERS,
    ) -> None:
        self.settings = settings or ExtractionSettings()
        self.max_members = max_members
        self._seed = seed
        """The member's queries already counted on a day (`stored_queries`), or none."""
        self._members: OrderedDict[str, _Member] = OrderedDict()
        self._lock = threading.Lock()
        self.sweeps_detected = 0
        """Times a member became sweeping (the metric's source)."""

    def _member(self, member_id: str, now: float) -> _Member:
        """The member's counts, made current for `now` (a new day starts at zero)."""
        found = self._members.get(member_id)
        if found is None:
            found = self._members[member_id] = _Member()
            while len(self._members) > self.max_members:
                self._members.popitem(last=False)  # the least recently seen
        else:
            self._members.move_to_end(member_id)
        day = int(now // DAY_SECONDS)
        if found.day != day:
            found.day, found.queries_today = day, self._seeded(member_id, day)
        return found

    def _seeded(self, member_id: str, day: int) -> int:
        return self._seed(member_id, day) if self._seed is not None else 0

    def admit(self, member_id: str, queries: int, now: float | None = None) -> None:
        """Charges `queries` to the member's day, or refuses the call (RESOURCE_EXHAUSTED with
        RetryInfo) while it is throttled as sweeping or when they would exceed its budget;
        a refused call is charged nothing."""
        at = time.time() if now is None else now
        budget = self.settings.match_budget_per_day
        with self._lock:
            member = self._member(member_id, at)
            if member.throttled_until > at:
                wait = member.throttled_until - at
                raise HubError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"{SWEEP_REFUSAL}: most of your queries in the last hour matched "
                    f"nothing (the hub's sweep detector); retry in {wait:.0f} s",
                    retry_after_seconds=wait,
                )
            if budget and member.queries_today + queries > budget:
                wait = (member.day + 1) * DAY_SECONDS - at
                left = max(0, budget - member.queries_today)
                raise HubError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"{BUDGET_REFUSAL}: {budget:,} queries a UTC day per member; {left:,} left "
                    f"today and this call asks {queries:,}; retry in {wait:.0f} s (after "
                    "00:00 UTC) or in smaller calls",
                    retry_after_seconds=wait,
                )
            member.queries_today += queries

    def record(self, member_id: str, queries: int, misses: int, now: float | None = None) -> bool:
        """Counts an answered call's queries and misses in the sweep window; returns True when
        the member has just become sweeping."""
        s = self.settings
        if not s.sweep_misses_per_hour or not queries:
            return False
        at = time.time() if now is None else now
        minute = int(at // BUCKET_SECONDS)
        with self._lock:
            member = self._member(member_id, at)
            buckets = member.buckets
            if buckets and buckets[-1][0] == minute:
                buckets[-1][1] += queries
                buckets[-1][2] += misses
            else:
                buckets.append([minute, queries, misses])
                first = minute - WINDOW_BUCKETS + 1
                while buckets[0][0] < first:
                    del buckets[0]
            asked, missed = member.window(minute)
            sweeping = missed >= s.sweep_misses_per_hour and (
                missed >= s.sweep_min_miss_fraction * asked
            )
            was = self._sweeping(member, at)
            if sweeping:
                member.sweeping_since = at
                if s.sweep_throttle:
                    member.throttled_until = at + s.sweep_cooldown_seconds
            if sweeping and not was:
                self.sweeps_detected += 1
                return True
            return False

    @staticmethod
    def _sweeping(member: _Member, at: float) -> bool:
        """Found sweeping within the last window (or still throttled for it)."""
        recent = member.sweeping_since and at - member.sweeping_since < (
            WINDOW_BUCKETS * BUCKET_SECONDS
        )
        return bool(recent) or member.throttled_until > at

    def sweeping_members(self, now: float | None = None) -> int:
        """How many members are sweeping now (the gauge, read at scrape time)."""
        at = time.time() if now is None else now
        with self._lock:
            return sum(1 for m in self._members.values() if self._sweeping(m, at))

    def of(self, member_id: str, now: float | None = None) -> MemberLimits:
        """The member's counts now, without touching them (a member never seen: zeros)."""
        at = time.time() if now is None else now
        with self._lock:
            member = self._members.get(member_id)
            day = int(at // DAY_SECONDS)
            if member is None:
                today = self._seeded(member_id, day)
                return MemberLimits(today, self.settings.match_budget_per_day, False, 0)
            today = member.queries_today if member.day == day else self._seeded(member_id, day)
            misses = member.window(int(at // BUCKET_SECONDS))[1]
            return MemberLimits(
                today, self.settings.match_budget_per_day, self._sweeping(member, at), misses
            )

    def tracked(self) -> int:
        """Members whose counts are kept now."""
        with self._lock:
            return len(self._members)


def stored_queries(store: Store) -> Callable[[str, int], int]:
    """A seed reading a member's match queries of a day from the store's usage statistics."""

    def seed(member_id: str, day: int) -> int:
        with store.read() as view:
            return view.queries_on(day, member_id)

    return seed
