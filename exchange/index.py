"""The hub's in-memory indexes, loaded from LMDB at start and updated after every commit:
matcher.PDQIndex over rows of the packed `pdq` table (photos and video frames), and one
`DistanceIndex` per type that brings its own (plug-ins; Hamming types other than PDQ).
`CommitHook` is where committed entries reach the index: the writer calls it after each
commit."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import NDArray

from matcher import PDQIndex
from signalhub import domain
from signalhub.signal_types import DistanceIndex

from .ledger import Applied
from .store import Store

PARALLEL_MIN_QUERIES = 32
"""Batches at least this large (a video's frames, bulk PDQ calls) are split across threads:
the matcher's C core releases the GIL, so on 2 cores a 100-frame video query takes half the
time (benchmarks/video.py)."""
SEARCH_THREADS = max(1, min(4, os.cpu_count() or 1))


class SignalIndex:
    """Thread-safe wrapper: the writer thread adds rows while search runs in worker threads.
    The PDQ index keeps its tables current on its own thread (matcher.PDQIndex's upkeep), so
    a commit only appends to it and no search waits for a rebuild."""

    def __init__(self, shard: tuple[int, int] | None = None) -> None:
        self._pdq = PDQIndex(background=True)
        self._typed: dict[str, DistanceIndex] = {}
        self._lock = threading.Lock()
        self.shard = shard
        """(I, K): this node indexes only the rows whose number is I modulo K (cluster mode
        with sharded matching; row numbers are assigned by apply, so equal on every node)."""
        self._pool = (
            ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="signalhub-search")
            if SEARCH_THREADS > 1
            else None
        )

    def load(self, store: Store) -> int:
        """Loads every PDQ row from the store; returns how many."""
        with store.read() as view:
            rows, hashes = view.pdq_table()
        if self.shard is not None:
            mine = rows % np.uint64(self.shard[1]) == np.uint64(self.shard[0])
            rows, hashes = rows[mine], hashes[mine]
        typed: dict[str, DistanceIndex] = {}
        for spec in domain.SIGNAL_TYPES.values():
            if spec.indexed and spec.index is not None:
                typed[spec.name] = spec.index()
                with store.read() as view:
                    items = list(view.typed_values(spec.name))
                typed[spec.name].add(items)
        pdq = PDQIndex(background=True)
        if len(rows):
            pdq.add(rows, hashes)
        pdq.wait_idle()  # SERVING only once the tables are built
        with self._lock:
            old, self._pdq = self._pdq, pdq
            self._typed = typed
        old.close()
        return len(rows) + sum(len(index) for index in typed.values())

    def close(self) -> None:
        """Stops the matcher's upkeep thread."""
        self._pdq.close()

    def upkeep_state(self) -> dict[str, int]:
        """matcher.PDQIndex.upkeep_state of the PDQ index (for the metrics)."""
        return self._pdq.upkeep_state()

    def add_committed(self, applied: list[Applied]) -> None:
        """Applies the PDQ rows that freshly committed entries added and removed, in order."""
        with self._lock:
            for a in applied:
                added = a.pdq_rows
                if added and self.shard is not None:
                    i, k = self.shard
                    added = [(r, h) for r, h in added if r % k == i]
                if added:
                    ids = np.array([r for r, _ in added], dtype=np.uint64)
                    hashes = np.frombuffer(b"".join(h for _, h in added), dtype=np.uint8)
                    self._pdq.add(ids, hashes.reshape(-1, 32))
                if a.pdq_removed:
                    self._pdq.remove(np.array(a.pdq_removed, dtype=np.uint64))
                for type_name, index in self._typed.items():
                    added_here = [(sid, v) for t, sid, v in a.typed_added if t == type_name]
                    if added_here:
                        index.add(added_here)
                    removed_here = [sid for t, sid in a.typed_removed if t == type_name]
                    if removed_here:
                        index.remove(removed_here)

    def search_typed(self, type_name: str, value: str, max_distance: int) -> list[tuple[str, int]]:
        """(signal_id, distance) of every stored signal of an index-matched type within
        `max_distance` of `value`, nearest first."""
        with self._lock:
            index = self._typed.get(type_name)
            found = [] if index is None else index.search(value, max_distance)
        return sorted(found, key=lambda hit: (hit[1], hit[0]))

    def search(
        self, queries: NDArray[np.uint8], max_distance: int
    ) -> tuple[NDArray[np.int64], NDArray[np.uint64], NDArray[np.int32]]:
        """(lims, rows, distances) as matcher.PDQIndex.search returns them."""
        with self._lock:
            n = queries.shape[0]
            if self._pool is None or n < PARALLEL_MIN_QUERIES:
                lims, ids, distances = self._pdq.search(queries, max_distance=max_distance)
            else:  # read-only searches of the same index, each on a slice of the batch
                step = -(-n // SEARCH_THREADS)
                parts = list(
                    self._pool.map(
                        lambda lo: self._pdq.search(queries[lo : lo + step], max_distance),
                        range(0, n, step),
                    )
                )
                return _concatenate(parts)
        return (
            np.asarray(lims, dtype=np.int64),
            np.asarray(ids, dtype=np.uint64),
            np.asarray(distances, dtype=np.int32),
        )

    def __len__(self) -> int:
        return len(self._pdq)


class CommitHook:
    """Where committed entries reach the index: the writer thread calls it after each commit
    (exchange.writer's `on_commit`) with what the commit applied. It adds and removes the
    entries' PDQ and typed rows, in order, and only then calls `then` (the feed tail, which
    reads the new feed records and wakes the following streams), so a follower woken by a
    commit finds its signals matchable."""

    def __init__(self, index: SignalIndex, then: Callable[[], None]) -> None:
        self.index = index
        self.then = then
        """Called after the index is updated; replaceable (the server sets the feed tail once
        the servicer exists, and until then wakes the followers directly)."""

    def __call__(self, applied: list[Applied]) -> None:
        """Applies a commit's rows to the index, then calls `then`."""
        self.index.add_committed(applied)
        self.then()


def _concatenate(
    parts: list[tuple[NDArray[np.int64], NDArray[np.uint64], NDArray[np.int32]]],
) -> tuple[NDArray[np.int64], NDArray[np.uint64], NDArray[np.int32]]:
    """One (lims, ids, distances) answer from the answers of consecutive slices of a batch."""
    lims = [np.zeros(1, dtype=np.int64)]
    offset = 0
    for part_lims, part_ids, _ in parts:
        lims.append(np.asarray(part_lims[1:], dtype=np.int64) + offset)
        offset += len(part_ids)
    return (
        np.concatenate(lims),
        np.concatenate([np.asarray(p[1], dtype=np.uint64) for p in parts]),
        np.concatenate([np.asarray(p[2], dtype=np.int32) for p in parts]),
    )
