"""`signalhub admin quarantine ...` (the operator): the signals in flood quarantine (issue
21.2), and releasing or retracting each."""

from __future__ import annotations

import argparse

from ..admin_models import QuarantinedSignal, iso_time
from .base import Groups, admin_client, json_flag, operator_flags, plural, print_json_lines, runs


def add_admin_quarantine(groups: Groups) -> None:
    """The operator's `admin quarantine` command and its actions."""
    top = groups["admin"].add_parser(
        "quarantine", help="signals in flood quarantine: list, release, retract"
    )
    sub = top.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="the signals in quarantine, oldest first")
    json_flag(p, "one JSON object a line")
    operator_flags(p)
    runs(p, cmd_list)
    for action, helptext in (
        ("release", "release a signal: its matches are no longer flagged"),
        (
            "retract",
            "retract a signal: every submission withdrawn, and members that matched it are "
            "asked to review their actions",
        ),
    ):
        p = sub.add_parser(action, help=helptext)
        p.add_argument("signal_id", metavar="SIGNAL_ID")
        p.add_argument("--note", default="", help="why (kept in the log, at most 1000 chars)")
        operator_flags(p)
        runs(p, cmd_resolve)


def _line(q: QuarantinedSignal) -> str:
    return (
        f"{q.signal_id}  {q.type:<6} since {iso_time(q.quarantined_at)}  "
        f"{q.matches_per_hour} matches/hour against a baseline of {q.baseline_per_hour:.1f}"
    )


def cmd_list(args: argparse.Namespace) -> int:
    """Lists the quarantined signals."""
    with admin_client(args) as admin:
        held = admin.quarantined()
    if args.json:
        print_json_lines(q.to_json() for q in held)
        return 0
    print(f"{len(held)} {plural(len(held), 'signal', 's')} in quarantine")
    for q in held:
        print(_line(q))
    return 0


def cmd_resolve(args: argparse.Namespace) -> int:
    """Releases or retracts one quarantined signal (`args.action`)."""
    action = args.action
    with admin_client(args) as admin:
        done = admin.resolve_quarantine(args.signal_id.strip().lower(), action, args.note)
    if action == "release":
        print(f"released {done.signal.signal_id}: its matches are no longer flagged")
    else:
        gone = "removed" if done.removed else "kept (other submissions remain)"
        print(
            f"retracted {done.signal.signal_id}: {done.retracted_submissions} "
            f"{plural(done.retracted_submissions, 'submission', 's')} withdrawn, signal {gone}"
        )
    return 0
