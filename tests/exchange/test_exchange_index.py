"""The hub's index wrapper: a large batch split across threads answers exactly as one search."""

from __future__ import annotations

import numpy as np

from exchange import index as index_module
from exchange.index import SignalIndex
from matcher import PDQIndex


def test_a_batch_split_across_threads_answers_as_one_search() -> None:
    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 256, (20_000, 32), dtype=np.uint8)
    rows = np.arange(1, 20_001, dtype=np.uint64)
    queries = rng.integers(0, 256, (101, 32), dtype=np.uint8)  # an uneven split
    queries[::3] = hashes[: len(queries[::3])]  # some exact hits
    queries[1::3, 0] ^= 0xFF  # and some near misses of hashes
    queries[1::3, 1:] = hashes[: len(queries[1::3]), 1:]
    reference = PDQIndex()
    reference.add(rows, hashes)
    want = reference.search(queries, max_distance=31)

    wrapped = SignalIndex()
    wrapped._pdq.add(rows, hashes)
    assert wrapped._pool is not None or index_module.SEARCH_THREADS == 1
    lims, ids, distances = wrapped.search(queries, 31)
    assert len(queries) >= index_module.PARALLEL_MIN_QUERIES
    assert lims.tolist() == np.asarray(want[0]).tolist()
    assert ids.tolist() == np.asarray(want[1]).tolist()
    assert distances.tolist() == np.asarray(want[2]).tolist()
    assert int(lims[-1]) > 60  # the test has hits to compare
    single = wrapped.search(queries[:5], 31)  # below the threshold: one search
    assert single[1].tolist() == ids[: int(lims[5])].tolist()
