"""Matching against the local replica, as the hub's MatchHashes does: the PDQ and per-type
indexes loaded from the replica's packed tables (client_sdk.replica_tables), and one query
matched by its type's kind: PDQ hashes against photos and the frames of videos, vpdq videos
frame by frame, types with an index of their own within a threshold, other types exactly."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import lmdb
import numpy as np

from matcher import PDQIndex
from signalhub import domain
from signalhub.signal_types import DistanceIndex
from signalhub.v1 import common_pb2
from signalhub.vpdq_format import scored_videos, vpdq_frames, vpdq_retained

from .models import Match, MatchResult, SignalInfo
from .replica_tables import U64, ReplicaDbs


@dataclass
class LoadedIndex:
    """The indexes of one state of the replica (its cursor), kept across `match` calls."""

    cursor: bytes | None
    pdq: PDQIndex
    typed: dict[str, DistanceIndex]


@dataclass(frozen=True)
class MatchOptions:
    """The limits of one `LocalReplica.match` call (see there)."""

    max_distance: int = 31
    min_query_match_percent: float = domain.VPDQ_QUERY_MATCH_PERCENT
    min_compared_match_percent: float = 0.0
    thresholds: Mapping[str, int] = field(default_factory=dict)
    min_score: float | None = None


def load_indexes(dbs: ReplicaDbs, txn: lmdb.Transaction, cursor: bytes | None) -> LoadedIndex:
    """The PDQ and per-type indexes of the replica as `txn` sees it (at `cursor`)."""
    # Appended to two buffers rather than joined from lists: at 10M rows this reads the
    # table in 3 s instead of 8.6 (benchmarks/RESULTS.md, "Onboarding").
    keys = bytearray()
    values = bytearray()
    for key, value in txn.cursor(db=dbs.pdq).iternext(keys=True, values=True):
        keys += key
        values += value
    pdq = PDQIndex()
    if keys:
        rows = np.frombuffer(keys, dtype=">u8").astype(np.uint64)
        packed = np.frombuffer(values, dtype=np.uint8).reshape(-1, 48)
        pdq.add(rows, np.ascontiguousarray(packed[:, :32]))
    typed: dict[str, DistanceIndex] = {}
    for spec in domain.SIGNAL_TYPES.values():
        if spec.indexed and spec.index is not None:
            items = _typed_items(dbs, txn, spec.name)
            if items:
                typed[spec.name] = spec.index()
                typed[spec.name].add(items)
    return LoadedIndex(cursor, pdq, typed)


def _typed_items(dbs: ReplicaDbs, txn: lmdb.Transaction, type_name: str) -> list[tuple[str, str]]:
    """(signal id, value) of every signal of a type filed in `typed`."""
    prefix = type_name.encode() + b"\x00"
    items = []
    cur = txn.cursor(db=dbs.typed)
    if cur.set_range(prefix):
        for key, value in cur:
            if not bytes(key).startswith(prefix):
                break
            items.append((bytes(key)[len(prefix) :].hex(), bytes(value).decode()))
    return items


class Lookup:
    """Rows and signals read for one `match` call, each once."""

    def __init__(self, dbs: ReplicaDbs, txn: lmdb.Transaction) -> None:
        self.dbs = dbs
        self.txn = txn
        self._signals: dict[str, SignalInfo | None] = {}
        self._frames: dict[str, dict[bytes, float]] = {}

    def row(self, row: int) -> tuple[bytes, str] | None:
        """(32-byte hash, signal id) of a row of the packed table."""
        raw = self.txn.get(U64.pack(row), db=self.dbs.pdq)
        return None if raw is None else (bytes(raw[:32]), bytes(raw[32:48]).hex())

    def signal(self, signal_id: str) -> SignalInfo | None:
        """The signal with this id (None when the replica does not hold it)."""
        if signal_id not in self._signals:
            raw = self.txn.get(bytes.fromhex(signal_id), db=self.dbs.signals)
            self._signals[signal_id] = (
                None
                if raw is None
                else SignalInfo.from_wire(common_pb2.Signal.FromString(bytes(raw)))
            )
        return self._signals[signal_id]

    def frames(self, signal_id: str) -> int:
        """How many rows (retained frames) a video has."""
        raw = self.txn.get(bytes.fromhex(signal_id), db=self.dbs.pdq_rows)
        return 0 if raw is None else len(raw) // 8

    def frame_time(self, signal: SignalInfo, hash32: bytes) -> float | None:
        """Time of a video's retained frame with this hash (retained hashes are distinct)."""
        if signal.signal_id not in self._frames:
            kept = vpdq_retained(vpdq_frames(signal.value))
            self._frames[signal.signal_id] = {bytes.fromhex(f.pdq): f.timestamp for f in kept}
        return self._frames[signal.signal_id].get(hash32)


Matcher = Callable[[LoadedIndex, Lookup, str, str, MatchOptions], tuple[Match, ...]]


def match_one(
    loaded: LoadedIndex, lookup: Lookup, type_name: str, value: str, options: MatchOptions
) -> MatchResult:
    """The matches of one (type, wire value) query."""
    spec = domain.signal_type(type_name)
    how = _match_indexed if spec.indexed else _MATCHERS.get(spec.match, _match_exact)
    matches = how(loaded, lookup, type_name, value, options)
    if options.min_score is not None:
        matches = tuple(m for m in matches if m.signal.scored_at_least(options.min_score))
    return MatchResult(type_name, value, matches)


def _match_indexed(
    loaded: LoadedIndex, lookup: Lookup, type_name: str, value: str, options: MatchOptions
) -> tuple[Match, ...]:
    """A type with an index of its own (plug-ins), within its threshold."""
    limit = options.thresholds.get(type_name, domain.signal_type(type_name).default_threshold)
    found: list[tuple[str, int]] = []
    if type_name in loaded.typed:
        found = loaded.typed[type_name].search(value, limit)
    return tuple(
        Match(hit, distance)
        for sid, distance in sorted(found, key=lambda h: (h[1], h[0]))
        if (hit := lookup.signal(sid)) is not None
    )


def _match_hamming(
    loaded: LoadedIndex, lookup: Lookup, type_name: str, value: str, options: MatchOptions
) -> tuple[Match, ...]:
    """A PDQ hash against photos and the frames of videos (with the frame's time)."""
    # Nearest first; among equals by signal id, then frame order (row numbers follow
    # it): one match per signal, at its nearest row.
    hits = []
    for row, distance in _search(loaded.pdq, [value], options.max_distance)[0]:
        entry = lookup.row(row)
        if entry is not None:
            hits.append((distance, entry[1], row, entry[0]))
    best: dict[str, Match] = {}
    for distance, sid, _, hash32 in sorted(hits):
        signal = lookup.signal(sid)
        if sid in best or signal is None:
            continue
        when = lookup.frame_time(signal, hash32) if signal.type == "vpdq" else None
        best[sid] = Match(signal, distance, frame_timestamp=when)
    return tuple(best.values())


def _match_video(
    loaded: LoadedIndex, lookup: Lookup, type_name: str, value: str, options: MatchOptions
) -> tuple[Match, ...]:
    """A vpdq video frame by frame, with the query's and the video's matched shares."""
    kept = vpdq_retained(vpdq_frames(value))
    per_frame = _search(loaded.pdq, [f.pdq for f in kept], options.max_distance)

    def video_of_row(row: int) -> str | None:
        entry = lookup.row(row)
        signal = None if entry is None else lookup.signal(entry[1])
        if signal is None or signal.type != "vpdq":
            return None
        return signal.signal_id

    videos = []
    scores = scored_videos(
        per_frame,
        video_of_row,
        lookup.frames,
        options.min_query_match_percent,
        options.min_compared_match_percent,
    )
    for score in scores:
        video = lookup.signal(score.signal_id)
        assert video is not None
        videos.append(
            Match(
                video,
                score.distance,
                query_match_percent=score.query_percent,
                compared_match_percent=score.compared_percent,
            )
        )
    return tuple(videos)


def _match_exact(
    loaded: LoadedIndex, lookup: Lookup, type_name: str, value: str, options: MatchOptions
) -> tuple[Match, ...]:
    """Any other type: the signal with exactly this value (not one shared with this member
    match-only: the replica does not hold its value, so only the hub may say it matched)."""
    hit = lookup.signal(domain.signal_id(type_name, value))
    return (Match(hit, 0),) if hit and not hit.value_withheld else ()


_MATCHERS: dict[domain.MatchKind, Matcher] = {
    domain.MatchKind.HAMMING: _match_hamming,
    domain.MatchKind.VIDEO: _match_video,
}


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
