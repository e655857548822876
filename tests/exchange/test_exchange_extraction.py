"""The match budget and sweep detector's bookkeeping (exchange.extraction): what it refuses,
when it forgets, and that its memory stays bounded however members call."""

from __future__ import annotations

import grpc
import pytest

from exchange.errors import HubError
from exchange.extraction import (
    BUCKET_SECONDS,
    DAY_SECONDS,
    WINDOW_BUCKETS,
    ExtractionLimits,
    ExtractionSettings,
)

NOON = 20_000 * DAY_SECONDS + DAY_SECONDS / 2
"""Noon (UTC) of some day."""


def limits(**settings: object) -> ExtractionLimits:
    return ExtractionLimits(ExtractionSettings(**settings))  # type: ignore[arg-type]


def test_a_call_over_the_budget_is_refused_whole_and_charged_nothing() -> None:
    budget = limits(match_budget_per_day=10)
    budget.admit("m", 6, now=NOON)
    with pytest.raises(HubError) as refused:
        budget.admit("m", 5, now=NOON)
    assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "4 left today" in refused.value.message
    # the retry is at the next UTC midnight
    assert refused.value.retry_after_seconds == pytest.approx(DAY_SECONDS / 2)
    budget.admit("m", 4, now=NOON)  # the refused call took nothing
    assert budget.of("m", now=NOON).queries_today == 10
    budget.admit("other", 10, now=NOON)  # per member


def test_the_budget_starts_again_each_utc_day_and_zero_is_unlimited() -> None:
    budget = limits(match_budget_per_day=3)
    budget.admit("m", 3, now=NOON)
    budget.admit("m", 3, now=NOON + DAY_SECONDS)
    assert budget.of("m", now=NOON + 2 * DAY_SECONDS).queries_today == 0
    unlimited = limits(match_budget_per_day=0)
    unlimited.admit("m", 10**9, now=NOON)


def test_a_day_is_seeded_from_what_the_store_counted() -> None:
    seeded = ExtractionLimits(
        ExtractionSettings(match_budget_per_day=10), seed=lambda member, day: 8
    )
    with pytest.raises(HubError):
        seeded.admit("m", 3, now=NOON)
    assert seeded.of("never-seen", now=NOON).queries_today == 8


def test_many_misses_make_a_member_sweeping_once_then_it_ends() -> None:
    sweep = limits(sweep_misses_per_hour=100, sweep_min_miss_fraction=0.9)
    assert not sweep.record("m", 99, 99, now=NOON)
    assert sweep.record("m", 1, 1, now=NOON + 1)  # the 100th miss
    assert not sweep.record("m", 50, 50, now=NOON + 2)  # counted once
    assert sweep.sweeps_detected == 1 and sweep.sweeping_members(now=NOON + 2) == 1
    state = sweep.of("m", now=NOON + 2)
    assert state.sweeping and state.misses_last_hour == 150
    later = NOON + WINDOW_BUCKETS * BUCKET_SECONDS + 10
    assert sweep.sweeping_members(now=later) == 0
    assert sweep.of("m", now=later).misses_last_hour == 0
    sweep.admit("m", 1, now=later)  # never throttled without sweep_throttle


def test_misses_among_many_matches_are_no_sweep() -> None:
    sweep = limits(sweep_misses_per_hour=100, sweep_min_miss_fraction=0.9)
    assert not sweep.record("m", 1000, 200, now=NOON)  # 20 % misses: a member's normal day
    assert not sweep.of("m", now=NOON).sweeping


def test_with_throttle_a_sweeping_member_is_refused_for_the_cooldown() -> None:
    sweep = limits(sweep_misses_per_hour=10, sweep_throttle=True, sweep_cooldown_seconds=600.0)
    sweep.record("m", 10, 10, now=NOON)
    with pytest.raises(HubError) as refused:
        sweep.admit("m", 1, now=NOON + 100)
    assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "sweep detector" in refused.value.message
    assert refused.value.retry_after_seconds == pytest.approx(500)
    assert sweep.of("m", now=NOON + 100).queries_today == 0  # refused: charged nothing
    sweep.admit("m", 1, now=NOON + 601)
    sweep.admit("other", 1, now=NOON + 100)


def test_a_members_window_keeps_at_most_an_hour_of_minute_buckets() -> None:
    sweep = limits(sweep_misses_per_hour=10**9)
    for minute in range(5 * WINDOW_BUCKETS):
        sweep.record("m", 2, 1, now=NOON + minute * BUCKET_SECONDS)
    member = sweep._members["m"]
    assert len(member.buckets) == WINDOW_BUCKETS
    assert member.window(5 * WINDOW_BUCKETS - 1 + int(NOON // BUCKET_SECONDS)) == (
        2 * WINDOW_BUCKETS,
        WINDOW_BUCKETS,
    )


def test_the_members_kept_are_bounded_least_recently_seen_first() -> None:
    bounded = ExtractionLimits(ExtractionSettings(match_budget_per_day=5), max_members=100)
    for i in range(1000):
        bounded.admit(f"m{i}", 1, now=NOON)
    assert bounded.tracked() == 100
    bounded.admit("m950", 1, now=NOON)  # seen again: kept, moved to the end
    bounded.admit("new", 1, now=NOON)
    assert bounded.tracked() == 100
    assert bounded.of("m950", now=NOON).queries_today == 2
    assert bounded.of("m900", now=NOON).queries_today == 0  # dropped first
