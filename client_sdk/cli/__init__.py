"""Member and operator commands of `signalhub`, one module per command group, each defining
its parsers beside its commands (as python-threatexchange's `cli/*_cmd.py` do):

- `keys_cmd`: keygen, consortium-key
- `hash_cmd`: hash, types
- `submit_cmd`: submit (records are read by `client_sdk.interchange`)
- `match_cmd`: match
- `feed_cmd`: fetch, export, sync
- `report_cmd`: report, stats
- `signal_cmd`: get, opinion, retract, verify
- `review_cmd`: appeal, reviews (decision propagation)
- `audit_cmd`: audit head
- `warning_cmd`: warning-lists (show, propose, withdraw, proposals) and admin warning-lists
- `quarantine_cmd`: admin quarantine (list, release, retract)
- `admin_cmd`: admin add-member, list-members, ... sign-audit-head
- `base`: connection options, the error contract and output helpers they share

Each command prints a human table by default or JSON lines with --json, exits 0 on success and
prints one line on stderr and exits 1 on failure. The dispatcher (`signalhub.cli`) calls
`add_commands`; the hub's own commands (init, serve, offline admin and audit) are
`exchange.commands`'.
"""

from __future__ import annotations

from collections.abc import Callable

from ..client import load_key
from ..interchange import read_signals
from . import (
    admin_cmd,
    audit_cmd,
    feed_cmd,
    hash_cmd,
    keys_cmd,
    match_cmd,
    quarantine_cmd,
    report_cmd,
    review_cmd,
    signal_cmd,
    submit_cmd,
    warning_cmd,
)
from .base import Groups

PARSERS: tuple[Callable[[Groups], None], ...] = (
    keys_cmd.add_keygen,
    hash_cmd.add_hash,
    hash_cmd.add_types,
    submit_cmd.add_submit,
    match_cmd.add_match,
    feed_cmd.add_fetch,
    feed_cmd.add_export,
    report_cmd.add_report,
    report_cmd.add_stats,
    signal_cmd.add_get,
    signal_cmd.add_opinion,
    signal_cmd.add_retract,
    review_cmd.add_appeal,
    review_cmd.add_reviews,
    feed_cmd.add_sync,
    keys_cmd.add_consortium_key,
    signal_cmd.add_verify,
    audit_cmd.add_head,
    warning_cmd.add_warning_lists,
    admin_cmd.add_admin,
    warning_cmd.add_admin_warning_lists,
    quarantine_cmd.add_admin_quarantine,
)
"""Each command's parser, in the order `signalhub --help` lists them."""


def add_commands(groups: Groups) -> None:
    """Registers the member and operator subcommands on the dispatcher's parsers."""
    for add in PARSERS:
        add(groups)


__all__ = ["add_commands", "load_key", "read_signals"]
