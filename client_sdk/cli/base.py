"""What every command group of the CLI builds on: the connection options (endpoint, member and
key, operator key, TLS, consortium key), the one error contract (a bad input or a hub refusal
prints one `signalhub: error: ...` line on stderr and exits 1), and output as JSON lines or
tables of column specs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from signalhub import domain
from signalhub.signal_types import ConsortiumKey

from ..admin import AdminClient
from ..client import DEFAULT_ENDPOINT, Client, TlsConfig
from ..errors import SignalhubError
from ..hashing import HashingError
from ..interchange import InputError

Command = Callable[[argparse.Namespace], int]
Groups = dict[str, "argparse._SubParsersAction[argparse.ArgumentParser]"]
"""The dispatcher's sub-parsers: "" (top level), "admin" and "audit"."""


class UsageError(Exception):
    """Bad input found before anything was sent to the hub."""


ONE_LINE_ERRORS = (SignalhubError, UsageError, HashingError, InputError)
"""Failures a command reports in one line (the rest are bugs: a traceback)."""


def fail(message: str) -> int:
    """Prints `message` as the one error line; returns the exit code, 1."""
    print(f"signalhub: error: {message}", file=sys.stderr)
    return 1


def guarded(command: Command) -> Command:
    """`command` with the error contract: one line and exit 1; a closed pipe ends quietly."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except ONE_LINE_ERRORS as e:
            return fail(str(e))
        except BrokenPipeError:
            return 0

    return run


def runs(p: argparse.ArgumentParser, command: Command, **defaults: Any) -> None:
    """Makes `command` (guarded) what parser `p` runs."""
    p.set_defaults(run=guarded(command), **defaults)


# --- options -----------------------------------------------------------------------------------
def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def json_flag(p: argparse.ArgumentParser, help: str | None = None) -> None:
    """--json: print JSON instead of text."""
    p.add_argument("--json", action="store_true", help=help)


def tls_flags(p: argparse.ArgumentParser) -> None:
    """--tls-ca, --tls-cert and --tls-key (TLS is on when any is given)."""
    p.add_argument(
        "--tls-ca",
        type=Path,
        default=_env_path("SIGNALHUB_TLS_CA"),
        help="CA certificate of the hub (enables TLS; env SIGNALHUB_TLS_CA)",
    )
    p.add_argument(
        "--tls-cert",
        type=Path,
        default=_env_path("SIGNALHUB_TLS_CERT"),
        help="client certificate for mTLS (env SIGNALHUB_TLS_CERT)",
    )
    p.add_argument(
        "--tls-key",
        type=Path,
        default=_env_path("SIGNALHUB_TLS_KEY"),
        help="client certificate's key for mTLS (env SIGNALHUB_TLS_KEY)",
    )


def connection_flags(p: argparse.ArgumentParser) -> None:
    """A member's options: --endpoint, --member, --key and TLS."""
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
    tls_flags(p)


def operator_flags(p: argparse.ArgumentParser) -> None:
    """The operator's options: --endpoint, --operator-key and TLS."""
    p.add_argument("--endpoint", default=os.environ.get("SIGNALHUB_ENDPOINT", DEFAULT_ENDPOINT))
    p.add_argument(
        "--operator-key",
        default=os.environ.get("SIGNALHUB_OPERATOR_KEY"),
        help="the operator key file, DATA_DIR/operator.key (env SIGNALHUB_OPERATOR_KEY)",
    )
    tls_flags(p)


def consortium_flag(p: argparse.ArgumentParser) -> None:
    """--consortium-key FILE: the key personal values are keyed with."""
    p.add_argument(
        "--consortium-key",
        type=Path,
        default=_env_path("SIGNALHUB_CONSORTIUM_KEY"),
        metavar="FILE",
        help="key personal values (email, phone, username, account_id, ip) with this "
        "consortium key before they leave the machine (env SIGNALHUB_CONSORTIUM_KEY)",
    )


# --- what the options give ---------------------------------------------------------------------
def tls_config(args: argparse.Namespace) -> TlsConfig | None:
    """The TLS files given, or None (plaintext)."""
    if not (args.tls_ca or args.tls_cert or args.tls_key):
        return None
    return TlsConfig(args.tls_ca, args.tls_cert, args.tls_key)


def member_client(args: argparse.Namespace) -> Client:
    """A member's client from the connection options."""
    if not args.member or not args.key:
        raise UsageError(
            "say who you are: --member and --key (or SIGNALHUB_MEMBER and SIGNALHUB_KEY)"
        )
    return Client(args.endpoint, args.member, args.key, tls=tls_config(args))


def admin_client(args: argparse.Namespace) -> AdminClient:
    """The operator's client from the operator options."""
    if not args.operator_key:
        raise UsageError("give the operator key: --operator-key (or SIGNALHUB_OPERATOR_KEY)")
    return AdminClient(args.endpoint, args.operator_key, tls=tls_config(args))


def consortium_key(args: argparse.Namespace) -> ConsortiumKey | None:
    """The consortium key of --consortium-key, if given."""
    if not getattr(args, "consortium_key", None):
        return None
    try:
        return ConsortiumKey.read(args.consortium_key)
    except domain.InvalidValue as e:
        raise UsageError(str(e)) from None


def public_key(path: Path) -> bytes:
    """The raw Ed25519 public key in file `path`."""
    try:
        return domain.read_public_key(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except domain.InvalidValue as e:
        raise UsageError(str(e)) from None


def check_days(*flags: tuple[str, str]) -> None:
    """Each (flag, text) is a day as YYYY-MM-DD."""
    for flag, text in flags:
        try:
            datetime.strptime(text, "%Y-%m-%d")
        except ValueError:
            raise UsageError(f"{flag} {text!r}: a day as YYYY-MM-DD") from None


def check_score(score: float | None) -> None:
    """--min-score is 0-1 (or not given)."""
    if score is not None and not 0 <= score <= 1:
        raise UsageError("--min-score is 0-1")


# --- output ------------------------------------------------------------------------------------
def plural(n: int, word: str, suffix: str = "es") -> str:
    """`word` with `suffix` unless there is one: 1 match, 2 matches."""
    return word if n == 1 else word + suffix


def print_json_lines(objects: Iterable[Mapping[str, Any]]) -> None:
    """One JSON object a line."""
    for obj in objects:
        print(json.dumps(obj))


Column = tuple[str, str, str]
"""One column of a text table: its heading, the row's key and the format spec (e.g. "<24")."""


def table_line(columns: Sequence[Column], values: Mapping[str, Any] | None = None) -> str:
    """The headings (no `values`) or one row of a table, columns one space apart."""
    cells = (
        format(heading if values is None else values[key], spec) for heading, key, spec in columns
    )
    return " ".join(cells)
