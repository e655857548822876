"""Finding every copy of a value before a legal erasure (or an offboarding that erases).

An erasure is a log command like any other: apply (exchange/ledger.py, `_apply_erase_signal`)
removes the signal, scrubs its value from the feed and from the log entries that carried it,
and leaves a tombstone. Which log entries carry it is found here first, by a scan of the log
in short read transactions off the writer thread, and recorded in the command, so that apply
stays a deterministic function of the log and the writer is not held for the scan. Entries
appended between the scan and apply are covered too: apply adds the entries of the signal's
current submissions.

A redacted entry keeps the audit chain's hash of its original bytes (`Redaction`), so the chain
and every signed head still verify; `signalhub audit verify` replays redacted entries with the
erased values as placeholders of their recorded ids, and gets the same state. What cannot be
reached from here: copies outside this store (backups, cluster snapshots, the JetStream stream,
members' own copies — their feeds carry the erasure as an event).
"""

from __future__ import annotations

from collections.abc import Callable

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec

from .ledger import parse_batch
from .store import Store

SCAN_CHUNK_ENTRIES = 5_000
"""Log entries (or feed records) read per read transaction (short ones: a long one would pin
the map)."""


def _scan(store: Store, wanted: Callable[[rec.LogEntry], bool]) -> list[int]:
    with store.read() as view:
        last = view.counter("log_seq")
    found: list[int] = []
    for start in range(1, last + 1, SCAN_CHUNK_ENTRIES):
        with store.read() as view:
            for seq in range(start, min(last, start + SCAN_CHUNK_ENTRIES - 1) + 1):
                entry = view.log_entry(seq)
                if entry is not None and entry.WhichOneof("command") == "submit" and wanted(entry):
                    found.append(seq)
    return found


def entries_carrying(store: Store, signal_id: str, type_name: str) -> list[int]:
    """Sequences of the submit entries whose batch carries the signal (in any wire form)."""

    def carries(entry: rec.LogEntry) -> bool:
        batch = parse_batch(entry.submit.envelope.payload)
        for s in batch.signals:
            if s.type != type_name or not s.value:
                continue
            try:
                if domain.signal_id(s.type, domain.canonical_value(s.type, s.value)) == signal_id:
                    return True
            except domain.InvalidValue:
                continue
        return False

    return _scan(store, carries)


def entries_of_member(store: Store, member_id: str) -> list[int]:
    """Sequences of every submit entry of the member."""
    return _scan(store, lambda e: parse_batch(e.submit.envelope.payload).member_id == member_id)


def feed_about(store: Store, signal_ids: set[str]) -> tuple[int, list[int]]:
    """(the feed sequence read up to, sequences of the feed records up to it about one of
    these signals): apply then reads only what came after."""
    with store.read() as view:
        head = view.counter("feed_seq")
    found: list[int] = []
    for start in range(0, head, SCAN_CHUNK_ENTRIES):
        with store.read() as view:
            end = min(head, start + SCAN_CHUNK_ENTRIES)
            found.extend(seq for seq, _ in view.feed_records_of(signal_ids, start, end))
    return head, found


def signals_of_member(store: Store, member_id: str) -> set[str]:
    """Every signal the member's batches carried."""
    with store.read() as view:
        return set(view.member_batch_signals(member_id))
