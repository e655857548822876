"""`Store`: the hub's LMDB environment — opening it (and upgrading a store an older hub wrote),
its read and write transactions, growing its map, copying it, its size."""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import lmdb

from matcher.pdq_upkeep import RWLock

from ..errors import HubError, data_loss
from .layout import (
    _DATABASES,
    _LATER_DATABASES,
    INITIAL_MAP_BYTES,
    LIVE_SUBMISSIONS_COUNTED,
    LOW_DISK_BYTES,
    MAX_DATABASES,
    PDQ_TABLE_SUM,
    SEALED_RECORDS,
    STORE_CORRUPTION,
)
from .seals import SEALED_DATABASES
from .txn import StoreTxn
from .view import StoreView

T = TypeVar("T")
log = logging.getLogger("signalhub.store")


class StoreFull(Exception):
    """The store cannot take more data: its disk is full, or it reached max_map_bytes."""


def _is_disk_full(error: lmdb.Error) -> bool:
    return "No space left" in str(error) or getattr(error, "errno", None) == errno.ENOSPC


class Store:
    """The hub's LMDB environment. `sync` stays on: a write is acknowledged only once it is on
    disk. The map grows (doubling) when full instead of failing."""

    def __init__(
        self,
        path: Path,
        *,
        map_bytes: int = INITIAL_MAP_BYTES,
        sync: bool = True,
        readonly: bool = False,
        max_map_bytes: int = 0,
        checks: bool = True,
    ) -> None:
        self.path = Path(path)
        self.checks = checks
        """False only to measure what the record checks cost (benchmarks/integrity.py)."""
        self.on_corrupt: Callable[[str], None] | None = None
        """Called with a table's name whenever a read finds a corrupt record (metrics)."""
        self.max_map_bytes = max_map_bytes
        """0 = grow as long as the disk allows."""
        if max_map_bytes:
            map_bytes = min(map_bytes, max_map_bytes)
        if not readonly:
            self.path.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(
            str(self.path),
            map_size=map_bytes,
            max_dbs=MAX_DATABASES,
            sync=sync,
            metasync=sync,
            writemap=False,
            readonly=readonly,
            max_readers=256,
            lock=True,
        )
        self._gate = RWLock()
        """Read transactions (and the writer's) share it; a map resize (LMDB's set_mapsize
        needs no live transaction in this process) takes it alone."""
        self._closed = False
        self.dbs: dict[str, lmdb._Database] = {}
        if readonly:
            for name in _DATABASES:
                try:
                    self.dbs[name] = self.env.open_db(name.encode(), create=False)
                except lmdb.NotFoundError:  # a store written before this table existed
                    if name not in _LATER_DATABASES:
                        raise
        else:
            with self.env.begin() as txn:  # the named tables, as LMDB's main table lists them
                present = {bytes(key).decode(errors="replace") for key, _ in txn.cursor()}
            missing = sorted(set(_DATABASES) - set(_LATER_DATABASES) - present)
            if present & set(_DATABASES) and missing:
                # A store with data lost a table's entry: creating it empty would serve nothing
                # where it had records, without a word.
                raise data_loss(
                    f"the store's tables {', '.join(missing)} are missing (LMDB's "
                    "list of tables is damaged)"
                )
            with self.env.begin(write=True) as txn:
                for name in _DATABASES:
                    self.dbs[name] = self.env.open_db(name.encode(), txn=txn, create=True)
            with self.read() as view:
                counted = view.meta(LIVE_SUBMISSIONS_COUNTED) is not None
                summed = view.meta(PDQ_TABLE_SUM) is not None
                fresh = not view.seals_required() and not any(
                    view.entries(name) for name in (*SEALED_DATABASES, "log")
                )
            if not counted:
                self.write(lambda tx: tx.count_live_submissions())
            if not summed:  # a store from before the sum: one pass over the table, once
                self.write(lambda tx: tx.sum_pdq_table())
            if fresh:
                self.write(lambda tx: tx.set_meta(SEALED_RECORDS, b"1"))

    @contextmanager
    def read(self) -> Iterator[StoreView]:
        """A short read transaction. Do not hold it across an await. LMDB's own corruption
        errors (a damaged page) become HubError(DATA_LOSS) too."""
        with self._gate.read(), self.env.begin(buffers=False) as txn:
            try:
                yield StoreView(txn, self.dbs, self.on_corrupt, self.checks)
            except STORE_CORRUPTION as e:
                raise self._damaged(e) from e

    def begin_view(self, checks: bool = True) -> StoreView:
        """A read transaction of a store another process may be writing (this one opened it
        read-only): when that process grew the map meanwhile (LMDB's MDB_MAP_RESIZED), adopts
        the new size. The caller ends it (`view.end()`); `read_only_view` does that for it."""
        try:
            txn = self.env.begin(buffers=False)
        except lmdb.MapResizedError:
            self.env.set_mapsize(0)
            txn = self.env.begin(buffers=False)
        return StoreView(txn, self.dbs, checks=checks)

    @contextmanager
    def read_only_view(self, checks: bool = True) -> Iterator[StoreView]:
        """`begin_view` as a block: a short read transaction of a store another process may be
        writing, ended when the block ends (reports, the offline check)."""
        view = self.begin_view(checks)
        with view.txn:
            yield view

    def _damaged(self, error: lmdb.Error) -> HubError:
        log.error("the store's LMDB pages are damaged: %s", error)
        if self.on_corrupt is not None:
            self.on_corrupt("lmdb")
        return data_loss(f"the store is damaged (LMDB: {type(error).__name__})")

    def write(self, work: Callable[[StoreTxn], T]) -> T:
        """Runs `work` in one write transaction and commits it; on a full map, aborts, doubles
        the map and runs `work` again (it must be repeatable: it is, being a function of the
        transaction's contents). Call only from the writer thread (or before serving)."""
        while True:
            try:
                with self._gate.read(), self.env.begin(write=True) as txn:
                    tx = StoreTxn(txn, self.dbs, self.env, self.on_corrupt)
                    result = work(tx)
                    tx.flush_counters()
                return result
            except lmdb.MapFullError:
                self.grow()
            except STORE_CORRUPTION as e:
                raise self._damaged(e) from e
            except lmdb.Error as e:
                # LMDB reports a write into a full disk as ENOSPC or, from its commit, EIO.
                if _is_disk_full(e) or self.disk_free_bytes() < LOW_DISK_BYTES:
                    raise StoreFull("the disk under the store is full") from e
                raise

    def copy_to(self, directory: Path) -> None:
        """A compacted copy of the environment into `directory` (from one read transaction,
        so consistent while writes go on)."""
        with self._gate.read():
            self.env.copy(str(directory), compact=True)

    def disk_free_bytes(self) -> int:
        """Free bytes on the disk under the store."""
        return shutil.disk_usage(self.path).free

    def grow(self) -> None:
        """Doubles the map size (up to max_map_bytes), waiting until no read transaction is
        open. Raises StoreFull when the map may not grow further."""
        with self._gate.write():
            size = int(self.env.info()["map_size"])
            if self.max_map_bytes and size >= self.max_map_bytes:
                raise StoreFull(f"the store reached its maximum size ({self.max_map_bytes} bytes)")
            target = size * 2
            if self.max_map_bytes:
                target = min(target, self.max_map_bytes)
            self.env.set_mapsize(target)

    def map_bytes(self) -> tuple[int, int]:
        """(bytes in use, map size); (0, 0) once closed."""
        if self._closed:
            return 0, 0
        info = self.env.info()
        stat = self.env.stat()
        used = (int(info["last_pgno"]) + 1) * int(stat["psize"])
        return used, int(info["map_size"])

    def file_bytes(self) -> int:
        """The size of the data file (0 when there is none)."""
        data = self.path / "data.mdb"
        return os.path.getsize(data) if data.exists() else 0

    def close(self) -> None:
        """Closes the environment."""
        self._closed = True
        self.env.close()


def copy_environment(source: Path, target: Path) -> None:
    """A compacted copy of the LMDB environment in directory `source` into directory `target`,
    from one read transaction (consistent while a hub writes it). Opens none of its tables, so
    it copies a store of any age as it is (backups)."""
    env = lmdb.open(str(source), readonly=True, lock=True, max_dbs=MAX_DATABASES)
    try:
        env.copy(str(target), compact=True)
    finally:
        env.close()
