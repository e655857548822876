"""A member's impact view (`signalhub stats --mine`): how often its own signals matched at other
members, by label and by ISO week, and which of them others disputed. It is a reading of the
member's own report (GetMemberReport, docs/report.md), which names no other member."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

DEFAULT_WEEKS = 12
MAX_WEEKS = 52
"""A report covers at most 366 days: 52 weeks always fit."""
TEXT_VALUE_CHARS = 80

Json = dict[str, Any]


def impact_period(weeks: int, today: date) -> tuple[date, date]:
    """The last `weeks` ISO weeks up to `today`: from the Monday `weeks - 1` weeks before this
    week's, to today (the current week so far)."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks is 1 to {MAX_WEEKS}, not {weeks}")
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(weeks=weeks - 1), today


def impact_view(report: Json, weeks: int) -> Json:
    """The impact part of a member report over `weeks` weeks; every week of the period gets a
    row, zeros included, so a quiet week shows as one."""
    matches = report["matches_of_your_signals_by_others"]
    opinions = report["opinions_of_your_signals_by_others"]
    first = date.fromisoformat(report["period"]["from"])
    counted = {w["week_start"]: w for w in matches["by_week"]}
    by_week = []
    for n in range(weeks):
        start = (first - timedelta(days=first.weekday()) + timedelta(weeks=n)).isoformat()
        row = counted.get(start, {})
        by_week.append(
            {
                "week_start": start,
                "matches": row.get("matches", 0),
                "signals_matched": row.get("signals_matched", 0),
                "matches_by_label": row.get("matches_by_label", {}),
            }
        )
    return {
        "member_id": report["member_id"],
        "period": {**{k: report["period"][k] for k in ("from", "to")}, "weeks": weeks},
        "matches_by_others": {
            "matches": matches["matches"],
            "signals_matched": matches["signals_matched"],
            "by_label": matches["by_label"],
            "by_week": by_week,
        },
        "opinions_by_others": {
            "true_positive": opinions["true_positive"],
            "false_positive": opinions["false_positive"],
            "disputed": opinions["disputed"],
        },
        "disputed_signals": report["disputed_signals"],
    }


def impact_text(view: Json) -> str:
    """The view for people: totals, by label, by week, then the disputed signals."""
    m, period = view["matches_by_others"], view["period"]
    o = view["opinions_by_others"]
    lines = [
        f"{view['member_id']}: {period['from']} to {period['to']} ({period['weeks']} weeks)",
        f"your signals matched {m['matches']} times at other members "
        f"({m['signals_matched']} distinct signals)",
        "by label:",
    ]
    lines += [
        f"  {label:<12} {row['matches']:>8} matches  {row['signals_matched']:>6} signals"
        for label, row in m["by_label"].items()
    ] or ["  (no matches)"]
    lines.append("by week (week starting):")
    for w in m["by_week"]:
        labels = " ".join(f"{k}={v}" for k, v in w["matches_by_label"].items())
        lines.append(f"  {w['week_start']} {w['matches']:>8} matches  {labels}".rstrip())
    lines.append(
        f"opinions of your signals by others: {o['true_positive']} true positive, "
        f"{o['false_positive']} false positive, {o['disputed']} disputed"
    )
    disputed = view["disputed_signals"]
    lines.append(f"disputed signals: {len(disputed)}")
    for d in disputed:
        value = d["value"] if len(d["value"]) <= TEXT_VALUE_CHARS else d["value"][:77] + "..."
        lines.append(
            f"  {d['signal_id']}  {d['type']}  {value}  labels={','.join(d['labels']) or '-'}"
            f"  false_positive={d['false_positive']} disputed={d['disputed']}"
            f" true_positive={d['true_positive']}"
        )
    return "\n".join(lines)
