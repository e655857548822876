"""A member's local replica of the hub: an LMDB copy of every signal the member may see, kept
up to date from the feed (resumable from its cursor; tombstones remove signals), started from
a signed snapshot when it is far behind, and matched with the same matcher as the hub — for
platforms that cannot send their users' content out.

    with LocalReplica(Path("replica")) as replica:
        replica.sync(client)                 # a snapshot when far behind, then the feed
        replica.match([("pdq", hex)], 31)    # nothing leaves the machine

Layout (named databases of one LMDB environment):

| database   | key                          | value                                         |
| ---------- | ---------------------------- | --------------------------------------------- |
| `meta`     | name                         | cursor, member, hub key, row counter, layout  |
| `signals`  | signal id, 16 bytes          | the feed's (or snapshot's) `Signal`, as sent  |
| `pdq`      | row, u64 big-endian          | 32-byte hash + 16-byte signal id              |
| `pdq_rows` | signal id, 16 bytes          | its rows, u64 big-endian each                 |
| `typed`    | type, 0x00, signal id        | value (types matched by an index of their own)|

`pdq` is the packed table the PDQ index loads from (one row per PDQ signal, one per retained
frame of a vpdq video), as the hub's is; it is written in the same transaction as the signals.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import lmdb
import numpy as np

from matcher import PDQIndex
from signalhub import domain
from signalhub.signal_types import DistanceIndex, vpdq_frames, vpdq_retained
from signalhub.v1 import common_pb2

from .errors import SignalhubError
from .models import Match, MatchResult, SignalInfo
from .snapshot import Snapshot

if TYPE_CHECKING:
    from .client import Client

COMMIT_EVENTS = 2000
INITIAL_MAP_BYTES = 64 * 1024 * 1024
SNAPSHOT_MIN_BACKLOG_EVENTS = 200_000
"""`sync` starts from a snapshot when the feed is more than this many events past the
replica's cursor (an empty replica's is 0), or more than a tenth of the signals the replica
holds if that is more (see `snapshot_min_backlog`)."""
FEED_EVENT_COST_IN_SIGNALS = 10
"""Replaying one feed event costs about as much as loading ten snapshot signals (49 µs against
4.2 µs at 10M, benchmarks/RESULTS.md "Onboarding"): a replica holding S signals is caught up
faster from the feed while it is fewer than S / 10 events behind (it will hold about as many
after a snapshot)."""
SNAPSHOT_MAP_BYTES_PER_SIGNAL = 1024
"""Map space reserved per snapshot signal before loading it: the map cannot grow inside the
one transaction a snapshot is written in (it is doubled and the snapshot fetched again if it
still fills)."""
LAYOUT = b"2"
"""Version of the layout above; a replica written before the packed tables existed gets them
built from its signals when opened."""
_U64 = struct.Struct(">Q")
_REMOVALS = (common_pb2.EVENT_KIND_SIGNAL_REMOVED, common_pb2.EVENT_KIND_SIGNAL_ERASED)


def _filed_by_type(type_name: str) -> bool:
    """Signals kept in `typed`: of types matched by an index of their own (plug-ins), or that
    may be (photodna with a licensed matcher, a type whose plug-in is not installed here)."""
    if type_name in ("pdq", "vpdq"):
        return False
    spec = domain.SIGNAL_TYPES.get(type_name)
    return spec is None or spec.indexed or spec.replaceable_matching


def _pdq_hashes(signal: common_pb2.Signal) -> list[bytes]:
    """The 32-byte hashes a signal puts in the PDQ table: a photo's, or a video's retained
    frames' in frame order."""
    try:
        if signal.type == "pdq":
            return [bytes.fromhex(signal.value)]
        if signal.type == "vpdq":
            return [bytes.fromhex(f.pdq) for f in vpdq_retained(vpdq_frames(signal.value))]
    except (ValueError, domain.InvalidValue):
        pass  # the hub validated it; a value we cannot read here simply does not match
    return []


class _Tables:
    """Writes signals with their rows in the packed tables, inside one write transaction."""

    def __init__(self, replica: LocalReplica, txn: lmdb.Transaction) -> None:
        self.r = replica
        self.txn = txn
        raw = txn.get(b"pdq_rows", db=replica._meta)
        self.last_row = 0 if raw is None else _U64.unpack(bytes(raw))[0]

    def clear(self) -> None:
        """Empties the signals and tables (a snapshot replaces everything)."""
        for db in (self.r._signals, self.r._pdq, self.r._pdq_rows, self.r._typed):
            self.txn.drop(db, delete=False)
        self.last_row = 0

    def put(self, key: bytes, signal: common_pb2.Signal, raw: bytes) -> None:
        self.txn.put(key, raw, db=self.r._signals)
        self.index(key, signal)

    def index(self, key: bytes, signal: common_pb2.Signal) -> None:
        """Files a signal in the packed tables (once: its id fixes its type and value)."""
        if signal.type in ("pdq", "vpdq"):
            if self.txn.get(key, db=self.r._pdq_rows) is not None:
                return
            rows = []
            for hash32 in _pdq_hashes(signal):
                self.last_row += 1
                row = _U64.pack(self.last_row)
                self.txn.put(row, hash32 + key, db=self.r._pdq)
                rows.append(row)
            self.txn.put(key, b"".join(rows), db=self.r._pdq_rows)
        elif _filed_by_type(signal.type):
            self.txn.put(_typed_key(signal.type, key), signal.value.encode(), db=self.r._typed)

    def delete(self, key: bytes, type_name: str) -> None:
        self.txn.delete(key, db=self.r._signals)
        rows = self.txn.pop(key, db=self.r._pdq_rows)
        if rows is not None:
            rows = bytes(rows)
            for i in range(0, len(rows), 8):
                self.txn.delete(rows[i : i + 8], db=self.r._pdq)
        self.txn.delete(_typed_key(type_name, key), db=self.r._typed)

    def load_chunk(self, signals: Sequence[common_pb2.Signal]) -> None:
        """A snapshot's chunk into emptied tables, in bulk: snapshots come in signal id order,
        so the signals (and the rows, numbered in that order) are appended."""
        items: list[tuple[bytes, bytes]] = []
        rows: list[tuple[bytes, bytes]] = []
        rows_of: list[tuple[bytes, bytes]] = []
        other: list[tuple[bytes, common_pb2.Signal]] = []
        row = self.last_row
        for s in signals:
            key = bytes.fromhex(s.signal_id)
            items.append((key, s.SerializeToString()))
            if s.type == "pdq" and len(s.value) == 64:
                row += 1
                packed = _U64.pack(row)
                rows.append((packed, bytes.fromhex(s.value) + key))
                rows_of.append((key, packed))
            else:
                other.append((key, s))
        self.last_row = row
        for db, pairs in ((self.r._signals, items), (self.r._pdq, rows),
                          (self.r._pdq_rows, rows_of)):  # fmt: skip
            cursor = self.txn.cursor(db=db)
            _, added = cursor.putmulti(pairs, append=True)
            if added != len(pairs):  # not in key order after all: insert them where they go
                cursor.putmulti(pairs)
        for key, s in other:
            self.index(key, s)

    def finish(self) -> None:
        self.txn.put(b"pdq_rows", _U64.pack(self.last_row), db=self.r._meta)


def _typed_key(type_name: str, key: bytes) -> bytes:
    return type_name.encode() + b"\x00" + key


@dataclass
class _LoadedIndex:
    """The indexes of one state of the replica (its cursor), kept across `match` calls."""

    cursor: bytes | None
    pdq: PDQIndex
    typed: dict[str, DistanceIndex]


class _Lookup:
    """Rows and signals read for one `match` call, each once."""

    def __init__(self, replica: LocalReplica, txn: lmdb.Transaction) -> None:
        self.r = replica
        self.txn = txn
        self._signals: dict[str, SignalInfo | None] = {}
        self._frames: dict[str, dict[bytes, float]] = {}

    def row(self, row: int) -> tuple[bytes, str] | None:
        """(32-byte hash, signal id) of a row of the packed table."""
        raw = self.txn.get(_U64.pack(row), db=self.r._pdq)
        return None if raw is None else (bytes(raw[:32]), bytes(raw[32:48]).hex())

    def signal(self, signal_id: str) -> SignalInfo | None:
        if signal_id not in self._signals:
            raw = self.txn.get(bytes.fromhex(signal_id), db=self.r._signals)
            self._signals[signal_id] = (
                None
                if raw is None
                else SignalInfo.from_wire(common_pb2.Signal.FromString(bytes(raw)))
            )
        return self._signals[signal_id]

    def frames(self, signal_id: str) -> int:
        """How many rows (retained frames) a video has."""
        raw = self.txn.get(bytes.fromhex(signal_id), db=self.r._pdq_rows)
        return 0 if raw is None else len(raw) // 8

    def frame_time(self, signal: SignalInfo, hash32: bytes) -> float | None:
        """Time of a video's retained frame with this hash (retained hashes are distinct)."""
        if signal.signal_id not in self._frames:
            kept = vpdq_retained(vpdq_frames(signal.value))
            self._frames[signal.signal_id] = {bytes.fromhex(f.pdq): f.timestamp for f in kept}
        return self._frames[signal.signal_id].get(hash32)


class LocalReplica:
    """An LMDB directory holding the signals a member may see and the feed cursor."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(str(self.path), map_size=INITIAL_MAP_BYTES, max_dbs=8)
        with self.env.begin(write=True) as txn:
            self._meta = self.env.open_db(b"meta", txn=txn)
            self._signals = self.env.open_db(b"signals", txn=txn)
            self._pdq = self.env.open_db(b"pdq", txn=txn)
            self._pdq_rows = self.env.open_db(b"pdq_rows", txn=txn)
            self._typed = self.env.open_db(b"typed", txn=txn)
        self._index: _LoadedIndex | None = None
        self.last_snapshot: Snapshot | None = None
        """The snapshot the last `sync` started from (None when it followed the feed only)."""
        self._upgrade_layout()

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

    @property
    def hub_key(self) -> bytes | None:
        """The hub key pinned by the first snapshot loaded (raw 32 bytes), if any."""
        with self.env.begin() as txn:
            raw = txn.get(b"hub_key", db=self._meta)
        return None if raw is None else bytes(raw)

    def count(self) -> int:
        """How many signals the replica holds."""
        with self.env.begin() as txn:
            return int(txn.stat(self._signals)["entries"])

    def _write(self, work: Callable[[_Tables], None]) -> None:
        """Runs `work` in one write transaction; on a full map, doubles it and runs it again."""
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    tables = _Tables(self, txn)
                    work(tables)
                    tables.finish()
                self._index = None
                return
            except lmdb.MapFullError:
                self.env.set_mapsize(int(self.env.info()["map_size"]) * 2)

    def _upgrade_layout(self) -> None:
        with self.env.begin() as txn:
            if txn.get(b"layout", db=self._meta) == LAYOUT:
                return

        def work(tables: _Tables) -> None:
            txn = tables.txn
            for db in (self._pdq, self._pdq_rows, self._typed):
                txn.drop(db, delete=False)
            tables.last_row = 0
            for key, raw in txn.cursor(db=self._signals):
                tables.index(bytes(key), common_pb2.Signal.FromString(bytes(raw)))
            txn.put(b"layout", LAYOUT, db=self._meta)

        self._write(work)

    def sync(
        self,
        client: Client,
        on_event: Callable[[int], None] | None = None,
        *,
        snapshot: bool = True,
        snapshot_min_backlog: int | None = None,
        hub_key: bytes | None = None,
    ) -> int:
        """Brings the replica up to date; returns how many feed events were applied. Safe to
        interrupt: the cursor is committed with the events it covers.

        When the feed is more than `snapshot_min_backlog` events past the replica's cursor (0:
        always; None: `self.snapshot_min_backlog()`), it first loads a signed snapshot of what
        the member may see (unless `snapshot` is False), replacing the replica's content in
        one transaction committed only after the hub's signature verified; then it follows
        the feed from the snapshot's cursor. The signature must be by `hub_key` (raw 32 bytes)
        when given, else by the key that signed this replica's first snapshot, which is pinned
        in it then (trust on first use: pass the operator's hub.key.pub to start from a key
        you checked)."""
        member = client.member_id.encode()
        with self.env.begin() as txn:
            owner = txn.get(b"member", db=self._meta)
        if owner is not None and bytes(owner) != member:
            raise SignalhubError(
                f"{self.path} is {bytes(owner).decode()}'s replica, not {client.member_id}'s"
            )
        self.last_snapshot = None
        if self._legacy_cursor:
            if not snapshot:
                raise SignalhubError(
                    f"{self.path} stands at a decimal cursor of the old form, which hubs no "
                    "longer take (cursors are opaque tokens): sync with a snapshot to start over"
                )
            snapshot_min_backlog = 0  # the old cursor means nothing now: load everything
        if snapshot:
            if snapshot_min_backlog is None:
                snapshot_min_backlog = self.snapshot_min_backlog()
            self.last_snapshot = self._load_snapshot(client, snapshot_min_backlog, hub_key,
                                                     on_event)  # fmt: skip
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

    @property
    def _legacy_cursor(self) -> bool:
        """The replica's cursor is a feed sequence, as hubs gave them before cursors became
        opaque tokens (exchange.cursor): a snapshot replaces the replica and its cursor."""
        return self.cursor.isdigit()

    def snapshot_min_backlog(self) -> int:
        """The backlog (in feed events) above which `sync` starts from a snapshot by default:
        SNAPSHOT_MIN_BACKLOG_EVENTS, or more for a replica large enough that replaying that
        many events is still quicker than loading every signal again."""
        return max(SNAPSHOT_MIN_BACKLOG_EVENTS, self.count() // FEED_EVENT_COST_IN_SIGNALS)

    def _load_snapshot(
        self,
        client: Client,
        min_backlog: int,
        hub_key: bytes | None,
        on_event: Callable[[int], None] | None,
    ) -> Snapshot | None:
        """Loads a snapshot when the hub says one is needed; None when it is not (or the hub
        makes none)."""
        trusted = hub_key if hub_key is not None else self.hub_key
        per_signal = SNAPSHOT_MAP_BYTES_PER_SIGNAL
        attempts = 3
        while True:
            try:
                return self._try_snapshot(client, min_backlog, trusted, per_signal, on_event)
            except lmdb.MapFullError:
                attempts -= 1
                if not attempts:
                    raise
                per_signal *= 16  # larger signals than reserved for (long videos): again

    def _try_snapshot(
        self,
        client: Client,
        min_backlog: int,
        trusted: bytes | None,
        per_signal: int,
        on_event: Callable[[int], None] | None,
    ) -> Snapshot | None:
        cursor = "" if self._legacy_cursor else self.cursor
        txn: lmdb.Transaction | None = None
        tables: _Tables | None = None

        def begin(info: Snapshot) -> None:
            nonlocal txn, tables
            if info.not_needed:
                return
            self._reserve(info.count * per_signal)
            txn = self.env.begin(write=True)
            tables = _Tables(self, txn)
            tables.clear()

        def add(signals: Sequence[common_pb2.Signal]) -> None:
            assert tables is not None
            tables.load_chunk(signals)
            if on_event is not None:
                on_event(len(signals))

        try:
            info = client.snapshot(after=cursor, min_backlog=min_backlog, hub_key=trusted,
                                   on_header=begin, on_signals=add)  # fmt: skip
        except SignalhubError as e:
            if txn is not None:
                txn.abort()
            elif e.code in (
                grpc.StatusCode.UNIMPLEMENTED,  # a hub older than snapshots
                grpc.StatusCode.FAILED_PRECONDITION,  # a hub without a signing key
            ):
                return None  # the feed alone
            raise
        except BaseException:
            if txn is not None:
                txn.abort()
            raise
        if txn is None or tables is None:
            return None  # not needed
        # Verified (client.snapshot returned): the snapshot, its cursor and the key that signed
        # it are committed together.
        tables.finish()
        if info.cursor:
            txn.put(b"cursor", info.cursor.encode(), db=self._meta)
        else:  # the member may see no event yet
            txn.delete(b"cursor", db=self._meta)
        txn.put(b"member", client.member_id.encode(), db=self._meta)
        txn.put(b"hub_key", info.hub_public_key, db=self._meta)
        txn.commit()
        self._index = None
        return info

    def _reserve(self, extra_bytes: int) -> None:
        """Grows the map so that `extra_bytes` more fit in it."""
        info = self.env.info()
        used = (int(info["last_pgno"]) + 1) * int(self.env.stat()["psize"])
        need = used + extra_bytes + INITIAL_MAP_BYTES
        if int(info["map_size"]) < need:
            self.env.set_mapsize(need)

    def _apply(self, events: list[common_pb2.FeedEvent], member: bytes) -> int:
        def work(tables: _Tables) -> None:
            for e in events:
                key = bytes.fromhex(e.signal.signal_id)
                if e.kind in _REMOVALS:
                    tables.delete(key, e.signal.type)
                else:  # the signal as received, stored as it is
                    tables.put(key, e.signal, e.signal.SerializeToString())
            tables.txn.put(b"cursor", events[-1].cursor.encode(), db=self._meta)
            tables.txn.put(b"member", member, db=self._meta)

        self._write(work)
        return len(events)

    def signals(self) -> Iterator[SignalInfo]:
        """Every signal in the replica."""
        with self.env.begin() as txn:
            for _, value in txn.cursor(db=self._signals):
                yield SignalInfo.from_wire(common_pb2.Signal.FromString(bytes(value)))

    def get(self, signal_id: str) -> SignalInfo | None:
        with self.env.begin() as txn:
            raw = txn.get(bytes.fromhex(signal_id), db=self._signals)
        return (
            None if raw is None else SignalInfo.from_wire(common_pb2.Signal.FromString(bytes(raw)))
        )

    def _indexes(self, txn: lmdb.Transaction) -> _LoadedIndex:
        """The PDQ and per-type indexes of the replica as `txn` sees it: loaded from the packed
        tables once, then kept until the replica changes (a sync here or in another process
        moves its cursor)."""
        raw = txn.get(b"cursor", db=self._meta)
        cursor = None if raw is None else bytes(raw)
        if self._index is not None and self._index.cursor == cursor:
            return self._index
        # Appended to two buffers rather than joined from lists: at 10M rows this reads the
        # table in 3 s instead of 8.6 (benchmarks/RESULTS.md, "Onboarding").
        keys = bytearray()
        values = bytearray()
        for key, value in txn.cursor(db=self._pdq).iternext(keys=True, values=True):
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
                prefix = spec.name.encode() + b"\x00"
                items = []
                cur = txn.cursor(db=self._typed)
                if cur.set_range(prefix):
                    for key, value in cur:
                        if not bytes(key).startswith(prefix):
                            break
                        items.append((bytes(key)[len(prefix) :].hex(), bytes(value).decode()))
                if items:
                    typed[spec.name] = spec.index()
                    typed[spec.name].add(items)
        self._index = _LoadedIndex(cursor, pdq, typed)
        return self._index

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
        `min_score` keeps only signals a classifier scored at least that high. The indexes are
        loaded on the first call and kept for the next ones until the replica changes."""
        with self.env.begin() as txn:
            loaded = self._indexes(txn)
            lookup = _Lookup(self, txn)
            out = []
            for type_name, value in queries:
                out.append(self._match_one(
                    loaded, lookup, type_name, value, max_distance, min_query_match_percent,
                    min_compared_match_percent, thresholds or {}, min_score,
                ))  # fmt: skip
            return out

    def _match_one(
        self,
        loaded: _LoadedIndex,
        lookup: _Lookup,
        type_name: str,
        value: str,
        max_distance: int,
        min_query_match_percent: float,
        min_compared_match_percent: float,
        thresholds: Mapping[str, int],
        min_score: float | None,
    ) -> MatchResult:
        spec = domain.signal_type(type_name)
        how = spec.match
        matches: tuple[Match, ...]
        if spec.indexed:
            limit = thresholds.get(type_name, spec.default_threshold)
            found: list[tuple[str, int]] = []
            if type_name in loaded.typed:
                found = loaded.typed[type_name].search(value, limit)
            matches = tuple(
                Match(hit, distance)
                for sid, distance in sorted(found, key=lambda h: (h[1], h[0]))
                if (hit := lookup.signal(sid)) is not None
            )
        elif how is domain.MatchKind.HAMMING:
            # Nearest first; among equals by signal id, then frame order (row numbers follow
            # it): one match per signal, at its nearest row.
            hits = []
            for row, distance in _search(loaded.pdq, [value], max_distance)[0]:
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
            matches = tuple(best.values())
        elif how is domain.MatchKind.VIDEO:
            kept = vpdq_retained(vpdq_frames(value))
            per_frame = _search(loaded.pdq, [f.pdq for f in kept], max_distance)
            found_frames: dict[str, set[int]] = {}
            found_rows: dict[str, set[int]] = {}
            nearest: dict[str, int] = {}
            for position, frame_hits in enumerate(per_frame):
                for row, distance in frame_hits:
                    entry = lookup.row(row)
                    signal = None if entry is None else lookup.signal(entry[1])
                    if signal is None or signal.type != "vpdq":
                        continue
                    sid = signal.signal_id
                    found_frames.setdefault(sid, set()).add(position)
                    found_rows.setdefault(sid, set()).add(row)
                    nearest[sid] = min(distance, nearest.get(sid, distance))
            scored = []
            for sid, positions in found_frames.items():
                q = 100.0 * len(positions) / len(kept)
                c = 100.0 * len(found_rows[sid]) / max(lookup.frames(sid), 1)
                if q >= min_query_match_percent and c >= min_compared_match_percent:
                    scored.append((-q, -c, nearest[sid], sid))
            videos = []
            for nq, nc, d, sid in sorted(scored):
                video = lookup.signal(sid)
                assert video is not None
                videos.append(Match(video, d, query_match_percent=-nq, compared_match_percent=-nc))
            matches = tuple(videos)
        else:
            hit = lookup.signal(domain.signal_id(type_name, value))
            matches = (Match(hit, 0),) if hit else ()
        if min_score is not None:
            matches = tuple(m for m in matches if m.signal.scored_at_least(min_score))
        return MatchResult(type_name, value, matches)


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
