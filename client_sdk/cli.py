"""Member and operator commands of `signalhub`: keygen, hash, submit, match, fetch, get and
admin. Each prints a human table by default or JSON lines with --json, exits 0 on success and
prints one line on stderr and exits 1 on failure."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Any, TextIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf.timestamp_pb2 import Timestamp

from signalhub import domain

from .client import (
    DEFAULT_BATCH_SIGNALS,
    DEFAULT_ENDPOINT,
    AdminClient,
    Client,
    TlsConfig,
    load_key,
)
from .errors import SignalhubError
from .hashing import HashingError, pdq_from_image
from .models import Signal, SubmitResult
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

    p = sub.add_parser("hash", help="PDQ hash of image files")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    p.set_defaults(run=_guarded(cmd_hash))

    p = sub.add_parser("submit", help="submit signals from a CSV or JSONL file (or - for stdin)")
    p.add_argument("file", metavar="FILE|-")
    p.add_argument("--type", default=None, help="signal type of records that do not say theirs")
    p.add_argument("--label", action="append", default=[], help="label for every record")
    p.add_argument("--tag", action="append", default=[], help="tag for every record")
    p.add_argument(
        "--format",
        choices=("csv", "jsonl"),
        help="input format (default: from the file's extension; required for -)",
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
    p.add_argument("--dry-run", action="store_true", help="validate at the hub, store nothing")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_submit))

    p = sub.add_parser(
        "match",
        help="match PDQ hashes or images against the hub",
        description="Answers one result per query: the --pdq hashes first, then the images, "
        "each in the order given.",
    )
    p.add_argument("images", nargs="*", type=Path, metavar="IMAGE")
    p.add_argument("--pdq", action="append", default=[], metavar="HEX", help="a PDQ hash")
    p.add_argument("--max-distance", type=int, default=domain.DEFAULT_PDQ_MAX_DISTANCE)
    p.add_argument("--json", action="store_true", help="one JSON object per query")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_match))

    p = sub.add_parser("fetch", help="print feed events after a cursor")
    p.add_argument("--after", default="", metavar="CURSOR", help="resume after this cursor")
    p.add_argument("--limit", type=int, default=0, help="stop after N events (0: all)")
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_fetch))

    p = sub.add_parser("get", help="show a signal and who submitted it")
    p.add_argument("signal_id", metavar="SIGNAL_ID")
    p.add_argument("--json", action="store_true")
    _connection_flags(p)
    p.set_defaults(run=_guarded(cmd_get))

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
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_add_member))
    p = admin_sub.add_parser("list-members", help="list the registered members")
    p.add_argument("--json", action="store_true")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_list_members))
    p = admin_sub.add_parser("add-key", help="add a key to a member (rotation)")
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("--public-key", type=Path, required=True, metavar="FILE.pub")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_add_key))
    p = admin_sub.add_parser("revoke-key", help="revoke a member's key from now on")
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("key_id", metavar="KEY_ID")
    _operator_flags(p)
    p.set_defaults(run=_guarded(cmd_revoke_key))
    p = admin_sub.add_parser("list-keys", help="list a member's keys")
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("--json", action="store_true")
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
    p.add_argument("--json", action="store_true")
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


def cmd_hash(args: argparse.Namespace) -> int:
    failures = 0
    for path in args.images:
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
    fmt = args.format or _format_from_name(args.file)
    signals = read_signals(args.file, fmt, args.type, args.label, args.tag)
    if not signals:
        raise UsageError(f"{args.file}: no records")
    with _client(args) as client:
        results = client.submit_all(
            signals,
            max_signals=args.batch_size,
            validate_only=args.dry_run,
            audience=args.audience,
        )
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


def _format_from_name(name: str) -> str:
    if name == "-":
        raise UsageError("reading stdin: say --format csv or --format jsonl")
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise UsageError(f"{name}: cannot tell the format from the extension; say --format")


def read_signals(
    name: str, fmt: str, default_type: str | None, labels: list[str], tags: list[str]
) -> list[Signal]:
    """Reads and validates every record (so a bad line stops the run before anything is
    sent). A record's own type, labels and tags override the flags."""
    try:
        stream: TextIO = sys.stdin if name == "-" else open(name, encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as e:
        raise UsageError(f"{name}: {e.strerror}") from None
    with stream:
        records = _csv_records(stream) if fmt == "csv" else _jsonl_records(stream)
        out: list[Signal] = []
        for line, record in records:
            out.append(_signal_from_record(name, line, record, default_type, labels, tags))
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
        for field in ("type", "labels", "tags"):
            if row.get(field):
                text = row[field] or ""
                record[field] = (
                    text
                    if field == "type"
                    else [x.strip() for x in text.replace("|", ";").split(";") if x.strip()]
                )
        yield reader.line_num, record


def _signal_from_record(
    name: str,
    line: int,
    record: dict[str, Any],
    default_type: str | None,
    labels: list[str],
    tags: list[str],
) -> Signal:
    where = f"{name}:{line}"
    value = record.get("value")
    type_name = record.get("type") or default_type
    if value is None and isinstance(record.get("pdq"), str):  # a line of `hash --json`
        value, type_name = record["pdq"], record.get("type") or "pdq"
    if not isinstance(value, str) or not value:
        raise UsageError(f'{where}: a record needs a "value"')
    if not isinstance(type_name, str):
        raise UsageError(f'{where}: no signal type; give --type or a "type" field')
    rec_labels = record.get("labels", labels)
    rec_tags = record.get("tags", tags)
    if isinstance(rec_labels, str):
        rec_labels = [rec_labels]
    if isinstance(rec_tags, str):
        rec_tags = [rec_tags]
    try:
        canonical = domain.canonical_signal(type_name, value, list(rec_labels), list(rec_tags))
    except domain.InvalidValue as e:
        raise UsageError(f"{where}: {e}") from None
    return Signal(canonical.type, canonical.value, canonical.labels, canonical.tags)


def cmd_match(args: argparse.Namespace) -> int:
    queries: list[tuple[str, str]] = []  # (what the user gave, pdq hex)
    for hex_value in args.pdq:
        try:
            queries.append((hex_value, domain.canonical_value("pdq", hex_value)))
        except domain.InvalidValue as e:
            raise UsageError(f"--pdq {hex_value}: {e}") from None
    for path in args.images:
        try:
            queries.append((str(path), pdq_from_image(path).hex))
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file") from None
    if not queries:
        raise UsageError("give --pdq HEX or image files to match")
    with _client(args) as client:
        results = client.match_pdq([h for _, h in queries], args.max_distance)
    for (query, pdq), result in zip(queries, results, strict=True):
        if args.json:
            print(
                json.dumps(
                    {"query": query, "pdq": pdq, "matches": [m.to_json() for m in result.matches]}
                )
            )
            continue
        print(f"{query}: {len(result.matches)} match{'es' if len(result.matches) != 1 else ''}")
        for m in result.matches:
            labels = ",".join(m.signal.labels) or "-"
            print(
                f"  distance={m.distance:<3} {m.signal.signal_id}  {m.signal.type} "
                f"{m.signal.value}  labels={labels}  corroboration={m.signal.corroboration}"
            )
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    with _client(args) as client:
        for event in client.fetch(args.after, args.limit):
            if args.json:
                print(json.dumps(event.to_json()), flush=False)
            else:
                labels = ",".join(event.signal.labels) or "-"
                print(
                    f"{event.cursor:>8}  {event.event:<14} {event.signal.type:<6} "
                    f"{event.signal.value}  labels={labels}  by={event.member_id}"
                )
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
    with _admin(args) as admin:
        response = admin.add_member(args.name, public_key, args.display_name)
    print(f"added member {response.member.member_id} with key {response.key_id}")
    return 0


def cmd_list_members(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        members = admin.list_members()
    for m in members:
        if args.json:
            print(
                json.dumps(
                    {
                        "member_id": m.member_id,
                        "display_name": m.display_name,
                        "key_ids": list(m.key_ids),
                    }
                )
            )
        else:
            print(f"{m.member_id:<24} keys={','.join(m.key_ids)}  {m.display_name}")
    return 0


def cmd_add_key(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        key_id = admin.add_key(args.member, _public_key(args.public_key))
    print(f"added key {key_id} to {args.member}")
    return 0


def cmd_revoke_key(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        key = admin.revoke_key(args.member, args.key_id)
    print(f"revoked key {key.key_id} of {args.member} at {_iso(key.revoked_at)}")
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
