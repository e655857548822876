"""Apply's entry point: `apply_entry` hands a log entry to its command's handler (the table
`HANDLERS`), and `apply_in_savepoint` runs it inside a savepoint of the write transaction,
keeping or undoing what it wrote: the one save-apply-undo the writer (`append_and_apply`) and
the cluster's duplicate answer (`command_log.preview`) share."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from exchange.errors import HubError
from signalhub.normalisation import normalisation_rule
from signalhub.storage.v1 import records_pb2 as rec

from ..store import StoreTxn
from .appeals import apply_mark_reviewed, apply_record_appeal
from .common import Applied
from .erasure import apply_erase_signal
from .groups import apply_add_group_members, apply_remove_group_members
from .match_counts import apply_match_counts
from .members import (
    apply_add_key,
    apply_add_member,
    apply_remove_member,
    apply_revoke_key,
    apply_set_member_contact,
    apply_set_suspended,
)
from .opinions import apply_opinion
from .quarantine import apply_resolve_quarantine
from .submissions import PreparedBatch, apply_submit
from .warnings import (
    apply_edit_warning_entries,
    apply_propose_warning_entries,
    apply_set_warning_list,
)
from .withdrawals import apply_expire_tick, apply_retract

Handler = Callable[[StoreTxn, int, rec.LogEntry, PreparedBatch | None], Applied]
"""(transaction, the entry's log sequence, the entry, the precheck's validation) -> Applied."""


def _by_entry(apply: Callable[[StoreTxn, rec.LogEntry], Applied]) -> Handler:
    """A handler that needs only the transaction and the entry."""
    return lambda tx, _sequence, entry, _hint: apply(tx, entry)


def _by_sequence(apply: Callable[[StoreTxn, int, rec.LogEntry], Applied]) -> Handler:
    """A handler that also needs the entry's log sequence (an erasure records who erased)."""
    return lambda tx, sequence, entry, _hint: apply(tx, sequence, entry)


HANDLERS: dict[str, Handler] = {
    "submit": apply_submit,
    "add_member": _by_entry(apply_add_member),
    "add_key": _by_entry(apply_add_key),
    "revoke_key": _by_entry(apply_revoke_key),
    "set_member_suspended": _by_entry(apply_set_suspended),
    "set_member_contact": _by_entry(apply_set_member_contact),
    "add_group_members": _by_entry(apply_add_group_members),
    "remove_group_members": _by_entry(apply_remove_group_members),
    "set_opinion": _by_entry(apply_opinion),
    "retract": _by_entry(apply_retract),
    "expire_tick": _by_entry(apply_expire_tick),
    "remove_member": _by_sequence(apply_remove_member),
    "erase_signal": _by_sequence(apply_erase_signal),
    "set_warning_list": _by_entry(apply_set_warning_list),
    "edit_warning_entries": _by_entry(apply_edit_warning_entries),
    "propose_warning_entries": _by_entry(apply_propose_warning_entries),
    "match_counts": _by_entry(apply_match_counts),
    "resolve_quarantine": _by_entry(apply_resolve_quarantine),
    "record_appeal": _by_entry(apply_record_appeal),
    "mark_reviewed": _by_entry(apply_mark_reviewed),
}
"""The LogEntry `command` oneof's field name -> the handler that applies it."""


def apply_entry(
    tx: StoreTxn, log_sequence: int, entry: rec.LogEntry, hint: PreparedBatch | None = None
) -> Applied:
    """Decides one log entry and writes its effects into `tx`. Raises HubError to refuse it;
    the caller then discards everything the entry wrote. `hint` is the precheck's validation
    of a submission's payload, used only when it is of this very payload."""
    handler = HANDLERS.get(entry.WhichOneof("command") or "")
    if handler is None:
        raise HubError(grpc.StatusCode.INTERNAL, f"log entry {log_sequence} has no command")
    with normalisation_rule(entry.normalisation_rule or 1):  # as it was when logged
        return handler(tx, log_sequence, entry, hint)


class _Discard(Exception):
    """Carries an entry's outcome out of the savepoint it is undone with."""

    def __init__(self, applied: Applied) -> None:
        self.applied = applied


def apply_in_savepoint(
    tx: StoreTxn, entry: rec.LogEntry, hint: PreparedBatch | None = None, *, keep: bool = True
) -> Applied:
    """Appends `entry` to the log and applies it inside a savepoint of `tx`. What it wrote is
    kept when `keep` and the entry changed something (`Applied.stored`); otherwise it is undone
    and the outcome says `stored=False`. A refusal (HubError) undoes it too and propagates."""
    try:
        with tx.savepoint() as child:
            sequence = child.append_log(entry)
            applied = apply_entry(child, sequence, entry, hint)
            if not (keep and applied.stored):
                raise _Discard(applied)
    except _Discard as discarded:
        discarded.applied.stored = False
        return discarded.applied
    return applied


def append_and_apply(
    tx: StoreTxn, entry: rec.LogEntry, hint: PreparedBatch | None = None
) -> Applied:
    """Appends `entry` to the log and applies it inside a savepoint of `tx`. When apply refuses
    the entry (HubError) or changes nothing (a replay, a dry run, a tick with nothing due), the
    savepoint is undone and the log is left as it was."""
    return apply_in_savepoint(tx, entry, hint)
