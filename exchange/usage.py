"""Usage statistics the hub keeps besides its log: which signals matched for whom, how many
queries each member made, how fast the feed reached followers. Reports (the coalition's and a
member's own) and impact views read them; nothing in apply depends on them.

They are counted in memory and written to the `stats` database every few seconds by the writer
(outside the command log, like signed audit heads), so a crash loses at most the last few
seconds of counts, never a signal. Keys start with a kind byte and the UTC day, so a report's
date range is one cursor walk per kind:

| kind | key after the kind byte                    | value                                  |
| ---- | ------------------------------------------ | -------------------------------------- |
| `m`  | day u32 + signal id (16) + member id       | u64: matches of the signal for member  |
| `q`  | day u32 + member id                        | u64 queries, u64 queries with a match  |
| `p`  | day u32                                    | u64 per latency bucket (PROPAGATION_MS)|
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
PROPAGATION_MS = (1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 60_000)
"""Upper bounds (ms) of the propagation-latency buckets; one more bucket counts the rest."""
_DAY = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_QUERIES = struct.Struct(">QQ")
_BUCKETS = struct.Struct(f">{len(PROPAGATION_MS) + 1}Q")


def day_of(unix_seconds: float) -> int:
    """Days since 1970-01-01 (UTC)."""
    return int(unix_seconds // 86_400)


def match_key(day: int, signal_id: str, member_id: str) -> bytes:
    return MATCH + _DAY.pack(day) + bytes.fromhex(signal_id) + member_id.encode()


def queries_key(day: int, member_id: str) -> bytes:
    return QUERIES + _DAY.pack(day) + member_id.encode()


def propagation_key(day: int) -> bytes:
    return PROPAGATION + _DAY.pack(day)


def bucket_of(milliseconds: float) -> int:
    for i, bound in enumerate(PROPAGATION_MS):
        if milliseconds <= bound:
            return i
    return len(PROPAGATION_MS)


@dataclass(frozen=True)
class MatchCount:
    day: int
    signal_id: str
    member_id: str
    count: int


@dataclass(frozen=True)
class QueryCount:
    day: int
    member_id: str
    queries: int
    matched: int


def merge(key: bytes, old: bytes | None, add: tuple[int, ...]) -> bytes:
    """The stored value of `key` after adding `add` (counts, element-wise) to `old`."""
    kind = key[:1]
    layout = _QUERIES if kind == QUERIES else _BUCKETS if kind == PROPAGATION else _U64
    current = layout.unpack(old) if old is not None else (0,) * (layout.size // 8)
    return layout.pack(*(a + b for a, b in zip(current, add, strict=True)))


def decode_match(key: bytes, value: bytes) -> MatchCount:
    return MatchCount(
        _DAY.unpack(key[1:5])[0], key[5:21].hex(), key[21:].decode(), _U64.unpack(value)[0]
    )


def decode_queries(key: bytes, value: bytes) -> QueryCount:
    queries, matched = _QUERIES.unpack(value)
    return QueryCount(_DAY.unpack(key[1:5])[0], key[5:].decode(), queries, matched)


def decode_propagation(value: bytes) -> tuple[int, ...]:
    return tuple(_BUCKETS.unpack(value))


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
            for i, v in enumerate(values):
                current[i] += v

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
