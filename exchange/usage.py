"""Usage statistics the hub keeps besides its log: which signals matched for whom, how many
queries and submissions each member made and when it last called, how fast the feed reached
followers. Reports (the coalition's and a member's own), impact views and the operator's usage
view (GetMemberUsage) read them; nothing in apply depends on them.

They are counted in memory and written to the `stats` database every few seconds by the writer
(outside the command log, like signed audit heads), so a crash loses at most the last few
seconds of counts, never a signal. Keys start with a kind byte and (but for `l`) the UTC day,
so a report's date range is one cursor walk per kind:

| kind | key after the kind byte                    | value                                  |
| ---- | ------------------------------------------ | -------------------------------------- |
| `m`  | day u32 + signal id (16) + member id       | u64: matches of the signal for member  |
| `q`  | day u32 + member id                        | u64 queries, u64 queries with a match  |
| `p`  | day u32                                    | u64 per latency bucket (PROPAGATION_MS)|
| `s`  | day u32 + member id                        | u64 signals submitted, u64 batches     |
| `l`  | member id (no day)                         | u64: last authenticated call, unix ms  |

`s` counts a member's acknowledged batches (not replays or dry runs) and their distinct signals,
as the hub stores them. `l` is the one kind that is not a count: it is merged by taking the
later time, and there is one record per member, whatever the day.
"""

from __future__ import annotations

import struct
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

MATCH = b"m"
QUERIES = b"q"
PROPAGATION = b"p"
SUBMISSIONS = b"s"
LAST_SEEN = b"l"
PROPAGATION_MS = (1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 60_000)
"""Upper bounds (ms) of the propagation-latency buckets; one more bucket counts the rest."""
_DAY = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_QUERIES = struct.Struct(">QQ")
_SUBMISSIONS = struct.Struct(">QQ")
_BUCKETS = struct.Struct(f">{len(PROPAGATION_MS) + 1}Q")


def day_of(unix_seconds: float) -> int:
    """Days since 1970-01-01 (UTC)."""
    return int(unix_seconds // 86_400)


def match_key(day: int, signal_id: str, member_id: str) -> bytes:
    """The `m` key: matches of signal `signal_id` for `member_id` on `day`."""
    return MATCH + _DAY.pack(day) + bytes.fromhex(signal_id) + member_id.encode()


def queries_key(day: int, member_id: str) -> bytes:
    """The `q` key: `member_id`'s queries on `day`."""
    return QUERIES + _DAY.pack(day) + member_id.encode()


def propagation_key(day: int) -> bytes:
    """The `p` key: the feed's propagation-latency buckets of `day`."""
    return PROPAGATION + _DAY.pack(day)


def submissions_key(day: int, member_id: str) -> bytes:
    """The `s` key: `member_id`'s submissions on `day`."""
    return SUBMISSIONS + _DAY.pack(day) + member_id.encode()


def last_seen_key(member_id: str) -> bytes:
    """The `l` key: when `member_id` last made an authenticated call."""
    return LAST_SEEN + member_id.encode()


def bucket_of(milliseconds: float) -> int:
    """The index of the PROPAGATION_MS bucket a latency of `milliseconds` falls in (the last, one
    past the bounds, for anything slower than 60 s)."""
    for i, bound in enumerate(PROPAGATION_MS):
        if milliseconds <= bound:
            return i
    return len(PROPAGATION_MS)


@dataclass(frozen=True)
class MatchCount:
    """One `m` record: how often a signal matched for a member on a day."""

    day: int
    signal_id: str
    member_id: str
    count: int


@dataclass(frozen=True)
class QueryCount:
    """One `q` record: a member's queries on a day, and how many of them matched."""

    day: int
    member_id: str
    queries: int
    matched: int


@dataclass(frozen=True)
class SubmissionCount:
    """One `s` record: a member's acknowledged batches on a day and the distinct signals in them."""

    day: int
    member_id: str
    signals: int
    batches: int


_LAYOUTS = {QUERIES: _QUERIES, PROPAGATION: _BUCKETS, SUBMISSIONS: _SUBMISSIONS}


def combine(key: bytes, current: Iterable[int], add: Iterable[int]) -> tuple[int, ...]:
    """Two values of `key` as one: counts add up element-wise; a last-seen time is the later."""
    pairs = zip(current, add, strict=True)
    if key[:1] == LAST_SEEN:
        return tuple(max(a, b) for a, b in pairs)
    return tuple(a + b for a, b in pairs)


def merge(key: bytes, old: bytes | None, add: tuple[int, ...]) -> bytes:
    """The stored value of `key` after adding `add` (counts, element-wise) to `old`."""
    layout = _LAYOUTS.get(key[:1], _U64)
    current = layout.unpack(old) if old is not None else (0,) * (layout.size // 8)
    return layout.pack(*combine(key, current, add))


def decode_match(key: bytes, value: bytes) -> MatchCount:
    """The `m` record of `key` and `value`."""
    return MatchCount(
        _DAY.unpack(key[1:5])[0], key[5:21].hex(), key[21:].decode(), _U64.unpack(value)[0]
    )


def decode_queries(key: bytes, value: bytes) -> QueryCount:
    """The `q` record of `key` and `value`."""
    queries, matched = _QUERIES.unpack(value)
    return QueryCount(_DAY.unpack(key[1:5])[0], key[5:].decode(), queries, matched)


def decode_query_count(value: bytes) -> int:
    """The queries of a `q` value."""
    queries: int = _QUERIES.unpack(value)[0]
    return queries


def decode_propagation(value: bytes) -> tuple[int, ...]:
    """The propagation-latency bucket counts of a `p` value, one per PROPAGATION_MS bound and one
    for the rest."""
    return tuple(_BUCKETS.unpack(value))


def decode_submissions(key: bytes, value: bytes) -> SubmissionCount:
    """The `s` record of `key` and `value`."""
    signals, batches = _SUBMISSIONS.unpack(value)
    return SubmissionCount(_DAY.unpack(key[1:5])[0], key[5:].decode(), signals, batches)


def decode_last_seen(value: bytes) -> int:
    """The unix time in ms of a member's last authenticated call."""
    seen: int = _U64.unpack(value)[0]
    return seen


def day_range_keys(kind: bytes, first_day: int, last_day: int) -> tuple[bytes, bytes]:
    """[start, end) keys covering days first_day..last_day of one kind."""
    return kind + _DAY.pack(first_day), kind + _DAY.pack(last_day + 1)


class UsageCounter:
    """Counts since the last flush; thread-safe (matches run in worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[bytes, list[int]] = {}

    def _add(self, key: bytes, values: Iterable[int]) -> None:
        current = self._pending.get(key)
        if current is None:
            self._pending[key] = list(values)
        else:
            self._pending[key] = list(combine(key, current, values))

    def record_match_call(
        self, member_id: str, matched_by_query: list[list[str]], now: float | None = None
    ) -> None:
        """One MatchHashes call: the signal ids each of its queries matched."""
        day = day_of(time.time() if now is None else now)
        signals = Counter(sid for sids in matched_by_query for sid in set(sids))
        queries = len(matched_by_query)
        matched = sum(1 for sids in matched_by_query if sids)
        with self._lock:
            self._add(queries_key(day, member_id), (queries, matched))
            for sid, n in signals.items():
                self._add(match_key(day, sid, member_id), (n,))

    def record_submission(self, member_id: str, signals: int, now: float | None = None) -> None:
        """One acknowledged batch of `signals` distinct signals."""
        day = day_of(time.time() if now is None else now)
        with self._lock:
            self._add(submissions_key(day, member_id), (signals, 1))

    def record_seen(self, member_id: str, now: float | None = None) -> None:
        """An authenticated call by the member (the hub calls this on every one)."""
        ms = int((time.time() if now is None else now) * 1000)
        with self._lock:
            self._add(last_seen_key(member_id), (ms,))

    def record_propagation(self, latencies_ms: Iterable[float], now: float | None = None) -> None:
        """Times from a signal's receipt to its delivery to a following subscriber."""
        counts = [0] * (len(PROPAGATION_MS) + 1)
        for ms in latencies_ms:
            counts[bucket_of(ms)] += 1
        if not any(counts):
            return
        day = day_of(time.time() if now is None else now)
        with self._lock:
            self._add(propagation_key(day), counts)

    def take(self) -> dict[bytes, tuple[int, ...]]:
        """Everything counted since the last take."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return {k: tuple(v) for k, v in pending.items()}

    def restore(self, counts: dict[bytes, tuple[int, ...]]) -> None:
        """Puts back counts whose write failed, to be written with the next flush."""
        with self._lock:
            for key, values in counts.items():
                self._add(key, values)
