"""`signalhub submit`: signals from one CSV, JSONL or pytx file (or stdin), or the vPDQ of
videos, validated on this machine (records are read by `client_sdk.interchange`), then sent in
batches."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from signalhub import domain

from .. import interchange
from ..client import DEFAULT_BATCH_BYTES, DEFAULT_BATCH_SIGNALS, split_batches
from ..interchange import InputError, RecordDefaults
from ..models import Signal, SubmitResult
from ..progress import Progress
from .base import (
    Groups,
    UsageError,
    connection_flags,
    consortium_flag,
    consortium_key,
    json_flag,
    member_client,
    plural,
    runs,
)
from .hash_cmd import video_text


def add_submit(groups: Groups) -> None:
    """The `submit` command."""
    p = groups[""].add_parser(
        "submit", help="submit signals from a file (or - for stdin) or videos"
    )
    p.add_argument(
        "file",
        metavar="FILE|-",
        help="one CSV, JSONL or pytx file, or with --from-video a video",
    )
    # default=[]: argparse takes a "*" positional without a default as required, and would
    # name VIDEO among the missing arguments when FILE is missing.
    p.add_argument(
        "more_videos",
        nargs="*",
        default=[],
        metavar="VIDEO",
        help="with --from-video: more videos",
    )
    p.add_argument(
        "--from-video",
        action="store_true",
        help="the files are videos: submit the vPDQ of each (see hash --fps)",
    )
    p.add_argument("--fps", type=float, default=1.0, help="with --from-video (default 1)")
    p.add_argument("--type", default=None, help="signal type of records that do not say theirs")
    p.add_argument("--label", action="append", default=[], help="label for every record")
    p.add_argument("--tag", action="append", default=[], help="tag for every record")
    p.add_argument(
        "--format",
        choices=interchange.FORMATS,
        help="input format: csv, jsonl, or pytx (`<pytx type> <value>` lines); default: from "
        "the file's extension (.csv, .jsonl, .pytx); required for -",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIGNALS,
        help="signals per batch (default %(default)s)",
    )
    p.add_argument(
        "--audience",
        action="append",
        default=[],
        metavar="GROUP",
        help="share only with this privacy group (repeatable; default: every member)",
    )
    p.add_argument("--industry", default="", help="industry classification for every record")
    p.add_argument("--confidence", type=int, default=0, help="1-100 for every record")
    p.add_argument(
        "--classifier",
        default=None,
        metavar="NAME",
        help="the classifier that flagged every record (with --score)",
    )
    p.add_argument("--score", type=float, default=None, help="the classifier's score, 0-1")
    p.add_argument(
        "--human-reviewed",
        action="store_true",
        help="a human confirmed the classifier's finding",
    )
    p.add_argument(
        "--incident",
        default="",
        metavar="REF",
        help="your case reference for every record: your signals with the same one "
        "are linked, and a match on one shows the others",
    )
    p.add_argument(
        "--source-ref",
        default="",
        metavar="REF",
        help="your own reference for every record (a record's `source_ref` wins), returned "
        "with the signal to whoever may see the submission",
    )
    p.add_argument(
        "--meta",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="metadata for every record (repeatable; a record's own keys win)",
    )
    p.add_argument(
        "--expires-at",
        default=None,
        metavar="TIME",
        help="ISO 8601 time after which the records stop counting",
    )
    consortium_flag(p)
    p.add_argument(
        "--urgent",
        action="store_true",
        help="an ongoing abuse situation: followers of the feed are told",
    )
    p.add_argument(
        "--sharing",
        default="full",
        metavar="LEVEL",
        help="full (default) or match-only: the audience may match against the values but "
        "never receives them (docs/match-only.md)",
    )
    p.add_argument("--dry-run", action="store_true", help="validate at the hub, store nothing")
    json_flag(p, "print the summary as JSON")
    connection_flags(p)
    runs(p, cmd_submit)


def record_defaults(args: argparse.Namespace) -> RecordDefaults:
    """What the flags give every record."""
    return RecordDefaults(
        type=args.type,
        labels=tuple(args.label),
        tags=tuple(args.tag),
        industry=args.industry,
        confidence=args.confidence,
        expires_at=args.expires_at,
        consortium_key=consortium_key(args),
        classifier=args.classifier,
        score=args.score,
        human_reviewed=args.human_reviewed,
        incident=args.incident,
        source_ref=args.source_ref,
        metadata=meta_flags(args.meta),
    )


def meta_flags(given: list[str]) -> tuple[tuple[str, str], ...]:
    """The `--meta KEY=VALUE` flags as (key, value) pairs (the last of a key wins)."""
    out: dict[str, str] = {}
    for item in given:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--meta {item!r}: say KEY=VALUE")
        out[key] = value
    return tuple(out.items())


def _video_signals(paths: list[Path], args: argparse.Namespace, d: RecordDefaults) -> list[Signal]:
    """The vPDQ of each video as a signal with the flags' labels and tags; every video is hashed
    before anything is sent."""
    return [
        interchange.signal_from_record(
            str(path), {"type": "vpdq", "value": video_text(path, args)}, d
        )
        for path in paths
    ]


def _signals(args: argparse.Namespace) -> list[Signal]:
    defaults = record_defaults(args)
    files = [args.file, *args.more_videos]
    if args.from_video:
        return _video_signals([Path(f) for f in files], args, defaults)
    if len(files) != 1:
        raise UsageError("give one file to submit (or video files with --from-video)")
    fmt = args.format or interchange.format_from_name(args.file)
    signals = interchange.read_signals(args.file, fmt, defaults)
    if not signals:
        raise UsageError(f"{args.file}: no records")
    return signals


def summarize(results: list[SubmitResult]) -> dict[str, Any]:
    """Counts of a multi-batch submission, by result."""
    out: dict[str, Any] = {
        "batches": len(results),
        "signals": 0,
        "new": 0,
        "corroborated": 0,
        "duplicate": 0,
        "batch_ids": [r.batch_id for r in results],
    }
    for r in results:
        for status, n in r.counts().items():
            out[status] = out.get(status, 0) + n
            out["signals"] += n
    return out


def cmd_submit(args: argparse.Namespace) -> int:
    """Reads and validates every record, then submits them in batches; prints a summary."""
    if args.batch_size < 1 or args.batch_size > domain.MAX_BATCH_SIGNALS:
        raise UsageError(f"--batch-size is 1-{domain.MAX_BATCH_SIGNALS}")
    if (args.classifier is None) != (args.score is None):
        raise UsageError("--classifier and --score go together")
    try:
        domain.sharing_level(args.sharing)
    except ValueError as e:
        raise UsageError(f"--sharing: {e}") from None
    signals = _signals(args)
    results: list[SubmitResult] = []
    with member_client(args) as client, Progress("submitting", len(signals)) as progress:
        for chunk in split_batches(signals, args.batch_size, DEFAULT_BATCH_BYTES):
            results.append(
                client.submit(
                    chunk,
                    validate_only=args.dry_run,
                    audience=args.audience,
                    urgent=args.urgent,
                    sharing=args.sharing,
                )
            )
            progress.advance(len(chunk))
    summary = summarize(results)
    summary["dry_run"] = args.dry_run
    if args.json:
        print(json.dumps(summary))
        return 0
    verb = "validated (dry run, nothing stored)" if args.dry_run else "submitted"
    batches = f"{summary['batches']} {plural(summary['batches'], 'batch')}"
    print(
        f"{verb} {summary['signals']} signals in {batches}: "
        f"{summary['new']} new, {summary['corroborated']} corroborated, "
        f"{summary['duplicate']} duplicate"
    )
    return 0
