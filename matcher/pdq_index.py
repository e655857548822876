"""Exact Hamming-distance search over 256-bit PDQ hashes.

Design (multi-index hashing, Norouzi, Punjani & Fleet 2012):

* The index is a static, id-sorted **base** plus a small brute-forced **delta**
  that receives new adds, and a **tombstone** mask over the base for removals.
  When the delta outgrows ``delta_fraction`` of the base (or too many base rows
  are dead) ``add``/``remove`` rebuild the base synchronously.
* The base splits the 256 bits into ``m`` disjoint chunks of ~``log2(N) - 1``
  bits.  Each chunk has a direct-addressed CSR table: ``offsets`` (``2**b + 1``
  entries) and ``rows`` (the base rows sorted by that chunk's value).
* By pigeonhole, a hash within distance ``r = m*s + a`` (``0 <= a < m``) of the
  query is within ``s`` bits of it on one of any ``a + 1`` chunks, or within
  ``s - 1`` on one of the other ``m - a - 1`` chunks.  The search probes every
  bucket in those Hamming balls, verifies candidates with a full popcount and
  removes duplicates, so results are exact.
* When the estimated probing cost exceeds a linear scan (large radius, tiny
  index) the base is brute-forced instead.

The hot loops live in an optional C extension (``matcher._pdqcore``, built from
``matcher/_core/pdqcore.c``); without it the same algorithms run in numpy.

Bit numbering: the 32 bytes are read as four little-endian ``uint64`` words and
bit ``k`` is bit ``k % 64`` of word ``k // 64``.  Hamming distance does not
depend on the numbering; only chunk boundaries do.

Not thread-safe: callers must serialise every call (the server holds its own
lock around the index).

At some 570 lines this module is over the usual size, on purpose: the planner, the
numpy versions of the C core's loops and the class that chooses between them are
one algorithm, and the tests compare its two implementations line for line; kept
together, a change to the chunking or the probing plan is read and reviewed in one
file.
"""

from __future__ import annotations

import importlib
import itertools
import math
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from matcher.exact_index import _as_ids
from matcher.pdq_upkeep import Rows, RWLock, merge_chunk

_core: ModuleType | None
try:  # pragma: no cover - depends on the build
    _core = importlib.import_module("matcher._pdqcore")
except ImportError:  # pragma: no cover - depends on the build
    _core = None

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

HASH_BITS: Final = 256
WORDS: Final = 4

# Relative costs for the probe-or-scan decision (unit: one random candidate check).
_COST_BUCKET: Final = 1.0
_COST_CANDIDATE: Final = 1.0
_COST_SCAN_ROW: Final = 0.06
_MAX_PROBE_BUCKETS: Final = 1 << 21


def has_compiled_core() -> bool:
    """Whether the optional C extension is in use."""
    return _core is not None


def _as_words(hashes: npt.ArrayLike) -> U64:
    """Validate ``uint8 (n, 32)`` hashes and view them as ``uint64 (n, 4)`` words."""
    arr = np.asarray(hashes)
    if arr.ndim != 2 or arr.shape[1] != 32:
        raise ValueError(f"hashes must have shape (n, 32), got {arr.shape}")
    if arr.dtype != np.uint8:
        if arr.size:
            raise ValueError(f"hashes must be uint8, got {arr.dtype}")
        arr = arr.astype(np.uint8)
    words = np.ascontiguousarray(arr).view("<u8")
    if words.dtype != np.uint64:  # pragma: no cover - big-endian hosts only
        words = words.astype(np.uint64)
    return np.ascontiguousarray(words, dtype=np.uint64)


def _chunk_values(words: U64, lo: int, width: int) -> U32:
    """Value of bits ``[lo, lo + width)`` of every row (``width <= 32``)."""
    j, off = divmod(lo, 64)
    v = words[:, j] >> np.uint64(off)
    if off + width > 64:
        v = v | (words[:, j + 1] << np.uint64(64 - off))
    return (v & np.uint64((1 << width) - 1)).astype(np.uint32)


_MASK_CACHE: dict[tuple[int, int], U32] = {}


def _masks(width: int, radius: int) -> U32:
    """All ``width``-bit masks of popcount ``<= radius``, ordered by popcount."""
    key = (width, radius)
    got = _MASK_CACHE.get(key)
    if got is None:
        out: list[int] = []
        for k in range(radius + 1):
            for combo in itertools.combinations(range(width), k):
                out.append(sum(1 << b for b in combo))
        got = np.asarray(out, dtype=np.uint32)
        _MASK_CACHE[key] = got
    return got


def _ball(width: int, radius: int) -> int:
    return sum(math.comb(width, k) for k in range(radius + 1)) if radius >= 0 else 0


def _chunk_widths(n: int) -> list[int]:
    """Chunk widths for ``n`` hashes: ~``log2(n) - 1`` bits, so buckets hold ~2 rows
    and the offset tables cost ~``2 * m * 4 / 2`` bytes per hash."""
    bits = min(max(math.floor(math.log2(max(n, 2))) - 1, 8), 26)
    m = -(-HASH_BITS // bits)
    base, extra = divmod(HASH_BITS, m)
    return [base + 1] * extra + [base] * (m - extra)


@dataclass
class _Tables:
    """Multi-index hashing tables over the base rows."""

    widths: list[int]
    los: list[int]
    offsets: list[U32]
    rows: list[U32]
    # per-radius caches: probe plan (None = scan) and the C core's probe list
    plans: dict[tuple[int, str], list[int] | None] = field(default_factory=dict)
    probes: dict[int, list[tuple[int, int, U32, U32, U32]]] = field(default_factory=dict)


_HUGE_PAGE_BYTES: Final = 2 << 20


def _empty_u32_page_aligned(n: int) -> U32:
    """``np.empty(n, np.uint32)`` starting on a 2 MiB boundary when it spans huge pages.

    Every probe is a random read; numpy asks for transparent huge pages but starts its
    buffers anywhere, and on the benchmark machine the same tables searched ~15 % faster
    (the words array ~40 % more) from 2 MiB-aligned buffers. The padding is never touched,
    so it costs address space, not RSS."""
    nbytes = 4 * n
    if nbytes < 2 * _HUGE_PAGE_BYTES:
        return np.empty(n, dtype=np.uint32)
    raw = np.empty(nbytes + _HUGE_PAGE_BYTES, dtype=np.uint8)
    start = -raw.ctypes.data % _HUGE_PAGE_BYTES
    return raw[start : start + nbytes].view(np.uint32)


def _chunk_los(widths: list[int]) -> list[int]:
    return [int(x) for x in np.cumsum([0, *widths[:-1]])]


def _build_chunk(words: U64, lo: int, width: int) -> tuple[U32, U32]:
    """The CSR table (offsets, rows) of bits ``[lo, lo + width)`` over ``words``."""
    n = words.shape[0]
    off = _empty_u32_page_aligned((1 << width) + 1)
    rw = _empty_u32_page_aligned(n)
    if _core is not None:
        _core.build_chunk(words, lo, width, off, rw)
        return off, rw
    vals = _chunk_values(words, lo, width)
    # sort (value << 32 | row): same order as a stable argsort, much faster
    key = vals.astype(np.uint64) << np.uint64(32)
    key |= np.arange(n, dtype=np.uint64)
    key.sort()
    rw[:] = key & np.uint64(0xFFFFFFFF)
    del key
    off[0] = 0
    np.cumsum(np.bincount(vals, minlength=1 << width), out=off[1:])
    return off, rw


def _build_tables(words: U64) -> _Tables:
    widths = _chunk_widths(words.shape[0])
    los = _chunk_los(widths)
    built = [_build_chunk(words, lo, width) for lo, width in zip(los, widths, strict=True)]
    return _Tables(widths, los, [off for off, _ in built], [rows for _, rows in built])


def _plan(widths: list[int], n: int, radius: int, force: bool = False) -> list[int] | None:
    """Probe radius per chunk (``-1`` = skip) or ``None`` if a scan is cheaper.

    With ``force`` the plan is returned unless it exceeds the bucket cap."""
    m = len(widths)
    s, a = divmod(radius, m)

    # a + 1 chunks get radius s, the rest s - 1; give s where it costs least.
    def cost(width: int, t: int) -> float:
        b = _ball(width, t)
        return b * (_COST_BUCKET + _COST_CANDIDATE * n / (1 << width))

    extra = sorted(range(m), key=lambda c: cost(widths[c], s) - cost(widths[c], s - 1))
    radii = [s - 1] * m
    for c in extra[: a + 1]:
        radii[c] = s
    total = sum(cost(widths[c], radii[c]) for c in range(m))
    buckets = sum(_ball(widths[c], radii[c]) for c in range(m))
    if buckets > _MAX_PROBE_BUCKETS or (not force and total > n * _COST_SCAN_ROW):
        return None
    return radii


Result = tuple[I64, U32, npt.NDArray[np.uint16]]


def _np_brute(words: U64, alive: Bool | None, queries: U64, radius: int) -> Result:
    """Numpy linear scan; per-query matches sorted by (distance, row)."""
    q = queries.shape[0]
    counts = np.zeros(q + 1, dtype=np.int64)
    rows_out: list[npt.NDArray[np.intp]] = []
    d_out: list[npt.NDArray[np.uint16]] = []
    block = 1 << 18
    for i in range(q):
        hit_rows: list[npt.NDArray[np.intp]] = []
        hit_d: list[npt.NDArray[np.uint16]] = []
        for start in range(0, words.shape[0], block):
            w = words[start : start + block]
            d = np.bitwise_count(w ^ queries[i]).sum(axis=1, dtype=np.uint16)
            ok = d <= radius
            if alive is not None:
                ok &= alive[start : start + block]
            idx = np.flatnonzero(ok)
            hit_rows.append(idx + start)
            hit_d.append(d[idx])
        r = np.concatenate(hit_rows) if hit_rows else np.zeros(0, np.intp)
        dd = np.concatenate(hit_d) if hit_d else np.zeros(0, np.uint16)
        order = np.argsort(dd, kind="stable")
        rows_out.append(r[order])
        d_out.append(dd[order])
        counts[i + 1] = counts[i] + len(r)
    rows = np.concatenate(rows_out).astype(np.uint32) if rows_out else np.zeros(0, np.uint32)
    dist = np.concatenate(d_out) if d_out else np.zeros(0, np.uint16)
    return counts, rows, dist


def _np_mih(
    words: U64, alive: Bool, tables: _Tables, radii: list[int], queries: U64, radius: int
) -> Result:
    """Numpy multi-index search; per-query matches sorted by (distance, row)."""
    q = queries.shape[0]
    n = words.shape[0]
    lims = np.zeros(q + 1, dtype=np.int64)
    rows_parts: list[U32] = []
    d_parts: list[npt.NDArray[np.uint16]] = []
    block = 64
    for b0 in range(0, q, block):
        qw = queries[b0 : b0 + block]
        nq = qw.shape[0]
        cq: list[npt.NDArray[np.intp]] = []
        cr: list[U32] = []
        for c, t in enumerate(radii):
            if t < 0:
                continue
            masks = _masks(tables.widths[c], t)
            v = _chunk_values(qw, tables.los[c], tables.widths[c])
            buckets = (v[:, None] ^ masks[None, :]).ravel()
            off = tables.offsets[c]
            st = off[buckets].astype(np.int64)
            ln = off[buckets + 1].astype(np.int64) - st
            total = int(ln.sum())
            if total == 0:
                continue
            excl = np.cumsum(ln) - ln
            pos = np.arange(total, dtype=np.int64) + np.repeat(st - excl, ln)
            cr.append(tables.rows[c][pos])
            per_q = ln.reshape(nq, -1).sum(axis=1)
            cq.append(np.repeat(np.arange(nq), per_q))
        if not cr:
            continue
        qi = np.concatenate(cq)
        rows = np.concatenate(cr)
        d = np.bitwise_count(words[rows] ^ qw[qi]).sum(axis=1, dtype=np.uint16)
        ok = np.flatnonzero((d <= radius) & alive[rows])
        key = np.unique(qi[ok].astype(np.int64) * n + rows[ok])
        qi2, rows2 = np.divmod(key, n)
        d2 = np.bitwise_count(words[rows2] ^ qw[qi2]).sum(axis=1, dtype=np.uint16)
        order = np.lexsort((rows2, d2, qi2))
        rows_parts.append(rows2[order].astype(np.uint32))
        d_parts.append(d2[order])
        lims[b0 + 1 : b0 + nq + 1] = np.bincount(qi2, minlength=nq)
    np.cumsum(lims, out=lims)
    rows_all = np.concatenate(rows_parts) if rows_parts else np.zeros(0, np.uint32)
    d_all = np.concatenate(d_parts) if d_parts else np.zeros(0, np.uint16)
    return lims, rows_all, d_all


def _brute(words: U64, alive: Bool | None, queries: U64, radius: int) -> Result:
    if _core is not None:
        c, r, d = _core.brute_search(words, alive, queries, radius)
        return (
            np.frombuffer(c, dtype=np.int64),
            np.frombuffer(r, dtype=np.uint32),
            np.frombuffer(d, dtype=np.uint16),
        )
    return _np_brute(words, alive, queries, radius)


def _mih(
    words: U64, alive: Bool, tables: _Tables, radii: list[int], queries: U64, radius: int
) -> Result:
    if _core is not None:
        probes = tables.probes.get(radius)
        if probes is None:
            probes = [
                (
                    tables.los[c],
                    tables.widths[c],
                    tables.offsets[c],
                    tables.rows[c],
                    _masks(tables.widths[c], t),
                )
                for c, t in enumerate(radii)
                if t >= 0
            ]
            tables.probes[radius] = probes
        c_, r_, d_ = _core.mih_search(words, alive, probes, queries, radius)
        return (
            np.frombuffer(c_, dtype=np.int64),
            np.frombuffer(r_, dtype=np.uint32),
            np.frombuffer(d_, dtype=np.uint16),
        )
    return _np_mih(words, alive, tables, radii, queries, radius)


_EMPTY_U64: Final = np.zeros(0, dtype=np.uint64)


class PDQIndex:
    """Exact Hamming search over PDQ hashes keyed by uint64 ids.

    Each id holds one hash; several ids may hold the same hash.  ``add`` with an
    existing id replaces its hash; removing an unknown id is a no-op.

    Thread-safe: searches share the index, changes take it alone.  Keeping the tables
    current is *upkeep*, done either inside the call that makes it due (the default) or,
    with ``background=True``, by a worker thread while searches go on:

    * a **fold** moves the delta into the base's tail (rows past the tables' coverage,
      brute-forced like the delta) and then merges the tail into each chunk's table in
      turn, one chunk at a time (a merge, not a sort; one chunk's rows of extra memory).
      Folds need ids above every base id, as the hub's row numbers are;
    * a **widening** (every 4x growth) chooses the chunk widths again and builds the new
      chunks one at a time, each replacing the old chunks its bits overlap;
    * a **rebuild** (when ``dead_fraction`` of the base is dead, when ids arrive out of
      order, or when the base first reaches ``min_mih``) builds a new base beside the old
      one from a snapshot and swaps it in; changes made meanwhile go to the delta and are
      replayed onto the new base at the swap.

    Args:
        delta_fraction: fold the delta into the base when it exceeds this fraction of
            the base size (a larger value means cheaper adds but slower searches).
        min_delta: the delta may always hold this many hashes before a fold.
        dead_fraction: rebuild when this fraction of base rows are tombstones.
        min_mih: below this many base hashes no tables are built (linear scan).
        strategy: ``"auto"`` picks probing or scanning per search by estimated
            cost; ``"mih"`` always probes when tables exist and ``"scan"`` always
            scans (both for tests and benchmarks; results are identical).
        background: do the upkeep on a worker thread (call `close` when done).
    """

    def __init__(
        self,
        *,
        delta_fraction: float = 1 / 128,
        min_delta: int = 8192,
        dead_fraction: float = 0.125,
        min_mih: int = 16384,
        strategy: Literal["auto", "mih", "scan"] = "auto",
        background: bool = False,
        mid_fraction: float = 1 / 16,
    ) -> None:
        if strategy not in ("auto", "mih", "scan"):
            raise ValueError(f"unknown strategy {strategy!r}")
        self._strategy = strategy
        self._delta_fraction = delta_fraction
        self._min_delta = min_delta
        self._dead_fraction = dead_fraction
        self._min_mih = min_mih
        self._mid_fraction = mid_fraction
        self._lock = RWLock()
        # Base: rows [0, _n) of the buffers, ids strictly ascending.  Chunk c's table covers
        # rows [0, _covered[c]); rows from min(_covered) on are the brute-forced tail.
        self._ids = Rows(np.uint64)
        self._words = Rows(np.uint64, WORDS)
        self._alive = Rows(np.bool_)
        self._n = 0
        self._dead = 0
        self._tables: _Tables | None = None
        self._covered: list[int] = []
        self._sized_for = 0
        self._widen: list[tuple[int, int]] = []  # new chunks (lo, width) still to build
        self._unordered = False
        # The tail's own tables (rows [lo, hi)), rebuilt from scratch as the tail grows and
        # merged into the base's tables once it reaches `mid_fraction` of them; rows past it
        # are scanned.  `_merge_target`: the row the base's tables are being merged up to.
        self._mid: _Mid | None = None
        self._merge_target = 0
        # Delta: first ``_d_n`` slots of growable arrays; dict id -> slot.
        self._d_ids: U64 = np.zeros(64, dtype=np.uint64)
        self._d_words: U64 = np.zeros((64, WORDS), dtype=np.uint64)
        self._d_n = 0
        self._d_slot: dict[int, int] = {}
        # Upkeep: the piece under way (one at a time; it may view the base, which must not
        # grow under it), the rebuild under way and the ids changed since it started,
        # replayed onto the new base at the swap.
        self._job: _Work | None = None
        self._rebuild_job: _Rebuild | None = None
        self._touched: list[U64] = []
        self._released: list[object] = []  # replaced under the lock, freed after it
        self._worker: _Worker | None = _Worker(self) if background else None

    def close(self) -> None:
        """Stops the background worker (searches and changes still work, upkeep inline)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Waits until no upkeep is due (tests, benchmarks, start-up); True if idle."""
        worker = self._worker
        return True if worker is None else worker.wait_idle(timeout)

    # ------------------------------------------------------------------ size
    def __len__(self) -> int:
        """Number of live hashes."""
        with self._lock.read():
            return self._n - self._dead + self._d_n

    def memory_bytes(self) -> int:
        """Bytes held by the index arrays (rows in use; excluding Python objects)."""
        with self._lock.read():
            total = self._n * (8 + 8 * WORDS + 1)
            total += self._d_ids.nbytes + self._d_words.nbytes
            if self._tables is not None:
                total += sum(a.nbytes for a in self._tables.offsets)
                total += sum(a.nbytes for a in self._tables.rows)
            return total

    def upkeep_state(self) -> dict[str, int]:
        """Rows in the base, in its tail's own tables ("mid"), in the scanned tail and in the
        delta; whether a rebuild is under way (benchmarks and metrics)."""
        with self._lock.read():
            covered = self._covered_rows()
            scanned = self._scanned_from()
            return {
                "base": self._n,
                "mid": scanned - covered,
                "tail": self._n - scanned,
                "delta": self._d_n,
                "rebuilding": int(self._rebuild_job is not None or bool(self._widen)),
            }

    def _covered_rows(self) -> int:
        """Rows every chunk's table covers."""
        return min(self._covered) if self._tables is not None else 0

    def _scanned_from(self) -> int:
        """The first row of the scanned tail (past the base's and the mid tables)."""
        covered = self._covered_rows()
        mid = self._mid
        return mid.hi if mid is not None and mid.hi > covered else covered

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """The write lock; what the change replaced (old tables, buffers, a delta) is freed
        after it is let go: unmapping hundreds of MiB took milliseconds every search waited
        for."""
        with self._lock.write():
            yield
            released, self._released = self._released, []
        del released

    def _fold_limit(self) -> int:
        return max(self._min_delta, int((self._n - self._dead) * self._delta_fraction))

    # ------------------------------------------------------------- mutation
    def add(self, ids: npt.ArrayLike, hashes: npt.ArrayLike) -> None:
        """Insert or replace ``hashes[i]`` under ``ids[i]`` (last occurrence wins)."""
        id_arr = _as_ids(ids)
        words = _as_words(hashes)
        if id_arr.shape[0] != words.shape[0]:
            raise ValueError(f"{id_arr.shape[0]} ids but {words.shape[0]} hashes")
        if id_arr.shape[0] == 0:
            return
        id_arr, words = _last_wins(id_arr, words)
        # Fault in the pages the batch will land on before taking the lock (a racy read of
        # the size is fine: prefaulting changes no data), so that searches never wait on it.
        rows = self._n + self._d_n + id_arr.shape[0]
        for buf in (self._ids, self._words, self._alive):
            buf.prefault(rows)
        with self._changing():
            if self._append_bulk(id_arr, words):
                self._upkeep()
                return
            self._kill_base(id_arr)
            new_ids: list[int] = []
            new_rows: list[int] = []
            for k, i in enumerate(id_arr.tolist()):
                slot = self._d_slot.get(i)
                if slot is None:
                    new_ids.append(i)
                    new_rows.append(k)
                else:
                    self._d_words[slot] = words[k]
            if new_ids:
                self._append_delta(np.asarray(new_ids, dtype=np.uint64), words[new_rows])
            if self._rebuild_job is not None:
                self._touched.append(id_arr)
            if self._d_n > self._fold_limit():
                self._fold()
            self._upkeep()

    def remove(self, ids: npt.ArrayLike) -> None:
        """Remove the given ids; unknown ids are ignored."""
        id_arr = _as_ids(ids)
        if id_arr.shape[0] == 0:
            return
        with self._changing():
            self._kill_base(id_arr)
            if self._rebuild_job is not None:
                self._touched.append(id_arr)
            for i in id_arr.tolist() if self._d_n else ():
                self._drop_delta(i)
            self._upkeep()

    def _append_bulk(self, ids: U64, words: U64) -> bool:
        """Appends a batch straight to the base's tail when its ids are above every stored id,
        as the hub's row numbers are (a first load, a backfill, every commit): the tail is
        scanned like the delta until the upkeep gives it tables, so this costs a copy of the
        batch under the lock and no fold later. A delta left over (changes made while a
        rebuild copied the base) is folded first so that the base's ids stay ascending."""
        k = ids.shape[0]
        if not self._may_append(self._d_n + k):
            return False
        if k > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            order = np.argsort(ids, kind="stable")
            ids, words = ids[order], words[order]
        n, d = self._n, self._d_n
        top = max(
            int(self._ids.view(n)[n - 1]) if n else -1, int(self._d_ids[:d].max()) if d else -1
        )
        if int(ids[0]) <= top:
            return False
        if d:
            self._fold()
            if self._d_n:
                return False
            n = self._n
        # Room ahead, taken while nothing views the buffers, so that appends go on while
        # the upkeep works (the buffers may not move under its view of them).
        ahead = n + k + (4 * self._fold_limit() if self._job is None else 0)
        for buf in (self._ids, self._words, self._alive):
            buf.reserve(ahead)
        self._ids.view(n + k)[n:] = ids
        self._words.view(n + k)[n:] = words
        self._alive.view(n + k)[n:] = True
        self._n = n + k
        return True

    def _may_append(self, rows: int) -> bool:
        """Whether rows may be appended to the base now. Not while a rebuild is due or works
        from a copy of the base (the new base would lack them), nor when the buffers must
        grow while upkeep views them (growing may move them); the delta waits instead."""
        if self._unordered:
            return False
        job = self._job
        if job is None:
            return True
        if isinstance(job, _Rebuild) and not job.reuse:
            return False
        return self._n + rows <= min(self._ids.capacity, self._words.capacity, self._alive.capacity)

    def _drop_delta(self, i: int) -> None:
        slot = self._d_slot.pop(i, None)
        if slot is None:
            return
        last = self._d_n - 1
        if slot != last:
            moved = int(self._d_ids[last])
            self._d_ids[slot] = moved
            self._d_words[slot] = self._d_words[last]
            self._d_slot[moved] = slot
        self._d_n = last

    def _kill_base(self, id_arr: U64) -> None:
        if self._n:
            self._dead += _kill(self._ids.view(self._n), self._alive.view(self._n), id_arr)

    def _append_delta(self, ids: U64, words: U64) -> None:
        need = self._d_n + ids.shape[0]
        cap = self._d_ids.shape[0]
        if need > cap:
            cap = max(need, 2 * cap)
            d_ids = np.zeros(cap, dtype=np.uint64)
            d_words = np.zeros((cap, WORDS), dtype=np.uint64)
            d_ids[: self._d_n] = self._d_ids[: self._d_n]
            d_words[: self._d_n] = self._d_words[: self._d_n]
            self._released.append((self._d_ids, self._d_words))
            self._d_ids, self._d_words = d_ids, d_words
        self._d_ids[self._d_n : need] = ids
        self._d_words[self._d_n : need] = words
        for k, i in enumerate(ids.tolist()):
            self._d_slot[i] = self._d_n + k
        self._d_n = need

    def _clear_delta(self) -> None:
        self._released.append((self._d_ids, self._d_words, self._d_slot))
        self._d_ids = np.zeros(64, dtype=np.uint64)
        self._d_words = np.zeros((64, WORDS), dtype=np.uint64)
        self._d_n = 0
        self._d_slot = {}

    def _fold(self) -> None:
        """Moves the delta into the base's tail; the tables catch up in `_upkeep`."""
        d = self._d_n
        if not self._may_append(d):
            return
        ids, words = self._d_ids[:d], self._d_words[:d]
        if d > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            order = np.argsort(ids, kind="stable")
            ids, words = ids[order], words[order]
        n = self._n
        if n and ids[0] <= self._ids.view(n)[n - 1]:
            self._unordered = True  # a rebuild takes the delta in
            return
        for buf in (self._ids, self._words, self._alive):
            buf.reserve(n + d)
        self._ids.view(n + d)[n:] = ids
        self._words.view(n + d)[n:] = words
        self._alive.view(n + d)[n:] = True
        self._n = n + d
        self._clear_delta()

    # ---------------------------------------------------------------- upkeep
    def _upkeep(self) -> None:
        """Does the due upkeep now, or wakes the worker (the write lock is held)."""
        if self._worker is not None:
            self._worker.poke()
            return
        while (work := self._next_work()) is not None:
            work.run()
            self._install(work)

    def _rebuild_reason(self) -> str | None:
        n = self._n
        if self._dead and self._dead > max(self._min_delta, n * self._dead_fraction):
            return "dead rows"
        if self._unordered:
            return "ids out of order"
        if self._tables is None:
            return "first tables" if n >= self._min_mih else None
        if n > 4 * self._sized_for:
            return "grown 4x"
        return None

    def _next_work(self) -> _Work | None:
        """The next piece of upkeep, its inputs taken (the write lock is held)."""
        if self._job is not None:
            return None
        self._job = work = self._choose_work()
        return work

    def _choose_work(self) -> _Work | None:
        reason = self._rebuild_reason()
        if reason == "grown 4x":
            self._start_widening()
        elif reason is not None:
            # The first tables, over the same rows, need no second copy of them.
            job = _Rebuild(self, self._n, reuse=reason == "first tables")
            self._rebuild_job, self._touched = job, []
            return job
        tables = self._tables
        if tables is None:
            return None
        n, covered, scanned = self._n, self._covered_rows(), self._scanned_from()
        words = self._words.view(n)
        if n - scanned > self._fold_limit():
            mid = self._mid
            if mid is not None and mid.lo == covered and n - mid.lo <= 4 * mid.sized_for:
                return _MidBuild(words[mid.hi :], mid.hi, grow=mid)
            return _MidBuild(words[covered:], covered)
        if self._widen:  # before merges: they would merge into chunks about to be replaced
            lo, width = self._widen[0]
            return _Widen(tables, lo, width, words[:covered])
        if self._merge_target <= covered and scanned - covered >= max(
            self._min_delta, int(covered * self._mid_fraction)
        ):
            self._merge_target = scanned
        for c, done in enumerate(self._covered):
            if done < self._merge_target:
                return _Merge(tables, c, done, words[done : self._merge_target])
        return None

    def _start_widening(self) -> None:
        """Chunk widths for the rows the base has grown to, built one chunk at a time
        (`_Widen`) instead of a second set of tables beside the first: each new chunk
        replaces the old ones its bits overlap, so the chunks searched stay disjoint (all the
        pigeonhole needs; a few bits go unprobed for a step) and one new table at most is
        held beside the old set."""
        n = self._n
        self._sized_for = n
        widths = _chunk_widths(n)
        if self._tables is not None and widths != self._tables.widths:
            self._widen = list(zip(_chunk_los(widths), widths, strict=True))

    def _install_widened(self, work: _Widen) -> None:
        tables = self._tables
        if tables is not work.tables or not self._widen or self._widen[0] != work.bits:
            return  # a rebuild replaced the tables meanwhile
        assert work.offsets is not None and work.rows is not None
        self._widen.pop(0)
        lo, hi = work.lo, work.lo + work.width
        chunks = [
            (tables.los[c], tables.widths[c], tables.offsets[c], tables.rows[c], self._covered[c])
            for c in range(len(tables.widths))
            if tables.los[c] + tables.widths[c] <= lo or tables.los[c] >= hi
        ]
        chunks.append((lo, work.width, work.offsets, work.rows, work.count))
        chunks.sort(key=lambda chunk: chunk[0])
        self._released.append(tables)  # with the chunks the new one replaces
        self._tables = _Tables(
            [c[1] for c in chunks], [c[0] for c in chunks], [c[2] for c in chunks],
            [c[3] for c in chunks],
        )  # fmt: skip
        self._covered = [c[4] for c in chunks]

    def _install(self, work: _Work) -> None:
        """Puts finished upkeep in place, then folds a delta that filled meanwhile (the
        write lock is held)."""
        self._job = None
        if isinstance(work, _Merge):
            if work.tables is self._tables and self._covered[work.chunk] == work.first:
                assert work.offsets is not None and work.rows is not None
                self._released.append(
                    (work.tables.offsets[work.chunk], work.tables.rows[work.chunk], self._mid)
                )
                work.tables.offsets[work.chunk] = work.offsets
                work.tables.rows[work.chunk] = work.rows
                self._covered[work.chunk] = work.first + work.count
                work.tables.plans.clear()
                work.tables.probes.clear()
                if self._mid is not None and self._mid.hi <= self._covered_rows():
                    self._mid = None
        elif isinstance(work, _Widen):
            self._install_widened(work)
        elif isinstance(work, _MidBuild):
            assert work.tables is not None
            grown = work.grow
            lo = work.lo if grown is None else grown.lo
            sized_for = work.hi - lo if grown is None else grown.sized_for
            self._released.append(self._mid)
            self._mid = _Mid(lo, work.hi, work.tables, sized_for)
        else:
            self._swap_base(work)
        if self._d_n > self._fold_limit():
            self._fold()

    def _take_touched(self) -> U64:
        """The ids changed since the rebuild started or since the last call (lock held)."""
        touched, self._touched = self._touched, []
        return _unique_ids(touched)

    def _swap_base(self, job: _Rebuild) -> None:
        touched = self._take_touched()
        self._rebuild_job = None
        self._unordered = False
        self._released.append((self._mid, self._tables, self._ids, self._words, self._alive))
        self._mid, self._merge_target = None, 0
        # Delta entries the snapshot took and nobody changed since are in the new base now.
        if job.delta_ids.shape[0]:
            moved = job.delta_ids[job.untouched & ~np.isin(job.delta_ids, touched)]
            for i in moved.tolist():
                self._drop_delta(i)
        if job.reuse:  # same rows, same buffers: changes made meanwhile are already in them
            touched = _EMPTY_U64
        else:
            self._ids, self._words, self._alive = job.ids, job.words, job.alive
            self._n, self._dead = job.n, job.dead
        self._tables = job.tables
        self._widen = []  # new tables, widths chosen for these rows
        self._covered = [job.n] * (0 if job.tables is None else len(job.tables.widths))
        self._sized_for = job.n
        if touched.shape[0]:
            self._kill_base(touched)  # changed or removed while the rebuild ran

    # --------------------------------------------------------------- search
    def search(self, queries: npt.ArrayLike, max_distance: int = 31) -> tuple[I64, U64, I32]:
        """Find every live hash within ``max_distance`` bits of each query.

        Returns ``(lims, ids, distances)``; the matches of query ``i`` are
        ``ids[lims[i]:lims[i+1]]``, ordered by distance then id.
        """
        radius = int(max_distance)
        if radius < 0:
            raise ValueError("max_distance must be >= 0")
        radius = min(radius, HASH_BITS)
        qw = _as_words(queries)
        with self._lock.read():
            parts = [self._search_base(qw, radius)]
            if self._d_n:
                lims, rows, dist = _brute(self._d_words[: self._d_n], None, qw, radius)
                parts.append((lims, self._d_ids[rows], dist.astype(np.int32)))
        return _merge_answers(parts)

    def _search_base(self, qw: U64, radius: int) -> tuple[I64, U64, I32]:
        nq = qw.shape[0]
        n = self._n
        if n == self._dead or nq == 0:
            return np.zeros(nq + 1, dtype=np.int64), _EMPTY_U64, np.zeros(0, np.int32)
        words = self._words.view(n)
        alive = self._alive.view(n)
        base_ids = self._ids.view(n)
        tables = self._tables
        radii = None
        if tables is not None and self._strategy != "scan":
            key = (radius, self._strategy)
            if key in tables.plans:
                radii = tables.plans[key]
            else:
                radii = _plan(tables.widths, n, radius, force=self._strategy == "mih")
                tables.plans[key] = radii
        if radii is None or tables is None:
            dead = alive if self._dead else None
            lims, rows, dist = _brute(words, dead, qw, radius)
            return lims, base_ids[rows], dist.astype(np.int32)
        lims, rows, dist = _mih(words, alive, tables, radii, qw, radius)
        covered, scanned = self._covered_rows(), self._scanned_from()
        if covered == n:
            return lims, base_ids[rows], dist.astype(np.int32)
        # Mid-merge, every table covers the rows below `covered`; the mid tables cover
        # [mid.lo, mid.hi) (mid.lo <= covered); the rest is scanned.
        if max(self._covered) > covered:
            lims, rows, dist = _within(lims, rows, dist, 0, covered)
        parts = [(lims, base_ids[rows], dist.astype(np.int32))]
        mid = self._mid
        if scanned > covered and mid is not None:
            parts.append(self._search_mid(mid, qw, radius, covered))
        if scanned < n:
            t_lims, t_rows, t_dist = _brute(words[scanned:], alive[scanned:], qw, radius)
            parts.append((t_lims, base_ids[scanned:][t_rows], t_dist.astype(np.int32)))
        return _merge_answers(parts)

    def _search_mid(self, mid: _Mid, qw: U64, radius: int, covered: int) -> tuple[I64, U64, I32]:
        words = self._words.view(mid.hi)[mid.lo :]
        alive = self._alive.view(mid.hi)[mid.lo :]
        key = (radius, self._strategy)
        if key not in mid.tables.plans:
            mid.tables.plans[key] = _plan(
                mid.tables.widths, mid.hi - mid.lo, radius, force=self._strategy == "mih"
            )
        radii = mid.tables.plans[key]
        if radii is None:
            lims, rows, dist = _brute(words, alive, qw, radius)
        else:
            lims, rows, dist = _mih(words, alive, mid.tables, radii, qw, radius)
        if covered > mid.lo:
            lims, rows, dist = _within(lims, rows, dist, covered - mid.lo, mid.hi - mid.lo)
        return lims, self._ids.view(mid.hi)[mid.lo :][rows], dist.astype(np.int32)


@dataclass
class _Mid:
    """Tables over the base rows [lo, hi), a tail too long to scan but not yet merged."""

    lo: int
    hi: int
    tables: _Tables
    sized_for: int
    """Rows its chunk widths were chosen for; it is built again at 4x that."""


class _MidBuild:
    """Builds the mid tables over rows [lo, lo + len(words)), or with `grow` merges those
    rows into the mid tables that end at `lo`; off the lock."""

    def __init__(self, words: U64, lo: int, grow: _Mid | None = None) -> None:
        self._words: U64 | None = words
        self.lo, self.hi, self.grow = lo, lo + int(words.shape[0]), grow
        self.tables: _Tables | None = None

    def run(self) -> None:
        words, self._words, grow = self._words, None, self.grow
        assert words is not None
        if grow is None:
            self.tables = _build_tables(words)
            return
        old = grow.tables
        merged = [_merge_one(old, c, words, grow.hi - grow.lo) for c in range(len(old.widths))]
        self.tables = _Tables(
            old.widths, old.los, [off for off, _ in merged], [rows for _, rows in merged]
        )


def _merge_one(tables: _Tables, c: int, words: U64, first: int) -> tuple[U32, U32]:
    """Chunk c's table with rows [first, first + len(words)) merged in (words: their hashes)."""
    lo, width = tables.los[c], tables.widths[c]
    if _core is None:
        values = _chunk_values(words, lo, width)
        return merge_chunk(tables.offsets[c], tables.rows[c], values, first)
    offsets = np.empty((1 << width) + 1, dtype=np.uint32)
    rows = np.empty(first + int(words.shape[0]), dtype=np.uint32)
    _core.merge_chunk(words, lo, width, first, tables.offsets[c], tables.rows[c], offsets, rows)
    return offsets, rows


class _ChunkWork:
    """One chunk's new table (offsets, rows) made from ``words`` off the lock."""

    def __init__(self, tables: _Tables, words: U64) -> None:
        self.tables = tables
        self.count = int(words.shape[0])
        self._words: U64 | None = words
        self.offsets: U32 | None = None
        self.rows: U32 | None = None

    def run(self) -> None:
        words, self._words = self._words, None
        assert words is not None
        self.offsets, self.rows = self._table(words)

    def _table(self, words: U64) -> tuple[U32, U32]:
        raise NotImplementedError


class _Merge(_ChunkWork):
    """Merges rows [first, first + len(words)) into one chunk's table."""

    def __init__(self, tables: _Tables, chunk: int, first: int, words: U64) -> None:
        super().__init__(tables, words)
        self.chunk, self.first = chunk, first

    def _table(self, words: U64) -> tuple[U32, U32]:
        return _merge_one(self.tables, self.chunk, words, self.first)


class _Widen(_ChunkWork):
    """Builds one chunk of new widths over the rows every table covers."""

    def __init__(self, tables: _Tables, lo: int, width: int, words: U64) -> None:
        super().__init__(tables, words)
        self.lo, self.width, self.bits = lo, width, (lo, width)

    def _table(self, words: U64) -> tuple[U32, U32]:
        return _build_chunk(words, self.lo, self.width)


class _Rebuild:
    """A new base built beside the old one from a snapshot of its live rows and the delta."""

    def __init__(self, index: PDQIndex, n: int, *, reuse: bool) -> None:
        self.reuse = reuse
        """Tables only, over the base's own rows (nothing dead, nothing out of order): no
        copy, and the delta stays where it is."""
        self._base_ids = index._ids.view(n)
        self._base_words = index._words.view(n)
        self._base_alive = index._alive.view(n)  # copied in `run`, off the lock: a change
        # made meanwhile is in the touched ids, and replaying it again changes nothing
        self.delta_ids = index._d_ids[: index._d_n].copy()
        self._delta_words = index._d_words[: index._d_n].copy()
        self._min_mih = index._min_mih
        self.ids, self.words, self.alive = Rows(np.uint64), Rows(np.uint64, WORDS), Rows(np.bool_)
        self.n = self.dead = 0
        self.tables: _Tables | None = None
        self.untouched = np.ones(self.delta_ids.shape[0], dtype=np.bool_)
        """Delta entries of the snapshot not changed by the early replay (`replay`)."""

    def replay(self, touched: U64) -> None:
        """Applies changes made while the rebuild ran to the new base, before the swap and
        off the lock (the new base is not searched yet); the swap replays only the rest."""
        if self.reuse or not touched.shape[0]:
            return
        if self.n:
            self.dead += _kill(self.ids.view(self.n), self.alive.view(self.n), touched)
        self.untouched &= ~np.isin(self.delta_ids, touched)

    def run(self) -> None:
        if self.reuse:
            self.n = int(self._base_words.shape[0])
            self.tables = _build_tables(self._base_words) if self.n >= self._min_mih else None
            self.delta_ids = _EMPTY_U64
            del self._base_ids, self._base_words, self._base_alive, self._delta_words
            return
        live = self._base_alive.copy()
        ids = np.concatenate([self._base_ids[live], self.delta_ids])
        words = np.concatenate([self._base_words[live], self._delta_words])
        del self._base_ids, self._base_words, self._base_alive, self._delta_words, live
        if ids.shape[0] > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            order = np.argsort(ids, kind="stable")
            ids, words = ids[order], words[order]
            del order
        n = self.n = int(ids.shape[0])
        for buf in (self.ids, self.words, self.alive):
            buf.reserve(n)
        self.ids.view(n)[:] = ids
        del ids
        self.words.view(n)[:] = words
        del words
        self.alive.view(n)[:] = True
        if n >= self._min_mih:
            self.tables = _build_tables(self.words.view(n))


_Work = _Rebuild | _MidBuild | _Merge | _Widen


class _Worker:
    """The thread that does a background index's upkeep."""

    def __init__(self, index: PDQIndex) -> None:
        self._index = weakref.ref(index)
        self._cond = threading.Condition()
        self._poked = True
        self._busy = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="pdq-upkeep", daemon=True)
        self._thread.start()
        weakref.finalize(index, self._stop_soon)

    def _stop_soon(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def poke(self) -> None:
        with self._cond:
            self._poked = True
            self._cond.notify_all()

    def stop(self) -> None:
        self._stop_soon()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def wait_idle(self, timeout: float | None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not (self._poked or self._busy), timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._poked and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                self._poked, self._busy = False, True
            index = self._index()  # held only while working, so an unused index is freed
            while index is not None:
                with index._changing():
                    work = index._next_work()
                if work is None:
                    break
                work.run()
                if isinstance(work, _Rebuild):  # most of the replay off the lock
                    with index._changing():
                        early, index._touched = index._touched, []
                    work.replay(_unique_ids(early))
                with index._changing():
                    index._install(work)
                del work  # its inputs (views, a snapshot) go off the lock too
            del index
            with self._cond:
                self._busy = False
                self._cond.notify_all()


def _unique_ids(parts: list[U64]) -> U64:
    return np.unique(np.concatenate(parts)) if parts else _EMPTY_U64


def _kill(ids: U64, alive: Bool, gone: U64) -> int:
    """Marks the rows of the ids in `gone` dead (ids ascending); returns how many were alive."""
    n = ids.shape[0]
    pos = np.searchsorted(ids, gone)
    inside = pos < n
    pos = pos[inside]
    hit = np.unique(pos[ids[pos] == gone[inside]])
    hit = hit[alive[hit]]
    alive[hit] = False
    return int(hit.shape[0])


def _within(lims: I64, rows: U32, dist: npt.NDArray[np.uint16], lo: int, hi: int) -> Result:
    """The answers restricted to rows in [lo, hi) (order kept)."""
    keep = (rows >= lo) & (rows < hi)
    if keep.all():
        return lims, rows, dist
    kept = np.zeros(rows.shape[0] + 1, dtype=np.int64)
    np.cumsum(keep, out=kept[1:])
    return kept[lims], rows[keep], dist[keep]


def _merge_answers(parts: list[tuple[I64, U64, I32]]) -> tuple[I64, U64, I32]:
    """One answer, per query ordered by (distance, id), from answers over disjoint rows
    (the first already in that order; the others in any order)."""
    if all(p[1].shape[0] == 0 for p in parts[1:]):
        return parts[0]
    nq = parts[0][0].shape[0] - 1
    qi = np.concatenate([np.repeat(np.arange(nq), np.diff(p[0])) for p in parts])
    ids = np.concatenate([p[1] for p in parts])
    dist = np.concatenate([p[2] for p in parts])
    order = np.lexsort((ids, dist, qi))
    lims = np.zeros(nq + 1, dtype=np.int64)
    np.cumsum(np.bincount(qi, minlength=nq), out=lims[1:])
    return lims, ids[order], dist[order]


def _last_wins(ids: U64, words: U64) -> tuple[U64, U64]:
    """Drop all but the last occurrence of each repeated id."""
    if ids.shape[0] < 2 or bool(np.all(ids[1:] > ids[:-1])):
        return ids, words
    _, first_rev = np.unique(ids[::-1], return_index=True)
    if first_rev.shape[0] == ids.shape[0]:
        return ids, words
    keep = np.sort(ids.shape[0] - 1 - first_rev)
    return ids[keep], words[keep]
