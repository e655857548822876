"""Legal erasure's apply: the signal and the signals carrying its value removed with an ERASED
event, the value scrubbed from the log entries (which keep their audit hash) and the feed,
and tombstones left so the value is refused for good. The service-side command that scans for
carriers and builds the entry is exchange/erasure.py."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from exchange.errors import HubError, invalid
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, exchange_pb2

from ..auth import parse_batch
from ..store import StoreTxn, StoreView
from .common import MAX_REASON_CHARS, Applied, Removed, remove_submissions
from .decisions import erased_signal_ids


def _check_carrier_scan(
    tx: StoreView, command: rec.EraseSignalCommand, record: rec.SignalRecord
) -> None:
    """Refuses (ABORTED: the service scans again) an erasure whose scan for other signals
    carrying the value was overtaken: the signal stored after the scan looked, or a carrier
    given a PDQ row after the rows it read. A replay sees placeholder rows (no value) for
    signals erased later and skips them; it passes wherever the live apply did."""
    sid = record.signal.signal_id
    if record.signal.type not in ("pdq", "vpdq"):
        return
    if command.scanned_type != record.signal.type:
        raise HubError(
            grpc.StatusCode.ABORTED,
            f"signal {sid} was stored while its erasure was prepared; retry",
        )
    wanted = {sid, *command.frame_ids}
    listed = {sid, *command.carrier_ids}
    rows, packed = tx.pdq_rows_after(command.pdq_rows_scanned_to, 1 << 62)
    for i in range(len(rows)):
        owner = bytes(packed[i, 32:48]).hex()
        if owner in listed or domain.signal_id("pdq", bytes(packed[i, :32]).hex()) not in wanted:
            continue
        found = tx.signal(owner)
        if found is not None and found.signal.value:
            raise HubError(
                grpc.StatusCode.ABORTED,
                f"signal {owner}, which carries a value of "
                f"{sid}, was stored while the erasure was prepared; retry",
            )


def apply_erase_signal(tx: StoreTxn, log_sequence: int, entry: rec.LogEntry) -> Applied:
    """Erases a signal on legal request, with the signals its scan found carrying its value
    (see the module's docstring)."""
    command = entry.erase_signal
    sid = command.signal_id
    record = _erasable(tx, command)
    response = admin_pb2.EraseSignalResponse()
    applied = Applied(response)
    # The signals that carry (part of) its value, as the scan found them: erased with it.
    removed = {sid: Removed(record, tx.submissions(sid))}
    for carrier in erased_signal_ids(command)[1:]:
        found = tx.signal(carrier)
        if found is not None:  # else removed since the scan
            removed[carrier] = Removed(found, tx.submissions(carrier))
    for gone_id, gone in removed.items():
        remove_submissions(
            tx, applied, gone_id, gone.submissions, [], "", entry.received_at, erased=True
        )
    why = f"shares a PDQ hash (a video frame) with erased signal {sid}: {command.reason}"
    tombstones, response.log_entries_redacted, response.feed_events_scrubbed = erase_removed(
        tx,
        removed,
        command.reason,
        command,
        entry.received_at,
        log_sequence,
        reasons={c: why for c in removed if c != sid},
    )
    for tombstone in tombstones:
        if tombstone.signal_id == sid:
            response.tombstone.CopyFrom(tombstone)
        else:
            response.also_erased.add().CopyFrom(tombstone)
    # A video's retained frames are refused for good too, as photos and in other videos.
    for frame_id in sorted(set(command.frame_ids) - set(removed)):
        if tx.erased(frame_id) is None:
            tx.put_erased(
                admin_pb2.ErasedSignal(
                    signal_id=frame_id,
                    type="pdq",
                    erased_at=entry.received_at,
                    reason=f"a retained frame of erased signal {sid}: {command.reason}",
                )
            )
    return applied


def _erasable(tx: StoreTxn, command: rec.EraseSignalCommand) -> rec.SignalRecord:
    """The stored record of the signal `command` erases; raises when the command is malformed,
    the signal is already erased or unknown, or its carrier scan does not hold."""
    sid = command.signal_id
    if not domain.is_signal_id(sid):
        raise invalid("a signal id is 32 lowercase hex digits", [("signal_id", "not a signal id")])
    if not command.reason.strip() or len(command.reason) > MAX_REASON_CHARS:
        raise invalid(
            f"say why, in 1-{MAX_REASON_CHARS} characters (e.g. the legal request's reference)",
            [("reason", f"required, at most {MAX_REASON_CHARS} characters")],
        )
    if tx.erased(sid) is not None:
        raise HubError(grpc.StatusCode.FAILED_PRECONDITION, f"signal {sid} is already erased")
    record = tx.signal(sid)
    if record is None:
        raise HubError(grpc.StatusCode.NOT_FOUND, f"no signal {sid}")
    if command.carriers_scanned:
        _check_carrier_scan(tx, command, record)
    return record


def erase_removed(
    tx: StoreTxn,
    removed: dict[str, Removed],
    reason: str,
    scan: rec.EraseSignalCommand | rec.RemoveMemberCommand,
    when: Timestamp,
    log_sequence: int,
    reasons: Mapping[str, str] | None = None,
) -> tuple[list[admin_pb2.ErasedSignal], int, int]:
    """Scrubs removed signals' values out of the log entries that carried them (which keep
    their audit hash) and out of the feed, and leaves their tombstones. `scan`: what a scan
    found before the command was appended (log entries carrying them besides those of their
    last submissions; feed records about them up to a sequence, after which apply reads the
    feed itself). `reasons`: a tombstone's own reason, for some of them. Returns the
    tombstones, the entries redacted and the feed records scrubbed."""
    sequences = set(scan.log_sequences)
    for gone in removed.values():
        sequences.update(s.log_sequence for s in gone.submissions)
    rows = {sid: _rows_of(gone.record) for sid, gone in removed.items()}
    redacted = 0
    for seq in sorted(sequences):
        logged = tx.log_entry(seq)
        if logged is None or logged.WhichOneof("command") != "submit":
            continue
        if _redact(tx, logged, rows, log_sequence):
            tx.redact_log_entry(seq, logged)
            redacted += 1
    scrubbed = 0
    scanned = [(seq, tx.feed_record(seq)) for seq in scan.feed_sequences]
    about = [
        (seq, feed)
        for seq, feed in scanned
        if feed is not None and feed.event.signal.signal_id in removed
    ] + tx.feed_records_of(set(removed), after=scan.feed_scanned_to)
    for seq, feed in about:
        if feed.event.signal.value:
            feed.event.signal.value = ""
            tx.replace_feed(seq, feed)
            scrubbed += 1
    for key, request in tx.opinion_answers_of(set(removed)):
        answer = exchange_pb2.SetOpinionResponse.FromString(request.response)
        if answer.signal.signal_id in removed and answer.signal.value:
            answer.signal.value = ""
            request.response = answer.SerializeToString()
            tx.replace_request(key, request)
    tombstones = []
    for sid in sorted(removed):
        tombstone = admin_pb2.ErasedSignal(
            signal_id=sid,
            type=removed[sid].record.signal.type,
            reason=(reasons or {}).get(sid, reason),
            erased_at=when,
        )
        tx.put_erased(tombstone)
        tombstones.append(tombstone)
    return tombstones, redacted, scrubbed


def _rows_of(record: rec.SignalRecord) -> int:
    """How many PDQ-table rows the signal got when it was created."""
    return len(record.frame_rows) + (1 if record.pdq_row else 0)


def _redact(tx: StoreView, entry: rec.LogEntry, rows: Mapping[str, int], erased_by: int) -> bool:
    """Blanks, in a submit entry (in place), every value that is one of the signals in `rows`
    (signal id -> its PDQ rows); False when it carries none of them."""
    envelope = entry.submit.envelope
    batch = parse_batch(envelope.payload)
    already = {r.index for r in entry.redaction.signals} if entry.HasField("redaction") else set()
    hits: list[tuple[int, str]] = []
    for i, s in enumerate(batch.signals):
        if i in already:
            continue
        try:
            sid = domain.signal_id(s.type, domain.canonical_value(s.type, s.value))
        except domain.InvalidValue:
            continue
        if sid in rows:
            hits.append((i, sid))
    if not hits:
        return False
    if not entry.HasField("redaction"):
        stored = tx.batch(batch.member_id, batch.batch_id)
        entry.redaction.original_entry_hash = hashlib.sha256(entry.SerializeToString()).digest()
        entry.redaction.content_digest = stored.content_digest if stored else b""
    entry.redaction.erased_by = erased_by
    first: set[str] = set()
    for i, sid in hits:
        batch.signals[i].value = ""
        # Rows are made when a signal is created: by its first copy in a batch, if any.
        entry.redaction.signals.add(
            index=i,
            signal_id=sid,
            type=batch.signals[i].type,
            pdq_rows=0 if sid in first else rows[sid],
        )
        first.add(sid)
    envelope.payload = batch.SerializeToString()
    return True
