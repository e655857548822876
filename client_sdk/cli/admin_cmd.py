"""`signalhub admin ...`, the operator's commands over the network (signed with the operator
key): members and their contacts, keys, offboarding, erasure, privacy groups, usage and the
audit head. They render the plain values of `AdminClient` (client_sdk.admin_models). The
offline admin commands (backup, report...) are the hub side's (exchange.commands)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import datetime
from pathlib import Path

from signalhub import domain

from ..admin_models import Member, MemberContact, iso_time
from ..interchange import parse_time
from .base import (
    Column,
    Groups,
    UsageError,
    admin_client,
    check_days,
    json_flag,
    operator_flags,
    print_json_lines,
    public_key,
    runs,
    table_line,
)

SUSPENSIONS = (("suspend-member", True), ("reinstate-member", False))
"""The two commands of SetMemberSuspended, and the value each sets."""


def add_admin(groups: Groups) -> None:
    """Every `admin` command of this side, in the order `signalhub admin --help` lists them."""
    sub = groups["admin"]
    p = sub.add_parser("add-member", help="register a member and its public key")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--public-key", type=Path, required=True, metavar="FILE.pub")
    p.add_argument("--display-name", default="")
    p.add_argument("--contact-name", default="", metavar="NAME", help="who to contact about it")
    p.add_argument("--contact-email", default="", metavar="EMAIL")
    p.add_argument("--contact-phone", default="", metavar="PHONE")
    operator_flags(p)
    runs(p, cmd_add_member)

    p = sub.add_parser("list-members", help="list the registered members")
    json_flag(p, "one JSON object a line")
    operator_flags(p)
    runs(p, cmd_list_members)

    p = sub.add_parser(
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
    operator_flags(p)
    runs(p, cmd_set_contact)

    p = sub.add_parser(
        "usage",
        help="per-member usage: submissions, queries, last seen, submissions in force, "
        "queries today and sweeping (extraction limits)",
        description="Each member's signals and batches submitted and match queries over UTC "
        "days (default: the last 30), when it last made a call, and its submissions in force "
        "now. The hub writes these counts every 5 s.",
    )
    p.add_argument("--member", default="", metavar="M", help="one member (default: all)")
    p.add_argument("--from", dest="first", default="", metavar="DATE", help="YYYY-MM-DD (UTC)")
    p.add_argument(
        "--to",
        dest="last",
        default="",
        metavar="DATE",
        help="YYYY-MM-DD (UTC, included; default today)",
    )
    json_flag(p, "one JSON object a line")
    operator_flags(p)
    runs(p, cmd_usage)

    p = sub.add_parser("add-key", help="add a key to a member (rotation)")
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("--public-key", type=Path, required=True, metavar="FILE.pub")
    operator_flags(p)
    runs(p, cmd_add_key)

    p = sub.add_parser("revoke-key", help="revoke a member's key from now on")
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("key_id", metavar="KEY_ID")
    p.add_argument(
        "--compromised-since",
        default=None,
        metavar="TIME",
        help="the key was compromised from TIME (ISO 8601): also retract every "
        "submission signed with it the hub received since",
    )
    json_flag(p)
    operator_flags(p)
    runs(p, cmd_revoke_key)

    p = sub.add_parser(
        "remove-member", help="offboard a member: keys revoked, calls refused for good"
    )
    p.add_argument("member", metavar="MEMBER")
    p.add_argument(
        "--submissions",
        required=True,
        choices=("keep", "retract", "erase"),
        help="keep them shared, retract them, or retract and erase every signal "
        "left with no submission (the coalition's policy)",
    )
    p.add_argument("--reason", default="", help="kept in the log")
    json_flag(p)
    operator_flags(p)
    runs(p, cmd_remove_member)

    p = sub.add_parser(
        "erase-signal", help="erase a signal on legal request (value scrubbed, tombstone left)"
    )
    p.add_argument("signal_id", metavar="SIGNAL_ID")
    p.add_argument("--reason", required=True, help="why (the legal request's reference)")
    json_flag(p)
    operator_flags(p)
    runs(p, cmd_erase_signal)

    p = sub.add_parser("list-keys", help="list a member's keys")
    p.add_argument("member", metavar="MEMBER")
    json_flag(p, "one JSON object a line")
    operator_flags(p)
    runs(p, cmd_list_keys)

    for name, suspended in SUSPENSIONS:
        p = sub.add_parser(name, help=f"{name.split('-')[0]} a member")
        p.add_argument("member", metavar="MEMBER")
        operator_flags(p)
        runs(p, cmd_set_suspended, suspended=suspended)

    p = sub.add_parser("add-group", help="create a privacy group or add members to it")
    p.add_argument("group", metavar="GROUP")
    p.add_argument("--member", action="append", default=[], metavar="M")
    operator_flags(p)
    runs(p, cmd_change_group, add=True)

    p = sub.add_parser(
        "remove-group", help="remove members from a privacy group (all, without --member)"
    )
    p.add_argument("group", metavar="GROUP")
    p.add_argument("--member", action="append", default=[], metavar="M")
    operator_flags(p)
    runs(p, cmd_change_group, add=False)

    p = sub.add_parser("list-groups", help="list privacy groups and their members")
    json_flag(p, "one JSON object a line")
    operator_flags(p)
    runs(p, cmd_list_groups)

    p = sub.add_parser("sign-audit-head", help="have the hub sign its audit head now")
    operator_flags(p)
    runs(p, cmd_sign_audit_head)


def _stamp(when: datetime | None) -> str:
    """A time the hub sets on this answer, as printed (unset, it reads as the epoch)."""
    return iso_time(when) or "1970-01-01T00:00:00Z"


# --- members -----------------------------------------------------------------------------------
def _contact_text(contact: MemberContact | None) -> str:
    c = contact or MemberContact()
    parts = [c.name, f"<{c.email}>" if c.email else "", c.phone]
    return " ".join(p for p in parts if p)


def cmd_add_member(args: argparse.Namespace) -> int:
    """Registers a member with its first key and contact."""
    key = public_key(args.public_key)
    contact = MemberContact(args.contact_name, args.contact_email, args.contact_phone)
    with admin_client(args) as admin:
        added = admin.add_member(args.name, key, args.display_name, contact)
    print(f"added member {added.member.member_id} with key {added.key_id}")
    return 0


def _member_line(m: Member) -> str:
    contact = _contact_text(m.contact)
    parts = [
        f"{m.member_id:<24} keys={','.join(m.key_ids)}",
        m.display_name,
        "[suspended]" if m.suspended else "",
        f"contact: {contact}" if contact else "",
        f"REMOVED {iso_time(m.removed_at)}" if m.removed_at else "",
    ]
    return "  ".join(p for p in parts if p)


def cmd_list_members(args: argparse.Namespace) -> int:
    """Lists the members, one a line."""
    with admin_client(args) as admin:
        members = admin.list_members()
    if args.json:
        print_json_lines(m.to_json() for m in members)
    else:
        for m in members:
            print(_member_line(m))
    return 0


CONTACT_FIELDS = ("name", "email", "phone", "notes")
"""The fields of a contact, each one flag of `admin set-contact`."""


def cmd_set_contact(args: argparse.Namespace) -> int:
    """Sets the contact fields given and keeps the others."""
    given = {name: getattr(args, name) for name in CONTACT_FIELDS}
    changes = {name: value for name, value in given.items() if value is not None}
    if not changes:
        raise UsageError('say what to set: --name, --email, --phone or --notes ("" clears one)')
    with admin_client(args) as admin:
        current = next((m for m in admin.list_members() if m.member_id == args.member), None)
        before = current.contact if current is not None else None
        contact = dataclasses.replace(before or MemberContact(), **changes)
        member = admin.set_member_contact(args.member, contact)
    notes = member.contact.notes if member.contact is not None else ""
    print(
        f"{member.member_id}: contact {_contact_text(member.contact) or '(none)'}"
        f"{'; notes: ' + notes if notes else ''}"
    )
    return 0


USAGE_COLUMNS: tuple[Column, ...] = (
    ("member", "member_id", "<24"),
    ("signals", "signals_submitted", ">9"),
    ("batches", "batches", ">8"),
    ("queries", "queries", ">9"),
    ("matched", "queries_with_match", ">8"),
    ("live", "live_submissions", ">9"),
    ("today", "queries_today", ">9"),
)
"""The table of `admin usage` (then "last seen", two spaces apart, and SWEEPING for a member
the sweep detector holds as sweeping now). `today`: this node's count of the member's queries
this UTC day, against match_budget_per_day (docs/match-only.md)."""


def cmd_usage(args: argparse.Namespace) -> int:
    """Prints each member's usage over the period, as a table or JSON lines."""
    check_days(*((f, t) for f, t in (("--from", args.first), ("--to", args.last)) if t))
    with admin_client(args) as admin:
        report = admin.member_usage(args.member, args.first, args.last)
    rows = report.rows_json()
    if args.json:
        print_json_lines(rows)
        return 0
    print(f"usage {report.first_day} to {report.last_day} (UTC); live: submissions in force")
    print(f"{table_line(USAGE_COLUMNS)}  last seen")
    for r in rows:
        sweeping = "  SWEEPING" if r["sweeping"] else ""
        print(f"{table_line(USAGE_COLUMNS, r)}  {r['last_seen'] or 'never'}{sweeping}")
    return 0


def cmd_remove_member(args: argparse.Namespace) -> int:
    """Offboards a member; prints what became of its submissions."""
    with admin_client(args) as admin:
        removed = admin.remove_member(args.member, args.submissions, args.reason)
    out = {
        "member_id": args.member,
        "removed_at": _stamp(removed.member.removed_at),
        "submissions": args.submissions,
        "retracted_submissions": removed.retracted_submissions,
        "removed_signals": removed.removed_signals,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"removed member {args.member}: keys revoked, out of every group; submissions "
            f"{args.submissions} ({removed.retracted_submissions} retracted, "
            f"{removed.removed_signals} signals removed)"
        )
    return 0


def cmd_set_suspended(args: argparse.Namespace) -> int:
    """Suspends or reinstates a member (args.suspended, set by the command's name)."""
    with admin_client(args) as admin:
        member = admin.set_member_suspended(args.member, args.suspended)
    print(f"{member.member_id} is {'suspended' if member.suspended else 'active'}")
    return 0


# --- keys --------------------------------------------------------------------------------------
def cmd_add_key(args: argparse.Namespace) -> int:
    """Adds a key to a member."""
    with admin_client(args) as admin:
        key_id = admin.add_key(args.member, public_key(args.public_key))
    print(f"added key {key_id} to {args.member}")
    return 0


def cmd_revoke_key(args: argparse.Namespace) -> int:
    """Revokes a key; with --compromised-since also retracts what it signed since."""
    try:
        since = parse_time(args.compromised_since) if args.compromised_since else None
    except ValueError as e:
        raise UsageError(f"--compromised-since: {e}") from None
    with admin_client(args) as admin:
        if since is None:
            key = admin.revoke_key(args.member, args.key_id)
            retracted = removed = 0
        else:
            result = admin.revoke_compromised_key(args.member, args.key_id, since)
            key, retracted, removed = (
                result.key,
                result.retracted_submissions,
                result.removed_signals,
            )
    if args.json:
        out = {
            "key_id": key.key_id,
            "member_id": args.member,
            "revoked_at": _stamp(key.revoked_at),
            "retracted_submissions": retracted,
            "removed_signals": removed,
        }
        print(json.dumps(out))
        return 0
    print(f"revoked key {key.key_id} of {args.member} at {_stamp(key.revoked_at)}")
    if since is not None:
        print(
            f"retracted {retracted} submissions signed with it since {iso_time(since)}; "
            f"{removed} signals removed"
        )
    return 0


def cmd_list_keys(args: argparse.Namespace) -> int:
    """Lists a member's keys, revoked ones included."""
    with admin_client(args) as admin:
        keys = admin.list_keys(args.member)
    if args.json:
        print_json_lines(k.to_json() for k in keys)
        return 0
    for k in keys:
        state = f"revoked {iso_time(k.revoked_at)}" if k.revoked_at else "valid"
        print(f"{k.key_id}  created {iso_time(k.created_at)}  {state}")
    return 0


# --- signals, groups, audit --------------------------------------------------------------------
def cmd_erase_signal(args: argparse.Namespace) -> int:
    """Erases a signal on legal request; prints what was scrubbed."""
    if not domain.is_signal_id(args.signal_id):
        raise UsageError(f"{args.signal_id!r} is not a signal id (32 hex digits)")
    with admin_client(args) as admin:
        erased = admin.erase_signal(args.signal_id, args.reason)
    if args.json:
        print(json.dumps(erased.to_json()))
        return 0
    t = erased.tombstone
    print(
        f"erased {t.type} signal {t.signal_id}: {erased.log_entries_redacted} log entries "
        f"redacted, {erased.feed_events_scrubbed} feed events scrubbed"
    )
    for a in erased.also_erased:
        print(f"also erased {a.type} signal {a.signal_id}, which carries its value")
    return 0


def _group_members(member_ids: list[str]) -> str:
    return ", ".join(member_ids) or "(no members)"


def cmd_change_group(args: argparse.Namespace) -> int:
    """Adds members to a privacy group (creating it), or with args.add False removes them
    (all without --member); prints the group's members."""
    with admin_client(args) as admin:
        change = admin.add_group_members if args.add else admin.remove_group_members
        group = change(args.group, args.member)
    print(f"group {group.group_id}: {_group_members(group.member_ids)}")
    return 0


def cmd_list_groups(args: argparse.Namespace) -> int:
    """Lists the privacy groups and their members."""
    with admin_client(args) as admin:
        groups = admin.list_groups()
    if args.json:
        print_json_lines(g.to_json() for g in groups)
        return 0
    for g in groups:
        print(f"{g.group_id:<24} {_group_members(g.member_ids)}")
    return 0


def cmd_sign_audit_head(args: argparse.Namespace) -> int:
    """Has the hub sign its audit head now."""
    with admin_client(args) as admin:
        head = admin.sign_audit_head()
    if head is None:
        print("the audit log is empty")
    else:
        print(f"signed head: entry {head.sequence}, chain {head.chain_hash.hex()}")
    return 0
