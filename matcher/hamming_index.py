"""Exact Hamming search over hashes of any width up to 256 bits, for plug-in signal types: the
PDQ index over hashes padded with zero bits (padding adds no distance), keyed by signal id."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from matcher.pdq_index import PDQIndex


class HammingIndex:
    """(signal id, hex hash) pairs of `bits` bits, searched exactly by Hamming distance."""

    def __init__(self, bits: int) -> None:
        if not 0 < bits <= 256 or bits % 4:
            raise ValueError("bits is 4-256, a multiple of 4")
        self.bits = bits
        self._index = PDQIndex()
        self._ids: dict[str, int] = {}
        self._names: dict[int, str] = {}
        self._next = 1

    def _padded(self, values: Sequence[str]) -> np.ndarray:
        digits = self.bits // 4
        text = "".join(v.rjust(digits, "0").ljust(64, "0") for v in values)
        return np.frombuffer(bytes.fromhex(text), dtype=np.uint8).reshape(-1, 32)

    def add(self, items: Sequence[tuple[str, str]]) -> None:
        """Indexes each (signal id, hex value) pair; a signal id already indexed is replaced."""
        if not items:
            return
        self.remove([sid for sid, _ in items if sid in self._ids])
        ids = np.arange(self._next, self._next + len(items), dtype=np.uint64)
        for number, (sid, _) in zip(ids.tolist(), items, strict=True):
            self._ids[sid] = number
            self._names[number] = sid
        self._next += len(items)
        self._index.add(ids, self._padded([v for _, v in items]))

    def remove(self, signal_ids: Sequence[str]) -> None:
        """Drops the signals of `signal_ids` (ids not indexed are ignored)."""
        numbers = [self._ids.pop(sid) for sid in signal_ids if sid in self._ids]
        for n in numbers:
            del self._names[n]
        if numbers:
            self._index.remove(np.array(numbers, dtype=np.uint64))

    def search(self, value: str, max_distance: int) -> list[tuple[str, int]]:
        """(signal id, distance) of every indexed value within `max_distance` bits of `value`."""
        _, ids, distances = self._index.search(self._padded([value]), max_distance=max_distance)
        return [(self._names[i], d) for i, d in zip(ids.tolist(), distances.tolist(), strict=True)]

    def __len__(self) -> int:
        return len(self._ids)
