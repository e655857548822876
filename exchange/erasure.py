"""Finding every copy of a value before a legal erasure (or an offboarding that erases).

An erasure is a log command like any other: apply (exchange/ledger/erasure.py,
`apply_erase_signal`) removes the signal, scrubs its value from the feed and from the log
entries that carried it, and leaves a tombstone. Which log entries carry it is found here
first, by a scan of the log in short read transactions off the writer thread, and recorded in
the command, so that apply stays a deterministic function of the log and the writer is not
held for the scan. Entries
appended between the scan and apply are covered too: apply adds the entries of the signal's
current submissions.

A value can be stored in more than one signal: a PDQ hash is also a retained frame of every
video that has it (each frame has a row of the PDQ table, so PDQ queries match it). Erasing a
PDQ hash therefore erases those videos too, and erasing a video erases the photos equal to one
of its retained frames and the other videos that have one; its frames get tombstones of their
own, so none of them comes back as a photo or in another video. Which signals carry the value
is found here too (`carriers_of`, a scan of the PDQ table) and recorded in the command; apply
checks the rows given after the scan and refuses the erasure (ABORTED, the service retries)
if one of them carries the value, since a replay could not tell (its erased values are
placeholders).

A redacted entry keeps the audit chain's hash of its original bytes (`Redaction`), so the chain
and every signed head still verify; `signalhub audit verify` replays redacted entries with the
erased values as placeholders of their recorded ids, and gets the same state. What cannot be
reached from here: copies outside this store (backups, cluster snapshots, the JetStream stream,
members' own copies — their feeds carry the erasure as an event).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.vpdq_format import vpdq_frames, vpdq_retained

from .auth import parse_batch
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


ERASE_ATTEMPTS = 3
"""Scans and commands tried per erasure: apply refuses one whose scan was overtaken."""

PDQ_SCAN_CHUNK_ROWS = 100_000
"""PDQ table rows read per read transaction by `carriers_of`."""


def erase_command(store: Store, signal_id: str, reason: str) -> rec.EraseSignalCommand:
    """The erasure of a signal with what apply needs found first: the other signals carrying
    its value, the log entries and the feed records about any of them. A signal not stored
    (or not a signal id) gets no scan: apply answers NOT_FOUND, or that it is already erased."""
    command = rec.EraseSignalCommand(signal_id=signal_id, reason=reason, carriers_scanned=True)
    if not domain.is_signal_id(signal_id):
        return command
    with store.read() as view:
        record = view.signal(signal_id)
    if record is None:
        return command
    command.scanned_type = record.signal.type
    frame_ids, carriers, command.pdq_rows_scanned_to = carriers_of(store, record)
    command.frame_ids.extend(frame_ids)
    command.carrier_ids.extend(carriers)
    types = {record.signal.type} | ({"pdq", "vpdq"} if carriers else set())
    command.log_sequences.extend(entries_carrying_any(store, {signal_id, *carriers}, types))
    command.feed_scanned_to, feed = feed_about(store, {signal_id, *carriers})
    command.feed_sequences.extend(feed)
    return command


def pdq_hashes_of(record: rec.SignalRecord) -> list[str]:
    """The PDQ hashes a stored signal has rows of: a photo's own, a video's retained frames."""
    if record.signal.type == "pdq":
        return [record.signal.value]
    if record.signal.type == "vpdq" and record.signal.value:
        return [f.pdq for f in vpdq_retained(vpdq_frames(record.signal.value))]
    return []


def carriers_of(store: Store, record: rec.SignalRecord) -> tuple[list[str], list[str], int]:
    """(PDQ ids of the video's retained frames, the other signals with a PDQ row of one of the
    signal's hashes, the PDQ row counter the scan read up to)."""
    hashes = pdq_hashes_of(record)
    own = record.signal.signal_id
    frame_ids = [domain.signal_id("pdq", h) for h in hashes] if record.signal.type == "vpdq" else []
    with store.read() as view:
        last = view.counter("pdq_rows")
    if not hashes:
        return frame_ids, [], last
    wanted = {bytes.fromhex(h) for h in hashes}
    # The first 8 bytes of a hash pick candidates with numpy; candidates are checked in full.
    prefixes = np.array([int.from_bytes(h[:8], "little") for h in wanted], dtype=np.uint64)
    found: set[str] = set()
    after = 0
    while after < last:
        with store.read() as view:
            rows, packed = view.pdq_rows_after(after, PDQ_SCAN_CHUNK_ROWS)
        if not len(rows):
            break
        first = np.ascontiguousarray(packed[:, :8]).view("<u8").ravel()
        for i in np.flatnonzero(np.isin(first, prefixes) & (rows <= last)):
            if bytes(packed[i, :32]) in wanted:
                found.add(bytes(packed[i, 32:48]).hex())
        after = int(rows[-1])
    found.discard(own)
    return frame_ids, sorted(found), last


def entries_carrying(store: Store, signal_id: str, type_name: str) -> list[int]:
    """Sequences of the submit entries whose batch carries the signal (in any wire form)."""
    return entries_carrying_any(store, {signal_id}, {type_name})


def entries_carrying_any(store: Store, signal_ids: set[str], types: set[str]) -> list[int]:
    """Sequences of the submit entries whose batch carries one of the signals (of these types),
    in any wire form."""

    def carries(entry: rec.LogEntry) -> bool:
        batch = parse_batch(entry.submit.envelope.payload)
        for s in batch.signals:
            if s.type not in types or not s.value:
                continue
            try:
                if domain.signal_id(s.type, domain.canonical_value(s.type, s.value)) in signal_ids:
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
