"""A member's local replica of the hub: an LMDB copy of every signal the member may see, kept
up to date from the feed (resumable from its cursor; tombstones remove signals), started from
a signed snapshot when it is far behind, and matched with the same matcher as the hub — for
platforms that cannot send their users' content out.

    with LocalReplica(Path("replica")) as replica:
        replica.sync(client)                 # a snapshot when far behind, then the feed
        replica.match([("pdq", hex)], 31)    # nothing leaves the machine

This module syncs the replica; its LMDB layout and the one writer of it are in
`client_sdk.replica_tables`, local matching in `client_sdk.replica_match`. It needs of the hub
only a `ReplicaSource` (a `Client` is one), so it never imports the client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import grpc
import lmdb

from signalhub import domain
from signalhub.v1 import common_pb2, exchange_pb2

from .errors import SignalhubError
from .models import MatchResult, SignalInfo
from .replica_match import LoadedIndex, Lookup, MatchOptions, load_indexes, match_one
from .replica_tables import LAYOUT, ReplicaTables, open_dbs
from .replica_warnings import (
    LISTS_KEY,
    ReplicaWarnings,
    fetch_lists,
    flag_quarantined,
    flag_results,
    stored_lists,
)
from .snapshot import Snapshot, SnapshotSignals

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
_REMOVALS = (common_pb2.EVENT_KIND_SIGNAL_REMOVED, common_pb2.EVENT_KIND_SIGNAL_ERASED)
_NOT_SIGNALS = (
    common_pb2.EVENT_KIND_WARNING_LISTS_CHANGED,
    common_pb2.EVENT_KIND_REVIEW_REQUESTED,
)
"""Events that carry no view of a signal: a replica stores nothing of them."""


class ReplicaSource(Protocol):
    """What `LocalReplica.sync` needs of the hub: a member's signed snapshot and its feed
    (`client_sdk.Client` provides both)."""

    member_id: str

    def snapshot(
        self,
        *,
        after: str,
        min_backlog: int,
        hub_key: bytes | None,
        on_header: Callable[[Snapshot], None],
        on_signals: SnapshotSignals,
    ) -> Snapshot:
        """A verified snapshot (see `Client.snapshot`)."""
        ...

    def fetch_wire(self, after: str = "") -> Iterator[common_pb2.FeedEvent]:
        """The feed's events after `after` (see `Client.fetch_wire`)."""
        ...


class LocalReplica:
    """An LMDB directory holding the signals a member may see and the feed cursor."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(str(self.path), map_size=INITIAL_MAP_BYTES, max_dbs=8)
        self._dbs = dbs = open_dbs(self.env)
        # Each by its own name too: the tests (and tools) read them.
        self._meta, self._signals, self._typed = dbs.meta, dbs.signals, dbs.typed
        self._pdq, self._pdq_rows = dbs.pdq, dbs.pdq_rows
        self._index: LoadedIndex | None = None
        self._warnings = ReplicaWarnings()
        self.last_snapshot: Snapshot | None = None
        """The snapshot the last `sync` started from (None when it followed the feed only)."""
        self._upgrade_layout()

    def __enter__(self) -> LocalReplica:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the LMDB environment."""
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

    def _write(self, work: Callable[[ReplicaTables], None]) -> None:
        """Runs `work` in one write transaction; on a full map, doubles it and runs it again."""
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    tables = ReplicaTables(self._dbs, txn)
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
        self._write(ReplicaTables.rebuild)

    def sync(
        self,
        client: ReplicaSource,
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
            self.last_snapshot = self._load_snapshot(
                client, snapshot_min_backlog, hub_key, on_event
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
        self._sync_warning_lists(client, hub_key)
        return applied

    def _sync_warning_lists(self, client: ReplicaSource, hub_key: bytes | None) -> None:
        """Keeps the hub's signed warning lists (when the source serves them and they moved)."""
        fetch = getattr(client, "warning_lists_wire", None)
        if fetch is None:
            return
        with self.env.begin() as txn:
            held = stored_lists(txn, self._meta)
        response = fetch_lists(fetch, held, hub_key or self.hub_key)
        if response is not None:
            with self.env.begin(write=True) as txn:
                txn.put(LISTS_KEY, response.SerializeToString(), db=self._meta)

    def warning_lists(self) -> exchange_pb2.GetWarningListsResponse:
        """The signed warning lists the replica holds (version 0: none yet)."""
        with self.env.begin() as txn:
            return stored_lists(txn, self._meta)

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
        client: ReplicaSource,
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
        client: ReplicaSource,
        min_backlog: int,
        trusted: bytes | None,
        per_signal: int,
        on_event: Callable[[int], None] | None,
    ) -> Snapshot | None:
        cursor = "" if self._legacy_cursor else self.cursor
        txn: lmdb.Transaction | None = None
        tables: ReplicaTables | None = None

        def begin(info: Snapshot) -> None:
            nonlocal txn, tables
            if info.not_needed:
                return
            self._reserve(info.count * per_signal)
            txn = self.env.begin(write=True)
            tables = ReplicaTables(self._dbs, txn)
            tables.clear()

        def add(signals: Sequence[common_pb2.Signal]) -> None:
            assert tables is not None
            tables.load_chunk(signals)
            if on_event is not None:
                on_event(len(signals))

        try:
            info = client.snapshot(
                after=cursor,
                min_backlog=min_backlog,
                hub_key=trusted,
                on_header=begin,
                on_signals=add,
            )
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
        def work(tables: ReplicaTables) -> None:
            for e in events:
                if e.kind in _NOT_SIGNALS:
                    continue  # no signal's view (the lists are fetched at the end of the sync)
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
        """The signal with this id, if the replica holds it."""
        with self.env.begin() as txn:
            raw = txn.get(bytes.fromhex(signal_id), db=self._signals)
        return (
            None if raw is None else SignalInfo.from_wire(common_pb2.Signal.FromString(bytes(raw)))
        )

    def _indexes(self, txn: lmdb.Transaction) -> LoadedIndex:
        """The PDQ and per-type indexes of the replica as `txn` sees it: loaded from the packed
        tables once, then kept until the replica changes (a sync here or in another process
        moves its cursor)."""
        raw = txn.get(b"cursor", db=self._meta)
        cursor = None if raw is None else bytes(raw)
        if self._index is None or self._index.cursor != cursor:
            self._index = load_indexes(self._dbs, txn, cursor)
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
        exclude_warned: bool = True,
        exclude_quarantined: bool = True,
    ) -> list[MatchResult]:
        """Matches (type, wire value) queries locally, as the hub's MatchHashes does: PDQ
        hashes against photos and the frames of videos (with the frame's time), vpdq videos
        frame by frame (with the query's and the video's matched shares), types with their own
        index (plug-ins) within `thresholds[type]` (default: the type's), other types exactly.
        `min_score` keeps only signals a classifier scored at least that high; matches the
        synced warning lists flag are left out (`exclude_warned`) or flagged, and so are matches
        of signals the hub holds in quarantine (`exclude_quarantined`). The indexes are
        loaded on the first call and kept for the next ones until the replica changes."""
        options = MatchOptions(
            max_distance,
            min_query_match_percent,
            min_compared_match_percent,
            thresholds or {},
            min_score,
        )
        with self.env.begin() as txn:
            loaded = self._indexes(txn)
            lookup = Lookup(self._dbs, txn)
            results = [match_one(loaded, lookup, t, v, options) for t, v in queries]
            warned = self._warnings.index(stored_lists(txn, self._meta))
        flagged = flag_results(warned, list(queries), results, exclude_warned)
        return flag_quarantined(flagged, exclude_quarantined)
