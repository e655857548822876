"""Exact-match index from byte-string keys (digests, normalised values) to uint64 ids.

Each id holds exactly one key; several ids may share a key.  Re-adding an id
replaces its key; removing an unknown id is a no-op.

Not thread-safe: callers must serialise access (the server holds its own lock).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt


def _as_ids(ids: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"ids must be one-dimensional, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "ui":
        raise ValueError(f"ids must be integers, got {arr.dtype}")
    if arr.size and arr.dtype.kind == "i" and bool((arr < 0).any()):
        raise ValueError("ids must be non-negative")
    return arr.astype(np.uint64, copy=False)


class ExactIndex:
    """Map byte-string keys to the set of uint64 ids registered under them."""

    def __init__(self) -> None:
        self._by_key: dict[bytes, set[int]] = {}
        self._by_id: dict[int, bytes] = {}

    def __len__(self) -> int:
        """Number of live ids."""
        return len(self._by_id)

    def add(self, ids: npt.ArrayLike, keys: Sequence[bytes]) -> None:
        """Register ``keys[i]`` under ``ids[i]``; an id already present gets its key replaced.

        If ``ids`` repeats an id, the last occurrence wins.
        """
        id_arr = _as_ids(ids)
        if len(id_arr) != len(keys):
            raise ValueError(f"{len(id_arr)} ids but {len(keys)} keys")
        for i, key in zip(id_arr.tolist(), keys, strict=False):
            if not isinstance(key, (bytes, bytearray, memoryview)):
                raise TypeError(f"keys must be bytes, got {type(key).__name__}")
            k = bytes(key)
            old = self._by_id.get(i)
            if old is not None:
                if old == k:
                    continue
                self._discard(i, old)
            self._by_id[i] = k
            self._by_key.setdefault(k, set()).add(i)

    def _discard(self, i: int, key: bytes) -> None:
        bucket = self._by_key[key]
        bucket.discard(i)
        if not bucket:
            del self._by_key[key]

    def remove(self, ids: npt.ArrayLike) -> None:
        """Forget the given ids; unknown ids are ignored."""
        for i in _as_ids(ids).tolist():
            old = self._by_id.pop(i, None)
            if old is not None:
                self._discard(i, old)

    def lookup(self, keys: Iterable[bytes]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
        """Return ``(lims, ids)``: ids of key ``i`` are ``ids[lims[i]:lims[i+1]]``, ascending."""
        counts: list[int] = [0]
        found: list[int] = []
        for key in keys:
            bucket = self._by_key.get(bytes(key))
            if bucket:
                found.extend(sorted(bucket))
            counts.append(len(found))
        return np.asarray(counts, dtype=np.int64), np.asarray(found, dtype=np.uint64)
