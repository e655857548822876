"""The deterministic write path: `apply_entry(tx, entry)` decides one command-log entry against
the stored state and writes its effects (state tables and feed events).

Apply is a function of the entry and the state alone: no clock (the receive time is in the
entry), no randomness. Replaying the log through it rebuilds the same state and the same feed,
which is what lets subscribers mirror the hub and, later, several nodes share one log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from exchange.errors import HubError, invalid, permission_denied, unauthenticated
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, common_pb2, exchange_pb2

from .store import StoreTxn, StoreView


@dataclass
class Applied:
    """What applying one entry did."""

    response: exchange_pb2.SubmitSignalsResponse | admin_pb2.AddMemberResponse
    stored: bool = True
    """False when the entry changed nothing (a replayed batch): the writer then drops it."""
    pdq_rows: list[tuple[int, bytes]] = field(default_factory=list)
    """(row, 32-byte hash) of PDQ signals this entry added, for the in-memory index."""
    signals: dict[str, int] = field(default_factory=dict)
    """Results by status name, for metrics."""


def parse_batch(payload: bytes) -> common_pb2.SubmissionBatch:
    """Parses an envelope's payload or raises INVALID_ARGUMENT naming `envelope.payload`."""
    try:
        return common_pb2.SubmissionBatch.FromString(payload)
    except DecodeError:
        raise invalid(
            "the envelope's payload is not a SubmissionBatch",
            [("envelope.payload", "not a serialised signalhub.v1.SubmissionBatch")],
        ) from None


def canonical_batch(batch: common_pb2.SubmissionBatch) -> list[domain.CanonicalSignal]:
    """Validates a batch's own fields and every signal; returns the signals in canonical form.
    Raises INVALID_ARGUMENT listing every violation (up to 100), each naming its field."""
    violations: list[tuple[str, str]] = []
    if not batch.batch_id or len(batch.batch_id) > domain.MAX_BATCH_ID_CHARS:
        violations.append(("batch_id", f"1-{domain.MAX_BATCH_ID_CHARS} characters required"))
    if not batch.HasField("created_at"):
        violations.append(("created_at", "required"))
    if not batch.signals:
        violations.append(("signals", "a batch carries at least one signal"))
    if len(batch.signals) > domain.MAX_BATCH_SIGNALS:
        violations.append(
            (
                "signals",
                f"at most {domain.MAX_BATCH_SIGNALS} signals a batch, got {len(batch.signals)}",
            )
        )
    out: list[domain.CanonicalSignal] = []
    if not violations:
        for i, s in enumerate(batch.signals):
            try:
                out.append(domain.canonical_signal(s.type, s.value, s.labels, s.tags))
            except domain.InvalidValue as e:
                name = (
                    "type"
                    if s.type not in domain.SIGNAL_TYPES
                    else ("value" if _bad_value(s) else "labels")
                )
                violations.append((f"signals[{i}].{name}", str(e)))
                if len(violations) >= 100:
                    break
    if violations:
        first = f"{violations[0][0]}: {violations[0][1]}"
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        raise invalid(f"invalid batch: {first}{more}", violations)
    return out


def _bad_value(s: common_pb2.SignalSubmission) -> bool:
    try:
        domain.canonical_value(s.type, s.value)
    except domain.InvalidValue:
        return True
    return False


def check_signer(
    view: StoreView, envelope: common_pb2.SignedEnvelope, batch: common_pb2.SubmissionBatch
) -> rec.KeyRecord:
    """The key must exist and belong to the member the batch names."""
    key = view.key(envelope.key_id)
    if key is None:
        raise unauthenticated(f"unknown key {envelope.key_id!r}", "unknown_key")
    if view.member(batch.member_id) is None:
        raise unauthenticated(f"unknown member {batch.member_id!r}", "unknown_member")
    if key.member_id != batch.member_id:
        raise permission_denied(
            f"key {envelope.key_id} does not belong to member {batch.member_id!r}",
            "key_of_other_member",
        )
    return key


def apply_entry(
    tx: StoreTxn, log_sequence: int, entry: rec.LogEntry, validate_only: bool = False
) -> Applied:
    """Decides one log entry and writes its effects into `tx`. Raises HubError to refuse it;
    the caller then discards everything the entry wrote."""
    which = entry.WhichOneof("command")
    if which == "submit":
        return _apply_submit(tx, log_sequence, entry, validate_only)
    if which == "add_member":
        return _apply_add_member(tx, entry)
    raise HubError(grpc.StatusCode.INTERNAL, f"log entry {log_sequence} has no command")


def _apply_submit(
    tx: StoreTxn, log_sequence: int, entry: rec.LogEntry, validate_only: bool
) -> Applied:
    envelope = entry.submit.envelope
    batch = parse_batch(envelope.payload)
    key = check_signer(tx, envelope, batch)
    signals = canonical_batch(batch)
    digest = domain.batch_content_digest(signals)

    prior = tx.batch(batch.member_id, batch.batch_id)
    if prior is not None:
        if prior.content_digest != digest:
            raise HubError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"batch_id {batch.batch_id!r} was used for different signals",
            )
        response = exchange_pb2.SubmitSignalsResponse()
        response.CopyFrom(prior.response)
        response.replayed = True
        return Applied(response, stored=False)

    skew = abs(entry.received_at.ToMilliseconds() - batch.created_at.ToMilliseconds())
    if skew > domain.REPLAY_WINDOW_SECONDS * 1000:
        raise unauthenticated(
            f"created_at is {skew / 1000:.0f} s away from the hub's clock; the window is "
            f"±{domain.REPLAY_WINDOW_SECONDS} s",
            "stale",
        )

    response = exchange_pb2.SubmitSignalsResponse(batch_id=batch.batch_id)
    applied = Applied(response)
    seen: set[str] = set()
    received: Timestamp = entry.received_at
    for index, signal in enumerate(signals):
        sid = signal.signal_id
        status: int
        if sid in seen:
            status = exchange_pb2.SUBMIT_STATUS_DUPLICATE
        else:
            seen.add(sid)
            status = _record_submission(
                tx, applied, log_sequence, index, signal, batch, key, received
            )
        response.results.add(index=index, signal_id=sid, status=status)
        name = exchange_pb2.SubmitStatus.Name(status).removeprefix("SUBMIT_STATUS_").lower()
        applied.signals[name] = applied.signals.get(name, 0) + 1
    if not validate_only:
        tx.put_batch(
            batch.member_id,
            batch.batch_id,
            rec.BatchRecord(content_digest=digest, response=response),
        )
    return applied


def _record_submission(
    tx: StoreTxn,
    applied: Applied,
    log_sequence: int,
    index: int,
    signal: domain.CanonicalSignal,
    batch: common_pb2.SubmissionBatch,
    key: rec.KeyRecord,
    received: Timestamp,
) -> int:
    """Stores one member's submission of one signal, updates the signal and appends its feed
    event; returns the submit status."""
    sid = signal.signal_id
    record = tx.signal(sid)
    status: int
    if record is None:
        status = exchange_pb2.SUBMIT_STATUS_NEW
        kind = common_pb2.EVENT_KIND_SIGNAL_ADDED
        record = rec.SignalRecord(
            signal=common_pb2.Signal(signal_id=sid, type=signal.type, value=signal.value)
        )
        record.signal.first_seen.CopyFrom(received)
        if domain.SIGNAL_TYPES[signal.type].match is domain.MatchKind.HAMMING:
            row = tx.next_counter("pdq_rows")
            hash32 = bytes.fromhex(signal.value)
            tx.put_pdq_row(row, hash32, sid)
            record.pdq_row = row
            applied.pdq_rows.append((row, hash32))
    else:
        kind = common_pb2.EVENT_KIND_SIGNAL_UPDATED
        status = (
            exchange_pb2.SUBMIT_STATUS_DUPLICATE
            if batch.member_id in record.members
            else exchange_pb2.SUBMIT_STATUS_CORROBORATED
        )
    members = sorted(set(record.members) | {batch.member_id})
    del record.members[:]
    record.members.extend(members)
    sig = record.signal
    labels = sorted(set(sig.labels) | set(signal.labels))
    tags = sorted(set(sig.tags) | set(signal.tags))
    del sig.labels[:]
    sig.labels.extend(labels)
    del sig.tags[:]
    sig.tags.extend(tags)
    sig.corroboration = len(members)
    sig.last_seen.CopyFrom(received)
    tx.put_signal(record)
    tx.put_submission(
        sid,
        rec.SubmissionRecord(
            member_id=batch.member_id,
            key_id=key.key_id,
            batch_id=batch.batch_id,
            index=index,
            labels=signal.labels,
            tags=signal.tags,
            received_at=received,
            log_sequence=log_sequence,
        ),
    )
    sequence = tx.next_counter("feed_seq")
    event = common_pb2.FeedEvent(
        cursor=str(sequence), kind=kind, signal=sig, member_id=batch.member_id, time=received
    )
    tx.put_feed(sequence, event)
    applied.response.cursor = str(sequence)  # type: ignore[union-attr]
    return status


def _apply_add_member(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    command = entry.add_member
    try:
        domain.validate_member_id(command.member_id)
    except domain.InvalidValue as e:
        raise invalid(str(e), [("member_id", str(e))]) from None
    if len(command.public_key) != 32:
        raise invalid(
            "an Ed25519 public key is 32 bytes",
            [("public_key", f"32 bytes required, got {len(command.public_key)}")],
        )
    if tx.member(command.member_id) is not None:
        raise HubError(
            grpc.StatusCode.ALREADY_EXISTS, f"member {command.member_id!r} already exists"
        )
    kid = domain.key_id(command.public_key)
    if tx.key(kid) is not None:
        raise HubError(grpc.StatusCode.ALREADY_EXISTS, f"key {kid} is already registered")
    member = admin_pb2.Member(
        member_id=command.member_id,
        display_name=command.display_name,
        key_ids=[kid],
        created_at=entry.received_at,
    )
    tx.put_member(member)
    tx.put_key(
        rec.KeyRecord(
            key_id=kid,
            member_id=command.member_id,
            public_key=command.public_key,
            created_at=entry.received_at,
        )
    )
    return Applied(admin_pb2.AddMemberResponse(member=member, key_id=kid))
