"""Exact TLSH search in numpy: TLSH's own distance (py-tlsh 4.12.1's `TlshImpl::totalDiff`,
length term included) computed for many stored hashes at once, and an index that prunes by the
length term before computing anything.

The distance between two hashes is the sum of
- the l-value (log of the document length) term: d = circular difference of the l-values
  (mod 256); 0, 1, or 12 d when d >= 2;
- two q-ratio terms: d = circular difference (mod 16) of Q1 (then Q2); d when d <= 1, else
  12 (d - 1);
- 1 when the checksum bytes differ;
- the body term: for each of the 128 buckets, whose quartile is 2 bits, |a - b| counted
  0, 1, 2 or 6 (TLSH's `bit_pairs_diff_table`).

The hex form swaps the nibbles of the checksum, l-value and q-ratio bytes (`swap_byte`), so the
l-value of "T1 C1C2 L1L2 Q1Q2 ..." is 0xL2L1, Q1 is the digit Q1 and Q2 the digit Q2. The body is
written in reverse byte order, which a sum over positions does not see.

The body term is computed 64 bits (32 buckets) at a time: with x = a ^ b, lo = x's low bit of
each 2-bit lane and hi = its high bit, a lane differs by 1 when only lo is set, by 2 when only hi
is set, and when both are set by 3 (counted 6) if the lane of a is 00 or 11, else by 1 (01 vs
10). So a word adds popcount(lo) + 2 popcount(hi & ~lo) + 5 popcount(hi & lo & same), where
`same` marks the lanes of the query whose two bits are equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from signalhub_tlsh.values import canonical_tlsh

BODY_WORDS = 4
"""The 32-byte body as 64-bit words."""
L_RANGE = 256
Q_RANGE = 16
LENGTH_MULT = 12
QRATIO_MULT = 12
CHUNK_ROWS = 4096
"""Stored hashes compared in one pass: the temporaries (4 words x rows) stay in cache."""
_LANE_LOW_BITS = np.uint64(0x5555_5555_5555_5555)


@dataclass(frozen=True)
class TLSHArrays:
    """Decoded TLSH values, one row each: what the distance reads, with the hex swapping undone
    where the distance needs the true value."""

    checksum: NDArray[np.uint8]
    """As written (compared for equality only)."""
    lvalue: NDArray[np.uint8]
    qratios: NDArray[np.uint8]
    """Q1 in the high nibble, Q2 in the low nibble (the order the hex shows them)."""
    body: NDArray[np.uint64]
    """Shape (4, n): word-major, so one word of every row is contiguous."""

    def __len__(self) -> int:
        return len(self.lvalue)


def decode_tlsh(values: Sequence[str]) -> TLSHArrays:
    """Decodes canonical TLSH values (not checked here: see `canonical_tlsh`)."""
    raw = np.frombuffer(bytes.fromhex("".join(v[2:] for v in values)), dtype=np.uint8)
    raw = raw.reshape(len(values), 35)
    four = np.uint8(4)
    lvalue = (raw[:, 1] >> four) | (raw[:, 1] << four)  # undoes the hex form's nibble swap
    body = np.ascontiguousarray(raw[:, 3:]).view(np.uint64)
    return TLSHArrays(
        checksum=raw[:, 0].copy(),
        lvalue=lvalue,
        qratios=raw[:, 2].copy(),
        body=np.ascontiguousarray(body.T),
    )


def _circular(diff: NDArray[np.int64], period: int) -> NDArray[np.int64]:
    d = np.abs(diff) % period
    nearer: NDArray[np.int64] = np.minimum(d, period - d)
    return nearer


def lvalue_terms(lvalue: int) -> NDArray[np.int64]:
    """The l-value term of the distance from `lvalue` to each of the 256 l-values."""
    d = _circular(np.arange(L_RANGE, dtype=np.int64) - lvalue, L_RANGE)
    return np.where(d <= 1, d, d * LENGTH_MULT)


def qratio_terms(qratios: int) -> NDArray[np.uint16]:
    """Both q-ratio terms of the distance from `qratios` to each of the 256 q-ratio bytes."""
    every = np.arange(256, dtype=np.int64)

    def term(mine: int, theirs: NDArray[np.int64]) -> NDArray[np.int64]:
        d = _circular(theirs - mine, Q_RANGE)
        return np.where(d <= 1, d, (d - 1) * QRATIO_MULT)

    total = term(qratios >> 4, every >> 4) + term(qratios & 15, every & 15)
    return total.astype(np.uint16)


class _Query:
    """One query decoded, with the per-query tables and scratch space a scan reuses."""

    def __init__(self, value: str) -> None:
        one = decode_tlsh([value])
        self.checksum = one.checksum[0]
        self.lvalue = int(one.lvalue[0])
        self.lterms = lvalue_terms(self.lvalue)
        self.qterms = qratio_terms(int(one.qratios[0]))
        self.body = one.body  # (4, 1): broadcasts over stored rows
        # Lanes of the query whose two bits are equal (00 or 11): where a difference of both
        # bits is 3 (0 vs 3), not 1 (1 vs 2). The stored lane agrees whenever both bits differ.
        self.same = ~(self.body ^ (self.body >> np.uint64(1))) & _LANE_LOW_BITS
        self._reserve(0)

    def _reserve(self, rows: int) -> None:
        self._x = np.empty((BODY_WORDS, rows), dtype=np.uint64)
        self._hi = np.empty((BODY_WORDS, rows), dtype=np.uint64)
        self._both = np.empty((BODY_WORDS, rows), dtype=np.uint64)
        self._count = np.empty((BODY_WORDS, rows), dtype=np.uint8)
        self._word = np.empty((BODY_WORDS, rows), dtype=np.uint8)

    def distances(self, stored: TLSHArrays, start: int, stop: int) -> NDArray[np.uint16]:
        """The distance to stored rows [start, stop), stop - start <= CHUNK_ROWS; the l-value
        term is left out (the caller knows it: an index scans one l-value at a time)."""
        n = stop - start
        if n > self._x.shape[1]:  # sized by the largest chunk seen, not always CHUNK_ROWS
            self._reserve(n)
        x, hi, both = self._x[:, :n], self._hi[:, :n], self._both[:, :n]
        count, word = self._count[:, :n], self._word[:, :n]
        np.bitwise_xor(stored.body[:, start:stop], self.body, out=x)
        np.right_shift(x, np.uint64(1), out=hi)
        np.bitwise_and(hi, _LANE_LOW_BITS, out=hi)
        np.bitwise_and(x, _LANE_LOW_BITS, out=x)  # x is now lo
        np.bitwise_and(hi, x, out=both)
        np.bitwise_xor(hi, both, out=hi)  # hi & ~lo
        np.bitwise_and(both, self.same, out=both)
        # Per word at most 32 lanes x 6 = 192: the weighted counts fit a byte.
        np.bitwise_count(x, out=word)
        np.bitwise_count(hi, out=count)
        word += count
        word += count
        np.bitwise_count(both, out=count)
        count *= np.uint8(5)
        word += count
        total: NDArray[np.uint16] = word.sum(axis=0, dtype=np.uint16)
        total += self.qterms[stored.qratios[start:stop]]
        total += stored.checksum[start:stop] != self.checksum
        return total


def tlsh_distances(value: str, stored: TLSHArrays) -> NDArray[np.int64]:
    """TLSH distance (`tlsh.diff`) from a canonical value to every decoded row of `stored`."""
    query = _Query(value)
    out = np.empty(len(stored), dtype=np.int64)
    for start in range(0, len(stored), CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, len(stored))
        out[start:stop] = query.distances(stored, start, stop)
    return out + query.lterms[stored.lvalue]


class _Bucket:
    """The stored hashes of one l-value: decoded arrays with room to grow, and their ids."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.arrays = TLSHArrays(
            checksum=np.empty(0, dtype=np.uint8),
            lvalue=np.empty(0, dtype=np.uint8),
            qratios=np.empty(0, dtype=np.uint8),
            body=np.empty((BODY_WORDS, 0), dtype=np.uint64),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def append(self, ids: list[str], arrays: TLSHArrays) -> None:
        n, extra = len(self.ids), len(ids)
        if n + extra > len(self.arrays):
            self._grow(max(2 * len(self.arrays), n + extra, 64))
        a = self.arrays
        a.checksum[n : n + extra] = arrays.checksum
        a.lvalue[n : n + extra] = arrays.lvalue
        a.qratios[n : n + extra] = arrays.qratios
        a.body[:, n : n + extra] = arrays.body
        self.ids += ids

    def _grow(self, capacity: int) -> None:
        n, old = len(self.ids), self.arrays
        new = TLSHArrays(
            checksum=np.empty(capacity, dtype=np.uint8),
            lvalue=np.empty(capacity, dtype=np.uint8),
            qratios=np.empty(capacity, dtype=np.uint8),
            body=np.empty((BODY_WORDS, capacity), dtype=np.uint64),
        )
        new.checksum[:n], new.lvalue[:n], new.qratios[:n] = (
            old.checksum[:n],
            old.lvalue[:n],
            old.qratios[:n],
        )
        new.body[:, :n] = old.body[:, :n]
        self.arrays = new

    def pop_row(self, row: int) -> str | None:
        """Removes a row by moving the last row into it; returns the moved id (None if the
        removed row was the last)."""
        last = len(self.ids) - 1
        moved = None
        if row != last:
            a = self.arrays
            a.checksum[row], a.lvalue[row], a.qratios[row] = (
                a.checksum[last],
                a.lvalue[last],
                a.qratios[last],
            )
            a.body[:, row] = a.body[:, last]
            moved = self.ids[row] = self.ids[last]
        self.ids.pop()
        return moved


class TLSHIndex:
    """(signal id, TLSH value) pairs searched exactly by TLSH distance (`tlsh.diff`).

    Hashes are kept in one bucket per l-value. The l-value term is part of the distance and
    never negative, so a search scans only the buckets whose l-value term alone is within the
    threshold (at the default threshold of 30: l-values within 2 of the query's), and computes
    the rest of the distance for every hash there, vectorised. No candidate is skipped on a
    guess: the answer is what comparing with every stored hash would give.
    """

    def __init__(self) -> None:
        self._buckets: dict[int, _Bucket] = {}
        self._where: dict[str, tuple[int, int]] = {}  # signal id -> (l-value, row)

    def add(self, items: Sequence[tuple[str, str]]) -> None:
        """Adds (signal_id, canonical value) pairs; a signal id already held is replaced (and
        of one id given twice, the last counts). Raises InvalidValue, adding nothing, when a
        value is not a TLSH value."""
        latest = dict(items)
        if not latest:
            return
        values = [canonical_tlsh(v) for v in latest.values()]
        self.remove([sid for sid in latest if sid in self._where])
        ids = list(latest)
        arrays = decode_tlsh(values)
        order = np.argsort(arrays.lvalue, kind="stable")
        lvalues = arrays.lvalue[order]
        starts = np.flatnonzero(np.r_[True, lvalues[1:] != lvalues[:-1]])
        for start, stop in zip(starts.tolist(), [*starts[1:].tolist(), len(order)], strict=True):
            rows = order[start:stop]
            lvalue = int(lvalues[start])
            bucket = self._buckets.setdefault(lvalue, _Bucket())
            first = len(bucket)
            group = [ids[i] for i in rows.tolist()]
            bucket.append(group, _take(arrays, rows))
            for offset, sid in enumerate(group):
                self._where[sid] = (lvalue, first + offset)

    def remove(self, signal_ids: Sequence[str]) -> None:
        """Drops these signal ids (ids not held are ignored)."""
        for sid in signal_ids:
            place = self._where.pop(sid, None)
            if place is None:
                continue
            lvalue, row = place
            bucket = self._buckets[lvalue]
            moved = bucket.pop_row(row)
            if moved is not None:
                self._where[moved] = (lvalue, row)
            if not len(bucket):
                del self._buckets[lvalue]

    def search(self, value: str, max_distance: int) -> list[tuple[str, int]]:
        """(signal_id, distance) of every held value within `max_distance` of `value`, in no
        particular order (the hub orders answers itself)."""
        if max_distance < 0 or not self._where:
            return []
        query = _Query(canonical_tlsh(value))
        found: list[tuple[str, int]] = []
        for lvalue, bucket in self._buckets.items():
            lterm = int(query.lterms[lvalue])
            # The l-value term is part of the distance and never negative: a bucket whose term
            # alone exceeds the threshold holds no match, and is not read.
            if lterm > max_distance:
                continue
            for start in range(0, len(bucket), CHUNK_ROWS):
                stop = min(start + CHUNK_ROWS, len(bucket))
                rest = query.distances(bucket.arrays, start, stop)
                hits = np.flatnonzero(rest <= max_distance - lterm)
                if len(hits):
                    distances = (rest[hits] + lterm).tolist()
                    ids = map(bucket.ids.__getitem__, (hits + start).tolist())
                    found += zip(ids, distances, strict=True)
        return found

    def __len__(self) -> int:
        return len(self._where)

    def memory_bytes(self) -> int:
        """Bytes held by the decoded arrays, spare capacity included (not the ids, nor Python
        object overhead)."""
        return sum(
            a.checksum.nbytes + a.lvalue.nbytes + a.qratios.nbytes + a.body.nbytes
            for a in (bucket.arrays for bucket in self._buckets.values())
        )


def _take(arrays: TLSHArrays, rows: NDArray[np.intp]) -> TLSHArrays:
    return TLSHArrays(
        checksum=arrays.checksum[rows],
        lvalue=arrays.lvalue[rows],
        qratios=arrays.qratios[rows],
        body=arrays.body[:, rows],
    )
