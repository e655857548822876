"""Commands on one signal by its id: `signalhub get` (it and who submitted it), `verify` (those
submissions re-checked offline), `opinion` (true or false positive) and `retract` (withdraw
your own submissions; `--false-positive` asks the members that matched them to review their
actions)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from signalhub import domain

from ..models import Provenance
from ..provenance import check_provenance
from .base import Groups, connection_flags, json_flag, member_client, public_key, runs


def add_get(groups: Groups) -> None:
    """The `get` command."""
    p = groups[""].add_parser("get", help="show a signal and who submitted it")
    p.add_argument("signal_id", metavar="SIGNAL_ID")
    json_flag(p)
    connection_flags(p)
    runs(p, cmd_get)


def add_opinion(groups: Groups) -> None:
    """The `opinion` command."""
    p = groups[""].add_parser("opinion", help="say whether a signal is a true or false positive")
    p.add_argument("signal_id", metavar="SIGNAL_ID")
    p.add_argument("opinion", choices=("true-positive", "false-positive", "disputed", "none"))
    p.add_argument("--note", default="", help="free text, at most 1000 characters")
    json_flag(p)
    connection_flags(p)
    runs(p, cmd_opinion)


def add_retract(groups: Groups) -> None:
    """The `retract` command."""
    p = groups[""].add_parser("retract", help="withdraw your own submissions of signals")
    p.add_argument("signal_ids", nargs="+", metavar="SIGNAL_ID")
    p.add_argument(
        "--false-positive",
        action="store_true",
        help="they matched benign content: every other member that matched them in the hub's "
        "review window is asked to review its actions (never told by whom)",
    )
    p.add_argument(
        "--note",
        default="",
        help="why, at most 1000 characters: kept in the hub's log, never shown to others",
    )
    json_flag(p)
    connection_flags(p)
    runs(p, cmd_retract)


def add_verify(groups: Groups) -> None:
    """The `verify` command."""
    p = groups[""].add_parser("verify", help="re-check offline who submitted a signal, and when")
    p.add_argument("signal_id", metavar="SIGNAL_ID")
    p.add_argument(
        "--keys",
        type=Path,
        metavar="FILE.pub",
        action="append",
        default=None,
        help="trust only these public keys (repeatable); default: the keys the hub "
        "returns, checked against their key ids",
    )
    json_flag(p)
    connection_flags(p)
    runs(p, cmd_verify)


def cmd_get(args: argparse.Namespace) -> int:
    """Prints a signal and its submissions."""
    with member_client(args) as client:
        detail = client.get_signal(args.signal_id)
    if args.json:
        print(json.dumps(detail.to_json()))
        return 0
    s = detail.signal
    value = "(withheld)" if s.value_withheld else s.value  # shared with you match-only
    print(
        f"signal {s.signal_id}\n  type: {s.type}\n  value: {value}\n"
        f"  labels: {', '.join(s.labels) or '-'}\n  tags: {', '.join(s.tags) or '-'}\n"
        f"  corroboration: {s.corroboration}\n  first seen: {s.first_seen}\n"
        f"  last seen: {s.last_seen}\n  submissions:"
    )
    for sub in detail.submissions:
        print(
            f"    {sub.received_at}  {sub.member_id}  key {sub.key_id}  batch {sub.batch_id}"
            f"[{sub.index}]  labels={','.join(sub.labels) or '-'}{_source_text(sub)}"
            f"{'  sharing=match-only' if sub.sharing == 'match-only' else ''}"
            f"{'  envelope=(withheld)' if sub.envelope_withheld else ''}"
        )
    return 0


def _source_text(sub: Provenance) -> str:
    """A submission's source record as `get` shows it (nothing when it carries none)."""
    out = f"  source_ref={sub.source_ref}" if sub.source_ref else ""
    if sub.metadata:
        out += "  metadata=" + ",".join(f"{k}={v}" for k, v in sub.metadata.items())
    return out


def cmd_verify(args: argparse.Namespace) -> int:
    """Checks each submission's signature; exits 1 unless every one verifies."""
    trusted = None
    if args.keys:
        trusted = {domain.key_id(k): k for k in (public_key(p) for p in args.keys)}
    with member_client(args) as client:
        detail = client.get_signal(args.signal_id)
    checks = check_provenance(detail, trusted)
    for c in checks:
        sub = c.submission
        if args.json:
            line = {
                "signal_id": detail.signal.signal_id,
                "member_id": sub.member_id,
                "key_id": sub.key_id,
                "batch_id": sub.batch_id,
                "received_at": sub.received_at,
                "ok": c.ok,
                "reason": c.reason,
            }
            print(json.dumps(line))
        else:
            mark = "OK  " if c.ok else "FAIL"
            print(
                f"{mark} {sub.member_id} submitted it in batch {sub.batch_id} at "
                f"{sub.received_at}, key {sub.key_id}: {c.reason}"
            )
    return 0 if checks and all(c.ok for c in checks) else 1


def cmd_opinion(args: argparse.Namespace) -> int:
    """Sets your opinion of a signal; prints everyone's counts."""
    with member_client(args) as client:
        signal = client.set_opinion(args.signal_id, args.opinion, args.note)
    if args.json:
        print(json.dumps(signal.to_json()))
        return 0
    o = signal.opinions
    print(
        f"{signal.signal_id}: true_positive={o['true_positive']} "
        f"false_positive={o['false_positive']} disputed={o['disputed']}"
    )
    return 0


def cmd_retract(args: argparse.Namespace) -> int:
    """Retracts your submissions of each signal."""
    with member_client(args) as client:
        reason = "false_positive" if args.false_positive else ""
        results = client.retract(args.signal_ids, reason=reason, note=args.note)
    for sid, removed in results:
        if args.json:
            print(json.dumps({"signal_id": sid, "removed": removed}))
        else:
            print(f"{sid}: retracted{' (no submission left: removed)' if removed else ''}")
    return 0
