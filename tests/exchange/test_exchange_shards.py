"""Sharded matching's arithmetic: K shard indexes, each holding the rows I modulo K, and their
answers merged, equal one index over every row, on random and on clustered data."""

from __future__ import annotations

import numpy as np
import pytest

from exchange.cluster import (
    decode_answer,
    decode_search,
    encode_answer,
    encode_search,
    merge_answers,
)
from exchange.index import SignalIndex
from matcher import PDQIndex


def _data(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "random":
        return rng.integers(0, 256, (6000, 32), dtype=np.uint8)
    # clustered: 60 centres with 100 near copies each (a few bits flipped)
    centres = rng.integers(0, 256, (60, 32), dtype=np.uint8)
    copies = np.repeat(centres, 100, axis=0)
    flips = rng.integers(0, 256, copies.shape, dtype=np.uint8) & (
        rng.random(copies.shape) < 0.02).astype(np.uint8) * 0xFF  # fmt: skip
    return copies ^ flips


@pytest.mark.parametrize("kind", ["random", "clustered"])
@pytest.mark.parametrize("shards", [1, 3, 4])
def test_merged_shard_answers_equal_the_single_index(kind: str, shards: int) -> None:
    rng = np.random.default_rng(5)
    hashes = _data(kind, rng)
    rows = np.arange(1, len(hashes) + 1, dtype=np.uint64)
    queries = np.concatenate([hashes[rng.integers(0, len(hashes), 40)],
                              rng.integers(0, 256, (20, 32), dtype=np.uint8)])  # fmt: skip
    whole = PDQIndex()
    whole.add(rows, hashes)
    want = whole.search(queries, max_distance=31)
    parts = []
    for i in range(shards):
        index = SignalIndex((i, shards))
        mine = rows % np.uint64(shards) == np.uint64(i)
        index._pdq.add(rows[mine], hashes[mine])
        # through the wire format, as a shard's reply travels
        sent_hashes, radius = decode_search(encode_search(queries, 31))
        parts.append(decode_answer(encode_answer(*index.search(sent_hashes, radius))))
    lims, ids, distances = merge_answers(parts, len(queries))
    assert lims.tolist() == np.asarray(want[0]).tolist()
    assert ids.tolist() == np.asarray(want[1]).tolist()
    assert distances.tolist() == np.asarray(want[2]).tolist()
    assert int(lims[-1]) >= 40  # every copied query found at least itself
