"""A member's local replica of the hub: an LMDB copy of every signal the member may see, kept
up to date from the feed (resumable from its cursor; tombstones remove signals), and matched
with the same matcher as the hub — for platforms that cannot send their users' content out.

    with LocalReplica(Path("replica")) as replica:
        replica.sync(client)                 # incremental
        replica.match([("pdq", hex)], 31)    # nothing leaves the machine
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import lmdb
import numpy as np

from matcher import PDQIndex
from signalhub import domain
from signalhub.signal_types import DistanceIndex, vpdq_frames, vpdq_retained
from signalhub.v1 import common_pb2

from .errors import SignalhubError
from .models import Match, MatchResult, SignalInfo

if TYPE_CHECKING:
    from .client import Client

COMMIT_EVENTS = 2000
_GONE = (common_pb2.EVENT_KIND_SIGNAL_REMOVED, common_pb2.EVENT_KIND_SIGNAL_ERASED)
"""Events after which the replica holds the signal no longer."""
INITIAL_MAP_BYTES = 64 * 1024 * 1024


class LocalReplica:
    """An LMDB directory holding the signals a member may see and the feed cursor."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(str(self.path), map_size=INITIAL_MAP_BYTES, max_dbs=4)
        with self.env.begin(write=True) as txn:
            self._meta = self.env.open_db(b"meta", txn=txn)
            self._signals = self.env.open_db(b"signals", txn=txn)

    def __enter__(self) -> LocalReplica:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.env.close()

    @property
    def cursor(self) -> str:
        """The cursor of the last applied feed event ("" before the first sync)."""
        with self.env.begin() as txn:
            raw = txn.get(b"cursor", db=self._meta)
        return "" if raw is None else bytes(raw).decode()

    def sync(self, client: Client, on_event: Callable[[int], None] | None = None) -> int:
        """Applies every feed event after the stored cursor; returns how many. Safe to
        interrupt: the cursor is committed with the events it covers."""
        member = client.member_id.encode()
        with self.env.begin() as txn:
            owner = txn.get(b"member", db=self._meta)
        if owner is not None and bytes(owner) != member:
            raise SignalhubError(
                f"{self.path} is {bytes(owner).decode()}'s replica, not {client.member_id}'s"
            )
        applied = 0
        pending: list[common_pb2.FeedEvent] = []
        for event in client.fetch_wire(after=self.cursor):
            pending.append(event)
            if on_event is not None:
                on_event(1)
            if len(pending) >= COMMIT_EVENTS:
                applied += self._apply(pending, member)
                pending = []
        if pending:
            applied += self._apply(pending, member)
        return applied

    def _apply(self, events: list[common_pb2.FeedEvent], member: bytes) -> int:
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    for e in events:
                        key = bytes.fromhex(e.signal.signal_id)
                        if e.kind in _GONE:
                            txn.delete(key, db=self._signals)
                        else:  # the signal as received, stored as it is
                            txn.put(key, e.signal.SerializeToString(), db=self._signals)
                    txn.put(b"cursor", events[-1].cursor.encode(), db=self._meta)
                    txn.put(b"member", member, db=self._meta)
                return len(events)
            except lmdb.MapFullError:
                self.env.set_mapsize(int(self.env.info()["map_size"]) * 2)

    def signals(self) -> Iterator[SignalInfo]:
        """Every signal in the replica."""
        with self.env.begin() as txn:
            for _, value in txn.cursor(db=self._signals):
                yield SignalInfo.from_wire(common_pb2.Signal.FromString(bytes(value)))

    def get(self, signal_id: str) -> SignalInfo | None:
        with self.env.begin() as txn:
            raw = txn.get(bytes.fromhex(signal_id), db=self._signals)
        return None if raw is None else SignalInfo.from_wire(common_pb2.Signal.FromString(raw))

    def match(
        self,
        queries: Sequence[tuple[str, str]],
        max_distance: int = 31,
        *,
        min_query_match_percent: float = domain.VPDQ_QUERY_MATCH_PERCENT,
        min_compared_match_percent: float = 0.0,
        thresholds: Mapping[str, int] | None = None,
        min_score: float | None = None,
    ) -> list[MatchResult]:
        """Matches (type, wire value) queries locally, as the hub's MatchHashes does: PDQ
        hashes against photos and the frames of videos (with the frame's time), vpdq videos
        frame by frame (with the query's and the video's matched shares), types with their own
        index (plug-ins) within `thresholds[type]` (default: the type's), other types exactly.
        `min_score` keeps only signals a classifier scored at least that high."""
        rows: list[tuple[SignalInfo, float | None]] = []  # index row -> (signal, frame time)
        hashes: list[bytes] = []
        frames_of: dict[str, int] = {}  # video signal id -> retained frames
        indexes: dict[str, DistanceIndex] = {}  # types matched by their own index (plug-ins)
        by_type: dict[str, list[tuple[str, str]]] = {}
        for s in self.signals():
            spec = domain.SIGNAL_TYPES.get(s.type)
            if spec is not None and spec.indexed:
                by_type.setdefault(s.type, []).append((s.signal_id, s.value))
            elif s.type == "pdq":
                rows.append((s, None))
                hashes.append(bytes.fromhex(s.value))
            elif s.type == "vpdq":
                kept = vpdq_retained(vpdq_frames(s.value))
                frames_of[s.signal_id] = len(kept)
                for f in kept:
                    rows.append((s, f.timestamp))
                    hashes.append(bytes.fromhex(f.pdq))
        index = PDQIndex()
        if rows:
            index.add(np.arange(len(rows), dtype=np.uint64),
                      np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, 32))  # fmt: skip
        for type_name, items in by_type.items():
            make = domain.SIGNAL_TYPES[type_name].index
            assert make is not None
            indexes[type_name] = make()
            indexes[type_name].add(items)
        out: list[MatchResult] = []
        for type_name, value in queries:
            spec = domain.signal_type(type_name)
            how = spec.match
            if spec.indexed:
                limit = (thresholds or {}).get(type_name, spec.default_threshold)
                found: list[tuple[str, int]] = []
                if type_name in indexes:
                    found = indexes[type_name].search(value, limit)
                matches = tuple(
                    Match(hit, distance)
                    for sid, distance in sorted(found, key=lambda h: (h[1], h[0]))
                    if (hit := self.get(sid)) is not None
                )
            elif how is domain.MatchKind.HAMMING:
                hits = _search(index, [value], max_distance)[0]
                best: dict[str, Match] = {}
                for row, distance in sorted(hits, key=lambda h: (h[1], h[0])):
                    signal, when = rows[row]
                    if signal.signal_id not in best:
                        best[signal.signal_id] = Match(signal, distance, frame_timestamp=when)
                matches = tuple(best.values())
            elif how is domain.MatchKind.VIDEO:
                kept = vpdq_retained(vpdq_frames(value))
                per_frame = _search(index, [f.pdq for f in kept], max_distance)
                found_frames: dict[str, set[int]] = {}
                found_rows: dict[str, set[int]] = {}
                nearest: dict[str, int] = {}
                for position, hits in enumerate(per_frame):
                    for row, distance in hits:
                        signal = rows[row][0]
                        if signal.type != "vpdq":
                            continue
                        sid = signal.signal_id
                        found_frames.setdefault(sid, set()).add(position)
                        found_rows.setdefault(sid, set()).add(row)
                        nearest[sid] = min(distance, nearest.get(sid, distance))
                scored = []
                for sid, positions in found_frames.items():
                    q = 100.0 * len(positions) / len(kept)
                    c = 100.0 * len(found_rows[sid]) / frames_of[sid]
                    if q >= min_query_match_percent and c >= min_compared_match_percent:
                        scored.append((-q, -c, nearest[sid], sid))
                by_id = {signal.signal_id: signal for signal, _ in rows}
                matches = tuple(
                    Match(by_id[sid], d, query_match_percent=-nq, compared_match_percent=-nc)
                    for nq, nc, d, sid in sorted(scored)
                )
            else:
                hit = self.get(domain.signal_id(type_name, value))
                matches = (Match(hit, 0),) if hit else ()
            if min_score is not None:
                matches = tuple(m for m in matches if m.signal.scored_at_least(min_score))
            out.append(MatchResult(type_name, value, matches))
        return out


def _search(
    index: PDQIndex, values: Sequence[str], max_distance: int
) -> list[list[tuple[int, int]]]:
    """(row, distance) hits of each hex hash."""
    if not values or len(index) == 0:
        return [[] for _ in values]
    q = np.frombuffer(b"".join(bytes.fromhex(v) for v in values), dtype=np.uint8).reshape(-1, 32)
    lims, ids, dists = index.search(q, max_distance=max_distance)
    return [
        list(zip(np.asarray(ids[lo:hi]).tolist(), np.asarray(dists[lo:hi]).tolist(), strict=True))
        for lo, hi in zip(
            np.asarray(lims[:-1]).tolist(), np.asarray(lims[1:]).tolist(), strict=True
        )
    ]


def _is_hamming(type_name: str) -> bool:
    return domain.signal_type(type_name).match is domain.MatchKind.HAMMING
