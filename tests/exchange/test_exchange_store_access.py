"""The store's public access for the code that used to reach into its internals (issue 20):
the group link and its inverse, the feed read backwards, raw reads, and read-only views."""

from __future__ import annotations

from pathlib import Path

from exchange.store import Store, StoreTxn, seal_state
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2

SIGNAL = "ab" * 16
OTHER = "cd" * 16


def test_unlink_group_signal_undoes_link_group_signal(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")

    def link(tx: StoreTxn) -> None:
        tx.link_group_signal("g1", SIGNAL)
        tx.link_group_signal("g1", OTHER)
        tx.link_group_signal("g2", SIGNAL)

    store.write(link)
    store.write(lambda tx: tx.unlink_group_signal("g1", SIGNAL))
    with store.read() as view:
        assert view.group_signals("g1") == [OTHER]
        assert view.group_signals("g2") == [SIGNAL]
    store.close()


def _feed(store: Store, n: int) -> None:
    def work(tx: StoreTxn) -> None:
        for seq in range(1, n + 1):
            event = common_pb2.FeedEvent(cursor=str(seq))
            tx.put_feed(seq, rec.FeedRecord(event=event))
            tx.set_counter("feed_seq", seq)

    store.write(work)


def test_feed_backwards_reads_newest_first(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    _feed(store, 4)
    with store.read() as view:
        assert [r.event.cursor for r in view.feed_backwards()] == ["4", "3", "2", "1"]
    store.close()


def test_raw_reads_return_stored_bytes(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    _feed(store, 1)
    with store.read() as view:
        raw = view.raw("feed", (1).to_bytes(8, "big"))
        assert raw is not None and seal_state((1).to_bytes(8, "big"), raw) is True
        assert view.lookup_finds("feed", (1).to_bytes(8, "big"))
        assert not view.lookup_finds("feed", (2).to_bytes(8, "big"))
        assert view.last_key("feed") == (1).to_bytes(8, "big")
        assert view.last_key("log") is None
        assert view.raw_log_entry(1) is None
        assert "feed" in view.tables() and view.has_table("feed")
        assert list(view.raw_signals()) == []
    store.close()


def test_read_only_view_and_begin_view_read_a_read_only_store(tmp_path: Path) -> None:
    writer = Store(tmp_path / "db")
    _feed(writer, 2)
    writer.close()
    reader = Store(tmp_path / "db", readonly=True)
    with reader.read_only_view() as view:
        assert view.counter("feed_seq") == 2
        assert view.checks
    view = reader.begin_view(checks=False)
    try:
        assert not view.checks and view.feed_record(2) is not None
    finally:
        view.end()
    reader.close()
