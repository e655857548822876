"""Usage statistics: counted in memory, added to the store's `stats` database, read back by day."""

from __future__ import annotations

from pathlib import Path

from exchange import usage
from exchange.store import Store

A, B = "aa" * 16, "bb" * 16
DAY = 20_000  # 2024-10-04
T = DAY * 86_400 + 3600.0


def test_counts_add_up_across_flushes_and_read_back_by_day(tmp_path: Path) -> None:
    counter = usage.UsageCounter()
    counter.record_match_call("acme", [[A, B], [A], []], now=T)
    counter.record_match_call("acme", [[A, A]], now=T)  # one query matching A twice counts once
    counter.record_match_call("beta", [[B]], now=T + 86_400)
    counter.record_propagation([0.5, 3, 40, 40, 120_000], now=T)
    store = Store(tmp_path / "lmdb")
    try:
        first = counter.take()
        assert counter.take() == {}
        store.write(lambda tx: tx.add_stats(first))
        counter.record_match_call("acme", [[B]], now=T)
        store.write(lambda tx: tx.add_stats(counter.take()))
        with store.read() as view:
            matches = [usage.decode_match(k, v) for k, v in view.stats(usage.MATCH, DAY, DAY)]
            queries = [
                usage.decode_queries(k, v) for k, v in view.stats(usage.QUERIES, DAY, DAY + 1)
            ]
            (latency,) = [
                usage.decode_propagation(v) for _, v in view.stats(usage.PROPAGATION, DAY, DAY)
            ]
            later = list(view.stats(usage.MATCH, DAY + 1, DAY + 9))
    finally:
        store.close()
    assert sorted((m.signal_id, m.member_id, m.count) for m in matches) == [
        (A, "acme", 3), (B, "acme", 2)]  # fmt: skip
    assert [(q.day, q.member_id, q.queries, q.matched) for q in queries] == [
        (DAY, "acme", 5, 4), (DAY + 1, "beta", 1, 1)]  # fmt: skip
    buckets = dict(zip((*usage.PROPAGATION_MS, "more"), latency, strict=True))
    assert (buckets[1], buckets[5], buckets[50], buckets["more"], sum(latency)) == (1, 1, 2, 1, 5)
    assert [usage.decode_match(k, v).member_id for k, v in later] == ["beta"]


def test_counts_of_a_failed_write_are_kept_for_the_next(tmp_path: Path) -> None:
    counter = usage.UsageCounter()
    counter.record_match_call("acme", [[A]], now=T)
    taken = counter.take()
    counter.record_match_call("acme", [[A]], now=T)
    counter.restore(taken)
    assert counter.take() == {usage.queries_key(DAY, "acme"): (2, 2),
                              usage.match_key(DAY, A, "acme"): (2,)}  # fmt: skip
