"""The `signalhub` command: a small dispatcher. Hub commands (init, serve) come from
`exchange.commands`, member and operator commands from `client_sdk.cli`; each side is imported
only when one of its commands runs, so neither imports the other."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

HUB_COMMANDS = frozenset({"init", "serve"})
MEMBER_COMMANDS = frozenset({"keygen", "hash", "submit", "match", "fetch", "get", "verify"})
BOTH = frozenset({"admin", "audit"})  # groups with hub-side (offline) and member-side commands


def build_parser(sides: frozenset[str]) -> argparse.ArgumentParser:
    """The `signalhub` parser with the commands of `sides` ("hub", "member") registered."""
    parser = argparse.ArgumentParser(
        prog="signalhub",
        description="Share and match signals (PDQ hashes, digests) of child sexual exploitation "
        "and abuse material across member platforms.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    admin = sub.add_parser("admin", help="operator commands")
    admin_sub = admin.add_subparsers(dest="admin_command", metavar="COMMAND")
    admin_sub.required = True
    audit = sub.add_parser("audit", help="check the hub's tamper-evident audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="COMMAND")
    audit_sub.required = True
    groups = {"": sub, "admin": admin_sub, "audit": audit_sub}
    if "hub" in sides:
        from exchange.commands import add_commands as add_hub

        add_hub(groups)
    if "member" in sides:
        from client_sdk.cli import add_commands as add_member

        add_member(groups)
    return parser


def _sides(command: str | None) -> frozenset[str]:
    """The sides whose commands `command` needs loaded: one side for its own commands, both for
    a shared group, an unknown command or none (so that help lists everything)."""
    if command in HUB_COMMANDS:
        return frozenset({"hub"})
    if command in MEMBER_COMMANDS:
        return frozenset({"member"})
    return frozenset({"hub", "member"})


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command `argv` (default: the process's arguments) names; returns its exit
    status. argparse exits itself (status 2) on a usage error or after printing help."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    sides = _sides(next((a for a in args_list if not a.startswith("-")), None))
    parser = build_parser(sides)
    args = parser.parse_args(args_list)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
