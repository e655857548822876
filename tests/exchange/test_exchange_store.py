"""The LMDB store: savepoints, ordering, the packed PDQ table, reopening."""

from __future__ import annotations

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
