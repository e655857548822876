"""`signalhub warning-lists ...` (members) and `signalhub admin warning-lists ...` (the operator):
the coalition's lists of benign and collision-prone values (issue 21.1). Members show the lists,
propose entries (or endorse others' proposals) and withdraw theirs; the operator creates lists,
approves, rejects or removes entries, reviews proposals and loads the project's starter list
of degenerate images."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..warnings import ProposedEntry, WarningEntry, read_entries, starter_list_path
from .base import (
    Groups,
    UsageError,
    admin_client,
    connection_flags,
    json_flag,
    member_client,
    operator_flags,
    plural,
    print_json_lines,
    runs,
)


def _entry_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("list", metavar="LIST")
    p.add_argument("--value", action="append", default=[], metavar="VALUE", help="a value")
    p.add_argument("--type", default="pdq", help="the values' signal type (default pdq)")
    p.add_argument("--note", default="", help="why it is listed (at most 200 characters)")
    p.add_argument(
        "--file",
        type=Path,
        default=None,
        metavar="FILE",
        help="entries: a warning list's JSON, JSON lines of {type, value, note}, or lines of "
        "VALUE or TYPE VALUE",
    )


def _entries(args: argparse.Namespace) -> list[WarningEntry]:
    entries = [WarningEntry(args.type, v, args.note) for v in args.value]
    if args.file is not None:
        if not args.file.exists():
            raise UsageError(f"{args.file}: no such file")
        entries += read_entries(args.file, args.type)
    if not entries:
        raise UsageError("give --value VALUE or --file FILE")
    return entries


def _entries_word(n: int) -> str:
    return "entry" if n == 1 else "entries"


def add_warning_lists(groups: Groups) -> None:
    """The member's `warning-lists` command and its actions."""
    top = groups[""].add_parser(
        "warning-lists", help="the coalition's warning lists (benign, collision-prone values)"
    )
    sub = top.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("show", help="show the lists (signed by the hub)")
    p.add_argument("--entries", action="store_true", help="also list every entry")
    json_flag(p, "one JSON object: version and lists")
    connection_flags(p)
    runs(p, cmd_show)
    for action, helptext in (
        ("propose", "propose entries for a list, or endorse the same entries others proposed"),
        ("withdraw", "withdraw your own proposal or endorsement of entries"),
    ):
        p = sub.add_parser(action, help=helptext)
        _entry_flags(p)
        json_flag(p, "one JSON object: each entry's state")
        connection_flags(p)
        runs(p, cmd_propose, withdraw=action == "withdraw")
    p = sub.add_parser("proposals", help="your proposals and endorsements, and their state")
    p.add_argument("--list", default="", metavar="LIST", help="one list only")
    json_flag(p, "one JSON object a line")
    connection_flags(p)
    runs(p, cmd_my_proposals)


def add_admin_warning_lists(groups: Groups) -> None:
    """The operator's `admin warning-lists` command and its actions."""
    top = groups["admin"].add_parser("warning-lists", help="create and edit warning lists")
    sub = top.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("set", help="create a list or change its settings")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--description", default="")
    p.add_argument(
        "--max-distance",
        type=int,
        default=0,
        metavar="N",
        help="Hamming types: a value within N bits of a listed one counts as listed (0-64)",
    )
    p.add_argument(
        "--endorsements",
        type=int,
        default=0,
        metavar="N",
        help="also approve an entry once N members propose it (0: the operator only)",
    )
    operator_flags(p)
    runs(p, cmd_set_list)
    for edit, helptext in (
        ("approve", "put entries on a list (proposed or not)"),
        ("reject", "reject proposed entries"),
        ("remove", "take entries off a list"),
    ):
        p = sub.add_parser(edit, help=helptext)
        _entry_flags(p)
        operator_flags(p)
        runs(p, cmd_edit, edit=edit)
    p = sub.add_parser("proposals", help="every member's proposals, with who proposed each")
    p.add_argument("--list", default="", metavar="LIST", help="one list only")
    p.add_argument("--all", action="store_true", help="also the approved ones")
    json_flag(p, "one JSON object a line")
    operator_flags(p)
    runs(p, cmd_all_proposals)
    p = sub.add_parser(
        "load-starter",
        help="create the project's starter list of degenerate images (flat colours, "
        "gradients, checkerboards, text-only frames, letterboxing) and approve its entries",
    )
    operator_flags(p)
    runs(p, cmd_load_starter)


def cmd_show(args: argparse.Namespace) -> int:
    """Prints the lists."""
    with member_client(args) as client:
        lists = client.warning_lists()
    if args.json:
        print(json.dumps({
            "version": lists.version,
            "lists": [w.to_json(entries=args.entries) for w in lists.lists],
        }))  # fmt: skip
        return 0
    print(f"warning lists at version {lists.version}: {len(lists.lists)}")
    for w in lists.lists:
        rule = f"{w.endorsements_required} members" if w.endorsements_required else "operator"
        print(
            f"  {w.name:<24} {len(w.entries):>6} {_entries_word(len(w.entries))}  "
            f"max_distance={w.max_distance}  approved by: {rule}  {w.description}"
        )
        if args.entries:
            for e in w.entries:
                print(f"    {e.type} {e.value}  {e.note}")
    return 0


def _proposal_line(p: ProposedEntry) -> str:
    state = "listed" if p.approved else f"{p.endorsements} endorsing"
    who = f"  by {', '.join(p.members)}" if p.members else ""
    return f"  {p.list:<20} {p.entry.type} {p.entry.value}  {state}{who}  {p.entry.note}"


def cmd_propose(args: argparse.Namespace) -> int:
    """Proposes (or withdraws) entries; prints each one's state."""
    with member_client(args) as client:
        states = client.propose_warning_entries(args.list, _entries(args), withdraw=args.withdraw)
    if args.json:
        print(json.dumps({"entries": [s.to_json() for s in states]}))
        return 0
    for s in states:
        print(_proposal_line(s))
    return 0


def cmd_my_proposals(args: argparse.Namespace) -> int:
    """Lists the member's own proposals."""
    with member_client(args) as client:
        states = client.warning_proposals(args.list)
    if args.json:
        print_json_lines(s.to_json() for s in states)
        return 0
    print(f"{len(states)} {plural(len(states), 'proposal', 's')}")
    for s in states:
        print(_proposal_line(s))
    return 0


def cmd_set_list(args: argparse.Namespace) -> int:
    """Creates a list or changes its settings."""
    with admin_client(args) as admin:
        w = admin.set_warning_list(
            args.name,
            args.description,
            max_distance=args.max_distance,
            endorsements_required=args.endorsements,
        )
    rule = w.endorsements_required
    print(f"warning list {w.name}: max_distance={w.max_distance} endorsements_required={rule}")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    """Approves, rejects or removes entries."""
    with admin_client(args) as admin:
        changed, version = admin.edit_warning_entries(args.list, args.edit, _entries(args))
    print(f"{changed} {_entries_word(changed)} changed; the lists are at version {version}")
    return 0


def cmd_all_proposals(args: argparse.Namespace) -> int:
    """Lists every member's proposals."""
    with admin_client(args) as admin:
        states = admin.warning_proposals(args.list, include_approved=args.all)
    if args.json:
        print_json_lines(s.to_json() for s in states)
        return 0
    print(f"{len(states)} {plural(len(states), 'proposal', 's')}")
    for s in states:
        print(_proposal_line(s))
    return 0


def cmd_load_starter(args: argparse.Namespace) -> int:
    """Creates the starter list from the file shipped with the package and approves it all."""
    path = starter_list_path()
    data = json.loads(path.read_text())
    entries = read_entries(path)
    with admin_client(args) as admin:
        admin.set_warning_list(
            data["name"], data.get("description", ""), max_distance=int(data["max_distance"])
        )
        changed, version = admin.edit_warning_entries(data["name"], "approve", entries)
    print(
        f"warning list {data['name']}: {len(entries)} entries ({changed} new), "
        f"max_distance={data['max_distance']}; the lists are at version {version}"
    )
    return 0
