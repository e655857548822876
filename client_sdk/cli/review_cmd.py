"""Decision propagation (issue 21.3; docs/decision-propagation.md), the member's side:
`signalhub appeal` records the outcome of a user's appeal against an action on a signal's match
(an upheld one asks the other members that matched it to review theirs), `signalhub reviews`
lists the review notices the hub sent you and `signalhub reviews done` marks them reviewed.
(`signalhub retract --false-positive` is in `signal_cmd`.)"""

from __future__ import annotations

import argparse
import json

from ..review_models import ReviewNotice
from ..reviews import APPEAL_OUTCOMES
from .base import Groups, UsageError, connection_flags, json_flag, member_client, plural, runs

_NOTE_HELP = "free text, at most 1000 characters: kept in the hub's log, never shown to others"


def add_appeal(groups: Groups) -> None:
    """The `appeal` command."""
    p = groups[""].add_parser(
        "appeal",
        help="record a user's appeal outcome on a signal (upheld: others that matched review)",
        description="Records the outcome of a user's appeal against an action you took on a "
        "match of SIGNAL_ID. Upheld: every other member whose matches hit the signal in the "
        "hub's review window is asked to review its actions, with its own match counts only "
        "(never who appealed or who else matched). Denied: kept for your report; nobody is told.",
    )
    p.add_argument("signal_id", metavar="SIGNAL_ID")
    p.add_argument("outcome", metavar="|".join(APPEAL_OUTCOMES))
    p.add_argument("--note", default="", help=_NOTE_HELP)
    json_flag(p)
    connection_flags(p)
    runs(p, cmd_appeal)


def add_reviews(groups: Groups) -> None:
    """The `reviews` command (and `reviews done`)."""
    p = groups[""].add_parser(
        "reviews",
        help="review notices asking you to review your actions on a signal; `done` marks them",
        usage="signalhub reviews [--all] [--json] [options]\n"
        "       signalhub reviews done REVIEW_ID [REVIEW_ID ...] [--note TEXT] [options]",
        description="Lists the notices asking you to review your actions on a signal (open ones, "
        "newest first; --all also those you marked reviewed), each with your own matches of it "
        "in the hub's review window. `signalhub reviews done REVIEW_ID... [--note TEXT]` marks "
        "them reviewed.",
    )
    p.add_argument("action", nargs="?", choices=("done",), help=argparse.SUPPRESS)
    p.add_argument("review_ids", nargs="*", metavar="REVIEW_ID", help=argparse.SUPPRESS)
    p.add_argument("--all", action="store_true", help="also the notices marked reviewed")
    p.add_argument("--note", default=None, help="with done: what you did (" + _NOTE_HELP + ")")
    json_flag(p, "one JSON object a line")
    connection_flags(p)
    runs(p, cmd_reviews)


def cmd_appeal(args: argparse.Namespace) -> int:
    """Records an appeal outcome."""
    with member_client(args) as client:
        done = client.record_appeal(args.signal_id.strip().lower(), args.outcome, args.note)
    if args.json:
        print(json.dumps(done.to_json()))
    elif done.outcome == "upheld":
        print(
            f"recorded an upheld appeal on {done.signal.signal_id}: the other members that "
            "matched it are asked to review their actions (not told by whom)"
        )
    else:
        print(f"recorded a denied appeal on {done.signal.signal_id} (nobody else is told)")
    return 0


def _line(n: ReviewNotice) -> str:
    done = f"  reviewed {n.reviewed_at}" if n.reviewed else ""
    return (
        f"{n.review_id}  {n.signal_id}  {n.type:<6} {n.reason:<24}  your {n.matches} "
        f"{plural(n.matches, 'match', 'es')}  {n.first_match}..{n.last_match}{done}"
    )


def cmd_reviews(args: argparse.Namespace) -> int:
    """Lists your review notices, or marks some reviewed (`done`)."""
    if args.action == "done":
        return _mark_done(args)
    if args.review_ids:
        raise UsageError("review ids go after `done`: signalhub reviews done REVIEW_ID")
    if args.note is not None:
        raise UsageError("--note goes with done: signalhub reviews done REVIEW_ID --note TEXT")
    with member_client(args) as client:
        notices = client.reviews(include_reviewed=args.all)
    if args.json:
        for n in notices:
            print(json.dumps(n.to_json()))
        return 0
    kind = "" if args.all else "open "
    print(f"{len(notices)} {kind}{plural(len(notices), 'review', 's')}")
    for n in notices:
        print(_line(n))
    return 0


def _mark_done(args: argparse.Namespace) -> int:
    if not args.review_ids:
        raise UsageError("name the reviews: signalhub reviews done REVIEW_ID [REVIEW_ID ...]")
    if args.all:
        raise UsageError("--all lists; it does not go with done")
    ids = [i.strip().lower() for i in args.review_ids]
    with member_client(args) as client:
        notices = client.mark_reviewed(ids, args.note or "")
    for n in notices:
        print(json.dumps(n.to_json()) if args.json else f"{n.review_id}: reviewed {n.reviewed_at}")
    return 0
