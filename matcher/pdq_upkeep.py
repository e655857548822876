"""The pieces `matcher.PDQIndex` keeps itself current with while it is being searched.

* `Rows`: a growable array of rows in an anonymous memory map. Growing remaps pages
  (``mremap``) instead of copying, and pages never written take no memory, so the base can
  grow by a fold without a second copy of 10M hashes in memory or a 100 ms memcpy under the
  lock.
* `merge_chunk`: one chunk's CSR table over rows ``[0, first + t)`` from its table over
  ``[0, first)`` and the chunk values of the ``t`` new rows: a merge, not a sort, that needs
  one chunk's rows again (4 bytes a hash), not a second set of tables.
* `RWLock`: searches share the index, changes take it alone, and the two take turns so
  that neither a stream of searches nor a stream of changes starves the other (the store
  uses it too, for its map resizes).
"""

from __future__ import annotations

import ctypes
import mmap
import platform
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

U32 = npt.NDArray[np.uint32]
_ARCHES = ("x86_64", "aarch64", "riscv64")
_LINUX = sys.platform == "linux" and platform.machine() in _ARCHES


# Linux's MAP_NORESERVE (the mmap module names it from Python 3.12; its value differs on a
# few other architectures): address space asked for without committing memory to it.
_MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000 if _LINUX else 0)
_MADV_POPULATE_WRITE = 23  # Linux 5.14+; elsewhere the call fails and prefaulting stops
_PAGE_BYTES = mmap.PAGESIZE
_PREFAULT_AHEAD_BYTES = 4 << 20


def _libc_madvise() -> Any:
    if not _LINUX:
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):  # pragma: no cover - a libc without madvise
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_madvise = _libc_madvise()  # through ctypes, which lets go of the GIL for the call
RESERVED_ROWS = 1 << 28
"""Rows of address space a buffer takes at once (8 GiB for the base's words, 5x the 50M
goal): growing inside it moves nothing. A move (``mremap``) lands the pages at an address
with another offset in its 2 MiB page, so the kernel splits the huge pages, and every probe
after it pays a TLB miss: matching at 10M was 1.5x slower after one."""


class Rows:
    """Rows of ``width`` items of ``dtype`` in an anonymous memory map, grown in place.

    The map is made once with room for ``reserved`` rows of address space (pages never
    written take no memory); growing past that remaps the pages (``mremap``) instead of
    copying them. `view(n)` is a numpy array over the first ``n`` rows. Views must not
    outlive the call that took them: a remap refuses (BufferError) while one exists, which is
    how a leak would show, never as a dangling pointer."""

    def __init__(self, dtype: npt.DTypeLike, width: int = 1, reserved: int = RESERVED_ROWS) -> None:
        self.dtype = np.dtype(dtype)
        self.width = width
        self.capacity = 0
        self._reserved = reserved
        self._map: mmap.mmap | None = None
        self._faulted = 0  # bytes from the start whose pages are known to be in memory
        self._remap = threading.Lock()  # a prefault and a move of the pages never overlap

    def _size(self, rows: int) -> int:
        return max(rows, 1) * self.dtype.itemsize * self.width

    def reserve(self, rows: int) -> None:
        """Room for at least ``rows`` rows (the capacity at least doubles when it grows)."""
        if rows <= self.capacity:
            return
        cap = max(rows, 2 * self.capacity, 4096)
        if self._map is None:
            self._map = _new_map(self._size(max(cap, self._reserved)), self._size(cap))
            cap = len(self._map) // (self.dtype.itemsize * self.width)
        else:
            with self._remap:
                self._grow(cap)
        self.capacity = cap
        if hasattr(mmap, "MADV_HUGEPAGE"):  # every probe is a random read: huge pages help
            self._map.madvise(mmap.MADV_HUGEPAGE)

    def _grow(self, cap: int) -> None:
        assert self._map is not None
        try:
            self._map.resize(self._size(cap))
        except OSError:  # pragma: no cover - systems without mremap: grow by copying
            grown = mmap.mmap(-1, self._size(cap), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            grown[: self._size(self.capacity)] = self._map[: self._size(self.capacity)]
            self._map.close()
            self._map = grown
            self._faulted = self._size(self.capacity)

    def prefault(self, rows: int) -> None:
        """Brings the pages of the first ``rows`` rows (and a few MiB past them) into memory
        now, without changing them, so that the writes to come do not wait on page faults.

        Meant for the caller about to append, before it takes the index's lock: on the
        benchmark machine's VM a fresh 2 MiB page took ~4.5 ms to fault in, and a fault under
        the lock stalled every search behind it. Safe beside concurrent writes to the same
        pages (MADV_POPULATE_WRITE fills page tables only); a no-op where unsupported."""
        need = self._size(rows)
        if _madvise is None or self._map is None:
            return
        if need + _PREFAULT_AHEAD_BYTES // 2 <= self._faulted:
            return
        want = min(need + _PREFAULT_AHEAD_BYTES, self._size(self.capacity))
        with self._remap:
            start = self._faulted // _PAGE_BYTES * _PAGE_BYTES
            if self._map is None or want <= start:
                return
            view = np.frombuffer(self._map, dtype=np.uint8, count=1)
            address = view.ctypes.data
            del view
            if _madvise(address + start, want - start, _MADV_POPULATE_WRITE) == 0:
                self._faulted = want
            else:  # an older kernel: stop asking
                self._faulted = len(self._map)

    def view(self, n: int) -> npt.NDArray[Any]:
        """The first ``n`` rows (shape ``(n,)`` for width 1, else ``(n, width)``)."""
        if n > self.capacity:
            raise ValueError(f"{n} rows asked of {self.capacity}")
        if self._map is None:
            flat = np.zeros(0, dtype=self.dtype)
        else:
            flat = np.frombuffer(self._map, dtype=self.dtype, count=n * self.width)
        return flat if self.width == 1 else flat.reshape(n, self.width)


def _new_map(wanted: int, needed: int) -> mmap.mmap:
    """An anonymous map of ``wanted`` bytes of address space if the system lends it without
    committing memory, else of the ``needed`` bytes."""
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    if _MAP_NORESERVE and wanted > needed:
        try:
            return mmap.mmap(-1, wanted, flags=flags | _MAP_NORESERVE)
        except OSError:  # strict overcommit or a limit on address space
            pass
    return mmap.mmap(-1, needed, flags=flags)


def merge_chunk(offsets: U32, rows: U32, tail_values: U32, first: int) -> tuple[U32, U32]:
    """A chunk's table over rows ``[0, first + t)`` from its table over ``[0, first)``.

    ``offsets``/``rows`` are the old CSR table (``rows`` holds ``first`` entries, each bucket's
    rows ascending); ``tail_values[k]`` is the chunk value of row ``first + k``. New rows are
    larger than every old one, so each lands after its bucket's old rows, in row order, and
    the result is exactly what building the table from scratch gives."""
    t = int(tail_values.shape[0])
    buckets = offsets.shape[0] - 1
    order = np.argsort(tail_values, kind="stable")
    values = tail_values[order]
    # New row k (by value, then row) lands after the old rows of buckets <= its value and the
    # k new rows before it.
    dest = offsets[values.astype(np.int64) + 1].astype(np.int64) + np.arange(t, dtype=np.int64)
    total = int(rows.shape[0]) + t
    merged = np.empty(total, dtype=np.uint32)
    old = np.ones(total, dtype=np.bool_)
    old[dest] = False
    merged[old] = rows
    del old
    merged[dest] = order.astype(np.uint32) + np.uint32(first)
    grown = offsets.copy()
    grown[1:] += np.cumsum(np.bincount(values, minlength=buckets), dtype=np.int64).astype(np.uint32)
    return grown, merged


class RWLock:
    """Many readers or one writer, taking turns: a waiting writer holds back new readers, and
    readers waiting when a writer finishes go before the next writer, so neither a stream of
    searches nor a stream of changes starves the other."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0
        self._readers_waiting = 0
        self._readers_turn = False

    @contextmanager
    def read(self) -> Iterator[None]:
        """Held while searching; shared."""
        with self._cond:
            self._readers_waiting += 1
            while self._writer or (self._writers_waiting and not self._readers_turn):
                self._cond.wait()
            self._readers_waiting -= 1
            if not self._readers_waiting:
                self._readers_turn = False
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Held while changing; exclusive."""
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers or self._readers_turn:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._readers_turn = self._readers_waiting > 0
                self._cond.notify_all()
