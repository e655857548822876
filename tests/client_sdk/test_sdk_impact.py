"""The impact view (`stats --mine`) from a member report, without a hub: the period's weeks,
and a row for every week whether or not anything matched in it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from client_sdk.impact import impact_period, impact_text, impact_view


@pytest.mark.parametrize(
    ("today", "weeks", "first"),
    [(date(2026, 11, 26), 1, date(2026, 11, 23)),  # a Thursday: from this week's Monday
     (date(2026, 11, 23), 1, date(2026, 11, 23)),  # a Monday
     (date(2026, 11, 29), 3, date(2026, 11, 9)),  # a Sunday, three weeks
     (date(2026, 1, 2), 2, date(2025, 12, 22))],  # across a year
)  # fmt: skip
def test_the_period_is_whole_iso_weeks_up_to_today(today: date, weeks: int, first: date) -> None:
    assert impact_period(weeks, today) == (first, today)


@pytest.mark.parametrize("weeks", [0, 53])
def test_the_number_of_weeks_is_bounded(weeks: int) -> None:
    with pytest.raises(ValueError, match="weeks is 1 to 52"):
        impact_period(weeks, date(2026, 11, 26))


def test_every_week_gets_a_row_and_the_rest_is_the_reports() -> None:
    first, last = impact_period(4, date(2026, 11, 26))
    week = {"week_start": "2026-11-09", "matches": 7, "signals_matched": 2,
            "matches_by_label": {"csam": 7}}  # fmt: skip
    disputed = [{"signal_id": "ab" * 16, "type": "md5", "value": "cd" * 16, "labels": [],
                 "true_positive": 0, "false_positive": 2, "disputed": 0}]  # fmt: skip
    report: dict[str, Any] = {
        "member_id": "acme",
        "period": {"from": first.isoformat(), "to": last.isoformat(), "days": 25},
        "matches_of_your_signals_by_others": {
            "matches": 7, "signals_matched": 2,
            "by_label": {"csam": {"matches": 7, "signals_matched": 2}}, "by_week": [week]},
        "opinions_of_your_signals_by_others": {
            "true_positive": 0, "false_positive": 2, "disputed": 0, "by_label": {}},
        "disputed_signals": disputed,
        "your_queries": {"queries": 99},
    }  # fmt: skip
    view = impact_view(report, 4)
    assert [(w["week_start"], w["matches"]) for w in view["matches_by_others"]["by_week"]] == [
        ("2026-11-02", 0), ("2026-11-09", 7), ("2026-11-16", 0), ("2026-11-23", 0)]  # fmt: skip
    assert view["period"] == {"from": "2026-11-02", "to": "2026-11-26", "weeks": 4}
    assert view["disputed_signals"] == disputed and "your_queries" not in view
    text = impact_text(view)
    assert "matched 7 times" in text and "false_positive=2" in text and "labels=-" in text
