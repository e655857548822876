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
from dataclasses import dataclass, field
from types import ModuleType
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from matcher.exact_index import _as_ids

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


def _build_tables(words: U64) -> _Tables:
    n = words.shape[0]
    widths = _chunk_widths(n)
    los = [int(x) for x in np.cumsum([0, *widths[:-1]])]
    offsets: list[U32] = []
    rows: list[U32] = []
    for lo, width in zip(los, widths, strict=False):
        off = _empty_u32_page_aligned((1 << width) + 1)
        rw = _empty_u32_page_aligned(n)
        if _core is not None:
            _core.build_chunk(words, lo, width, off, rw)
        else:
            vals = _chunk_values(words, lo, width)
            # sort (value << 32 | row): same order as a stable argsort, much faster
            key = vals.astype(np.uint64) << np.uint64(32)
            key |= np.arange(n, dtype=np.uint64)
            key.sort()
            rw[:] = key & np.uint64(0xFFFFFFFF)
            del key
            off[0] = 0
            np.cumsum(np.bincount(vals, minlength=1 << width), out=off[1:])
        offsets.append(off)
        rows.append(rw)
    return _Tables(widths, los, offsets, rows)


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

    Not thread-safe: callers must serialise all calls.

    Args:
        delta_fraction: rebuild the base when the brute-forced delta exceeds this
            fraction of the base size (a larger value means cheaper adds but
            slower searches between rebuilds).
        min_delta: the delta may always hold this many hashes before a rebuild.
        dead_fraction: rebuild when this fraction of base rows are tombstones.
        min_mih: below this many base hashes no tables are built (linear scan).
        strategy: ``"auto"`` picks probing or scanning per search by estimated
            cost; ``"mih"`` always probes when tables exist and ``"scan"`` always
            scans (both for tests and benchmarks; results are identical).
    """

    def __init__(
        self,
        *,
        delta_fraction: float = 1 / 128,
        min_delta: int = 8192,
        dead_fraction: float = 0.125,
        min_mih: int = 16384,
        strategy: Literal["auto", "mih", "scan"] = "auto",
    ) -> None:
        if strategy not in ("auto", "mih", "scan"):
            raise ValueError(f"unknown strategy {strategy!r}")
        self._strategy = strategy
        self._delta_fraction = delta_fraction
        self._min_delta = min_delta
        self._dead_fraction = dead_fraction
        self._min_mih = min_mih
        # Base: rows sorted by id.
        self._b_ids: U64 = _EMPTY_U64
        self._b_words: U64 = np.zeros((0, WORDS), dtype=np.uint64)
        self._b_alive: Bool = np.zeros(0, dtype=np.bool_)
        self._b_dead = 0
        self._tables: _Tables | None = None
        # Delta: first ``_d_n`` slots of growable arrays; dict id -> slot.
        self._d_ids: U64 = np.zeros(64, dtype=np.uint64)
        self._d_words: U64 = np.zeros((64, WORDS), dtype=np.uint64)
        self._d_n = 0
        self._d_slot: dict[int, int] = {}

    # ------------------------------------------------------------------ size
    def __len__(self) -> int:
        """Number of live hashes."""
        return int(self._b_ids.shape[0]) - self._b_dead + self._d_n

    def memory_bytes(self) -> int:
        """Bytes held by the index arrays (excluding Python object overhead)."""
        total = self._b_ids.nbytes + self._b_words.nbytes + self._b_alive.nbytes
        total += self._d_ids.nbytes + self._d_words.nbytes
        if self._tables is not None:
            total += sum(a.nbytes for a in self._tables.offsets)
            total += sum(a.nbytes for a in self._tables.rows)
        return total

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
        base_live = int(self._b_ids.shape[0]) - self._b_dead
        limit = max(self._min_delta, int(base_live * self._delta_fraction))
        if self._d_n + id_arr.shape[0] > limit:
            self._rebuild(id_arr, words)
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
        self._maybe_compact()

    def remove(self, ids: npt.ArrayLike) -> None:
        """Remove the given ids; unknown ids are ignored."""
        id_arr = _as_ids(ids)
        if id_arr.shape[0] == 0:
            return
        self._kill_base(id_arr)
        if self._d_n:
            for i in id_arr.tolist():
                slot = self._d_slot.pop(i, None)
                if slot is None:
                    continue
                last = self._d_n - 1
                if slot != last:
                    moved = int(self._d_ids[last])
                    self._d_ids[slot] = moved
                    self._d_words[slot] = self._d_words[last]
                    self._d_slot[moved] = slot
                self._d_n = last
        self._maybe_compact()

    def _kill_base(self, id_arr: U64) -> None:
        n = self._b_ids.shape[0]
        if n == 0:
            return
        pos = np.searchsorted(self._b_ids, id_arr)
        inside = pos < n
        pos = pos[inside]
        hit = np.unique(pos[self._b_ids[pos] == id_arr[inside]])
        hit = hit[self._b_alive[hit]]
        if hit.shape[0]:
            self._b_alive[hit] = False
            self._b_dead += int(hit.shape[0])

    def _append_delta(self, ids: U64, words: U64) -> None:
        need = self._d_n + ids.shape[0]
        cap = self._d_ids.shape[0]
        if need > cap:
            cap = max(need, 2 * cap)
            d_ids = np.zeros(cap, dtype=np.uint64)
            d_words = np.zeros((cap, WORDS), dtype=np.uint64)
            d_ids[: self._d_n] = self._d_ids[: self._d_n]
            d_words[: self._d_n] = self._d_words[: self._d_n]
            self._d_ids, self._d_words = d_ids, d_words
        self._d_ids[self._d_n : need] = ids
        self._d_words[self._d_n : need] = words
        for k, i in enumerate(ids.tolist()):
            self._d_slot[i] = self._d_n + k
        self._d_n = need

    def _maybe_compact(self) -> None:
        n = int(self._b_ids.shape[0])
        if self._b_dead and self._b_dead > max(self._min_delta, n * self._dead_fraction):
            self._rebuild(_EMPTY_U64, np.zeros((0, WORDS), dtype=np.uint64))

    def _rebuild(self, new_ids: U64, new_words: U64) -> None:
        """Merge live base rows, the delta and ``new_*`` (which win) into a new base."""
        alive = self._b_alive
        parts_ids = [self._b_ids[alive] if self._b_dead else self._b_ids]
        parts_words = [self._b_words[alive] if self._b_dead else self._b_words]
        if self._d_n:
            parts_ids.append(self._d_ids[: self._d_n])
            parts_words.append(self._d_words[: self._d_n])
        # Free the old base before allocating the merged one where possible.
        self._b_ids = _EMPTY_U64
        self._b_words = np.zeros((0, WORDS), dtype=np.uint64)
        self._b_alive = np.zeros(0, dtype=np.bool_)
        self._tables = None
        old_ids = np.concatenate(parts_ids) if len(parts_ids) > 1 else parts_ids[0]
        old_words = np.concatenate(parts_words) if len(parts_words) > 1 else parts_words[0]
        del parts_ids, parts_words
        if old_ids.shape[0] and new_ids.shape[0]:
            keep = ~np.isin(old_ids, new_ids)
            if not keep.all():
                old_ids, old_words = old_ids[keep], old_words[keep]
        if new_ids.shape[0]:
            all_ids = np.concatenate([old_ids, new_ids]) if old_ids.shape[0] else new_ids
            all_words = np.concatenate([old_words, new_words]) if old_ids.shape[0] else new_words
        else:
            all_ids, all_words = old_ids, old_words
        del old_ids, old_words
        if all_ids.shape[0] > 1 and not bool(np.all(all_ids[1:] > all_ids[:-1])):
            order = np.argsort(all_ids, kind="stable")
            all_ids = all_ids[order]
            all_words = all_words[order]
        # Never keep a view of the caller's arrays.
        if np.may_share_memory(all_ids, new_ids):
            all_ids = all_ids.copy()
        if np.may_share_memory(all_words, new_words):
            all_words = all_words.copy()
        self._b_ids = np.ascontiguousarray(all_ids)
        self._b_words = np.ascontiguousarray(all_words)
        self._b_alive = np.ones(all_ids.shape[0], dtype=np.bool_)
        self._b_dead = 0
        self._d_ids = np.zeros(64, dtype=np.uint64)
        self._d_words = np.zeros((64, WORDS), dtype=np.uint64)
        self._d_n = 0
        self._d_slot = {}
        if all_ids.shape[0] >= self._min_mih:
            self._tables = _build_tables(self._b_words)

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
        nq = qw.shape[0]
        lims_b, ids_b, d_b = self._search_base(qw, radius)
        if self._d_n == 0:
            return lims_b, ids_b, d_b
        lims_d, rows_d, d_d = _brute(self._d_words[: self._d_n], None, qw, radius)
        if rows_d.shape[0] == 0:
            return lims_b, ids_b, d_b
        # Delta rows are in slot order, not id order: always re-sort.
        ids_d = self._d_ids[rows_d]
        qi = np.concatenate(
            [
                np.repeat(np.arange(nq), np.diff(lims_b)),
                np.repeat(np.arange(nq), np.diff(lims_d)),
            ]
        )
        ids_all = np.concatenate([ids_b, ids_d])
        d_all = np.concatenate([d_b, d_d.astype(np.int32)])
        order = np.lexsort((ids_all, d_all, qi))
        return lims_b + lims_d, ids_all[order], d_all[order]

    def _search_base(self, qw: U64, radius: int) -> tuple[I64, U64, I32]:
        nq = qw.shape[0]
        n = int(self._b_ids.shape[0])
        if n == self._b_dead or nq == 0:
            return np.zeros(nq + 1, dtype=np.int64), _EMPTY_U64, np.zeros(0, np.int32)
        alive = self._b_alive
        radii = None
        tables = self._tables
        if tables is not None and self._strategy != "scan":
            key = (radius, self._strategy)
            if key in tables.plans:
                radii = tables.plans[key]
            else:
                radii = _plan(tables.widths, n, radius, force=self._strategy == "mih")
                tables.plans[key] = radii
        if radii is None or self._tables is None:
            lims, rows, dist = _brute(self._b_words, alive if self._b_dead else None, qw, radius)
        else:
            lims, rows, dist = _mih(self._b_words, alive, self._tables, radii, qw, radius)
        return lims, self._b_ids[rows], dist.astype(np.int32)


def _last_wins(ids: U64, words: U64) -> tuple[U64, U64]:
    """Drop all but the last occurrence of each repeated id."""
    if ids.shape[0] < 2 or bool(np.all(ids[1:] > ids[:-1])):
        return ids, words
    _, first_rev = np.unique(ids[::-1], return_index=True)
    if first_rev.shape[0] == ids.shape[0]:
        return ids, words
    keep = np.sort(ids.shape[0] - 1 - first_rev)
    return ids[keep], words[keep]
