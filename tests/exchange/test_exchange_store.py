"""The LMDB store: savepoints, ordering, the packed PDQ table, reopening."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest

from exchange.store import Store, StoreTxn
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2


def test_savepoint_undoes_only_its_own_writes(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")

    def work(tx: StoreTxn) -> None:
        tx.set_counter("kept", 1)
        with pytest.raises(RuntimeError), tx.savepoint() as child:
            child.set_counter("undone", 1)
            raise RuntimeError("refused")
        with tx.savepoint() as child:
            child.set_counter("also_kept", 2)

    store.write(work)
    with store.read() as view:
        assert (view.counter("kept"), view.counter("undone"), view.counter("also_kept")) == (
            1,
            0,
            2,
        )
    store.close()


def test_feed_reads_in_sequence_order_after_a_cursor(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")

    def work(tx: StoreTxn) -> None:
        for n in (1, 2, 255, 256, 70000):  # big-endian keys keep numeric order
            tx.put_feed(n, rec.FeedRecord(event=common_pb2.FeedEvent(cursor=str(n))))

    store.write(work)
    with store.read() as view:
        assert [r.event.cursor for r in view.feed(0, 10)] == ["1", "2", "255", "256", "70000"]
        assert [r.event.cursor for r in view.feed(2, 2)] == ["255", "256"]
        assert view.feed(70000, 10) == []
    store.close()


def test_pdq_table_round_trips_and_survives_reopening(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 256, size=(100, 32), dtype=np.uint8)
    store = Store(tmp_path / "db")

    def work(tx: StoreTxn) -> None:
        for row, h in enumerate(hashes, start=1):  # a row is read checked against its signal
            record = rec.SignalRecord(pdq_row=row)
            record.signal.type, record.signal.value = "pdq", h.tobytes().hex()
            record.signal.signal_id = domain.signal_id("pdq", record.signal.value)
            tx.put_signal(record)
            tx.put_pdq_row(row, h.tobytes(), record.signal.signal_id)

    store.write(work)
    store.close()
    reopened = Store(tmp_path / "db")
    with reopened.read() as view:
        rows, loaded = view.pdq_table()
        assert rows.tolist() == list(range(1, 101))
        assert np.array_equal(loaded, hashes)
        sid = domain.signal_id("pdq", hashes[6].tobytes().hex())
        assert view.pdq_row(7) == (hashes[6].tobytes(), sid)
        assert view.pdq_row(101) is None
    reopened.close()


def _dump(store: Store) -> dict[str, list[tuple[bytes, bytes]]]:
    with store.read() as view:
        return {
            name: [(bytes(k), bytes(v)) for k, v in view.txn.cursor(db=db)]
            for name, db in view.dbs.items()
        }


def _write_taken(tx: StoreTxn) -> None:
    """A row and a submission stored before: writing them again falls back to one at a time."""
    tx.put_pdq_row(2, bytes(32), "00" * 16)
    tx.put_submission("ab" * 16, rec.SubmissionRecord(member_id="m", log_sequence=7))


def _write_records(tx: StoreTxn) -> None:
    for n in (3, 1, 2):
        sid = f"{n:02x}" * 16
        record = rec.SignalRecord(pdq_row=n)
        record.signal.signal_id, record.signal.type = sid, "pdq"
        tx.put_signal(record)
        sub = rec.SubmissionRecord(member_id="m", log_sequence=7, index=n)
        if n == 2:
            sub.expires_at.FromSeconds(2_000_000_000)
        tx.put_submission(sid, sub)
        tx.put_pdq_row(n, bytes([n]) * 32, sid)
        tx.put_feed(n, rec.FeedRecord(event=common_pb2.FeedEvent(cursor=str(n))))
    tx.put_submission("ab" * 16, rec.SubmissionRecord(member_id="m", log_sequence=7))
    # Written twice under one key, the second sorting first: the same one must win.
    tx.put_submission("ab" * 16, rec.SubmissionRecord(member_id="a", log_sequence=7))
    tx.put_feed(1, rec.FeedRecord())
    tx.put_pdq_row(1, bytes(32), "01" * 16)


@pytest.mark.parametrize("taken_row", [False, True])
def test_deferred_writes_store_exactly_what_direct_writes_store(
    tmp_path: Path, taken_row: bool
) -> None:
    direct, deferred = Store(tmp_path / "direct"), Store(tmp_path / "deferred")

    def work(tx: StoreTxn, defer: bool) -> None:
        if taken_row:
            _write_taken(tx)
        with tx.deferred_writes() if defer else contextlib.nullcontext():
            _write_records(tx)
        _write_records(tx)  # the same again, after the block: every key is taken now

    direct.write(lambda tx: work(tx, False))
    deferred.write(lambda tx: work(tx, True))

    assert _dump(deferred) == _dump(direct)
    direct.close()
    deferred.close()


def test_deferred_writes_write_nothing_when_the_block_raises(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    before = _dump(store)

    def work(tx: StoreTxn) -> None:
        with pytest.raises(RuntimeError), tx.deferred_writes():
            _write_records(tx)
            raise RuntimeError("refused")

    store.write(work)
    assert _dump(store) == before
    store.close()
