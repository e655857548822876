"""The hub side of the `signalhub` command: `init`, `serve`, and the operator commands that
work on the data directory itself: `audit verify`, `admin issue-cert`, `admin backup`,
`admin restore`, `admin compact-cluster-log`, `admin report`, `admin rule-changes` and
`admin check`.

Each command is a pair: `_add_NAME` declares its parser, `cmd_NAME` runs it and returns the exit
status; `add_commands` registers them in the order their help lists them. At some 520 lines
this is a little over the usual size: the hub's whole command line (ten commands, each parser
beside its runner) is kept in one place."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import lmdb

from signalhub import domain

from .audit import verify_data_dir
from .backup import BackupError, backup_data_dir, restore_data_dir
from .config import SETTINGS, ConfigError, read_config_file, resolve
from .integrity import MAX_PROBLEMS, check_data_dir
from .logs import configure_logging
from .server import HubServer, ServerConfig, lmdb_path, serve
from .store import Store, StoreTxn
from .tls import TlsFiles, init_tls, issue_cert, tls_dir

Groups = dict[str, "argparse._SubParsersAction[argparse.ArgumentParser]"]
"""The dispatcher's sub-parsers: "" (top level), "admin" and "audit"."""


def add_commands(groups: Groups) -> None:
    """Registers the hub's subcommands on the dispatcher's parsers."""
    for add in (
        _add_init,
        _add_serve,
        _add_backup,
        _add_compact_cluster_log,
        _add_restore,
        _add_report,
        _add_rule_changes,
        _add_check,
        _add_audit_verify,
        _add_issue_cert,
    ):
        add(groups)


def _data_dir_flag(p: argparse.ArgumentParser) -> None:
    env = os.environ.get("SIGNALHUB_DATA_DIR")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(env) if env else None,
        required=not env,
        help="the hub's data directory (env SIGNALHUB_DATA_DIR)",
    )


def _env_file(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _fail(message: str, status: int = 1) -> int:
    """Prints `message` as the one error line on stderr; returns the exit status."""
    print(f"signalhub: error: {message}", file=sys.stderr)
    return status


def _not_a_data_dir(data_dir: Path) -> str | None:
    """The error message when `data_dir` holds no store, else None."""
    if (lmdb_path(data_dir) / "data.mdb").exists():
        return None
    return f"{data_dir} is not a signalhub data directory"


# --- init and serve ----------------------------------------------------------------------------
def _add_init(groups: Groups) -> None:
    p = groups[""].add_parser("init", help="create a hub data directory, its keys and LMDB store")
    _data_dir_flag(p)
    p.add_argument(
        "--tls",
        action="store_true",
        help="also create a local CA, a server certificate and the operator's "
        "client certificate in DATA_DIR/tls",
    )
    p.add_argument(
        "--tls-name",
        action="append",
        default=None,
        metavar="NAME",
        help="DNS name or IP address of the server certificate (repeatable; "
        "default localhost and 127.0.0.1)",
    )
    p.set_defaults(run=cmd_init)


def init_data_dir(data_dir: Path) -> str:
    """Creates DATA_DIR with the hub's key, the operator's key (operator.key, 0600) and an
    empty LMDB store; returns the operator key's id. Refuses a directory already initialised."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    if (lmdb_path(data_dir) / "data.mdb").exists() or (data_dir / "operator.key").exists():
        raise FileExistsError(f"{data_dir} is already a signalhub data directory")
    hub_key = domain.new_private_key()
    operator_key = domain.new_private_key()
    domain.write_key_pair(hub_key, data_dir / "hub.key")
    operator_id = domain.write_key_pair(operator_key, data_dir / "operator.key")
    store = Store(lmdb_path(data_dir))
    try:

        def write(tx: StoreTxn) -> None:
            tx.set_meta("hub_public_key", domain.raw_public_key(hub_key))
            tx.set_meta("operator_public_key", domain.raw_public_key(operator_key))

        store.write(write)
    finally:
        store.close()
    return operator_id


def cmd_init(args: argparse.Namespace) -> int:
    """`signalhub init`: a new data directory (and with --tls its CA and certificates); prints
    the operator key and the `serve` command line to run next."""
    try:
        operator_id = init_data_dir(args.data_dir)
    except FileExistsError as e:
        return _fail(str(e))
    print(f"initialised {args.data_dir}")
    print(f"operator key: {args.data_dir / 'operator.key'} (key id {operator_id})")
    serve_flags = ""
    if args.tls:
        files = init_tls(args.data_dir, args.tls_name or ["localhost", "127.0.0.1"])
        print(
            f"TLS: CA {files['ca'].cert}, server certificate {files['server'].cert}, "
            f"operator client certificate {files['operator'].cert}"
        )
        serve_flags = (
            f" --tls-cert {files['server'].cert} --tls-key {files['server'].key}"
            f" --tls-client-ca {files['ca'].cert}"
        )
    print(f"next: signalhub serve --data-dir {args.data_dir}{serve_flags}")
    return 0


def _add_serve(groups: Groups) -> None:
    p = groups[""].add_parser(
        "serve",
        help="run the hub",
        description="Settings come from flags, then SIGNALHUB_* environment variables, then "
        "the TOML file of --config (or SIGNALHUB_CONFIG), then defaults.",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=_env_file("SIGNALHUB_CONFIG"),
        help="TOML file of settings (keys as below, with underscores)",
    )
    for setting in SETTINGS:
        flag = "--" + setting.name.replace("_", "-")
        p.add_argument(
            flag,
            default=None,
            metavar=setting.name.upper(),
            help=f"{setting.help} (env {setting.env}; default {setting.default})",
        )
    p.set_defaults(run=cmd_serve)


_RENAMED_SETTINGS = {
    "audit_head_interval": "audit_head_interval_seconds",
    "expiry_interval": "expiry_interval_seconds",
    "snapshot_interval": "snapshot_interval_seconds",
    "match_count_interval": "match_count_interval_seconds",
}
"""Settings whose `ServerConfig` field has another name; every other setting but log_format
(the process's, not the server's) is the field of its own name."""


def _server_config(settings: dict[str, Any]) -> ServerConfig:
    fields = {_RENAMED_SETTINGS.get(name, name): value for name, value in settings.items()}
    del fields["log_format"]
    return ServerConfig(**fields)


def cmd_serve(args: argparse.Namespace) -> int:
    """`signalhub serve`: runs the hub until it is stopped; exit status 2 on a bad setting."""
    try:
        file = read_config_file(args.config) if args.config else {}
        flags = {setting.name: getattr(args, setting.name) for setting in SETTINGS}
        settings = resolve(flags, os.environ, file)
    except ConfigError as e:
        return _fail(str(e), 2)
    configure_logging(settings["log_format"])
    config = _server_config(settings)

    async def ready(hub: HubServer) -> None:
        host = config.listen.rpartition(":")[0]
        tls = "mTLS" if config.tls_client_ca else "TLS" if config.tls_cert else "plaintext"
        metrics = config.metrics_listen or "off"
        print(f"signalhub serving on {host}:{hub.port} ({tls}; metrics: {metrics})", flush=True)

    asyncio.run(serve(config, ready))
    return 0


# --- copies of the data directory --------------------------------------------------------------
def _add_backup(groups: Groups) -> None:
    p = groups["admin"].add_parser(
        "backup", help="a consistent, compacted copy of a data directory (while serving too)"
    )
    p.add_argument("out", type=Path, metavar="OUT", help="a new directory for the copy")
    _data_dir_flag(p)
    p.set_defaults(run=cmd_backup)


def cmd_backup(args: argparse.Namespace) -> int:
    """`signalhub admin backup`: copies the data directory to OUT; prints what it holds."""
    try:
        report = backup_data_dir(args.data_dir, args.out, progress=sys.stderr.isatty())
    except BackupError as e:
        return _fail(str(e))
    print(
        f"backed up {args.data_dir} to {args.out}: {report.log_entries} log entries, "
        f"feed up to {report.feed_sequence}, {report.bytes:,} bytes (it holds the hub's and "
        "the operator's private keys: keep it as safe as the data directory)"
    )
    return 0


def _add_compact_cluster_log(groups: Groups) -> None:
    p = groups["admin"].add_parser(
        "compact-cluster-log",
        help="purge the cluster's log behind its latest snapshot (after a legal erasure)",
        description="Removes from the NATS JetStream log every entry the cluster's latest "
        "snapshot covers: nodes starting from the snapshot never read them. After an erasure, "
        "once a snapshot taken after it exists (--snapshot-interval), this removes the erased "
        "value's last copies from the stream. A node that had not applied the purged entries "
        "stops and must be started again from a fresh copy of the seed data directory.",
    )
    p.add_argument(
        "--cluster",
        required=True,
        metavar="URLS",
        help="the NATS servers, comma-separated (as serve --cluster)",
    )
    p.set_defaults(run=cmd_compact_cluster_log)


def cmd_compact_cluster_log(args: argparse.Namespace) -> int:
    """`signalhub admin compact-cluster-log`: purges the JetStream log up to the entry the
    cluster's latest snapshot covers."""
    from .cluster import compact_log

    servers = [u.strip() for u in args.cluster.split(",") if u.strip()]
    purged, covered = asyncio.run(compact_log(servers))
    print(
        f"purged {purged} log entries: the stream now starts after entry {covered}, which "
        "the cluster's latest snapshot covers"
    )
    return 0


def _add_restore(groups: Groups) -> None:
    p = groups["admin"].add_parser("restore", help="restore a backup into a data directory")
    p.add_argument("backup", type=Path, metavar="BACKUP")
    _data_dir_flag(p)
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the store of an existing (stopped) data directory",
    )
    p.set_defaults(run=cmd_restore)


def cmd_restore(args: argparse.Namespace) -> int:
    """`signalhub admin restore`: restores BACKUP into the data directory."""
    try:
        report = restore_data_dir(args.backup, args.data_dir, force=args.force)
    except BackupError as e:
        return _fail(str(e))
    print(
        f"restored {args.backup} into {args.data_dir}: {report.log_entries} log entries, "
        f"feed up to {report.feed_sequence}; next: signalhub audit verify --data-dir "
        f"{args.data_dir}"
    )
    return 0


# --- reading the store -------------------------------------------------------------------------
def _add_report(groups: Groups) -> None:
    p = groups["admin"].add_parser(
        "report",
        help="the coalition's transparency report of a period, from the data directory",
        description="Reads the hub's store read-only (a running hub may go on serving) and "
        "writes report.json, CSV files and one self-contained report.html. No member is "
        "named; counts below --min-count are shown as <N. See docs/report.md.",
    )
    _data_dir_flag(p)
    p.add_argument(
        "--from",
        dest="first",
        required=True,
        metavar="DATE",
        help="first day of the period, YYYY-MM-DD (UTC)",
    )
    p.add_argument(
        "--to",
        dest="last",
        required=True,
        metavar="DATE",
        help="last day of the period, YYYY-MM-DD (UTC, included)",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="directory for the report's files (created if missing)",
    )
    p.add_argument(
        "--format",
        default="html,json,csv",
        metavar="LIST",
        help="comma-separated formats: html, json, csv (default all three)",
    )
    p.add_argument(
        "--min-count",
        type=int,
        default=10,
        metavar="N",
        help="counts below N are shown as <N (default 10)",
    )
    p.add_argument(
        "--trend",
        default="auto",
        choices=("auto", "day", "week"),
        help="trend per day or per ISO week (auto: per day up to 31 days)",
    )
    p.set_defaults(run=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """`signalhub admin report`: writes the coalition report of --from to --to into --out."""
    from . import report  # matplotlib is loaded only for this command

    if error := _not_a_data_dir(args.data_dir):
        return _fail(error)
    try:
        first, last = report.parse_date(args.first), report.parse_date(args.last)
        report.Period(first, last)
    except ValueError as e:
        return _fail(str(e))
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    unknown = [f for f in formats if f not in report.FORMATS]
    if unknown or not formats:
        return _fail(f"--format takes {', '.join(report.FORMATS)}, not {args.format!r}")
    if args.min_count < 1:
        return _fail("--min-count is 1 or more")
    try:
        store = Store(lmdb_path(args.data_dir), readonly=True)
    except lmdb.Error as e:  # e.g. a store older than the usage statistics: serve it once
        return _fail(f"cannot open the store of {args.data_dir} read-only: {e}")
    try:
        data = report.coalition_report(store, first, last, args.min_count, args.trend)
    finally:
        store.close()
    written = report.write_report(data, args.out, formats)
    print(
        f"report of {first} to {last} (through log entry {data['through_log_entry']}): "
        + ", ".join(str(p) for p in written)
    )
    return 0


def _add_rule_changes(groups: Groups) -> None:
    p = groups["admin"].add_parser(
        "rule-changes",
        help="list stored url and domain signals whose canonical form the current "
        "normalisation rule changed",
        description="Reads the log of the hub's store read-only (a running hub may go on "
        "serving) and prints one JSON line per stored signal that the current rule "
        "(IDNA 2008, WHATWG hosts, dot segments) gives another value and id, or refuses. "
        "See docs/normalisation.md, 'Migrating ids of the old rule'.",
    )
    _data_dir_flag(p)
    p.set_defaults(run=cmd_rule_changes)


def cmd_rule_changes(args: argparse.Namespace) -> int:
    """`signalhub admin rule-changes`: one JSON line per changed signal on stdout, a count on
    stderr."""
    from signalhub.normalisation import NORMALISATION_RULE

    from .rule_changes import stored_rule_changes

    if error := _not_a_data_dir(args.data_dir):
        return _fail(error)
    store = Store(lmdb_path(args.data_dir), readonly=True)
    try:
        changes = stored_rule_changes(store)
    finally:
        store.close()
    for change in changes:
        print(json.dumps(change.as_json(), ensure_ascii=False))
    refused = sum(1 for c in changes if c.new_value is None)
    print(
        f"{len(changes)} stored signals normalise otherwise under rule "
        f"{NORMALISATION_RULE} ({refused} of them refused by it)",
        file=sys.stderr,
    )
    return 0


def _add_check(groups: Groups) -> None:
    p = groups["admin"].add_parser(
        "check",
        help="check every record of a data directory's store (while serving too)",
        description="Walks every table of the store, opened read-only (a running hub may go "
        "on serving), and prints one line per problem: table, key, what is wrong. Exit "
        "status 0 when the store is intact, 1 when a problem was found, 2 on a usage error. "
        "LMDB's own page structure is checked too when no hub serves the directory.",
    )
    _data_dir_flag(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.add_argument(
        "--max-problems",
        type=int,
        default=MAX_PROBLEMS,
        metavar="N",
        help=f"list at most N problems (default {MAX_PROBLEMS})",
    )
    p.set_defaults(run=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    """`signalhub admin check`: exit status 0 when every record is intact, 1 when a problem
    was found (each printed, then what to restore), 2 on a usage error."""
    if error := _not_a_data_dir(args.data_dir):
        return _fail(error, 2)
    if args.max_problems < 1:
        return _fail("--max-problems is 1 or more", 2)
    report = check_data_dir(args.data_dir, args.max_problems)
    if args.json:
        print(json.dumps(report.as_json(), sort_keys=True))
        return 0 if report.ok else 1
    for problem in report.problems:
        print(problem.line())
    if report.found > len(report.problems):
        print(f"... and {report.found - len(report.problems)} more problems")
    summary = (
        f"{sum(report.records.values())} records in {len(report.records)} tables, LMDB "
        f"structure {report.structure}, {report.seconds:.1f} s"
    )
    if report.unchecked:
        summary += f"; {report.unchecked} records from before checksums, checked by content only"
    if report.ok:
        print(f"check OK: {summary}")
        return 0
    tables = len({p.table for p in report.problems})
    print(
        f"check FAILED: {report.found} problems in {tables} tables ({summary}); restore a "
        f"backup: signalhub admin restore BACKUP --data-dir {args.data_dir} --force "
        f"(signalhub audit verify --data-dir {args.data_dir} checks the log)"
    )
    return 1


def _add_audit_verify(groups: Groups) -> None:
    p = groups["audit"].add_parser(
        "verify", help="check the audit chain, signed heads and state of a data directory"
    )
    _data_dir_flag(p)
    p.set_defaults(run=cmd_audit_verify)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """`signalhub audit verify` (offline): exit status 0 when the chain, the signed heads and
    the state all check out, else 1 with each problem on stderr."""
    if error := _not_a_data_dir(args.data_dir):
        return _fail(error)
    report = verify_data_dir(args.data_dir)
    if report.ok:
        print(
            f"audit OK: {report.entries} log entries chained, {report.heads} signed heads "
            f"valid (newest covers entry {report.covered}), state matches the log's replay"
        )
        return 0
    for problem in report.problems:
        print(f"audit FAILED: {problem}", file=sys.stderr)
    return 1


# --- certificates ------------------------------------------------------------------------------
def _add_issue_cert(groups: Groups) -> None:
    p = groups["admin"].add_parser(
        "issue-cert", help="issue a client certificate from DATA_DIR/tls/ca (for mTLS)"
    )
    p.add_argument("name", metavar="MEMBER")
    _data_dir_flag(p)
    p.add_argument(
        "--out", type=Path, required=True, metavar="PREFIX", help="writes PREFIX.pem and PREFIX.key"
    )
    p.set_defaults(run=cmd_issue_cert)


def cmd_issue_cert(args: argparse.Namespace) -> int:
    """`signalhub admin issue-cert`: a client certificate for MEMBER signed by the hub's CA."""
    directory = tls_dir(args.data_dir)
    ca = TlsFiles(directory / "ca.pem", directory / "ca.key")
    if not ca.key.exists():
        return _fail(f"no CA in {directory}; run signalhub init --tls")
    try:
        files = issue_cert(ca, args.out, args.name)
    except FileExistsError:
        return _fail(f"{args.out}.key exists")
    print(f"client certificate {files.cert}, key {files.key} (CA {ca.cert})")
    return 0
