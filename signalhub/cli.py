"""The `signalhub` command: a small dispatcher. Hub commands (init, serve) come from
`exchange.commands`, member and operator commands from `client_sdk.cli`; each side is imported
only when one of its commands runs, so neither imports the other."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

HUB_COMMANDS = frozenset({"init", "serve"})
MEMBER_COMMANDS = frozenset({"keygen", "admin", "hash", "submit", "match", "fetch", "get"})


def build_parser(side: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signalhub",
        description="Share and match signals (PDQ hashes, digests) of child sexual exploitation "
        "and abuse material across member platforms.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    if side in (None, "hub"):
        from exchange.commands import add_commands as add_hub

        add_hub(sub)
    if side in (None, "member"):
        from client_sdk.cli import add_commands as add_member

        add_member(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    side = "hub" if first in HUB_COMMANDS else "member" if first in MEMBER_COMMANDS else None
    parser = build_parser(side)
    args = parser.parse_args(args_list)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
