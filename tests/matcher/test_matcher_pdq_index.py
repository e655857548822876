"""PDQIndex against a brute-force oracle (hypothesis property tests + unit tests)."""

from __future__ import annotations

import os
from typing import Literal

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher import PDQIndex
from matcher import pdq_index as pdq_mod

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "thorough",
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _profile() -> settings:
    try:
        return settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
    except Exception:  # an unknown profile registered elsewhere
        return settings.get_profile("ci")


PROFILE = _profile()
RADII = [0, 1, 31, 32, 63, 64]

Model = dict[int, bytes]
Result = tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64], npt.NDArray[np.int32]]


def oracle(model: Model, queries: npt.NDArray[np.uint8], radius: int) -> Result:
    """Brute force with unpackbits, independent of the index code."""
    ids = np.array(sorted(model), dtype=np.uint64)
    hashes = np.array(
        [np.frombuffer(model[int(i)], dtype=np.uint8) for i in ids], dtype=np.uint8
    ).reshape(-1, 32)
    lims = [0]
    out_ids: list[int] = []
    out_d: list[int] = []
    for q in queries:
        d = np.unpackbits(hashes ^ q, axis=1).sum(axis=1).astype(np.int64)
        hit = np.flatnonzero(d <= radius)
        pairs = sorted(zip(d[hit].tolist(), ids[hit].tolist(), strict=False))
        out_d += [p[0] for p in pairs]
        out_ids += [p[1] for p in pairs]
        lims.append(len(out_ids))
    return (
        np.array(lims, dtype=np.int64),
        np.array(out_ids, dtype=np.uint64),
        np.array(out_d, dtype=np.int32),
    )


def assert_same(got: Result, want: Result) -> None:
    lims, ids, dist = got
    assert lims.dtype == np.int64
    assert ids.dtype == np.uint64
    assert np.issubdtype(dist.dtype, np.integer)
    np.testing.assert_array_equal(lims, want[0])
    np.testing.assert_array_equal(ids, want[1])
    np.testing.assert_array_equal(dist.astype(np.int64), want[2].astype(np.int64))


def flip_bits(rng: np.random.Generator, h: npt.NDArray[np.uint8], k: int) -> npt.NDArray[np.uint8]:
    out = h.copy()
    for b in rng.choice(256, size=k, replace=False):
        out[b // 8] ^= np.uint8(1 << (b % 8))
    return out


def make_hashes(rng: np.random.Generator, n: int, clustered: bool) -> npt.NDArray[np.uint8]:
    """Uniform hashes, or clusters: near-duplicates, exact duplicates and hashes
    that share most bytes (hence whole chunks) with a few centres."""
    if not clustered:
        return rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    centres = rng.integers(0, 256, size=(max(1, n // 50 + 1), 32), dtype=np.uint8)
    out = np.empty((n, 32), dtype=np.uint8)
    for i in range(n):
        c = centres[rng.integers(0, len(centres))]
        kind = rng.integers(0, 4)
        if kind == 0:
            out[i] = c
        elif kind == 1:
            out[i] = flip_bits(rng, c, int(rng.integers(0, 40)))
        else:  # keep some bytes of the centre, randomise the rest
            keep = rng.random(32) < 0.7
            out[i] = np.where(keep, c, rng.integers(0, 256, size=32, dtype=np.uint8))
    return out


def spread_flip(h: npt.NDArray[np.uint8], k: int, phase: int) -> npt.NDArray[np.uint8]:
    """Flip ``k`` evenly spaced bits: spreads the distance over all chunks, which is
    exactly the pigeonhole boundary case for multi-index hashing."""
    out = h.copy()
    for j in range(k):
        b = (phase + (j * 256) // k) % 256
        out[b // 8] ^= np.uint8(1 << (b % 8))
    return out


def make_queries(
    rng: np.random.Generator, pool: list[bytes], nq: int, radii: list[int]
) -> npt.NDArray[np.uint8]:
    """Queries near hashes from ``pool`` (live and removed ones): random flips,
    evenly spread flips at radius-1/radius/radius+1, exact copies, plus random."""
    qs = []
    stored = [np.frombuffer(v, dtype=np.uint8) for v in pool]
    for _ in range(nq):
        u = rng.random()
        if stored and u < 0.85:
            h = stored[int(rng.integers(0, len(stored)))]
            if u < 0.35:
                qs.append(flip_bits(rng, h, int(rng.integers(0, 70))))
            elif u < 0.8:
                k = max(0, int(rng.choice(radii)) + int(rng.integers(-1, 2)))
                qs.append(spread_flip(h, k, int(rng.integers(0, 256))))
            else:
                qs.append(h.copy())
        else:
            qs.append(rng.integers(0, 256, size=32, dtype=np.uint8))
    return np.array(qs, dtype=np.uint8).reshape(-1, 32)


Strategy = Literal["auto", "mih", "scan"]


def new_index(strategy: Strategy, small: bool) -> PDQIndex:
    if small:  # force tables, deltas and rebuilds to happen at test sizes
        return PDQIndex(
            min_mih=64, min_delta=16, delta_fraction=0.1, dead_fraction=0.2, strategy=strategy
        )
    return PDQIndex(strategy=strategy)


@PROFILE
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 1500),
    clustered=st.booleans(),
    strategy=st.sampled_from(["auto", "mih", "scan"]),
    small=st.booleans(),
    ops=st.lists(st.sampled_from(["add", "remove", "readd", "noop_remove"]), max_size=6),
    extra_radius=st.integers(0, 70),
)
def test_matches_oracle(
    backend: str,
    seed: int,
    n: int,
    clustered: bool,
    strategy: Strategy,
    small: bool,
    ops: list[str],
    extra_radius: int,
) -> None:
    rng = np.random.default_rng(seed)
    idx = new_index(strategy, small)
    model: Model = {}
    hashes = make_hashes(rng, n, clustered)
    ids = rng.choice(2**40, size=n, replace=False).astype(np.uint64)
    idx.add(ids, hashes)
    model.update({int(i): h.tobytes() for i, h in zip(ids, hashes, strict=False)})
    pool = list(model.values())  # every hash ever stored, for queries
    next_id = 2**41
    for op in ops:
        live = np.array(sorted(model), dtype=np.uint64)
        if op == "add":
            k = int(rng.integers(1, 200))
            h = make_hashes(rng, k, clustered)
            if model and rng.random() < 0.5:  # exact copies of stored hashes
                h[: k // 2] = np.frombuffer(
                    model[int(live[rng.integers(0, len(live))])], dtype=np.uint8
                )
            new = np.arange(next_id, next_id + k, dtype=np.uint64)
            next_id += k
            idx.add(new, h)
            model.update({int(i): x.tobytes() for i, x in zip(new, h, strict=False)})
            pool += [x.tobytes() for x in h]
        elif op == "remove" and len(live):
            most = len(live) if rng.random() < 0.3 else max(1, len(live) // 10)
            gone = rng.choice(live, size=int(rng.integers(1, most + 1)), replace=False)
            idx.remove(gone)
            for i in gone.tolist():
                del model[i]
        elif op == "readd" and len(live):
            again = rng.choice(live, size=int(rng.integers(1, len(live) + 1)), replace=False)
            h = make_hashes(rng, len(again), clustered)
            idx.add(again, h)
            model.update({int(i): x.tobytes() for i, x in zip(again, h, strict=False)})
            pool += [x.tobytes() for x in h]
        elif op == "noop_remove":
            idx.remove(np.array([next_id + 12345, 2**63], dtype=np.uint64))
        assert len(idx) == len(model)
    radii = [*RADII, extra_radius]
    queries = make_queries(rng, pool, 16, radii)
    for radius in radii:
        assert_same(idx.search(queries, max_distance=radius), oracle(model, queries, radius))


@PROFILE
@given(seed=st.integers(0, 2**32 - 1), copies=st.integers(2, 40), radius=st.sampled_from(RADII))
def test_duplicate_hashes_under_many_ids(backend: str, seed: int, copies: int, radius: int) -> None:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(300, 32), dtype=np.uint8)
    dup = np.repeat(base[:3], copies, axis=0)
    allh = np.concatenate([base, dup])
    ids = rng.permutation(len(allh)).astype(np.uint64) + np.uint64(7)
    idx = PDQIndex(min_mih=64)
    idx.add(ids, allh)
    model = {int(i): h.tobytes() for i, h in zip(ids, allh, strict=False)}
    queries = np.stack([base[0], flip_bits(rng, base[1], 5), base[2] ^ np.uint8(0xFF)])
    got = idx.search(queries, max_distance=radius)
    assert_same(got, oracle(model, queries, radius))
    assert got[0][1] - got[0][0] >= copies + 1  # every copy of base[0] is found


def test_realistic_size_tables(backend: str) -> None:
    """A table-backed index at a size where chunking is ~13 bits, probed at every radius."""
    rng = np.random.default_rng(5)
    n = 20000
    h = make_hashes(rng, n, clustered=True)
    h[: n // 2] = rng.integers(0, 256, size=(n // 2, 32), dtype=np.uint8)
    ids = np.arange(n, dtype=np.uint64) * np.uint64(3)
    idx = PDQIndex(strategy="mih")
    idx.add(ids, h)
    model = {int(i): x.tobytes() for i, x in zip(ids, h, strict=False)}
    radii = [0, 1, 8, 16, 31, 32, 47, 63, 64, 256]
    queries = make_queries(rng, list(model.values()), 40, radii)
    for radius in radii:
        assert_same(idx.search(queries, max_distance=radius), oracle(model, queries, radius))
    idx.remove(ids[::2])
    for i in ids[::2].tolist():
        del model[i]
    assert len(idx) == len(model)
    for radius in [0, 31, 64]:
        assert_same(idx.search(queries, radius), oracle(model, queries, radius))


def test_empty_index_and_empty_batch(backend: str) -> None:
    idx = PDQIndex()
    assert len(idx) == 0
    q = np.zeros((3, 32), dtype=np.uint8)
    lims, ids, d = idx.search(q, 64)
    assert lims.tolist() == [0, 0, 0, 0] and ids.size == 0 and d.size == 0
    idx.add(np.array([5], dtype=np.uint64), np.ones((1, 32), dtype=np.uint8))
    lims, ids, d = idx.search(np.zeros((0, 32), dtype=np.uint8), 31)
    assert lims.tolist() == [0] and ids.size == 0 and d.size == 0
    idx.add(np.zeros(0, dtype=np.uint64), np.zeros((0, 32), dtype=np.uint8))
    assert len(idx) == 1


def test_replace_remove_and_last_wins(backend: str) -> None:
    idx = PDQIndex()
    a = np.zeros((1, 32), dtype=np.uint8)
    b = np.full((1, 32), 0xFF, dtype=np.uint8)
    idx.add(np.array([1, 2], dtype=np.uint64), np.concatenate([a, a]))
    idx.add(np.array([2], dtype=np.uint64), b)  # replace
    _lims, ids, d = idx.search(a, 0)
    assert ids.tolist() == [1]
    _lims, ids, d = idx.search(b, 0)
    assert ids.tolist() == [2] and d.tolist() == [0]
    idx.remove(np.array([2, 999], dtype=np.uint64))  # 999 unknown: no-op
    assert len(idx) == 1
    assert idx.search(b, 255)[1].tolist() == []
    assert idx.search(b, 256)[1].tolist() == [1]  # complement is at distance 256
    assert idx.search(b, 256)[2].tolist() == [256]
    idx.add(np.array([3, 3], dtype=np.uint64), np.concatenate([a, b]))  # last wins
    assert idx.search(b, 0)[1].tolist() == [3]
    assert len(idx) == 2


def test_index_does_not_alias_caller_arrays(backend: str) -> None:
    h = np.zeros((100, 32), dtype=np.uint8)
    ids = np.arange(100, dtype=np.uint64)
    idx = PDQIndex(min_mih=10)
    idx.add(ids, h)
    h[:] = 0xFF
    ids[:] = 0
    got = idx.search(np.zeros((1, 32), dtype=np.uint8), 0)
    assert got[1].tolist() == list(range(100))


def test_large_ids_and_signed_input(backend: str) -> None:
    idx = PDQIndex()
    big = np.array([2**64 - 1, 2**63], dtype=np.uint64)
    idx.add(big, np.zeros((2, 32), dtype=np.uint8))
    idx.add(np.array([4], dtype=np.int64), np.zeros((1, 32), dtype=np.uint8))
    assert idx.search(np.zeros((1, 32), dtype=np.uint8), 0)[1].tolist() == [4, 2**63, 2**64 - 1]


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 31), dtype=np.uint8),
        np.zeros(32, dtype=np.uint8),
        np.zeros((2, 32), dtype=np.int16),
    ],
)
def test_bad_shapes_raise(bad: npt.NDArray[np.generic]) -> None:
    idx = PDQIndex()
    with pytest.raises(ValueError):
        idx.add(np.arange(len(bad), dtype=np.uint64), bad)
    with pytest.raises(ValueError):
        idx.search(bad, 31)


def test_mismatched_lengths_and_negative_radius() -> None:
    idx = PDQIndex()
    with pytest.raises(ValueError):
        idx.add(np.arange(3, dtype=np.uint64), np.zeros((2, 32), dtype=np.uint8))
    with pytest.raises(ValueError):
        idx.add(np.array([-1]), np.zeros((1, 32), dtype=np.uint8))
    with pytest.raises(ValueError):
        idx.search(np.zeros((1, 32), dtype=np.uint8), -1)


def test_chunking_follows_size() -> None:
    for n in [10**4, 10**6, 10**7, 5 * 10**7]:
        widths = pdq_mod._chunk_widths(n)
        assert sum(widths) == 256
        assert max(widths) - min(widths) <= 1
        # offsets + rows stay well below the 128 B/hash budget at scale
        table_bytes = sum(4 * ((1 << w) + 1) for w in widths) + 4 * len(widths) * n
        if n >= 10**6:
            assert table_bytes / n + 41 < 128


def test_plan_pigeonhole_is_sound() -> None:
    """Sum over chunks of (probe radius + 1) must exceed the search radius."""
    widths = pdq_mod._chunk_widths(10**7)
    for r in range(0, 65):
        radii = pdq_mod._plan(widths, 10**7, r, force=True)
        if radii is None:
            continue
        assert sum(t + 1 for t in radii) > r


@pytest.mark.skipif(pdq_mod._core is None, reason="compiled core not built")
def test_compiled_batch_equals_numpy_mih_with_duplicates_and_tombstones() -> None:
    """One batch through the C core's pipelined probe loop and through the numpy version give
    the same lims, rows and distances at every radius, including the probe-list lengths the
    pipeline treats specially (1 bucket, fewer than its lookahead, several 4096-bucket blocks),
    duplicate hashes (a row found from several chunks) and tombstoned rows."""
    rng = np.random.default_rng(22)
    n = 24000
    h = make_hashes(rng, n, clustered=True)
    h[: n // 2] = rng.integers(0, 256, size=(n // 2, 32), dtype=np.uint8)
    h[n // 2 : n // 2 + 400] = h[:20].repeat(20, axis=0)  # 20 copies of 20 hashes
    ids = rng.permutation(n).astype(np.uint64)
    idx = PDQIndex(strategy="mih")
    idx.add(ids, h)
    gone = ids[rng.choice(n, size=n // 20, replace=False)]
    idx.remove(gone)
    assert idx._tables is not None and idx._dead == gone.shape[0]  # tombstones, no rebuild
    model = {int(i): x.tobytes() for i, x in zip(ids, h, strict=False)}
    for i in gone.tolist():
        del model[i]
    radii = [0, 1, 2, 5, 13, 16, 31, 32, 47, 63, 64, 150]
    queries = make_queries(rng, [x.tobytes() for x in h], 120, radii)
    qw = pdq_mod._as_words(queries)
    t = idx._tables
    for radius in radii:
        plan = pdq_mod._plan(t.widths, n, radius, force=True)
        assert plan is not None
        args = (idx._words.view(idx._n), idx._alive.view(idx._n), t, plan, qw, radius)
        got = pdq_mod._mih(*args)
        want = pdq_mod._np_mih(*args)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
        assert_same(idx.search(queries, radius), oracle(model, queries, radius))
