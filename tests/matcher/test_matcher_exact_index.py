"""ExactIndex against a dict-of-sets model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher import ExactIndex

KEYS = st.binary(min_size=0, max_size=3)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.lists(st.tuples(st.integers(0, 30), KEYS), max_size=8)),
        st.tuples(st.just("remove"), st.lists(st.integers(0, 40), max_size=8)),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(ops=OPS, probes=st.lists(KEYS, max_size=10))
def test_matches_model(ops: list[tuple[str, list]], probes: list[bytes]) -> None:  # type: ignore[type-arg]
    idx = ExactIndex()
    model: dict[int, bytes] = {}
    for kind, items in ops:
        if kind == "add":
            ids = np.array([i for i, _ in items], dtype=np.uint64)
            idx.add(ids, [k for _, k in items])
            for i, k in items:
                model[i] = k
        else:
            idx.remove(np.array(items, dtype=np.uint64))
            for i in items:
                model.pop(i, None)
        assert len(idx) == len(model)
    lims, ids = idx.lookup(probes)
    assert lims.dtype == np.int64 and ids.dtype == np.uint64
    assert len(lims) == len(probes) + 1 and lims[0] == 0
    for j, key in enumerate(probes):
        want = sorted(i for i, k in model.items() if k == key)
        assert ids[lims[j] : lims[j + 1]].tolist() == want


def test_shared_keys_replace_and_remove() -> None:
    idx = ExactIndex()
    idx.add(np.array([3, 1, 2], dtype=np.uint64), [b"d1", b"d1", b"d2"])
    lims, ids = idx.lookup([b"d1", b"missing", b"d2"])
    assert lims.tolist() == [0, 2, 2, 3]
    assert ids.tolist() == [1, 3, 2]
    idx.add(np.array([3], dtype=np.uint64), [b"d2"])  # replace id 3's key
    lims, ids = idx.lookup([b"d1", b"d2"])
    assert ids[lims[0] : lims[1]].tolist() == [1]
    assert ids[lims[1] : lims[2]].tolist() == [2, 3]
    idx.remove(np.array([2, 99], dtype=np.uint64))  # 99 unknown: no-op
    assert len(idx) == 2
    assert idx.lookup([b"d2"])[1].tolist() == [3]


def test_empty_lookup() -> None:
    lims, ids = ExactIndex().lookup([])
    assert lims.tolist() == [0] and ids.size == 0


def test_bad_input() -> None:
    idx = ExactIndex()
    with pytest.raises(ValueError):
        idx.add(np.array([1, 2], dtype=np.uint64), [b"a"])
    with pytest.raises(TypeError):
        idx.add(np.array([1], dtype=np.uint64), ["text"])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        idx.add(np.array([-1]), [b"a"])
