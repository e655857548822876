"""PDQIndex's upkeep: folds merged chunk by chunk, rebuilds beside the old base, the background
worker. Every intermediate state an upkeep step leaves must answer exactly like brute force."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher import PDQIndex, pdq_upkeep
from matcher import pdq_index as pdq_mod
from matcher.pdq_upkeep import Rows, RWLock, merge_chunk
from tests.matcher.test_matcher_pdq_index import (
    PROFILE,
    Model,
    assert_same,
    make_hashes,
    make_queries,
    oracle,
)

RADII = [0, 31, 32]


def small_index(background: bool = False) -> PDQIndex:
    return PDQIndex(
        min_mih=64, min_delta=16, delta_fraction=0.05, dead_fraction=0.2, background=background
    )


def manual(idx: PDQIndex) -> PDQIndex:
    """Upkeep only when `step` is called (each step one piece of work)."""
    idx._upkeep = lambda: None  # type: ignore[method-assign]
    return idx


def step(idx: PDQIndex) -> bool:
    with idx._changing():
        work = idx._next_work()
    if work is None:
        return False
    work.run()
    with idx._changing():
        idx._install(work)
    return True


def check(idx: PDQIndex, model: Model, rng: np.random.Generator) -> None:
    queries = make_queries(rng, list(model.values()) or [bytes(32)], 12, RADII)
    for radius in RADII:
        assert_same(idx.search(queries, max_distance=radius), oracle(model, queries, radius))
    assert len(idx) == len(model)


def add(idx: PDQIndex, model: Model, rng: np.random.Generator, ids: np.ndarray) -> None:
    hashes = make_hashes(rng, len(ids), True)
    idx.add(ids, hashes)
    model.update({int(i): h.tobytes() for i, h in zip(ids, hashes, strict=True)})


def settled(seed: int, rows: int) -> tuple[PDQIndex, Model, np.random.Generator]:
    """A manual small index of ``rows`` ascending ids with all its upkeep done."""
    rng = np.random.default_rng(seed)
    idx, model = manual(small_index()), {}
    add(idx, model, rng, np.arange(0, rows, dtype=np.uint64))
    while step(idx):
        pass
    return idx, model, rng


@PROFILE
@given(seed=st.integers(0, 2**32 - 1), width=st.integers(1, 10), n=st.integers(0, 300))
def test_merge_chunk_equals_building_from_scratch(seed: int, width: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**63, size=(n, 4), dtype=np.uint64)
    first = int(rng.integers(0, n + 1))
    lo = int(rng.integers(0, 256 - width))
    old_off, old_rows = _numpy_table(words[:first], lo, width)
    want_off, want_rows = _numpy_table(words, lo, width)
    values = pdq_mod._chunk_values(words[first:], lo, width)
    off, rw = merge_chunk(old_off, old_rows, values, first)
    np.testing.assert_array_equal(off, want_off)
    np.testing.assert_array_equal(rw, want_rows)
    assert off.dtype == np.uint32 and rw.dtype == np.uint32
    if pdq_mod._core is not None:  # the C core's merge, from the words themselves
        c_off = np.empty_like(want_off)
        c_rows = np.empty(n, dtype=np.uint32)
        pdq_mod._core.merge_chunk(words[first:], lo, width, first, old_off, old_rows, c_off, c_rows)
        np.testing.assert_array_equal(c_off, want_off)
        np.testing.assert_array_equal(c_rows, want_rows)


def test_the_c_merge_refuses_tables_that_do_not_fit() -> None:
    if pdq_mod._core is None:
        pytest.skip("compiled core not built")
    words = np.zeros((5, 4), dtype=np.uint64)
    off, rows = _numpy_table(words[:3], 0, 4)
    good = (np.empty_like(off), np.empty(5, dtype=np.uint32))
    pdq_mod._core.merge_chunk(words[3:], 0, 4, 3, off, rows, *good)
    for bad in [
        (words[3:], 0, 4, 2, off, rows, *good),  # first != rows in the old table
        (words[3:], 0, 4, 3, off, rows, good[0], np.empty(4, dtype=np.uint32)),
        (words[3:], 0, 5, 3, off, rows, *good),  # offsets of another width
        (words[3:], 250, 8, 3, off, rows, *good),
    ]:
        with pytest.raises(ValueError):
            pdq_mod._core.merge_chunk(*bad)


def _numpy_table(words: np.ndarray, lo: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    vals = pdq_mod._chunk_values(words, lo, width)
    rows = np.argsort(vals, kind="stable").astype(np.uint32)
    off = np.zeros((1 << width) + 1, dtype=np.uint32)
    np.cumsum(np.bincount(vals, minlength=1 << width), out=off[1:])
    return off, rows


def test_rows_take_their_address_space_at_once_and_grow_inside_it() -> None:
    rows = Rows(np.uint64, 4, reserved=1 << 20)
    rows.reserve(10)
    assert rows.capacity == 1 << 20  # no memory: pages never written take none
    base = rows.view(10).ctypes.data
    held = rows.view(10)
    held[:] = 7
    rows.reserve(1 << 19)  # inside the reservation: nothing moves, a live view is fine
    assert rows.view(1 << 19).ctypes.data == base
    np.testing.assert_array_equal(held, 7)


def test_rows_grow_in_place_and_refuse_while_viewed() -> None:
    rows = Rows(np.uint64, 4, reserved=0)
    rows.reserve(10)
    rows.view(10)[:] = np.arange(40, dtype=np.uint64).reshape(10, 4)
    rows.reserve(rows.capacity + 1)
    assert rows.capacity >= 8192
    np.testing.assert_array_equal(rows.view(10).ravel(), np.arange(40))
    assert not rows.view(rows.capacity)[10:].any()  # new room reads as zeros
    held = rows.view(3)
    with pytest.raises(BufferError):  # a leaked view shows as an error, never as a dangling one
        rows.reserve(rows.capacity + 1)
    del held
    rows.reserve(rows.capacity + 1)
    with pytest.raises(ValueError):
        rows.view(rows.capacity + 1)


@settings(PROFILE, max_examples=max(6, PROFILE.max_examples // 4))  # ~30 checks an example
@given(seed=st.integers(0, 2**32 - 1), batches=st.lists(st.integers(1, 120), max_size=5))
def test_every_step_of_a_fold_answers_exactly(backend: str, seed: int, batches: list[int]) -> None:
    """Searches between any two steps of the upkeep (delta folded into the tail, each chunk's
    table merged in turn) give brute force's answers, removals in the tail included."""
    rng = np.random.default_rng(seed)
    idx, model = manual(small_index()), {}
    add(idx, model, rng, np.arange(1, 400, dtype=np.uint64))
    while step(idx):
        pass
    next_id = 1000
    for k in batches:
        add(idx, model, rng, np.arange(next_id, next_id + k, dtype=np.uint64))
        next_id += k
        live = np.array(sorted(model), dtype=np.uint64)
        gone = rng.choice(live, size=min(len(live), int(rng.integers(0, 6))), replace=False)
        idx.remove(gone)
        for i in gone.tolist():
            del model[i]
        check(idx, model, rng)
        if rng.random() < 0.7:
            while step(idx):
                check(idx, model, rng)
        elif step(idx):  # leave a fold half done under the next batch
            check(idx, model, rng)
    state = idx.upkeep_state()
    assert state["base"] + state["delta"] >= len(model)


@PROFILE
@given(seed=st.integers(0, 2**32 - 1), trigger=st.sampled_from(["unordered", "dead"]))
def test_changes_during_a_rebuild_reach_the_new_base(backend: str, seed: int, trigger: str) -> None:
    """A rebuild works from a snapshot; adds, replacements and removals made while it runs
    are in the answers after the swap."""
    rng = np.random.default_rng(seed)
    idx, model = manual(small_index()), {}
    add(idx, model, rng, np.arange(100, 500, dtype=np.uint64))
    while step(idx):
        pass
    if trigger == "unordered":  # ids below the base's largest: only a rebuild can place them
        add(idx, model, rng, np.arange(0, 60, dtype=np.uint64))
    elif trigger == "dead":
        gone = np.arange(100, 300, dtype=np.uint64)
        idx.remove(gone)
        for i in gone.tolist():
            del model[i]
    assert idx._rebuild_reason() is not None
    with idx._lock.write():
        job = idx._next_work()
    assert isinstance(job, pdq_mod._Rebuild)
    live = np.array(sorted(model), dtype=np.uint64)
    replaced = rng.choice(live, size=20, replace=False)
    add(idx, model, rng, replaced)  # in the old base or the snapshot's delta
    gone = rng.choice(np.setdiff1d(live, replaced), size=20, replace=False)
    idx.remove(gone)
    for i in gone.tolist():
        del model[i]
    add(idx, model, rng, np.arange(5000, 5100, dtype=np.uint64))
    check(idx, model, rng)  # old base + delta, while the rebuild is out
    job.run()
    with idx._lock.write():  # as the worker does: most of the replay before the swap
        early = idx._take_touched()
    job.replay(early)
    live = np.array(sorted(model), dtype=np.uint64)
    add(idx, model, rng, rng.choice(live, size=10, replace=False))  # changed after the replay
    late = rng.choice(live, size=10, replace=False)
    idx.remove(late)
    for i in late.tolist():
        model.pop(i, None)
    check(idx, model, rng)
    with idx._lock.write():
        idx._install(job)
    check(idx, model, rng)
    while step(idx):
        check(idx, model, rng)
    assert idx._rebuild_job is None


@settings(PROFILE, max_examples=max(4, PROFILE.max_examples // 8))  # ~30 steps an example
@given(seed=st.integers(0, 2**32 - 1))
def test_widening_the_chunks_one_at_a_time_answers_exactly_at_every_step(
    backend: str, seed: int
) -> None:
    """At 4x growth the chunk widths are chosen again, one new chunk at a time: between any
    two steps (and with adds and removals between them) the chunks searched are disjoint,
    answers equal brute force's, and at most one new chunk's table is held beside the old
    ones; at the end the widths are those a build from scratch picks."""
    idx, model, rng = settled(seed, 300)
    old_widths = list(idx._tables.widths) if idx._tables is not None else []
    add(idx, model, rng, np.arange(300, 1400, dtype=np.uint64))  # past 4x: widths change
    assert idx._rebuild_reason() == "grown 4x"
    steps = 0
    while True:
        tables = idx._tables
        assert tables is not None
        ends = [lo + w for lo, w in zip(tables.los, tables.widths, strict=True)]
        assert all(e <= lo for e, lo in zip(ends, tables.los[1:], strict=False))  # disjoint
        held = {id(r) for r in tables.rows}
        with idx._changing():
            work = idx._next_work()
        if work is None:
            break
        work.run()
        if isinstance(work, pdq_mod._Widen):
            steps += 1
            assert idx.upkeep_state()["rebuilding"] == 1
        with idx._changing():
            idx._install(work)
        assert len({id(r) for r in idx._tables.rows} - held) <= 1  # one new table a step
        if isinstance(work, pdq_mod._Widen) and steps % 3 == 1:
            live = np.array(sorted(model), dtype=np.uint64)
            gone = rng.choice(live, size=5, replace=False)
            idx.remove(gone)
            for i in gone.tolist():
                del model[i]
            add(idx, model, rng, np.arange(2000 + 10 * steps, 2010 + 10 * steps, dtype=np.uint64))
        check(idx, model, rng)
    final = idx._tables
    assert final is not None and steps == len(final.widths) > 0
    assert final.widths == pdq_mod._chunk_widths(idx._sized_for) != old_widths
    assert idx.upkeep_state()["rebuilding"] == 0
    check(idx, model, rng)


def test_ascending_batches_go_to_the_tail_and_a_leftover_delta_is_folded_first() -> None:
    """The hub's rows arrive in ascending order: each batch lands in the base's tail, not in
    the delta. Rows added while a compaction copies the base wait in the delta; the next
    ascending batch folds them in first, so the base stays ascending and no second rebuild
    ("ids out of order") follows."""
    idx, model, rng = settled(5, 400)
    add(idx, model, rng, np.arange(400, 410, dtype=np.uint64))
    assert idx.upkeep_state()["delta"] == 0 and idx.upkeep_state()["tail"] == 10
    gone = np.arange(0, 200, dtype=np.uint64)
    idx.remove(gone)
    for i in gone.tolist():
        del model[i]
    with idx._changing():
        job = idx._next_work()
    assert isinstance(job, pdq_mod._Rebuild) and not job.reuse  # "dead rows": a copy
    add(idx, model, rng, np.arange(410, 430, dtype=np.uint64))
    assert idx.upkeep_state()["delta"] == 20  # the copy would lack them in the tail
    check(idx, model, rng)
    job.run()
    with idx._changing():
        idx._install(job)
    check(idx, model, rng)
    add(idx, model, rng, np.arange(430, 440, dtype=np.uint64))
    assert idx.upkeep_state()["delta"] == 0
    base = idx._ids.view(idx._n)
    assert bool(np.all(base[1:] > base[:-1])) and idx._rebuild_reason() is None
    check(idx, model, rng)


def test_what_a_change_replaces_is_freed_once_the_lock_is_let_go() -> None:
    """Old chunk tables, a folded delta and a replaced base are freed after the write lock,
    not under it, and nothing is kept past the change."""
    idx, model, rng = settled(6, 400)
    add(idx, model, rng, np.arange(400, 500, dtype=np.uint64))
    old = weakref.ref(idx._tables.rows[0]) if idx._tables is not None else None
    assert old is not None and old() is not None
    seen: list[bool] = []
    real_write = idx._lock.write

    @contextmanager
    def write() -> Iterator[None]:
        with real_write():
            alive = old() is not None
            yield
            seen.append(alive and old() is None)  # freed while the lock was held

    idx._lock.write = write  # type: ignore[method-assign]
    while step(idx):
        pass
    assert len(seen) > 2 and not any(seen)  # never freed under the lock...
    assert old() is None and idx._released == []  # ...and freed once it was let go
    check(idx, model, rng)


@pytest.mark.skipif(pdq_upkeep._madvise is None, reason="MADV_POPULATE_WRITE is Linux's")
def test_rows_prefault_brings_pages_in_without_changing_them() -> None:
    """`prefault` commits the pages ahead of the rows about to be written (the appends under
    the index's lock then take no page faults) and keeps what is written."""
    rows = Rows(np.uint64, 4, reserved=1 << 22)  # 128 MiB of address space
    rows.reserve(1)
    rows.view(4)[:] = 9
    before = _rss_bytes()
    rows.prefault(1 << 20)  # 32 MiB of rows, nothing else touching them
    assert _rss_bytes() - before >= 30 << 20
    np.testing.assert_array_equal(rows.view(4), 9)
    assert not rows.view(1 << 20)[4:].any()  # prefaulted, never written: still zero


@pytest.mark.skipif(pdq_upkeep._madvise is None, reason="MADV_POPULATE_WRITE is Linux's")
def test_rows_prefault_beside_a_writer_keeps_every_row_it_wrote() -> None:
    rows = Rows(np.uint64, 4, reserved=1 << 22)
    rows.reserve(1)
    stop = threading.Event()

    def write() -> None:
        k = 4
        while not stop.is_set() and k < 1 << 20:
            rows.view(k + 1024)[k:] = np.uint64(k)
            k += 1024

    writer = threading.Thread(target=write)
    writer.start()
    rows.prefault(1 << 20)
    stop.set()
    writer.join()
    view = rows.view(1 << 20)
    written = view[4:, 0] != 0
    assert written.any()
    k = np.flatnonzero(written)
    np.testing.assert_array_equal(view[4:][k, 0], 4 + k // 1024 * 1024)
    assert not view[4:][~written].any()


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


@pytest.mark.parametrize("seed", [1, 2])
def test_background_upkeep_never_shows_a_partial_state(seed: int) -> None:
    """Adds and removals go on while the worker folds and rebuilds: every search in between
    answers exactly, and the worker catches up once the writes stop."""
    rng = np.random.default_rng(seed)
    idx, model = small_index(background=True), {}
    try:
        next_id = 1
        for round_ in range(60):
            k = int(rng.integers(1, 150))
            add(idx, model, rng, np.arange(next_id, next_id + k, dtype=np.uint64))
            next_id += k
            if round_ % 7 == 3:
                live = np.array(sorted(model), dtype=np.uint64)
                gone = rng.choice(live, size=len(live) // 4, replace=False)
                idx.remove(gone)
                for i in gone.tolist():
                    del model[i]
            check(idx, model, rng)
        assert idx.wait_idle(timeout=30)
        state = idx.upkeep_state()
        assert state["tail"] == 0 and state["rebuilding"] == 0
        check(idx, model, rng)
    finally:
        idx.close()
    add(idx, model, rng, np.arange(next_id, next_id + 50, dtype=np.uint64))  # inline after close
    check(idx, model, rng)


def test_an_unreferenced_background_index_stops_its_worker() -> None:
    before = {t for t in threading.enumerate() if t.name == "pdq-upkeep"}
    idx = small_index(background=True)
    idx.add(np.arange(1, 200, dtype=np.uint64), np.zeros((199, 32), dtype=np.uint8))
    assert idx.wait_idle(timeout=10)
    del idx
    import gc

    gc.collect()
    for t in threading.enumerate():
        if t.name == "pdq-upkeep" and t not in before:
            t.join(timeout=10)
            assert not t.is_alive()


def test_rwlock_lets_readers_share_and_writers_wait() -> None:
    lock = RWLock()
    inside = threading.Barrier(2, timeout=5)
    order: list[str] = []

    def reader() -> None:
        with lock.read():
            inside.wait()  # both readers are inside at once
            order.append("r")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    with lock.write():
        order.append("w")
    assert order == ["r", "r", "w"]


def test_rwlock_lets_waiting_readers_in_between_two_writes() -> None:
    """A writer that takes the lock again at once does not keep out a reader that waited."""
    lock = RWLock()
    order: list[str] = []
    reader_waiting = threading.Event()

    def reader() -> None:
        reader_waiting.set()
        with lock.read():
            order.append("r")

    with lock.write():
        t = threading.Thread(target=reader)
        t.start()
        reader_waiting.wait(5)
        deadline = time.monotonic() + 5
        while not lock._readers_waiting and time.monotonic() < deadline:
            time.sleep(0.001)
        order.append("w1")
    with lock.write():  # asked for again at once, behind the waiting reader
        order.append("w2")
    t.join(5)
    assert order == ["w1", "r", "w2"]
