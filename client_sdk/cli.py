"""Member and operator commands of `signalhub`: keygen, hash, submit, match, fetch, get and
admin. Each prints a human table by default or JSON lines with --json, exits 0 on success and
prints one line on stderr and exits 1 on failure."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf.timestamp_pb2 import Timestamp

from signalhub import domain
from signalhub.signal_types import ConsortiumKey
from signalhub.v1 import admin_pb2

from . import impact, interchange
from .client import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_SIGNALS,
    DEFAULT_ENDPOINT,
    AdminClient,
    Client,
    TlsConfig,
    load_key,
    split_batches,
)
from .errors import SignalhubError
from .hashing import HashingError, pdq_dihedral, pdq_from_image
from .local import SNAPSHOT_MIN_BACKLOG_EVENTS, LocalReplica
from .models import FeedEvent, MatchResult, Signal, SignalTypeInfo, SubmitResult
from .progress import Progress
from .provenance import check_provenance

Command = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """Bad input found before anything was sent to the hub."""


def _fail(message: str) -> int:
    print(f"signalhub: error: {message}", file=sys.stderr)
    return 1


def _guarded(command: Command) -> Command:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (SignalhubError, UsageError, HashingError) as e:
            return _fail(str(e))
        except BrokenPipeError:
            return 0

    return run


def _connection_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--endpoint",
        default=os.environ.get("SIGNALHUB_ENDPOINT", DEFAULT_ENDPOINT),
        help="hub address HOST:PORT (env SIGNALHUB_ENDPOINT, default %(default)s)",
    )
    p.add_argument(
        "--member",
        default=os.environ.get("SIGNALHUB_MEMBER"),
        help="your member id (env SIGNALHUB_MEMBER)",
    )
    p.add_argument(
        "--key",
        default=os.environ.get("SIGNALHUB_KEY"),
        help="path of your private key file (env SIGNALHUB_KEY)",
    )
    _tls_flags(p)


def _tls_flags(p: argparse.ArgumentParser) -> None:
    env = os.environ.get
    p.add_argument(
        "--tls-ca",
        type=Path,
        default=_path(env("SIGNALHUB_TLS_CA")),
        help="CA certificate of the hub (enables TLS; env SIGNALHUB_TLS_CA)",
    )
    p.add_argument(
        "--tls-cert",
        type=Path,
        default=_path(env("SIGNALHUB_TLS_CERT")),
        help="client certificate for mTLS (env SIGNALHUB_TLS_CERT)",
    )
    p.add_argument("--tls-key", type=Path, default=_path(env("SIGNALHUB_TLS_KEY")),
                   help="client certificate's key for mTLS (env SIGNALHUB_TLS_KEY)")  # fmt: skip


def _consortium_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--consortium-key",
        type=Path,
        default=_path(os.environ.get("SIGNALHUB_CONSORTIUM_KEY")),
        metavar="FILE",
        help="key personal values (email, phone, username, account_id, ip) with this "
        "consortium key before they leave the machine (env SIGNALHUB_CONSORTIUM_KEY)",
    )


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _tls(args: argparse.Namespace) -> TlsConfig | None:
    if not (args.tls_ca or args.tls_cert or args.tls_key):
        return None
    return TlsConfig(args.tls_ca, args.tls_cert, args.tls_key)


def _client(args: argparse.Namespace) -> Client:
    if not args.member or not args.key:
        raise UsageError(
            "say who you are: --member and --key (or SIGNALHUB_MEMBER and SIGNALHUB_KEY)"
        )
    return Client(args.endpoint, args.member, args.key, tls=_tls(args))


Groups = dict[str, "argparse._SubParsersAction[argparse.ArgumentParser]"]


def add_commands(groups: Groups) -> None:
    """Registers the member and operator subcommands on the dispatcher's parsers."""
    sub = groups[""]
    p = sub.add_parser("keygen", help="create an Ed25519 key pair (FILE and FILE.pub)")
    p.add_argument("--out", type=Path, required=True, help="path of the private key file")
    p.set_defaults(run=_guarded(cmd_keygen))

    p = sub.add_parser("hash", help="PDQ of images, vPDQ (PDQ of sampled frames) of videos")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE|VIDEO")
    p.add_argument("--fps", type=float, default=1.0,
                   help="video frames hashed a second (default 1; 0: every frame)")  # fmt: skip
    p.add_argument("--prune-distance", type=int, default=None, metavar="BITS",
                   help="drop a video frame within BITS of the last one kept")  # fmt: skip
    p.add_argument("--type", default=None, metavar="TYPE",
                   help="hash files as this type (a plug-in's, e.g. tlsh for documents); "
                        "default: PDQ of images, vPDQ of videos")  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    p.set_defaults(run=_guarded(cmd_hash))

    p = sub.add_parser("types", help="the signal types the hub accepts, and how it matches them")
    p.add_argument("--local", action="store_true",
                   help="list this installation's registry instead of asking the hub")  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_types))

    p = sub.add_parser("submit", help="submit signals from a file (or - for stdin) or videos")
    p.add_argument(
        "files", nargs="+", metavar="FILE|-",
        help="one CSV, JSONL or pytx file, or with --from-video video files",
    )  # fmt: skip
    p.add_argument(
        "--from-video", action="store_true",
        help="the files are videos: submit the vPDQ of each (see hash --fps)",
    )  # fmt: skip
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
    p.add_argument("--classifier", default=None, metavar="NAME",
                   help="the classifier that flagged every record (with --score)")  # fmt: skip
    p.add_argument("--score", type=float, default=None, help="the classifier's score, 0-1")
    p.add_argument("--human-reviewed", action="store_true",
                   help="a human confirmed the classifier's finding")  # fmt: skip
    p.add_argument("--incident", default="", metavar="REF",
                   help="your case reference for every record: your signals with the same one "
                        "are linked, and a match on one shows the others")  # fmt: skip
    p.add_argument(
        "--expires-at",
        default=None,
        metavar="TIME",
        help="ISO 8601 time after which the records stop counting",
    )
    _consortium_flag(p)
    p.add_argument("--urgent", action="store_true",
                   help="an ongoing abuse situation: followers of the feed are told")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="validate at the hub, store nothing")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_submit))

    p = sub.add_parser(
        "match",
        help="match PDQ hashes or images against the hub",
        description="Answers one result per query: the --pdq hashes first, then --query "
        "values, then the images, each in the order given.",
    )
    p.add_argument("images", nargs="*", type=Path, metavar="IMAGE|VIDEO")
    p.add_argument("--pdq", action="append", default=[], metavar="HEX", help="a PDQ hash")
    p.add_argument("--fps", type=float, default=1.0, help="video frames hashed a second")
    p.add_argument("--min-query-percent", type=float, default=None, metavar="P",
                   help="videos: least share of the query's frames found in a match "
                        "(hub default 80)")  # fmt: skip
    p.add_argument("--min-compared-percent", type=float, default=None, metavar="P",
                   help="videos: least share of the matched video's frames found in the query "
                        "(hub default 0)")  # fmt: skip
    p.add_argument(
        "--query",
        action="append",
        default=[],
        metavar="TYPE:VALUE",
        help="any other signal, e.g. url:https://example.com/x or email:a@b.c",
    )
    p.add_argument(
        "--dihedral", action="store_true", help="also try the 7 rotations and flips of each image"
    )
    p.add_argument(
        "--local",
        type=Path,
        default=None,
        metavar="DIR",
        help="match against the local replica in DIR; nothing is sent to the hub",
    )
    _consortium_flag(p)
    p.add_argument("--max-distance", type=int, default=domain.DEFAULT_PDQ_MAX_DISTANCE)
    p.add_argument("--distance", action="append", default=[], metavar="TYPE=N",
                   help="largest distance for a type matched by its own index, e.g. tlsh=50 "
                        "(default: the type's; see `signalhub types`)")  # fmt: skip
    p.add_argument("--min-score", type=float, default=None, metavar="S",
                   help="only signals a classifier scored at least S (0-1)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON object per query")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_match))

    p = sub.add_parser("fetch", help="print feed events after a cursor")
    p.add_argument("--after", default="", metavar="CURSOR", help="resume after this cursor")
    p.add_argument("--limit", type=int, default=0, help="stop after N events (0: all)")
    p.add_argument(
        "--follow", action="store_true",
        help="after the backlog, print each new event as it commits (until Ctrl-C)",
    )  # fmt: skip
    p.add_argument("--urgent-only", action="store_true", help="only events of urgent submissions")
    p.add_argument("--min-score", type=float, default=None, metavar="S",
                   help="only signals a classifier scored at least S (0-1); removals always "
                        "shown")  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_fetch))

    p = sub.add_parser(
        "export",
        help="write the signals you may see as CSV, JSONL or a pytx list",
        description="Writes every signal you may see, with its labels, in a format `submit` "
        "reads back (csv, jsonl) or python-threatexchange reads (pytx). Syncs a replica first: "
        "--local DIR keeps it for the next export, else a temporary one is used.",
    )
    p.add_argument("--format", choices=interchange.FORMATS, default=None,
                   help="output format (default: from --out's extension, else jsonl)")  # fmt: skip
    p.add_argument("--out", default="-", metavar="FILE",
                   help="write here (replaced only once complete; default: stdout)")  # fmt: skip
    p.add_argument("--local", type=Path, default=None, metavar="DIR",
                   help="sync and export this local replica (kept for next time)")  # fmt: skip
    p.add_argument("--type", action="append", default=[], dest="types", metavar="TYPE",
                   help="only signals of this type (repeatable)")  # fmt: skip
    p.add_argument("--label", action="append", default=[], dest="labels", metavar="LABEL",
                   help="only signals carrying this label (repeatable: any of them)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the summary on stderr as JSON")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_export))

    p = sub.add_parser(
        "report",
        help="your own contribution and use: your signals' matches at others, your queries",
        description="What your signals achieved over a period: how often they matched at other "
        "members (counts by label and week, never who), opinions others gave on them, and your "
        "own queries. Computed by the hub from its records; see docs/report.md.",
    )
    p.add_argument("--from", dest="first", required=True, metavar="DATE", help="YYYY-MM-DD (UTC)")
    p.add_argument("--to", dest="last", required=True, metavar="DATE",
                   help="YYYY-MM-DD (UTC, included)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="the whole report as one JSON object")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_report))

    p = sub.add_parser(
        "stats",
        help="your impact: how often your signals matched at other members, and disputes",
        description="How often your own signals matched at other members, by label and by ISO "
        "week (counts only: never who), and which of them other members called false positive "
        "or disputed. Read from your member report (docs/report.md).",
    )
    p.add_argument("--mine", action="store_true", required=True,
                   help="your own signals (required: the only view so far)")  # fmt: skip
    p.add_argument("--weeks", type=int, default=impact.DEFAULT_WEEKS, metavar="N",
                   help=f"the last N ISO weeks, this one included (1-{impact.MAX_WEEKS}, "
                        "default %(default)s)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON object")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_stats))

    p = sub.add_parser("get", help="show a signal and who submitted it")
    p.add_argument("signal_id", metavar="SIGNAL_ID")
    p.add_argument("--json", action="store_true")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_get))

    p = sub.add_parser("opinion", help="say whether a signal is a true or false positive")
    p.add_argument("signal_id", metavar="SIGNAL_ID")
    p.add_argument("opinion", choices=("true-positive", "false-positive", "disputed", "none"))
    p.add_argument("--note", default="", help="free text, at most 1000 characters")
    p.add_argument("--json", action="store_true")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_opinion))

    p = sub.add_parser("retract", help="withdraw your own submissions of signals")
    p.add_argument("signal_ids", nargs="+", metavar="SIGNAL_ID")
    p.add_argument("--json", action="store_true")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_retract))

    p = sub.add_parser(
        "sync",
        help="bring a local replica up to date (from a signed snapshot when far behind)",
        description="Brings the local replica in DIR up to date: when the feed is more than "
        "--snapshot-min-backlog events past it (a new replica is at 0), it first loads a "
        "snapshot of what you may see, signed by the hub, then follows the feed.",
    )
    p.add_argument("--local", type=Path, required=True, metavar="DIR")
    p.add_argument("--snapshot-min-backlog", type=int, default=None, metavar="N",
                   help="start from a snapshot when more than N events behind (0: always; "
                        f"default {SNAPSHOT_MIN_BACKLOG_EVENTS:,}, or a tenth of the replica's "
                        "signals if more)")  # fmt: skip
    p.add_argument("--no-snapshot", action="store_true", help="follow the feed only")
    p.add_argument("--hub-key", type=Path, default=None, metavar="FILE.pub",
                   help="the hub key snapshots must be signed with (the operator's "
                        "DATA_DIR/hub.key.pub); default: the key pinned in DIR by its first "
                        "snapshot")  # fmt: skip
    p.add_argument("--json", action="store_true")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_sync))

    p = sub.add_parser("consortium-key", help="create the members' shared key for personal values")
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    p.add_argument("--version", type=int, default=1, help="key version (rotate: increase it)")
    p.set_defaults(run=_guarded(cmd_consortium_key))

    p = sub.add_parser("verify", help="re-check offline who submitted a signal, and when")
    p.add_argument("signal_id", metavar="SIGNAL_ID")
    p.add_argument("--keys", type=Path, metavar="FILE.pub", action="append", default=None,
                   help="trust only these public keys (repeatable); default: the keys the hub "
                        "returns, checked against their key ids")  # fmt: skip
    p.add_argument("--json", action="store_true")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_verify))

    p = groups["audit"].add_parser("head", help="fetch and check the hub's signed audit head")
    p.add_argument(
        "--hub-key",
        type=Path,
        metavar="FILE.pub",
        help="the hub's public key to pin (DATA_DIR/hub.key.pub)",
    )
    p.add_argument("--json", action="store_true")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_audit_head))  # fmt: skip

    admin_sub = groups["admin"]
    p = admin_sub.add_parser("add-member", help="register a member and its public key")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--public-key", type=Path, required=True, metavar="FILE.pub")
    p.add_argument("--display-name", default="")
    p.add_argument("--contact-name", default="", metavar="NAME", help="who to contact about it")
    p.add_argument("--contact-email", default="", metavar="EMAIL")
    p.add_argument("--contact-phone", default="", metavar="PHONE")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_add_member))
    p = admin_sub.add_parser("list-members", help="list the registered members")
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_list_members))
    p = admin_sub.add_parser(
        "set-contact",
        help="set a member's contact details",
        description="Sets the given fields of a member's contact details and keeps the others; "
        'an empty value (--phone "") clears a field.',
    )
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("--name", default=None, help="a person or team")
    p.add_argument("--email", default=None)
    p.add_argument("--phone", default=None)
    p.add_argument("--notes", default=None, help="free text, at most 1000 characters")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_set_contact))
    p = admin_sub.add_parser(
        "usage",
        help="per-member usage: submissions, queries, last seen, submissions in force",
        description="Each member's signals and batches submitted and match queries over UTC "
        "days (default: the last 30), when it last made a call, and its submissions in force "
        "now. The hub writes these counts every 5 s.",
    )
    p.add_argument("--member", default="", metavar="M", help="one member (default: all)")
    p.add_argument("--from", dest="first", default="", metavar="DATE", help="YYYY-MM-DD (UTC)")
    p.add_argument("--to", dest="last", default="", metavar="DATE",
                   help="YYYY-MM-DD (UTC, included; default today)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_usage))
    p = admin_sub.add_parser("add-key", help="add a key to a member (rotation)")
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("--public-key", type=Path, required=True, metavar="FILE.pub")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_add_key))
    p = admin_sub.add_parser("revoke-key", help="revoke a member's key from now on")
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("key_id", metavar="KEY_ID")
    p.add_argument("--compromised-since", default=None, metavar="TIME",
                   help="the key was compromised from TIME (ISO 8601): also retract every "
                        "submission signed with it the hub received since")  # fmt: skip
    p.add_argument("--json", action="store_true")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_revoke_key))
    p = admin_sub.add_parser(
        "remove-member", help="offboard a member: keys revoked, calls refused for good"
    )
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("--submissions", required=True, choices=("keep", "retract", "erase"),
                   help="keep them shared, retract them, or retract and erase every signal "
                        "left with no submission (the coalition's policy)")  # fmt: skip
    p.add_argument("--reason", default="", help="kept in the log")
    p.add_argument("--json", action="store_true")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_remove_member))
    p = admin_sub.add_parser(
        "erase-signal", help="erase a signal on legal request (value scrubbed, tombstone left)"
    )
    p.add_argument("signal_id", metavar="SIGNAL_ID")
    p.add_argument("--reason", required=True, help="why (the legal request's reference)")
    p.add_argument("--json", action="store_true")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_erase_signal))
    p = admin_sub.add_parser("list-keys", help="list a member's keys")
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_list_keys))
    for name, suspended in (("suspend-member", True), ("reinstate-member", False)):
        p = admin_sub.add_parser(name, help=f"{name.split('-')[0]} a member")
        p.add_argument("member", metavar="MEMBER")
        _operator_flags(p)
        p.set_defaults(run=_guarded(cmd_set_suspended), suspended=suspended)
    p = admin_sub.add_parser("add-group", help="create a privacy group or add members to it")
    p.add_argument("group", metavar="GROUP")
    p.add_argument("--member", action="append", default=[], metavar="M")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_add_group))
    p = admin_sub.add_parser(
        "remove-group", help="remove members from a privacy group (all, without --member)"
    )
    p.add_argument("group", metavar="GROUP")
    p.add_argument("--member", action="append", default=[], metavar="M")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_remove_group))
    p = admin_sub.add_parser("list-groups", help="list privacy groups and their members")
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_list_groups))
    p = admin_sub.add_parser("sign-audit-head", help="have the hub sign its audit head now")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_sign_audit_head))


def _operator_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", default=os.environ.get("SIGNALHUB_ENDPOINT", DEFAULT_ENDPOINT))
    p.add_argument(
        "--operator-key",
        default=os.environ.get("SIGNALHUB_OPERATOR_KEY"),
        help="the operator key file, DATA_DIR/operator.key (env SIGNALHUB_OPERATOR_KEY)",
    )
    _tls_flags(p)


def _admin(args: argparse.Namespace) -> AdminClient:
    if not args.operator_key:
        raise UsageError("give the operator key: --operator-key (or SIGNALHUB_OPERATOR_KEY)")
    return AdminClient(args.endpoint, args.operator_key, tls=_tls(args))


# --- commands -----------------------------------------------------------------------------------
def cmd_keygen(args: argparse.Namespace) -> int:
    if args.out.exists():
        raise UsageError(f"{args.out} exists; choose another path")
    kid = domain.write_key_pair(domain.new_private_key(), args.out)
    print(kid)
    return 0


def is_video(path: Path) -> bool:
    """Told from the content, not the name: what Pillow cannot read as an image is treated as
    a video (hashing it then says clearly when it is neither). A missing file is an image, so
    that the image path reports it."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        return False
    try:
        with Image.open(path):
            return False
    except (UnidentifiedImageError, OSError):
        return True


def _seconds_per_hash(fps: float) -> float:
    if not fps >= 0:
        raise UsageError("--fps is 0 (every frame) or more")
    return 0.0 if fps == 0 else 1.0 / fps


def _video_frames(path: Path, args: argparse.Namespace) -> list[Any]:
    from .video import VideoError, hash_video

    try:
        return hash_video(
            path,
            seconds_per_hash=_seconds_per_hash(args.fps),
            prune_distance=getattr(args, "prune_distance", None),
        )
    except VideoError as e:
        if "not a video that can be read" in str(e):  # Pillow could not read it either
            raise VideoError(f"{path}: not an image or a video that can be read") from None
        raise


def cmd_types(args: argparse.Namespace) -> int:
    if args.local:
        types = [
            SignalTypeInfo(
                t.name,
                t.description,
                t.match.value,
                t.bits,
                t.default_threshold,
                t.max_threshold,
                t.personal,
                t.origin,
                t.pytx_name or "",
            )
            for t in (domain.SIGNAL_TYPES[n] for n in sorted(domain.SIGNAL_TYPES))
        ]
    else:
        with _client(args) as client:
            types = client.signal_types()
    for t in types:
        if args.json:
            print(json.dumps(t.to_json()))
            continue
        how = t.match
        if t.match in ("distance", "hamming", "video"):
            how += f" (default {t.default_threshold}, at most {t.max_threshold})"
        local = "" if args.local or t.name in domain.SIGNAL_TYPES else "  [not installed here]"
        print(f"{t.name:<12} {how:<34} {t.origin:<24} {t.description}{local}")
    return 0


def _hash_as_type(args: argparse.Namespace) -> int:
    spec = domain.SIGNAL_TYPES.get(args.type)
    if spec is None or spec.hash_content is None:
        hashable = sorted(n for n, t in domain.SIGNAL_TYPES.items() if t.hash_content) or ["none"]
        raise UsageError(
            f"--type {args.type!r}: not a type that hashes files (installed: "
            f"{', '.join(hashable)}; PDQ and vPDQ need no --type)"
        )
    failures = 0
    for path in args.images:
        try:
            value = spec.hash_content(path.read_bytes())
        except OSError as e:
            print(f"signalhub: error: {path}: {e.strerror}", file=sys.stderr)
            failures += 1
            continue
        except domain.InvalidValue as e:
            print(f"signalhub: error: {path}: {e}", file=sys.stderr)
            failures += 1
            continue
        if args.json:
            print(json.dumps({"path": str(path), "type": spec.name, "value": value}))
        else:
            print(f"{value}  {spec.name}  {path}")
    return 1 if failures else 0


def cmd_hash(args: argparse.Namespace) -> int:
    if args.type is not None:
        return _hash_as_type(args)
    failures = 0
    for path in args.images:
        if is_video(path):
            from .video import quality_filter, video_json

            try:
                frames = _video_frames(path, args)
            except (HashingError, ValueError) as e:
                print(f"signalhub: error: {e}", file=sys.stderr)
                failures += 1
                continue
            if args.json:
                print(json.dumps(video_json(path, frames)))
            else:
                kept = len(quality_filter(frames))
                print(f"vpdq  {len(frames)} frames, {kept} of quality >= 50  {path}")
            continue
        try:
            h = pdq_from_image(path)
        except (HashingError, FileNotFoundError) as e:
            print(f"signalhub: error: {e}", file=sys.stderr)
            failures += 1
            continue
        if args.json:
            print(json.dumps({"path": str(path), "pdq": h.hex, "quality": h.quality}))
        else:
            print(f"{h.hex}  quality={h.quality:<3}  {path}")
    return 1 if failures else 0


def cmd_submit(args: argparse.Namespace) -> int:
    if args.batch_size < 1 or args.batch_size > domain.MAX_BATCH_SIGNALS:
        raise UsageError(f"--batch-size is 1-{domain.MAX_BATCH_SIGNALS}")
    if (args.classifier is None) != (args.score is None):
        raise UsageError("--classifier and --score go together")
    defaults = RecordDefaults(
        args.type, tuple(args.label), tuple(args.tag), args.industry, args.confidence,
        args.expires_at, _consortium_key(args), args.classifier, args.score,
        args.human_reviewed, args.incident,
    )  # fmt: skip
    if args.from_video:
        signals = _video_signals([Path(f) for f in args.files], args, defaults)
    else:
        if len(args.files) != 1:
            raise UsageError("give one file to submit (or video files with --from-video)")
        fmt = args.format or _format_from_name(args.files[0])
        signals = read_signals(args.files[0], fmt, defaults)
        if not signals:
            raise UsageError(f"{args.files[0]}: no records")
    results: list[SubmitResult] = []
    with _client(args) as client, Progress("submitting", len(signals)) as progress:
        for chunk in split_batches(signals, args.batch_size, DEFAULT_BATCH_BYTES):
            results.append(
                client.submit(
                    chunk, validate_only=args.dry_run, audience=args.audience, urgent=args.urgent
                )
            )
            progress.advance(len(chunk))
    summary = summarize(results)
    summary["dry_run"] = args.dry_run
    if args.json:
        print(json.dumps(summary))
    else:
        verb = "validated (dry run, nothing stored)" if args.dry_run else "submitted"
        batches = f"{summary['batches']} batch{'es' if summary['batches'] != 1 else ''}"
        print(
            f"{verb} {summary['signals']} signals in {batches}: "
            f"{summary['new']} new, {summary['corroborated']} corroborated, "
            f"{summary['duplicate']} duplicate"
        )
    return 0


def _video_signals(paths: list[Path], args: argparse.Namespace, d: RecordDefaults) -> list[Signal]:
    """The vPDQ of each video as a signal with the flags' labels and tags; every video is hashed
    before anything is sent."""
    from .video import frames_to_text

    out = []
    for path in paths:
        try:
            frames = _video_frames(path, args)
        except (HashingError, ValueError) as e:
            raise UsageError(str(e)) from None
        record = {"type": "vpdq", "value": frames_to_text(frames)}
        out.append(_signal_from_record(str(path), record, d))
    return out


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


def _format_from_name(name: str, default: str | None = None) -> str:
    if name == "-":
        if default:
            return default
        raise UsageError("reading stdin: say --format csv, jsonl or pytx")
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".pytx":
        return "pytx"
    if default:
        return default
    raise UsageError(f"{name}: cannot tell the format from the extension; say --format")


@dataclass(frozen=True)
class RecordDefaults:
    """What the flags of `submit` give every record that does not say otherwise."""

    type: str | None = None
    labels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    industry: str = ""
    confidence: int = 0
    expires_at: str | None = None
    consortium_key: ConsortiumKey | None = None
    classifier: str | None = None
    score: float | None = None
    human_reviewed: bool = False
    incident: str = ""


def read_signals(name: str, fmt: str, defaults: RecordDefaults) -> list[Signal]:
    """Reads and validates every record (so a bad line stops the run before anything is
    sent). A record's own fields override the flags. Behavioural values are normalised and
    personal ones keyed with the consortium key here, before anything leaves the machine."""
    try:
        stream: TextIO = sys.stdin if name == "-" else open(name, encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as e:
        raise UsageError(f"{name}: {e.strerror}") from None
    with stream:
        readers = {
            "csv": _csv_records,
            "jsonl": _jsonl_records,
            "pytx": interchange.pytx_records,
        }
        out: list[Signal] = []
        try:
            for line, record in readers[fmt](stream):
                out.append(_signal_from_record(f"{name}:{line}", record, defaults))
        except interchange.FormatError as e:
            raise UsageError(f"{name}:{e}") from None
    return out


def _jsonl_records(stream: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, text in enumerate(stream, 1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(f"line {line}: not JSON ({e.msg})") from None
        if not isinstance(record, dict):
            raise UsageError(f'line {line}: a record is a JSON object with a "value"')
        yield line, record


def _csv_records(stream: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(stream.read()))
    if not reader.fieldnames or "value" not in reader.fieldnames:
        raise UsageError('a CSV file needs a header with a "value" column')
    for row in reader:
        record: dict[str, Any] = {"value": row.get("value")}
        for field in ("classifier", "score", "human_reviewed", "incident"):
            if row.get(field):
                record[field] = row[field]
        for field in ("type", "labels", "tags"):
            if row.get(field):
                text = row[field] or ""
                record[field] = (
                    text
                    if field == "type"
                    else [x.strip() for x in text.replace("|", ";").split(";") if x.strip()]
                )
        yield reader.line_num, record


def _signal_from_record(where: str, record: dict[str, Any], d: RecordDefaults) -> Signal:
    value = record.get("value")
    type_name = record.get("type") or d.type
    if value is None and isinstance(record.get("pdq"), str):  # a line of `hash --json`
        value, type_name = record["pdq"], record.get("type") or "pdq"
    if value is None and "frames" in record:  # a video's line of `hash --json`
        from .video import VpdqFormatError, frames_from_json, frames_to_text

        try:
            value = frames_to_text(frames_from_json(record["frames"]))
        except VpdqFormatError as e:
            raise UsageError(f"{where}: {e}") from None
        type_name = record.get("type") or "vpdq"
    if not isinstance(value, str) or not value:
        raise UsageError(f'{where}: a record needs a "value"')
    if not isinstance(type_name, str):
        raise UsageError(f'{where}: no signal type; give --type or a "type" field')
    labels = record.get("labels", d.labels)
    tags = record.get("tags", d.tags)
    labels = [labels] if isinstance(labels, str) else list(labels)
    tags = [tags] if isinstance(tags, str) else list(tags)
    expires = record.get("expires_at", d.expires_at)
    try:
        confidence = int(record.get("confidence", d.confidence))
        expires_at = _parse_time(expires) if expires else None
        wire = domain.wire_value(type_name, value, d.consortium_key)
        canonical = domain.canonical_signal(
            type_name, wire, labels, tags, industry=str(record.get("industry", d.industry)),
            confidence=confidence,
            expires_at_ms=int(expires_at.timestamp() * 1000) if expires_at else 0,
            verdict=_record_verdict(record, d),
            incident=str(record.get("incident", d.incident)),
        )  # fmt: skip
    except (domain.InvalidValue, ValueError, TypeError) as e:
        raise UsageError(f"{where}: {e}") from None
    return Signal(
        canonical.type, canonical.value, canonical.labels, canonical.tags,
        canonical.industry, canonical.confidence, expires_at, canonical.verdict,
        canonical.incident,
    )  # fmt: skip


def _record_verdict(record: dict[str, Any], d: RecordDefaults) -> domain.Verdict | None:
    """A record's classifier verdict: a "classifier" object ({"classifier", "score",
    "human_reviewed"}, as `fetch --json` prints them in "classifiers"), or "classifier",
    "score" and "human_reviewed" fields (CSV columns), else the flags'."""
    given = record.get("classifier", d.classifier)
    if isinstance(given, dict):
        name, score, reviewed = given.get("classifier"), given.get("score"), given.get(
            "human_reviewed", False)  # fmt: skip
    else:
        name = given
        score = record.get("score", d.score)
        reviewed = record.get("human_reviewed", d.human_reviewed)
    if name in (None, "") and score in (None, ""):
        return None
    if name in (None, "") or score in (None, ""):
        raise ValueError("a classifier verdict needs both the classifier and its score")
    if isinstance(reviewed, str):
        reviewed = reviewed.strip().lower() in ("1", "true", "yes")
    return domain.validate_verdict(str(name), float(score), bool(reviewed))


def _parse_time(text: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _consortium_key(args: argparse.Namespace) -> ConsortiumKey | None:
    if not getattr(args, "consortium_key", None):
        return None
    try:
        return ConsortiumKey.read(args.consortium_key)
    except domain.InvalidValue as e:
        raise UsageError(str(e)) from None


@dataclass(frozen=True)
class _Query:
    shown: str
    """What the user gave: a hash, TYPE:VALUE or an image path."""
    type: str
    value: str
    transform: str = ""


def _match_queries(args: argparse.Namespace) -> list[_Query]:
    queries: list[_Query] = []
    for hex_value in args.pdq:
        try:
            queries.append(_Query(hex_value, "pdq", domain.canonical_value("pdq", hex_value)))
        except domain.InvalidValue as e:
            raise UsageError(f"--pdq {hex_value}: {e}") from None
    key = _consortium_key(args)
    for text in args.query:
        type_name, colon, raw = text.partition(":")
        if not colon:
            raise UsageError(f"--query {text}: give TYPE:VALUE, e.g. url:https://example.com/x")
        try:
            queries.append(_Query(text, type_name, domain.wire_value(type_name, raw, key)))
        except domain.InvalidValue as e:
            raise UsageError(f"--query {text}: {e}") from None
    for path in args.images:
        if is_video(path):
            from .video import frames_to_text

            try:
                frames = _video_frames(path, args)
            except (HashingError, ValueError) as e:
                raise UsageError(str(e)) from None
            queries.append(_Query(str(path), "vpdq", frames_to_text(frames)))
            continue
        try:
            if args.dihedral:
                for name, h in pdq_dihedral(path):
                    queries.append(_Query(str(path), "pdq", h.hex, name))
            else:
                queries.append(_Query(str(path), "pdq", pdq_from_image(path).hex))
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file") from None
    if not queries:
        raise UsageError("give --pdq HEX, --query TYPE:VALUE or image files to match")
    return queries


def _type_distances(items: list[str]) -> dict[str, int]:
    """`--distance TYPE=N` flags as {type: N}, for types matched by their own index."""
    out: dict[str, int] = {}
    for item in items:
        name, eq, number = item.partition("=")
        spec = domain.SIGNAL_TYPES.get(name.strip())
        if not eq or spec is None or not number.strip().isdigit():
            raise UsageError(f"--distance {item!r}: TYPE=N, e.g. tlsh=50")
        if not spec.indexed:
            raise UsageError(f"--distance {item!r}: {name} is not matched by a distance of its "
                             "own (PDQ takes --max-distance)")  # fmt: skip
        out[spec.name] = int(number)
    return out


def _check_score(score: float | None) -> None:
    if score is not None and not 0 <= score <= 1:
        raise UsageError("--min-score is 0-1")


def cmd_match(args: argparse.Namespace) -> int:
    _check_score(args.min_score)
    distances = _type_distances(args.distance)
    queries = _match_queries(args)
    pairs = [(q.type, q.value) for q in queries]
    if args.local:
        if not (args.local / "data.mdb").exists():
            raise UsageError(f"{args.local} is not a replica; run: signalhub sync --local DIR")
        with LocalReplica(args.local) as replica:
            results = replica.match(
                pairs,
                args.max_distance,
                min_query_match_percent=domain.VPDQ_QUERY_MATCH_PERCENT
                if args.min_query_percent is None
                else args.min_query_percent,
                min_compared_match_percent=args.min_compared_percent or 0.0,
                thresholds=distances,
                min_score=args.min_score,
            )
    else:
        with _client(args) as client:
            results = client.match(
                pairs,
                args.max_distance,
                min_query_match_percent=args.min_query_percent,
                min_compared_match_percent=args.min_compared_percent,
                thresholds=distances,
                min_score=args.min_score,
            )
    grouped: dict[str, list[tuple[_Query, MatchResult]]] = {}
    for q, r in zip(queries, results, strict=True):
        grouped.setdefault(q.shown if q.transform else f"{id(q)}", []).append((q, r))
    for group in grouped.values():
        first = group[0][0]
        best: dict[str, dict[str, Any]] = {}
        for q, r in group:
            for m in r.matches:
                found = {**m.to_json(), **({"transform": q.transform} if q.transform else {})}
                known = best.get(m.signal.signal_id)
                if known is None or found["distance"] < known["distance"]:
                    best[m.signal.signal_id] = found
        if first.type == "vpdq":  # best first, as the hub ranks them
            matches = [m.to_json() for _, r in group for m in r.matches]
        else:
            matches = sorted(best.values(), key=lambda m: (m["distance"], m["signal_id"]))
        _print_match(args, first, matches)
    return 0


def _print_match(args: argparse.Namespace, q: _Query, matches: list[dict[str, Any]]) -> None:
    if args.json:
        out: dict[str, Any] = {"query": q.shown, "type": q.type, "value": q.value}
        if q.type == "pdq":
            out["pdq"] = q.value if not q.transform else None
        out["matches"] = matches
        print(json.dumps(out))
        return
    print(f"{q.shown}: {len(matches)} match{'es' if len(matches) != 1 else ''}")
    for m in matches:
        labels = ",".join(m["labels"]) or "-"
        how = f"  transform={m['transform']}" if "transform" in m else ""
        if "query_match_percent" in m:
            how += (f"  query_match={m['query_match_percent']:.1f}%"
                    f"  compared_match={m['compared_match_percent']:.1f}%")  # fmt: skip
        if "frame_timestamp" in m:
            how += f"  at={m['frame_timestamp']:g}s"
        if m.get("linked"):
            how += f"  linked={len(m['linked'])} (--json lists them)"
        fp = m["opinions"].get("false_positive", 0)
        value = m["value"]
        if m["type"] == "vpdq":  # a video's value lists every frame: show how many
            value = f"({value.count(chr(34)) // 2} frames)"
        print(
            f"  distance={m['distance']:<3} {m['signal_id']}  {m['type']} {value}  "
            f"labels={labels}  corroboration={m['corroboration']}  false_positive={fp}{how}"
        )


def cmd_fetch(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise UsageError("--limit is 0 (all) or more")
    _check_score(args.min_score)
    with _client(args) as client:
        events = (
            FeedEvent.from_wire(e)
            for e in client.fetch_wire(
                args.after, args.limit, follow=args.follow, urgent_only=args.urgent_only
            )
        )
        try:
            for event in events:
                if (
                    args.min_score is not None
                    and event.event != "signal_removed"
                    and not event.signal.scored_at_least(args.min_score)
                ):
                    continue
                if args.json:
                    line = json.dumps(event.to_json())
                else:
                    labels = ",".join(event.signal.labels) or "-"
                    value = event.signal.value
                    if event.signal.type == "vpdq":
                        value = f"({value.count(chr(34)) // 2} frames)"
                    urgent = "  URGENT" if event.urgent else ""
                    line = (f"{event.cursor:>8}  {event.event:<14} {event.signal.type:<6} "
                            f"{value}  labels={labels}  by={event.member_id}{urgent}")  # fmt: skip
                # Following, each event goes out at once (for piping into other tools).
                print(line, flush=args.follow)
        except KeyboardInterrupt:
            return 130
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    fmt = args.format or _format_from_name(args.out, default="jsonl")
    for type_name in args.types:
        if type_name not in domain.SIGNAL_TYPES:
            known = ", ".join(sorted(domain.SIGNAL_TYPES))
            raise UsageError(f"--type {type_name!r}: unknown signal type; known types: {known}")
    for label in args.labels:
        try:
            domain.validate_labels([label])
        except domain.InvalidValue as e:
            raise UsageError(f"--label: {e}") from None
    with contextlib.ExitStack() as stack:
        if args.local is None:
            where = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="signalhub-")))
        else:
            where = args.local
        client = stack.enter_context(_client(args))
        replica = stack.enter_context(LocalReplica(where))
        with Progress("syncing events") as progress:
            replica.sync(client, on_event=progress.advance)
        chosen = (
            s
            for s in replica.signals()
            if (not args.types or s.type in args.types)
            and (not args.labels or set(s.labels) & set(args.labels))
        )
        if args.out == "-":
            counts = interchange.write(chosen, fmt, sys.stdout)
            sys.stdout.flush()
        else:
            counts = _write_whole(Path(args.out), lambda out: interchange.write(chosen, fmt, out))
        cursor = replica.cursor
    summary = {"format": fmt, "written": counts.written, "skipped": counts.skipped,
               "cursor": cursor, "out": args.out}  # fmt: skip
    if args.json:
        print(json.dumps(summary), file=sys.stderr)
    else:
        skipped = (
            f" ({counts.skipped} of types {fmt} cannot carry skipped)" if counts.skipped else ""
        )
        where_to = "stdout" if args.out == "-" else args.out
        print(f"exported {counts.written} signals as {fmt} to {where_to} at cursor {cursor}"
              f"{skipped}", file=sys.stderr)  # fmt: skip
    return 0


def _write_whole(path: Path, write: Callable[[TextIO], interchange.ExportCounts]
                 ) -> interchange.ExportCounts:  # fmt: skip
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


def _check_days(*flags: tuple[str, str]) -> None:
    for flag, text in flags:
        try:
            datetime.strptime(text, "%Y-%m-%d")
        except ValueError:
            raise UsageError(f"{flag} {text!r}: a day as YYYY-MM-DD") from None


def cmd_report(args: argparse.Namespace) -> int:
    _check_days(("--from", args.first), ("--to", args.last))
    with _client(args) as client:
        body = client.member_report(args.first, args.last)
    if args.json:
        print(json.dumps(body))
        return 0
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
    print("\n".join(lines))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    if not 1 <= args.weeks <= impact.MAX_WEEKS:
        raise UsageError(f"--weeks is 1 to {impact.MAX_WEEKS}")
    with _client(args) as client:
        view = client.impact(args.weeks)
    print(json.dumps(view) if args.json else impact.impact_text(view))
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    with _client(args) as client:
        detail = client.get_signal(args.signal_id)
    if args.json:
        print(json.dumps(detail.to_json()))
        return 0
    s = detail.signal
    print(
        f"signal {s.signal_id}\n  type: {s.type}\n  value: {s.value}\n"
        f"  labels: {', '.join(s.labels) or '-'}\n  tags: {', '.join(s.tags) or '-'}\n"
        f"  corroboration: {s.corroboration}\n  first seen: {s.first_seen}\n"
        f"  last seen: {s.last_seen}\n  submissions:"
    )
    for sub in detail.submissions:
        print(
            f"    {sub.received_at}  {sub.member_id}  key {sub.key_id}  batch {sub.batch_id}"
            f"[{sub.index}]  labels={','.join(sub.labels) or '-'}"
        )
    return 0


def cmd_add_member(args: argparse.Namespace) -> int:
    public_key = _public_key(args.public_key)
    contact = admin_pb2.MemberContact(
        name=args.contact_name, email=args.contact_email, phone=args.contact_phone
    )
    with _admin(args) as admin:
        response = admin.add_member(args.name, public_key, args.display_name, contact)
    print(f"added member {response.member.member_id} with key {response.key_id}")
    return 0


def _contact_json(m: admin_pb2.Member) -> dict[str, str] | None:
    if not m.HasField("contact"):
        return None
    c = m.contact
    return {"name": c.name, "email": c.email, "phone": c.phone, "notes": c.notes}


def _contact_text(m: admin_pb2.Member) -> str:
    c = m.contact
    parts = [c.name, f"<{c.email}>" if c.email else "", c.phone]
    return " ".join(p for p in parts if p)


def cmd_list_members(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        members = admin.list_members()
    for m in members:
        removed = _iso(m.removed_at) if m.HasField("removed_at") else None
        if args.json:
            print(json.dumps({
                "member_id": m.member_id, "display_name": m.display_name,
                "key_ids": list(m.key_ids), "suspended": m.suspended,
                "group_ids": list(m.group_ids), "created_at": _iso(m.created_at),
                "contact": _contact_json(m),
                "removed_at": removed,
            }))  # fmt: skip
        else:
            parts = [f"{m.member_id:<24} keys={','.join(m.key_ids)}", m.display_name,
                     "[suspended]" if m.suspended else "",
                     f"contact: {_contact_text(m)}" if _contact_text(m) else "",
                     f"REMOVED {removed}" if removed else ""]  # fmt: skip
            print("  ".join(p for p in parts if p))
    return 0


def cmd_set_contact(args: argparse.Namespace) -> int:
    given = {name: getattr(args, name) for name in ("name", "email", "phone", "notes")}
    if all(v is None for v in given.values()):
        raise UsageError('say what to set: --name, --email, --phone or --notes ("" clears one)')
    with _admin(args) as admin:
        contact = admin_pb2.MemberContact()
        current = next((m for m in admin.list_members() if m.member_id == args.member), None)
        if current is not None:
            contact.CopyFrom(current.contact)
        for name, value in given.items():
            if value is not None:
                setattr(contact, name, value)
        member = admin.set_member_contact(args.member, contact)
    print(f"{member.member_id}: contact {_contact_text(member) or '(none)'}"
          f"{'; notes: ' + member.contact.notes if member.contact.notes else ''}")  # fmt: skip
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    _check_days(*((f, t) for f, t in (("--from", args.first), ("--to", args.last)) if t))
    with _admin(args) as admin:
        response = admin.member_usage(args.member, args.first, args.last)
    rows = [{
        "member_id": u.member_id, "first_day": response.first_day,
        "last_day": response.last_day, "signals_submitted": u.signals_submitted,
        "batches": u.batches, "queries": u.queries, "queries_with_match": u.queries_with_match,
        "live_submissions": u.live_submissions,
        "last_seen": _iso(u.last_seen) if u.HasField("last_seen") else None,
    } for u in response.usage]  # fmt: skip
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print(f"usage {response.first_day} to {response.last_day} (UTC); live: submissions in force")
    print(f"{'member':<24} {'signals':>9} {'batches':>8} {'queries':>9} {'matched':>8} "
          f"{'live':>9}  last seen")  # fmt: skip
    for r in rows:
        print(f"{r['member_id']:<24} {r['signals_submitted']:>9} {r['batches']:>8} "
              f"{r['queries']:>9} {r['queries_with_match']:>8} {r['live_submissions']:>9}  "
              f"{r['last_seen'] or 'never'}")  # fmt: skip
    return 0


def cmd_add_key(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        key_id = admin.add_key(args.member, _public_key(args.public_key))
    print(f"added key {key_id} to {args.member}")
    return 0


def cmd_revoke_key(args: argparse.Namespace) -> int:
    since = _parse_time(args.compromised_since) if args.compromised_since else None
    with _admin(args) as admin:
        if since is None:
            key = admin.revoke_key(args.member, args.key_id)
            retracted = removed = 0
        else:
            response = admin.revoke_compromised_key(args.member, args.key_id, since)
            key, retracted, removed = (
                response.key,
                response.retracted_submissions,
                response.removed_signals,
            )
    if args.json:
        print(
            json.dumps(
                {
                    "key_id": key.key_id,
                    "member_id": args.member,
                    "revoked_at": _iso(key.revoked_at),
                    "retracted_submissions": retracted,
                    "removed_signals": removed,
                }
            )
        )
        return 0  # fmt: skip
    print(f"revoked key {key.key_id} of {args.member} at {_iso(key.revoked_at)}")
    if since is not None:
        print(f"retracted {retracted} submissions signed with it since {_iso_dt(since)}; "
              f"{removed} signals removed")  # fmt: skip
    return 0


def _iso_dt(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cmd_remove_member(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        response = admin.remove_member(args.member, args.submissions, args.reason)
    out = {
        "member_id": args.member,
        "removed_at": _iso(response.member.removed_at),
        "submissions": args.submissions,
        "retracted_submissions": response.retracted_submissions,
        "removed_signals": response.removed_signals,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"removed member {args.member}: keys revoked, out of every group; submissions "
              f"{args.submissions} ({response.retracted_submissions} retracted, "
              f"{response.removed_signals} signals removed)")  # fmt: skip
    return 0


def cmd_erase_signal(args: argparse.Namespace) -> int:
    if not domain.is_signal_id(args.signal_id):
        raise UsageError(f"{args.signal_id!r} is not a signal id (32 hex digits)")
    with _admin(args) as admin:
        response = admin.erase_signal(args.signal_id, args.reason)
    t = response.tombstone
    out = {
        "signal_id": t.signal_id, "type": t.type, "reason": t.reason,
        "erased_at": _iso(t.erased_at), "log_entries_redacted": response.log_entries_redacted,
        "feed_events_scrubbed": response.feed_events_scrubbed,
        "also_erased": [{"signal_id": a.signal_id, "type": a.type, "reason": a.reason}
                        for a in response.also_erased],
    }  # fmt: skip
    if args.json:
        print(json.dumps(out))
    else:
        redacted, scrubbed = response.log_entries_redacted, response.feed_events_scrubbed
        print(f"erased {t.type} signal {t.signal_id}: {redacted} log entries redacted, "
              f"{scrubbed} feed events scrubbed")  # fmt: skip
        for a in response.also_erased:
            print(f"also erased {a.type} signal {a.signal_id}, which carries its value")
    return 0


def cmd_list_keys(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        keys = admin.list_keys(args.member)
    for k in keys:
        revoked = _iso(k.revoked_at) if k.HasField("revoked_at") else None
        if args.json:
            print(
                json.dumps(
                    {
                        "key_id": k.key_id,
                        "member_id": k.member_id,
                        "public_key": k.public_key.hex(),
                        "created_at": _iso(k.created_at),
                        "revoked_at": revoked,
                    }
                )
            )
        else:
            print(f"{k.key_id}  created {_iso(k.created_at)}  "
                  f"{'revoked ' + str(revoked) if revoked else 'valid'}")  # fmt: skip
    return 0


def cmd_set_suspended(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        member = admin.set_member_suspended(args.member, args.suspended)
    print(f"{member.member_id} is {'suspended' if member.suspended else 'active'}")
    return 0


def cmd_add_group(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        group = admin.add_group_members(args.group, args.member)
    print(f"group {group.group_id}: {', '.join(group.member_ids) or '(no members)'}")
    return 0


def cmd_remove_group(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        group = admin.remove_group_members(args.group, args.member)
    print(f"group {group.group_id}: {', '.join(group.member_ids) or '(no members)'}")
    return 0


def cmd_list_groups(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        groups = admin.list_groups()
    for g in groups:
        if args.json:
            print(json.dumps({"group_id": g.group_id, "member_ids": list(g.member_ids)}))
        else:
            print(f"{g.group_id:<24} {', '.join(g.member_ids) or '(no members)'}")
    return 0


def cmd_sign_audit_head(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        head = admin.sign_audit_head()
    if head is None:
        print("the audit log is empty")
    else:
        print(f"signed head: entry {head.sequence}, chain {head.chain_hash.hex()}")
    return 0


def cmd_audit_head(args: argparse.Namespace) -> int:
    with _client(args) as client:
        head = client.audit_head()
    if head is None:
        raise UsageError("the hub has not signed an audit head yet")
    if args.hub_key is not None and _public_key(args.hub_key) != head.hub_public_key:
        raise UsageError("the head is signed by another key than the pinned hub key")
    signed = domain.audit_head_signing_bytes(
        head.sequence, head.chain_hash, head.signed_at.ToMilliseconds()
    )
    try:
        Ed25519PublicKey.from_public_bytes(head.hub_public_key).verify(head.signature, signed)
    except (InvalidSignature, ValueError):
        raise UsageError("the audit head's signature does not verify") from None
    out = {"sequence": head.sequence, "chain_hash": head.chain_hash.hex(),
           "signed_at": _iso(head.signed_at), "hub_key_id": domain.key_id(head.hub_public_key),
           "signature": "valid"}  # fmt: skip
    if args.json:
        print(json.dumps(out))
    else:
        print(f"audit head: entry {out['sequence']}, chain {out['chain_hash']}, signed "
              f"{out['signed_at']} by hub key {out['hub_key_id']}: signature valid")  # fmt: skip
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    trusted = None
    if args.keys:
        trusted = {domain.key_id(k): k for k in (_public_key(p) for p in args.keys)}
    with _client(args) as client:
        detail = client.get_signal(args.signal_id)
    checks = check_provenance(detail, trusted)
    for c in checks:
        sub = c.submission
        if args.json:
            print(json.dumps({"signal_id": detail.signal.signal_id, "member_id": sub.member_id,
                              "key_id": sub.key_id, "batch_id": sub.batch_id,
                              "received_at": sub.received_at, "ok": c.ok,
                              "reason": c.reason}))  # fmt: skip
        else:
            mark = "OK  " if c.ok else "FAIL"
            print(f"{mark} {sub.member_id} submitted it in batch {sub.batch_id} at "
                  f"{sub.received_at}, key {sub.key_id}: {c.reason}")  # fmt: skip
    return 0 if checks and all(c.ok for c in checks) else 1


def cmd_opinion(args: argparse.Namespace) -> int:
    with _client(args) as client:
        signal = client.set_opinion(args.signal_id, args.opinion, args.note)
    if args.json:
        print(json.dumps(signal.to_json()))
    else:
        o = signal.opinions
        print(f"{signal.signal_id}: true_positive={o['true_positive']} "
              f"false_positive={o['false_positive']} disputed={o['disputed']}")  # fmt: skip
    return 0


def cmd_retract(args: argparse.Namespace) -> int:
    with _client(args) as client:
        results = client.retract(args.signal_ids)
    for sid, removed in results:
        if args.json:
            print(json.dumps({"signal_id": sid, "removed": removed}))
        else:
            print(f"{sid}: retracted{' (no submission left: removed)' if removed else ''}")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    if args.snapshot_min_backlog is not None and args.snapshot_min_backlog < 0:
        raise UsageError("--snapshot-min-backlog is 0 (always) or more")
    hub_key = _public_key(args.hub_key) if args.hub_key is not None else None
    with _client(args) as client, LocalReplica(args.local) as replica:
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
        snapshot = {"cursor": loaded.cursor, "signals": loaded.count,
                    "hub_key_id": domain.key_id(loaded.hub_public_key)}  # fmt: skip
    if args.json:
        print(json.dumps({"applied": applied, "cursor": cursor, "signals": count,
                          "snapshot": snapshot}))  # fmt: skip
        return 0
    if snapshot is not None:
        print(f"loaded a snapshot of {snapshot['signals']} signals at cursor "
              f"{snapshot['cursor']}, signed by hub key {snapshot['hub_key_id']}")  # fmt: skip
    print(f"applied {applied} events; {count} signals in {args.local}, cursor {cursor}")
    return 0


def cmd_consortium_key(args: argparse.Namespace) -> int:
    if args.out.exists():
        raise UsageError(f"{args.out} exists; choose another path")
    if args.version < 1:
        raise UsageError("--version is 1 or more")
    ConsortiumKey.generate(args.version).write(args.out)
    print(f"consortium key version {args.version} written to {args.out} (0600); share it with "
          "members over a channel the hub does not see")  # fmt: skip
    return 0


def _public_key(path: Path) -> bytes:
    try:
        return domain.read_public_key(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except domain.InvalidValue as e:
        raise UsageError(str(e)) from None


def _iso(ts: Timestamp) -> str:
    return ts.ToDatetime(tzinfo=UTC).isoformat().replace("+00:00", "Z")


__all__ = ["add_commands", "load_key", "read_signals"]
