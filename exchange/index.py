"""The hub's in-memory PDQ index: matcher.PDQIndex over rows of the packed `pdq` table,
loaded from LMDB at start and updated after every commit."""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import NDArray

from matcher import PDQIndex

from .ledger import Applied
from .store import Store


class SignalIndex:
    """Thread-safe wrapper: the writer thread adds rows while search runs in worker threads."""

    def __init__(self) -> None:
        self._pdq = PDQIndex()
        self._lock = threading.Lock()

    def load(self, store: Store) -> int:
        """Loads every PDQ row from the store; returns how many."""
        with store.read() as view:
            rows, hashes = view.pdq_table()
        with self._lock:
            self._pdq = PDQIndex()
            if len(rows):
                self._pdq.add(rows, hashes)
        return len(rows)

    def add_committed(self, applied: list[Applied]) -> None:
        """Applies the PDQ rows that freshly committed entries added and removed, in order."""
        with self._lock:
            for a in applied:
                if a.pdq_rows:
                    ids = np.array([r for r, _ in a.pdq_rows], dtype=np.uint64)
                    hashes = np.frombuffer(b"".join(h for _, h in a.pdq_rows), dtype=np.uint8)
                    self._pdq.add(ids, hashes.reshape(-1, 32))
                if a.pdq_removed:
                    self._pdq.remove(np.array(a.pdq_removed, dtype=np.uint64))

    def search(
        self, queries: NDArray[np.uint8], max_distance: int
    ) -> tuple[NDArray[np.int64], NDArray[np.uint64], NDArray[np.int32]]:
        """(lims, rows, distances) as matcher.PDQIndex.search returns them."""
        with self._lock:
            lims, ids, distances = self._pdq.search(queries, max_distance=max_distance)
        return (
            np.asarray(lims, dtype=np.int64),
            np.asarray(ids, dtype=np.uint64),
            np.asarray(distances, dtype=np.int32),
        )

    def __len__(self) -> int:
        return len(self._pdq)
