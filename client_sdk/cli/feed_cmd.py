"""The feed and what is built from it: `signalhub fetch` (events after a cursor, or following
live), `signalhub sync` (a local replica, from a signed snapshot when far behind) and
`signalhub export` (the signals you may see, written as CSV, JSONL or a pytx list)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from signalhub import domain

from .. import interchange
from ..local import SNAPSHOT_MIN_BACKLOG_EVENTS, LocalReplica
from ..models import FeedEvent, SignalInfo
from ..progress import Progress
from .base import (
    Groups,
    UsageError,
    check_score,
    connection_flags,
    json_flag,
    member_client,
    plural,
    public_key,
    runs,
)
from .match_cmd import shown_value


def add_fetch(groups: Groups) -> None:
    """The `fetch` command."""
    p = groups[""].add_parser("fetch", help="print feed events after a cursor")
    p.add_argument("--after", default="", metavar="CURSOR", help="resume after this cursor")
    p.add_argument("--limit", type=int, default=0, help="stop after N events (0: all)")
    p.add_argument(
        "--follow",
        action="store_true",
        help="after the backlog, print each new event as it commits (until Ctrl-C)",
    )
    p.add_argument("--urgent-only", action="store_true", help="only events of urgent submissions")
    p.add_argument(
        "--min-score",
        type=float,
        default=None,
        metavar="S",
        help="only signals a classifier scored at least S (0-1); removals and review "
        "requests always shown",
    )
    json_flag(p, "one JSON object a line")
    connection_flags(p)
    runs(p, cmd_fetch)


def add_export(groups: Groups) -> None:
    """The `export` command."""
    p = groups[""].add_parser(
        "export",
        help="write the signals you may see as CSV, JSONL or a pytx list",
        description="Writes every signal you may see, with its labels, in a format `submit` "
        "reads back (csv, jsonl) or python-threatexchange reads (pytx). Syncs a replica first: "
        "--local DIR keeps it for the next export, else a temporary one is used.",
    )
    p.add_argument(
        "--format",
        choices=interchange.FORMATS,
        default=None,
        help="output format (default: from --out's extension, else jsonl)",
    )
    p.add_argument(
        "--out",
        default="-",
        metavar="FILE",
        help="write here (replaced only once complete; default: stdout)",
    )
    p.add_argument(
        "--local",
        type=Path,
        default=None,
        metavar="DIR",
        help="sync and export this local replica (kept for next time)",
    )
    p.add_argument(
        "--type",
        action="append",
        default=[],
        dest="types",
        metavar="TYPE",
        help="only signals of this type (repeatable)",
    )
    p.add_argument(
        "--label",
        action="append",
        default=[],
        dest="labels",
        metavar="LABEL",
        help="only signals carrying this label (repeatable: any of them)",
    )
    json_flag(p, "print the summary on stderr as JSON")
    connection_flags(p)
    runs(p, cmd_export)


def add_sync(groups: Groups) -> None:
    """The `sync` command."""
    p = groups[""].add_parser(
        "sync",
        help="bring a local replica up to date (from a signed snapshot when far behind)",
        description="Brings the local replica in DIR up to date: when the feed is more than "
        "--snapshot-min-backlog events past it (a new replica is at 0), it first loads a "
        "snapshot of what you may see, signed by the hub, then follows the feed.",
    )
    p.add_argument("--local", type=Path, required=True, metavar="DIR")
    p.add_argument(
        "--snapshot-min-backlog",
        type=int,
        default=None,
        metavar="N",
        help="start from a snapshot when more than N events behind (0: always; "
        f"default {SNAPSHOT_MIN_BACKLOG_EVENTS:,}, or a tenth of the replica's "
        "signals if more)",
    )
    p.add_argument("--no-snapshot", action="store_true", help="follow the feed only")
    p.add_argument(
        "--hub-key",
        type=Path,
        default=None,
        metavar="FILE.pub",
        help="the hub key snapshots must be signed with (the operator's "
        "DATA_DIR/hub.key.pub); default: the key pinned in DIR by its first snapshot",
    )
    json_flag(p)
    connection_flags(p)
    runs(p, cmd_sync)


# --- fetch -------------------------------------------------------------------------------------
def _event_line(event: FeedEvent) -> str:
    if event.review is not None:
        r = event.review
        return (
            f"{event.cursor:>8}  {event.event}  {r.signal_id} {r.type:<6} {r.reason}: your "
            f"{r.matches} {plural(r.matches, 'match', 'es')} {r.first_match}..{r.last_match} "
            f"(signalhub reviews)"
        )
    if event.event == "warning_lists_changed":
        version = event.warning_lists_version
        return f"{event.cursor:>8}  {event.event}  version={version} (signalhub warning-lists show)"
    labels = ",".join(event.signal.labels) or "-"
    value = shown_value(event.signal.type, event.signal.value, event.signal.value_withheld)
    urgent = "  URGENT" if event.urgent else ""
    return (
        f"{event.cursor:>8}  {event.event:<14} {event.signal.type:<6} "
        f"{value}  labels={labels}  by={event.member_id}{urgent}"
    )


def _shown(event: FeedEvent, min_score: float | None) -> bool:
    """--min-score keeps the signals scored at least that, every removal and review request."""
    return (
        min_score is None
        or event.event in ("signal_removed", "warning_lists_changed", "review_requested")
        or event.signal.scored_at_least(min_score)
    )


def cmd_fetch(args: argparse.Namespace) -> int:
    """Prints feed events (with --follow, until Ctrl-C: exit 130)."""
    if args.limit < 0:
        raise UsageError("--limit is 0 (all) or more")
    check_score(args.min_score)
    with member_client(args) as client:
        events = (
            FeedEvent.from_wire(e)
            for e in client.fetch_wire(
                args.after, args.limit, follow=args.follow, urgent_only=args.urgent_only
            )
        )
        try:
            for event in events:
                if not _shown(event, args.min_score):
                    continue
                line = json.dumps(event.to_json()) if args.json else _event_line(event)
                # Following, each event goes out at once (for piping into other tools).
                print(line, flush=args.follow)
        except KeyboardInterrupt:
            return 130
    return 0


# --- export ------------------------------------------------------------------------------------
def _check_filters(args: argparse.Namespace) -> None:
    for type_name in args.types:
        if type_name not in domain.SIGNAL_TYPES:
            known = ", ".join(sorted(domain.SIGNAL_TYPES))
            raise UsageError(f"--type {type_name!r}: unknown signal type; known types: {known}")
    for label in args.labels:
        try:
            domain.validate_labels([label])
        except domain.InvalidValue as e:
            raise UsageError(f"--label: {e}") from None


def _chosen(signals: Iterable[SignalInfo], args: argparse.Namespace) -> Iterable[SignalInfo]:
    return (
        s
        for s in signals
        if (not args.types or s.type in args.types)
        and (not args.labels or set(s.labels) & set(args.labels))
    )


def cmd_export(args: argparse.Namespace) -> int:
    """Syncs a replica and writes its signals (filtered) to --out; a summary on stderr."""
    fmt = args.format or interchange.format_from_name(args.out, default="jsonl")
    _check_filters(args)
    with contextlib.ExitStack() as stack:
        if args.local is None:
            where = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="signalhub-")))
        else:
            where = args.local
        client = stack.enter_context(member_client(args))
        replica = stack.enter_context(LocalReplica(where))
        with Progress("syncing events") as progress:
            replica.sync(client, on_event=progress.advance)
        chosen = _chosen(replica.signals(), args)
        if args.out == "-":
            counts = interchange.write(chosen, fmt, sys.stdout)
            sys.stdout.flush()
        else:
            counts = _write_whole(Path(args.out), lambda out: interchange.write(chosen, fmt, out))
        cursor = replica.cursor
    summary = {
        "format": fmt,
        "written": counts.written,
        "skipped": counts.skipped,
        "cursor": cursor,
        "out": args.out,
    }
    if args.json:
        print(json.dumps(summary), file=sys.stderr)
        return 0
    skipped = (
        f" ({counts.skipped} skipped: of types {fmt} cannot carry, or shared with you match-only)"
        if counts.skipped
        else ""
    )
    where_to = "stdout" if args.out == "-" else args.out
    print(
        f"exported {counts.written} signals as {fmt} to {where_to} at cursor {cursor}{skipped}",
        file=sys.stderr,
    )
    return 0


def _write_whole(
    path: Path, write: Callable[[TextIO], interchange.ExportCounts]
) -> interchange.ExportCounts:
    """Writes into a temporary file beside `path` and renames it over `path` once complete,
    so a failed export never leaves a truncated file where the last good one was."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            counts = write(out)
        os.replace(tmp, path)
    except OSError as e:
        raise UsageError(f"{path}: {e.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return counts


# --- sync --------------------------------------------------------------------------------------
def cmd_sync(args: argparse.Namespace) -> int:
    """Brings the replica in --local up to date; prints what was applied."""
    if args.snapshot_min_backlog is not None and args.snapshot_min_backlog < 0:
        raise UsageError("--snapshot-min-backlog is 0 (always) or more")
    hub_key = public_key(args.hub_key) if args.hub_key is not None else None
    with member_client(args) as client, LocalReplica(args.local) as replica:
        with Progress("syncing") as progress:
            applied = replica.sync(
                client,
                on_event=progress.advance,
                snapshot=not args.no_snapshot,
                snapshot_min_backlog=args.snapshot_min_backlog,
                hub_key=hub_key,
            )
        cursor = replica.cursor
        count = replica.count()
        loaded = replica.last_snapshot
    snapshot = None
    if loaded is not None:
        snapshot = {
            "cursor": loaded.cursor,
            "signals": loaded.count,
            "hub_key_id": domain.key_id(loaded.hub_public_key),
        }
    if args.json:
        out = {"applied": applied, "cursor": cursor, "signals": count, "snapshot": snapshot}
        print(json.dumps(out))
        return 0
    if snapshot is not None:
        print(
            f"loaded a snapshot of {snapshot['signals']} signals at cursor "
            f"{snapshot['cursor']}, signed by hub key {snapshot['hub_key_id']}"
        )
    print(f"applied {applied} events; {count} signals in {args.local}, cursor {cursor}")
    return 0
