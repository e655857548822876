"""`signalhub keygen` (a member's Ed25519 key pair) and `signalhub consortium-key` (the key the
members share to key personal values); neither talks to the hub."""

from __future__ import annotations

import argparse
from pathlib import Path

from signalhub import domain
from signalhub.signal_types import ConsortiumKey

from .base import Groups, UsageError, runs


def add_keygen(groups: Groups) -> None:
    """The `keygen` command."""
    p = groups[""].add_parser("keygen", help="create an Ed25519 key pair (FILE and FILE.pub)")
    p.add_argument("--out", type=Path, required=True, help="path of the private key file")
    runs(p, cmd_keygen)


def add_consortium_key(groups: Groups) -> None:
    """The `consortium-key` command."""
    p = groups[""].add_parser(
        "consortium-key", help="create the members' shared key for personal values"
    )
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    p.add_argument("--version", type=int, default=1, help="key version (rotate: increase it)")
    runs(p, cmd_consortium_key)


def _new_file(path: Path) -> None:
    if path.exists():
        raise UsageError(f"{path} exists; choose another path")


def cmd_keygen(args: argparse.Namespace) -> int:
    """Writes a new key pair to --out and --out.pub; prints its key id."""
    _new_file(args.out)
    kid = domain.write_key_pair(domain.new_private_key(), args.out)
    print(kid)
    return 0


def cmd_consortium_key(args: argparse.Namespace) -> int:
    """Writes a new consortium key to --out."""
    _new_file(args.out)
    if args.version < 1:
        raise UsageError("--version is 1 or more")
    ConsortiumKey.generate(args.version).write(args.out)
    print(
        f"consortium key version {args.version} written to {args.out} (0600); share it with "
        "members over a channel the hub does not see"
    )
    return 0
