"""A member's own figures: `signalhub report` (its contribution and use over a period, as the
hub computes it, docs/report.md) and `signalhub stats --mine` (its signals' matches at other
members by label and week)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import impact
from .base import Groups, UsageError, check_days, connection_flags, json_flag, member_client, runs


def add_report(groups: Groups) -> None:
    """The `report` command."""
    p = groups[""].add_parser(
        "report",
        help="your own contribution and use: your signals' matches at others, your queries",
        description="What your signals achieved over a period: how often they matched at other "
        "members (counts by label and week, never who), opinions others gave on them, and your "
        "own queries. Computed by the hub from its records; see docs/report.md.",
    )
    p.add_argument("--from", dest="first", required=True, metavar="DATE", help="YYYY-MM-DD (UTC)")
    p.add_argument(
        "--to", dest="last", required=True, metavar="DATE", help="YYYY-MM-DD (UTC, included)"
    )
    json_flag(p, "the whole report as one JSON object")
    connection_flags(p)
    runs(p, cmd_report)


def add_stats(groups: Groups) -> None:
    """The `stats` command."""
    p = groups[""].add_parser(
        "stats",
        help="your impact: how often your signals matched at other members, and disputes",
        description="How often your own signals matched at other members, by label and by ISO "
        "week (counts only: never who), and which of them other members called false positive "
        "or disputed. Read from your member report (docs/report.md).",
    )
    p.add_argument(
        "--mine",
        action="store_true",
        required=True,
        help="your own signals (required: the only view so far)",
    )
    p.add_argument(
        "--weeks",
        type=int,
        default=impact.DEFAULT_WEEKS,
        metavar="N",
        help=f"the last N ISO weeks, this one included (1-{impact.MAX_WEEKS}, default %(default)s)",
    )
    json_flag(p, "one JSON object")
    connection_flags(p)
    runs(p, cmd_stats)


def report_text(body: dict[str, Any]) -> str:
    """The member report as the text `signalhub report` prints."""
    c = body["contributions"]
    m = body["matches_of_your_signals_by_others"]
    q = body["your_queries"]
    o = body["opinions_of_your_signals_by_others"]
    period = body["period"]
    lines = [
        f"{body['member_id']}: {period['from']} to {period['to']} ({period['days']} days)",
        f"  contributed {c['signals']} signals ({c['new_signals']} new to the hub), "
        f"{c['corroborated_by_others']} corroborated by other members",
        f"  your signals matched {m['matches']} times at other members "
        f"({m['signals_matched']} distinct signals)",
    ]
    lines += [
        f"    {label}: {row['matches']} matches of {row['signals_matched']} signals"
        for label, row in m["by_label"].items()
    ]
    lines += [
        f"  opinions of your signals by others: {o['true_positive']} true positive, "
        f"{o['false_positive']} false positive, {o['disputed']} disputed",
        f"  your queries: {q['queries']}, {q['queries_with_match']} with a match",
    ]
    return "\n".join(lines)


def cmd_report(args: argparse.Namespace) -> int:
    """Prints your member report for --from..--to."""
    check_days(("--from", args.first), ("--to", args.last))
    with member_client(args) as client:
        body = client.member_report(args.first, args.last)
    print(json.dumps(body) if args.json else report_text(body))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Prints your impact over the last --weeks ISO weeks."""
    if not 1 <= args.weeks <= impact.MAX_WEEKS:
        raise UsageError(f"--weeks is 1 to {impact.MAX_WEEKS}")
    with member_client(args) as client:
        view = client.impact(args.weeks)
    print(json.dumps(view) if args.json else impact.impact_text(view))
    return 0
