"""The node's match tally (exchange.match_counts): what it counts, its bounds, and the entries
it hands to the log."""

from __future__ import annotations

from exchange.match_counts import (
    MAX_COUNTS_PER_ENTRY,
    MAX_MATCHES_PER_COUNT,
    MatchTally,
    QuarantineSettings,
)

T0 = 1_700_000_000_123


def _ids(n: int) -> list[str]:
    return [f"{i:032x}" for i in range(n)]


def test_each_pair_counts_its_matches_with_first_and_last_times() -> None:
    tally = MatchTally(node="n1")
    a, b = _ids(2)
    tally.record("m1", [a, b], now_ms=T0)
    tally.record("m1", [a], now_ms=T0 + 5)
    tally.record("m2", [a], now_ms=T0 + 7)
    (command,) = tally.take(QuarantineSettings())
    got = [
        (c.signal_id, c.member_id, c.matches, c.first.ToMilliseconds(), c.last.ToMilliseconds())
        for c in command.counts
    ]
    assert got == [(a, "m1", 2, T0, T0 + 5), (a, "m2", 1, T0 + 7, T0 + 7), (b, "m1", 1, T0, T0)]
    assert (command.node, command.serial, command.policy.ratio) == ("n1", 1, 20.0)
    assert tally.take(QuarantineSettings()) == [] and len(tally) == 0


def test_a_count_stops_at_its_ceiling_but_its_last_time_moves() -> None:
    tally = MatchTally(node="n1")
    (sid,) = _ids(1)
    tally.record("m1", [sid], now_ms=T0)
    tally._counts[(sid, "m1")][0] = MAX_MATCHES_PER_COUNT - 1
    tally.record("m1", [sid, sid], now_ms=T0 + 9)
    (command,) = tally.take(QuarantineSettings())
    assert command.counts[0].matches == MAX_MATCHES_PER_COUNT
    assert command.counts[0].last.ToMilliseconds() == T0 + 9


def test_a_full_tally_drops_new_pairs_and_still_counts_held_ones() -> None:
    tally = MatchTally(node="n1", max_keys=2)
    a, b, c = _ids(3)
    tally.record("m1", [a, b, c, a], now_ms=T0)
    assert (len(tally), tally.dropped) == (2, 1)
    (command,) = tally.take(QuarantineSettings())
    assert [(x.signal_id, x.matches) for x in command.counts] == [(a, 2), (b, 1)]


def test_entries_are_split_and_what_a_failed_flush_restores_counts_again() -> None:
    tally = MatchTally(node="n1")
    ids = _ids(MAX_COUNTS_PER_ENTRY + 1)
    tally.record("m1", ids, now_ms=T0)
    commands = tally.take(QuarantineSettings())
    assert [len(c.counts) for c in commands] == [MAX_COUNTS_PER_ENTRY, 1]
    assert [c.serial for c in commands] == [1, 2]
    tally.record("m1", ids[-1:], now_ms=T0 + 3)
    tally.restore(commands[1:])
    (again,) = tally.take(QuarantineSettings())
    (count,) = again.counts
    assert (count.signal_id, count.matches) == (ids[-1], 2)
    assert (count.first.ToMilliseconds(), count.last.ToMilliseconds()) == (T0, T0 + 3)
    assert again.serial == 3
