"""The deterministic write path: `apply_entry(tx, entry)` decides one command-log entry against
the stored state and writes its effects (state tables and feed events).

Apply is a function of the entry and the state alone: no clock (the receive time is in the
entry), no randomness. Replaying the log through it rebuilds the same state and the same feed,
which is what lets subscribers mirror the hub and, later, several nodes share one log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from exchange.errors import HubError, invalid, permission_denied, unauthenticated
from signalhub import domain
from signalhub.signal_types import normalisation_rule, vpdq_frames, vpdq_retained
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, common_pb2, exchange_pb2

from .contact import contact_violations, is_empty
from .store import StoreTxn, StoreView, submission_key
from .visibility import Viewer, count_opinion, merge_verdicts, signal_view

M = TypeVar("M", bound=Message)


@dataclass
class Applied:
    """What applying one entry did."""

    response: Message
    stored: bool = True
    """False when the entry changed nothing (a replayed batch): the writer then drops it."""
    pdq_rows: list[tuple[int, bytes]] = field(default_factory=list)
    """(row, 32-byte hash) of PDQ signals this entry added, for the in-memory index."""
    pdq_removed: list[int] = field(default_factory=list)
    """Rows of PDQ signals this entry removed."""
    typed_added: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, signal_id, value) of signals of index-matched types (plug-ins) it added."""
    typed_removed: list[tuple[str, str]] = field(default_factory=list)
    """(type, signal_id) of those it removed."""
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


@dataclass(frozen=True)
class PreparedBatch:
    """What validating a submission's payload yields: a pure function of the payload, so the
    writer may reuse the precheck's work instead of repeating it (apply stays deterministic:
    without a hint it computes exactly this)."""

    payload: bytes
    batch: common_pb2.SubmissionBatch
    signals: list[domain.CanonicalSignal]
    digest: bytes

    @classmethod
    def of(cls, payload: bytes, batch: common_pb2.SubmissionBatch | None = None) -> PreparedBatch:
        batch = parse_batch(payload) if batch is None else batch
        signals = canonical_batch(batch)
        digest = domain.batch_content_digest(signals, batch.audience, batch.urgent)
        return cls(payload, batch, signals, digest)


def canonical_batch(
    batch: common_pb2.SubmissionBatch, erased: Mapping[int, rec.RedactedSignal] | None = None
) -> list[domain.CanonicalSignal]:
    """Validates a batch's own fields and every signal; returns the signals in canonical form.
    Raises INVALID_ARGUMENT listing every violation (up to 100), each naming its field.
    `erased`: positions of a redacted batch whose value an erasure scrubbed (replay only):
    they stand for their recorded signal id, with an empty value."""
    violations: list[tuple[str, str]] = []
    if not batch.batch_id or len(batch.batch_id.encode()) > domain.MAX_BATCH_ID_CHARS:
        violations.append(("batch_id", f"1-{domain.MAX_BATCH_ID_CHARS} bytes of UTF-8 required"))
    if not batch.HasField("created_at"):
        violations.append(("created_at", "required"))
    elif not valid_time(batch.created_at):
        violations.append(("created_at", "not a valid time"))
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
            if s.HasField("expires_at") and not valid_time(s.expires_at):
                violations.append((f"signals[{i}].expires_at", "not a valid time"))
                continue
            if erased and i in erased:
                out.append(_erased_placeholder(s, erased[i]))
                continue
            try:
                out.append(
                    domain.canonical_signal(
                        s.type,
                        s.value,
                        s.labels,
                        s.tags,
                        industry=s.industry,
                        confidence=s.confidence,
                        expires_at_ms=_millis(s.expires_at) if s.HasField("expires_at") else 0,
                        verdict=domain.validate_verdict(
                            s.classifier.classifier,
                            s.classifier.score,
                            s.classifier.human_reviewed,
                        )
                        if s.HasField("classifier")
                        else None,
                        incident=s.incident,
                    )
                )
            except domain.InvalidValue as e:
                name = e.field if isinstance(e, domain.InvalidFieldValue) else "value"
                violations.append((f"signals[{i}].{name}", str(e)))
                if len(violations) >= 100:
                    break
    if violations:
        first = f"{violations[0][0]}: {violations[0][1]}"
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        raise invalid(f"invalid batch: {first}{more}", violations)
    return out


def _erased_placeholder(
    s: common_pb2.SignalSubmission, erased: rec.RedactedSignal
) -> domain.CanonicalSignal:
    """A redacted batch's erased signal, as replay applies it: its recorded id, no value."""
    out = domain.CanonicalSignal(
        erased.type, "", tuple(sorted(set(s.labels))), tuple(sorted({t.strip() for t in s.tags})),
        s.industry, s.confidence, _millis(s.expires_at) if s.HasField("expires_at") else 0,
        None, s.incident,
    )  # fmt: skip
    object.__setattr__(out, "signal_id", erased.signal_id)
    return out


MAX_TIMESTAMP_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z, protobuf's upper bound


def valid_time(ts: Timestamp) -> bool:
    """A time protobuf can represent, from 1970 on."""
    return 0 <= ts.seconds <= MAX_TIMESTAMP_SECONDS and 0 <= ts.nanos < 1_000_000_000


def _millis(ts: Timestamp) -> int:
    return int(ts.ToMilliseconds())


def check_key(view: StoreView, member_id: str, key_id: str) -> rec.KeyRecord:
    """The key must exist, be valid, and belong to `member_id`, who must be active."""
    key = view.key(key_id)
    if key is None:
        raise unauthenticated(f"unknown key {key_id!r}", "unknown_key")
    member = view.member(member_id)
    if member is None:
        raise unauthenticated(f"unknown member {member_id!r}", "unknown_member")
    if key.member_id != member_id:
        raise permission_denied(
            f"key {key_id} does not belong to member {member_id!r}", "key_of_other_member"
        )
    if key.HasField("revoked_at"):
        raise unauthenticated(f"key {key_id} was revoked", "revoked_key")
    if member.HasField("removed_at"):
        raise permission_denied(f"member {member_id!r} was removed", "removed_member")
    if member.suspended:
        raise permission_denied(f"member {member_id!r} is suspended", "suspended_member")
    return key


def check_signer(
    view: StoreView, envelope: common_pb2.SignedEnvelope, batch: common_pb2.SubmissionBatch
) -> rec.KeyRecord:
    """The envelope's key must be valid and belong to the (active) member the batch names."""
    return check_key(view, batch.member_id, envelope.key_id)


def append_and_apply(
    tx: StoreTxn, entry: rec.LogEntry, hint: PreparedBatch | None = None
) -> Applied:
    """Appends `entry` to the log and applies it inside a savepoint of `tx`. When apply refuses
    the entry (HubError) or changes nothing (a replay, a dry run, a tick with nothing due), the
    savepoint is undone and the log is left as it was."""
    try:
        with tx.savepoint() as child:
            sequence = child.append_log(entry)
            applied = apply_entry(child, sequence, entry, hint)
            if not applied.stored:
                raise _Discard(applied)
    except _Discard as discarded:
        return discarded.applied
    return applied


class _Discard(Exception):
    def __init__(self, applied: Applied) -> None:
        self.applied = applied


def apply_entry(
    tx: StoreTxn, log_sequence: int, entry: rec.LogEntry, hint: PreparedBatch | None = None
) -> Applied:
    """Decides one log entry and writes its effects into `tx`. Raises HubError to refuse it;
    the caller then discards everything the entry wrote. `hint` is the precheck's validation
    of a submission's payload, used only when it is of this very payload."""
    with normalisation_rule(entry.normalisation_rule or 1):  # as it was when logged
        return _apply_command(tx, log_sequence, entry, hint)


def _apply_command(
    tx: StoreTxn, log_sequence: int, entry: rec.LogEntry, hint: PreparedBatch | None
) -> Applied:
    which = entry.WhichOneof("command")
    if which == "submit":
        return _apply_submit(tx, log_sequence, entry, hint)
    if which == "add_member":
        return _apply_add_member(tx, entry)
    if which == "add_key":
        return _apply_add_key(tx, entry)
    if which == "revoke_key":
        return _apply_revoke_key(tx, entry)
    if which == "set_member_suspended":
        return _apply_set_suspended(tx, entry)
    if which == "add_group_members":
        return _apply_group_members(tx, entry, entry.add_group_members, adding=True)
    if which == "remove_group_members":
        return _apply_group_members(tx, entry, entry.remove_group_members, adding=False)
    if which == "set_opinion":
        return _apply_opinion(tx, entry)
    if which == "retract":
        return _apply_retract(tx, entry)
    if which == "expire_tick":
        return _apply_expire_tick(tx, entry)
    if which == "remove_member":
        return _apply_remove_member(tx, log_sequence, entry)
    if which == "erase_signal":
        return _apply_erase_signal(tx, log_sequence, entry)
    if which == "set_member_contact":
        return _apply_set_member_contact(tx, entry)
    raise HubError(grpc.StatusCode.INTERNAL, f"log entry {log_sequence} has no command")


def _check_audience(tx: StoreView, batch: common_pb2.SubmissionBatch) -> list[str]:
    """The batch's audience, sorted: groups the submitter belongs to."""
    member = tx.member(batch.member_id)
    mine = set(member.group_ids) if member else set()
    violations = [
        (f"audience[{i}]", f"{g!r} is not a privacy group you belong to")
        for i, g in enumerate(batch.audience)
        if g not in mine
    ]
    if violations:
        raise invalid(f"invalid audience: {violations[0][1]}", violations)
    return sorted(set(batch.audience))


def _apply_submit(
    tx: StoreTxn, log_sequence: int, entry: rec.LogEntry, hint: PreparedBatch | None
) -> Applied:
    envelope = entry.submit.envelope
    usable = hint is not None and hint.payload == envelope.payload
    batch = hint.batch if hint is not None and usable else parse_batch(envelope.payload)
    key = check_signer(tx, envelope, batch)
    erased: dict[int, rec.RedactedSignal] = {}
    if entry.HasField("redaction"):  # replaying an entry an erasure scrubbed
        erased = {r.index: r for r in entry.redaction.signals}
        signals = canonical_batch(batch, erased)
        digest = entry.redaction.content_digest
    else:
        if hint is None or not usable:
            hint = PreparedBatch.of(envelope.payload, batch)
        signals, digest = hint.signals, hint.digest
    audience = _check_audience(tx, batch)
    if tx.entries("erased"):
        refused = [
            (f"signals[{i}].value", "this signal was erased on legal request")
            for i, signal in enumerate(signals)
            if i not in erased and _carries_erased(tx, signal)
        ]
        if refused:
            raise invalid(f"invalid batch: {refused[0][0]}: {refused[0][1]}", refused)

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

    _check_window(entry, batch.created_at)

    response = exchange_pb2.SubmitSignalsResponse(batch_id=batch.batch_id)
    applied = Applied(response)
    seen: set[str] = set()
    submitter = Viewer.load(tx, batch.member_id)
    # What every submission and event of this batch shares, built once and copied per signal.
    base = rec.SubmissionRecord(
        member_id=batch.member_id,
        key_id=key.key_id,
        batch_id=batch.batch_id,
        received_at=entry.received_at,
        log_sequence=log_sequence,
        audience=audience,
        urgent=batch.urgent,
    )
    feed_base = rec.FeedRecord(audience=audience, log_sequence=log_sequence)
    feed_base.event.member_id = batch.member_id
    feed_base.event.urgent = batch.urgent
    feed_base.event.time.CopyFrom(entry.received_at)
    received_ms = _millis(entry.received_at)
    results = response.results
    counts = applied.signals
    for index, signal in enumerate(signals):
        sid = signal.signal_id
        status: int
        if sid in seen:
            status = exchange_pb2.SUBMIT_STATUS_DUPLICATE
        else:
            seen.add(sid)
            submission = rec.SubmissionRecord()
            submission.CopyFrom(base)
            submission.index = index
            if signal.labels:
                submission.labels.extend(signal.labels)
            if signal.tags:
                submission.tags.extend(signal.tags)
            if signal.industry:
                submission.industry = signal.industry
            if signal.confidence:
                submission.confidence = signal.confidence
            if signal.verdict is not None:
                v = signal.verdict
                submission.classifier.classifier = v.classifier
                submission.classifier.score = v.score
                submission.classifier.human_reviewed = v.human_reviewed
            if signal.expires_at_ms:
                if signal.expires_at_ms <= received_ms:
                    raise invalid(
                        f"signals[{index}].expires_at is in the past",
                        [(f"signals[{index}].expires_at", "must be in the future")],
                    )
                submission.expires_at.FromMilliseconds(signal.expires_at_ms)
            if signal.incident:
                submission.incident = signal.incident
            status = _record_submission(
                tx, applied, signal, submission, submitter, feed_base, erased.get(index)
            )
        results.add(index=index, signal_id=sid, status=status)
        name = _STATUS_NAMES[status]
        counts[name] = counts.get(name, 0) + 1
    if batch.validate_only:
        applied.stored = False  # a dry run: answered, then undone
        response.cursor = ""  # of events that were never stored: it would count others
    else:
        tx.put_batch(
            batch.member_id,
            batch.batch_id,
            rec.BatchRecord(content_digest=digest, response=response),
        )
    return applied


_STATUS_NAMES = {
    value: name.removeprefix("SUBMIT_STATUS_").lower()
    for name, value in exchange_pb2.SubmitStatus.items()
}


def _record_submission(
    tx: StoreTxn,
    applied: Applied,
    signal: domain.CanonicalSignal,
    submission: rec.SubmissionRecord,
    submitter: Viewer,
    feed_base: rec.FeedRecord,
    erased: rec.RedactedSignal | None = None,
) -> int:
    """Stores one member's submission of one signal, updates the signal and appends its feed
    event (a copy of `feed_base`, which carries the batch's member, time and audience);
    returns the submit status as the submitter may know it (a signal it cannot see counts as
    new to it). `erased`: replaying a value an erasure scrubbed (rows are placeholders, which
    that erasure deletes again)."""
    sid = signal.signal_id
    record = tx.signal(sid)
    if record is None:  # the common case at ingest: a signal never seen
        status = exchange_pb2.SUBMIT_STATUS_NEW
        kind = common_pb2.EVENT_KIND_SIGNAL_ADDED
        record = rec.SignalRecord(members=[submission.member_id])
        sig = record.signal
        sig.signal_id = sid
        sig.type = signal.type
        sig.value = signal.value
        if signal.labels:
            sig.labels.extend(signal.labels)
        if signal.tags:
            sig.tags.extend(signal.tags)
        sig.corroboration = 1
        if submission.HasField("classifier"):
            sig.classifiers.append(submission.classifier)
        sig.first_seen.CopyFrom(submission.received_at)
        sig.last_seen.CopyFrom(submission.received_at)
        spec = domain.SIGNAL_TYPES[signal.type]
        how = spec.match
        if erased is not None:
            for _ in range(erased.pdq_rows):
                row = tx.next_counter("pdq_rows")
                tx.put_pdq_row(row, bytes(32), sid)
                if how is domain.MatchKind.VIDEO:
                    record.frame_rows.append(row)
                else:
                    record.pdq_row = row
            if spec.indexed or spec.replaceable_matching:
                tx.put_typed(signal.type, sid, "")
        elif spec.indexed or spec.replaceable_matching:
            # Filed by type, so a type's own index (or one plugged in later) loads it.
            tx.put_typed(signal.type, sid, signal.value)
            applied.typed_added.append((signal.type, sid, signal.value))
        elif how is domain.MatchKind.HAMMING:
            row = tx.next_counter("pdq_rows")
            hash32 = bytes.fromhex(signal.value)
            tx.put_pdq_row(row, hash32, sid)
            record.pdq_row = row
            applied.pdq_rows.append((row, hash32))
        elif how is domain.MatchKind.VIDEO:
            # Every retained frame gets a row of the PDQ table, so one index serves images and
            # videos: a frame row names its video.
            for frame in vpdq_retained(vpdq_frames(signal.value)):
                row = tx.next_counter("pdq_rows")
                hash32 = bytes.fromhex(frame.pdq)
                tx.put_pdq_row(row, hash32, sid)
                record.frame_rows.append(row)
                applied.pdq_rows.append((row, hash32))
    else:
        known_to_submitter = [
            s for s in tx.submissions(sid) if submitter.sees(s.member_id, s.audience)
        ]
        if not known_to_submitter:
            status = exchange_pb2.SUBMIT_STATUS_NEW
            kind = common_pb2.EVENT_KIND_SIGNAL_ADDED
        elif any(s.member_id == submission.member_id for s in known_to_submitter):
            status = exchange_pb2.SUBMIT_STATUS_DUPLICATE
            kind = common_pb2.EVENT_KIND_SIGNAL_UPDATED
        else:
            status = exchange_pb2.SUBMIT_STATUS_CORROBORATED
            kind = common_pb2.EVENT_KIND_SIGNAL_UPDATED
        members = sorted(set(record.members) | {submission.member_id})
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
        sig.last_seen.CopyFrom(submission.received_at)
        if submission.HasField("classifier"):
            merged = merge_verdicts([*sig.classifiers, submission.classifier])
            del sig.classifiers[:]
            sig.classifiers.extend(merged)
    if submission.audience:
        record.restricted = True
        for group in submission.audience:
            tx.link_group_signal(group, sid)
    if submission.incident:
        tx.link_incident(submission.member_id, submission.incident, sid)
    tx.put_signal(record)
    tx.put_submission(sid, submission)
    sequence = tx.next_counter("feed_seq")
    # The event names the signal only: readers compute each caller's view when they read.
    feed = rec.FeedRecord()
    feed.CopyFrom(feed_base)
    event = feed.event
    event.cursor = str(sequence)
    event.kind = kind
    bare = event.signal
    bare.signal_id = sid
    bare.type = signal.type
    bare.value = signal.value
    tx.put_feed(sequence, feed)
    applied.response.cursor = event.cursor  # type: ignore[attr-defined]
    return status


def _new_key(tx: StoreTxn, member_id: str, public_key: bytes, when: Timestamp) -> str:
    if len(public_key) != 32:
        raise invalid(
            "an Ed25519 public key is 32 bytes",
            [("public_key", f"32 bytes required, got {len(public_key)}")],
        )
    kid = domain.key_id(public_key)
    if tx.key(kid) is not None:
        raise HubError(grpc.StatusCode.ALREADY_EXISTS, f"key {kid} is already registered")
    tx.put_key(
        rec.KeyRecord(key_id=kid, member_id=member_id, public_key=public_key, created_at=when)
    )
    return kid


def _existing_member(tx: StoreView, member_id: str, field: str = "member_id") -> admin_pb2.Member:
    member = tx.member(member_id)
    if member is None:
        raise HubError(grpc.StatusCode.NOT_FOUND, f"no member {member_id!r}")
    return member


def _apply_add_member(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    command = entry.add_member
    try:
        domain.validate_member_id(command.member_id)
    except domain.InvalidValue as e:
        raise invalid(str(e), [("member_id", str(e))]) from None
    _check_contact(command.contact)
    if tx.member(command.member_id) is not None:
        raise HubError(
            grpc.StatusCode.ALREADY_EXISTS, f"member {command.member_id!r} already exists"
        )
    kid = _new_key(tx, command.member_id, command.public_key, entry.received_at)
    member = admin_pb2.Member(
        member_id=command.member_id,
        display_name=command.display_name,
        key_ids=[kid],
        created_at=entry.received_at,
    )
    if not is_empty(command.contact):
        member.contact.CopyFrom(command.contact)
    tx.put_member(member)
    return Applied(admin_pb2.AddMemberResponse(member=member, key_id=kid))


def _apply_add_key(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    command = entry.add_key
    member = _existing_member(tx, command.member_id)
    kid = _new_key(tx, command.member_id, command.public_key, entry.received_at)
    member.key_ids.append(kid)
    tx.put_member(member)
    return Applied(admin_pb2.AddKeyResponse(key_id=kid))


def _apply_revoke_key(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    command = entry.revoke_key
    _existing_member(tx, command.member_id)
    key = tx.key(command.key_id)
    if key is None or key.member_id != command.member_id:
        raise HubError(
            grpc.StatusCode.NOT_FOUND,
            f"member {command.member_id!r} has no key {command.key_id!r}",
        )
    compromised = command.HasField("compromised_since")
    if key.HasField("revoked_at"):
        if not compromised:  # a compromise found later still retracts what the key signed
            raise HubError(
                grpc.StatusCode.FAILED_PRECONDITION, f"key {key.key_id} is already revoked"
            )
    else:
        key.revoked_at.CopyFrom(entry.received_at)
        tx.put_key(key)
    response = admin_pb2.RevokeKeyResponse(key=key_message(key))
    applied = Applied(response)
    if compromised:
        since_ms = _millis(command.compromised_since)
        key_id = key.key_id
        response.retracted_submissions, gone = _retract_where(
            tx,
            applied,
            command.member_id,
            lambda s: s.key_id == key_id and _millis(s.received_at) >= since_ms,
            entry.received_at,
        )
        response.removed_signals = len(gone)
    return applied


def _retract_where(
    tx: StoreTxn,
    applied: Applied,
    member_id: str,
    chosen: Callable[[rec.SubmissionRecord], bool],
    when: Timestamp,
) -> tuple[int, dict[str, _Removed]]:
    """Retracts the member's submissions for which `chosen` is true, as its own retraction
    would (feed events, signals left with none removed). Returns how many, and the signals
    removed (with their record and submissions as they were, for an erasure to follow)."""
    retracted = 0
    removed: dict[str, _Removed] = {}
    for sid in tx.member_batch_signals(member_id):
        subs = tx.submissions(sid)
        mine = [s for s in subs if s.member_id == member_id and chosen(s)]
        if not mine:
            continue
        keys = {submission_key(sid, s) for s in mine}
        rest = [s for s in subs if submission_key(sid, s) not in keys]
        record = tx.signal(sid)
        retracted += len(mine)
        if _remove_submissions(tx, applied, sid, mine, rest, member_id, when) and record:
            removed[sid] = _Removed(record, subs)
    return retracted, removed


@dataclass(frozen=True)
class _Removed:
    """A signal as it was just before its last submission went."""

    record: rec.SignalRecord
    submissions: list[rec.SubmissionRecord]


def key_message(key: rec.KeyRecord) -> admin_pb2.Key:
    out = admin_pb2.Key(
        key_id=key.key_id,
        member_id=key.member_id,
        public_key=key.public_key,
        created_at=key.created_at,
    )
    if key.HasField("revoked_at"):
        out.revoked_at.CopyFrom(key.revoked_at)
    return out


def _apply_set_suspended(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    command = entry.set_member_suspended
    member = _existing_member(tx, command.member_id)
    member.suspended = command.suspended
    tx.put_member(member)
    return Applied(admin_pb2.SetMemberSuspendedResponse(member=member))


def _check_contact(contact: admin_pb2.MemberContact) -> None:
    violations = contact_violations(contact)
    if violations:
        raise invalid(f"invalid {violations[0][0]}: {violations[0][1]}", violations)


def _apply_set_member_contact(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Replaces a member's contact details (all empty: removes them)."""
    command = entry.set_member_contact
    _check_contact(command.contact)
    member = _existing_member(tx, command.member_id)
    if is_empty(command.contact):
        member.ClearField("contact")
    else:
        member.contact.CopyFrom(command.contact)
    tx.put_member(member)
    return Applied(admin_pb2.SetMemberContactResponse(member=member))


def _apply_group_members(
    tx: StoreTxn, entry: rec.LogEntry, command: rec.GroupMembersCommand, adding: bool
) -> Applied:
    """Changes a group's membership and tells each affected member's feed which signals it
    gained or lost sight of."""
    try:
        domain.validate_member_id(command.group_id)
    except domain.InvalidValue as e:
        message = str(e).replace("member id", "group id")
        raise invalid(message, [("group_id", message)]) from None
    group = tx.group(command.group_id)
    if group is None:
        if not adding:
            raise HubError(grpc.StatusCode.NOT_FOUND, f"no privacy group {command.group_id!r}")
        group = admin_pb2.PrivacyGroup(group_id=command.group_id)
    violations = [
        (f"member_ids[{i}]", f"no member {m!r}")
        for i, m in enumerate(command.member_ids)
        if tx.member(m) is None
    ]
    if violations:
        raise invalid(f"invalid members: {violations[0][1]}", violations)
    current = set(group.member_ids)
    named = set(command.member_ids)
    leaving = (named & current) if named else current
    changed = sorted(named - current) if adding else sorted(leaving)
    after = current | named if adding else current - leaving
    signals = tx.group_signals(command.group_id)
    for member_id in changed:
        member = tx.member(member_id)
        assert member is not None
        before_viewer = Viewer(member_id, frozenset(member.group_ids))
        groups = set(member.group_ids)
        groups = groups | {command.group_id} if adding else groups - {command.group_id}
        del member.group_ids[:]
        member.group_ids.extend(sorted(groups))
        tx.put_member(member)
        after_viewer = Viewer(member_id, frozenset(groups))
        for sid in signals:
            subs = tx.submissions(sid)
            saw = any(before_viewer.sees(s.member_id, s.audience) for s in subs)
            sees = any(after_viewer.sees(s.member_id, s.audience) for s in subs)
            if saw == sees:
                continue
            record = tx.signal(sid)
            assert record is not None
            kind = (
                common_pb2.EVENT_KIND_SIGNAL_UPDATED
                if sees
                else common_pb2.EVENT_KIND_SIGNAL_REMOVED
            )
            sequence = tx.next_counter("feed_seq")
            bare = common_pb2.Signal(
                signal_id=sid, type=record.signal.type, value=record.signal.value
            )
            event = common_pb2.FeedEvent(
                cursor=str(sequence), kind=kind, signal=bare, time=entry.received_at
            )
            tx.put_feed(sequence, rec.FeedRecord(event=event, target_member=member_id))
    del group.member_ids[:]
    group.member_ids.extend(sorted(after))
    tx.put_group(group)
    response: Message
    if adding:
        response = admin_pb2.AddGroupMembersResponse(group=group)
    else:
        response = admin_pb2.RemoveGroupMembersResponse(group=group)
    return Applied(response)


# --- removal, opinions, retraction, expiry ------------------------------------------------------
def _rebuild(record: rec.SignalRecord, subs: list[rec.SubmissionRecord]) -> None:
    """Recomputes a signal's aggregate fields from its remaining submissions."""
    sig = record.signal
    members = sorted({s.member_id for s in subs})
    del record.members[:]
    record.members.extend(members)
    for name, values in (
        ("labels", {x for s in subs for x in s.labels}),
        ("tags", {x for s in subs for x in s.tags}),
    ):
        target = getattr(sig, name)
        del target[:]
        target.extend(sorted(values))
    sig.corroboration = len(members)
    del sig.classifiers[:]
    sig.classifiers.extend(merge_verdicts(s.classifier for s in subs if s.HasField("classifier")))
    first = min(subs, key=lambda s: s.received_at.ToMilliseconds())
    last = max(subs, key=lambda s: s.received_at.ToMilliseconds())
    sig.first_seen.CopyFrom(first.received_at)
    sig.last_seen.CopyFrom(last.received_at)
    record.restricted = any(s.audience for s in subs)


def _visibility_of(subs: list[rec.SubmissionRecord]) -> rec.FeedRecord:
    """A feed record visible to whoever could see any of `subs`: everyone when one of them
    is shared with everyone, else their submitters and their audiences' members."""
    if not all(s.audience for s in subs):
        return rec.FeedRecord(members=sorted({s.member_id for s in subs}))
    return rec.FeedRecord(
        private=True,
        members=sorted({s.member_id for s in subs}),
        audience=sorted({g for s in subs for g in s.audience}),
    )


def _append_event(
    tx: StoreTxn,
    visibility: rec.FeedRecord,
    kind: common_pb2.EventKind,
    signal: common_pb2.Signal,
    member_id: str,
    when: Timestamp,
) -> int:
    sequence = tx.next_counter("feed_seq")
    record = rec.FeedRecord()
    record.CopyFrom(visibility)
    record.log_sequence = tx.counter("log_seq")
    record.event.CopyFrom(
        common_pb2.FeedEvent(
            cursor=str(sequence), kind=kind, signal=signal, member_id=member_id, time=when
        )
    )
    tx.put_feed(sequence, record)
    return sequence


def _remove_submissions(
    tx: StoreTxn,
    applied: Applied,
    sid: str,
    removed: list[rec.SubmissionRecord],
    remaining: list[rec.SubmissionRecord],
    member_id: str,
    when: Timestamp,
    erased: bool = False,
) -> bool:
    """Deletes `removed` submissions of a signal; removes the signal when none remain (with an
    ERASED event carrying no value when `erased`). Returns True when the signal was removed."""
    record = tx.signal(sid)
    assert record is not None
    for sub in removed:
        tx.delete_submission(sid, sub)
        if sub.incident and not any(
            r.member_id == sub.member_id and r.incident == sub.incident for r in remaining
        ):
            tx.unlink_incident(sub.member_id, sub.incident, sid)
    visibility = _visibility_of(removed)
    removed_groups = {g for s in removed for g in s.audience}
    if not remaining:
        tx.delete_signal(record, removed_groups)
        if record.pdq_row:
            applied.pdq_removed.append(record.pdq_row)
        applied.pdq_removed.extend(record.frame_rows)
        applied.typed_removed.append((record.signal.type, sid))
        if erased:
            bare = common_pb2.Signal(signal_id=sid, type=record.signal.type)
            kind = common_pb2.EVENT_KIND_SIGNAL_ERASED
        else:
            bare = common_pb2.Signal(signal_id=sid, type=record.signal.type,
                                     value=record.signal.value)  # fmt: skip
            kind = common_pb2.EVENT_KIND_SIGNAL_REMOVED
        _append_event(tx, visibility, kind, bare, member_id, when)
        return True
    _rebuild(record, remaining)
    kept_groups = {g for s in remaining for g in s.audience}
    for group in removed_groups - kept_groups:
        tx.txn.delete(group.encode() + b"\x00" + bytes.fromhex(sid), db=tx.dbs["group_signals"])
    tx.put_signal(record)
    visibility.withdraws = True  # whoever saw only these has lost sight of the signal
    _append_event(
        tx, visibility, common_pb2.EVENT_KIND_SIGNAL_UPDATED, record.signal, member_id, when
    )
    return False


def _signed_request(
    tx: StoreTxn, entry: rec.LogEntry, payload_cls: type[M], prefix_kind: str
) -> tuple[M, rec.KeyRecord]:
    """Parses a signed command's payload (signature verified before logging) and checks its
    key, request id and created_at."""
    envelope = entry.set_opinion.envelope if prefix_kind == "opinion" else entry.retract.envelope
    try:
        payload = payload_cls.FromString(envelope.payload)
    except DecodeError:
        raise invalid(
            "the envelope's payload cannot be parsed",
            [("envelope.payload", f"not a serialised {payload_cls.DESCRIPTOR.full_name}")],
        ) from None
    key = check_key(tx, payload.member_id, envelope.key_id)  # type: ignore[attr-defined]
    violations = []
    request_id = payload.request_id  # type: ignore[attr-defined]
    if not request_id or len(request_id.encode()) > domain.MAX_REQUEST_ID_CHARS:
        violations.append(("request_id", f"1-{domain.MAX_REQUEST_ID_CHARS} bytes required"))
    if not payload.HasField("created_at"):
        violations.append(("created_at", "required"))
    elif not valid_time(getattr(payload, "created_at")):  # noqa: B009
        violations.append(("created_at", "not a valid time"))
    if violations:
        raise invalid(f"invalid request: {violations[0][0]}: {violations[0][1]}", violations)
    return payload, key


def _check_window(entry: rec.LogEntry, created: Timestamp) -> None:
    """created_at must be within the window recorded in the entry of its receive time."""
    window = entry.window_seconds or domain.REPLAY_WINDOW_SECONDS
    skew = abs(_millis(entry.received_at) - _millis(created))
    if skew > window * 1000:
        raise unauthenticated(
            f"created_at is {skew / 1000:.0f} s away from the hub's clock; the window is "
            f"±{window} s",
            "stale",
        )


def _replayed(
    tx: StoreTxn,
    kind: str,
    member_id: str,
    request_id: str,
    digest: bytes,
    response_cls: type[M],
) -> M | None:
    prior = tx.request(kind, member_id, request_id)
    if prior is None:
        return None
    if prior.content_digest != digest:
        raise HubError(
            grpc.StatusCode.ALREADY_EXISTS,
            f"request_id {request_id!r} was used for a different request",
        )
    response = response_cls.FromString(prior.response)
    response.replayed = True  # type: ignore[attr-defined]
    return response


def _apply_opinion(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    change, _key = _signed_request(tx, entry, common_pb2.OpinionChange, "opinion")
    violations = []
    sid = change.signal_id
    if not domain.is_signal_id(sid):
        violations.append(("signal_id", "32 lowercase hex digits required"))
    if change.opinion not in common_pb2.Opinion.values():
        violations.append(("opinion", f"unknown opinion {change.opinion}"))
    if len(change.note) > domain.MAX_NOTE_CHARS:
        violations.append(("note", f"at most {domain.MAX_NOTE_CHARS} characters"))
    if violations:
        raise invalid(f"invalid opinion: {violations[0][0]}: {violations[0][1]}", violations)
    digest = hashlib.sha256(f"{sid}\x00{change.opinion}\x00{change.note}".encode()).digest()
    prior = _replayed(
        tx, "opinion", change.member_id, change.request_id, digest, exchange_pb2.SetOpinionResponse
    )
    if prior is not None:
        return Applied(prior, stored=False)
    _check_window(entry, change.created_at)
    viewer = Viewer.load(tx, change.member_id)
    record = tx.signal(sid)
    shown = None if record is None else signal_view(tx, record, viewer)
    if record is None or shown is None:  # may not opine on what it may not see
        raise HubError(grpc.StatusCode.NOT_FOUND, f"no signal {sid}")
    counts = record.signal.opinions
    for old in tx.opinions(sid):
        if old.member_id == change.member_id:
            count_opinion(counts, old.opinion, -1)
    count_opinion(counts, change.opinion, +1)
    if not counts.ByteSize():  # no opinion left: no field, as on a signal never given one
        record.signal.ClearField("opinions")
    tx.put_opinion(
        sid,
        rec.OpinionRecord(
            member_id=change.member_id,
            opinion=change.opinion,
            note=change.note,
            time=entry.received_at,
        ),
    )
    tx.put_signal(record)
    # Seen by whoever sees a submission the giver sees: an opinion given through a group's
    # submission must not show as an update to members outside the group.
    subs = [s for s in tx.submissions(sid) if viewer.sees(s.member_id, s.audience)]
    _append_event(
        tx,
        _visibility_of(subs),
        common_pb2.EVENT_KIND_SIGNAL_UPDATED,
        record.signal,
        change.member_id,
        entry.received_at,
    )
    shown = signal_view(tx, record, viewer)
    response = exchange_pb2.SetOpinionResponse(signal=shown)
    stored = rec.RequestRecord(content_digest=digest, response=response.SerializeToString())
    tx.put_request("opinion", change.member_id, change.request_id, stored)
    return Applied(response)


def _apply_retract(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    retraction, _key = _signed_request(tx, entry, common_pb2.Retraction, "retract")
    ids = list(retraction.signal_ids)
    violations = [
        (f"signal_ids[{i}]", "32 lowercase hex digits required")
        for i, sid in enumerate(ids)
        if not domain.is_signal_id(sid)
    ]
    if not ids or len(ids) > domain.MAX_BATCH_SIGNALS:
        violations.append(("signal_ids", f"1-{domain.MAX_BATCH_SIGNALS} signal ids required"))
    if violations:
        raise invalid(f"invalid retraction: {violations[0][0]}: {violations[0][1]}", violations)
    digest = hashlib.sha256("\x00".join(ids).encode()).digest()
    member = retraction.member_id
    prior = _replayed(
        tx, "retract", member, retraction.request_id, digest, exchange_pb2.RetractSubmissionResponse
    )
    if prior is not None:
        return Applied(prior, stored=False)
    _check_window(entry, retraction.created_at)
    response = exchange_pb2.RetractSubmissionResponse()
    applied = Applied(response)
    viewer = Viewer.load(tx, member)
    done: dict[str, bool] = {}
    for i, sid in enumerate(ids):
        if sid not in done:
            subs = tx.submissions(sid)
            mine = [s for s in subs if s.member_id == member]
            if not mine:  # the same answer whether the signal exists or not
                raise invalid(
                    f"signal_ids[{i}]: you have no submission of signal {sid}",
                    [(f"signal_ids[{i}]", "you have no submission of this signal")],
                )
            rest = [s for s in subs if s.member_id != member]
            gone = _remove_submissions(tx, applied, sid, mine, rest, member, entry.received_at)
            # Removed as the retractor sees it: a submission it may not see that keeps the
            # signal stored must not show (it would tell that another group holds the value).
            done[sid] = gone or not any(viewer.sees(s.member_id, s.audience) for s in rest)
        response.results.add(signal_id=sid, removed=done[sid])
    stored = rec.RequestRecord(content_digest=digest, response=response.SerializeToString())
    tx.put_request("retract", member, retraction.request_id, stored)
    return applied


def _apply_expire_tick(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Removes every submission whose expires_at has passed at the entry's receive time."""
    due = tx.due_expiries(entry.received_at.ToMilliseconds())
    response = exchange_pb2.RetractSubmissionResponse()
    applied = Applied(response, stored=bool(due))
    by_signal: dict[str, set[bytes]] = {}
    for sid, key in due:
        by_signal.setdefault(sid, set()).add(key)
    for sid in sorted(by_signal):
        subs = tx.submissions(sid)
        expired = [s for s in subs if submission_key(sid, s) in by_signal[sid]]
        rest = [s for s in subs if submission_key(sid, s) not in by_signal[sid]]
        removed = _remove_submissions(tx, applied, sid, expired, rest, "", entry.received_at)
        response.results.add(signal_id=sid, removed=removed)
    return applied


MAX_REASON_CHARS = 1000


def _apply_remove_member(tx: StoreTxn, log_sequence: int, entry: rec.LogEntry) -> Applied:
    """Offboards a member: every key revoked, out of every privacy group, marked removed (its
    calls refused for good); its submissions kept, retracted or erased as the command says."""
    command = entry.remove_member
    member = _existing_member(tx, command.member_id)
    if member.HasField("removed_at"):
        raise HubError(
            grpc.StatusCode.FAILED_PRECONDITION, f"member {command.member_id!r} was removed"
        )
    fate = command.submissions
    if fate not in (
        admin_pb2.OFFBOARD_SUBMISSIONS_KEEP,
        admin_pb2.OFFBOARD_SUBMISSIONS_RETRACT,
        admin_pb2.OFFBOARD_SUBMISSIONS_ERASE,
    ):
        raise invalid(
            "say what becomes of the member's submissions: keep, retract or erase",
            [("submissions", "KEEP, RETRACT or ERASE required")],
        )
    if len(command.reason) > MAX_REASON_CHARS:
        raise invalid(
            f"a reason is at most {MAX_REASON_CHARS} characters", [("reason", "too long")]
        )
    for key_id in member.key_ids:
        key = tx.key(key_id)
        if key is not None and not key.HasField("revoked_at"):
            key.revoked_at.CopyFrom(entry.received_at)
            tx.put_key(key)
    for group_id in member.group_ids:
        group = tx.group(group_id)
        if group is not None:
            kept = [m for m in group.member_ids if m != member.member_id]
            del group.member_ids[:]
            group.member_ids.extend(kept)
            tx.put_group(group)
    del member.group_ids[:]
    member.removed_at.CopyFrom(entry.received_at)
    tx.put_member(member)
    response = admin_pb2.RemoveMemberResponse()
    applied = Applied(response)
    if fate != admin_pb2.OFFBOARD_SUBMISSIONS_KEEP:
        response.retracted_submissions, gone = _retract_where(
            tx, applied, member.member_id, lambda _: True, entry.received_at
        )
        response.removed_signals = len(gone)
        if fate == admin_pb2.OFFBOARD_SUBMISSIONS_ERASE and gone:
            reason = f"member {member.member_id} offboarded" + (
                f": {command.reason}" if command.reason else ""
            )
            _erase(tx, gone, reason, command, entry.received_at, log_sequence)
    response.member.CopyFrom(member)
    return applied


def _carries_erased(tx: StoreView, signal: domain.CanonicalSignal) -> bool:
    """Whether a submitted signal is a value erased on legal request, or a video with a
    retained frame that is one (a video carries its frames' PDQ hashes: they match as PDQ)."""
    if tx.erased(signal.signal_id) is not None:
        return True
    if signal.type != "vpdq":
        return False
    return any(
        tx.erased(domain.signal_id("pdq", f.pdq)) is not None
        for f in vpdq_retained(vpdq_frames(signal.value))
    )


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
        raise HubError(grpc.StatusCode.ABORTED, f"signal {sid} was stored while its erasure "
                       "was prepared; retry")  # fmt: skip
    wanted = {sid, *command.frame_ids}
    listed = {sid, *command.carrier_ids}
    rows, packed = tx.pdq_rows_after(command.pdq_rows_scanned_to, 1 << 62)
    for i in range(len(rows)):
        owner = bytes(packed[i, 32:48]).hex()
        if owner in listed or domain.signal_id("pdq", bytes(packed[i, :32]).hex()) not in wanted:
            continue
        found = tx.signal(owner)
        if found is not None and found.signal.value:
            raise HubError(grpc.StatusCode.ABORTED, f"signal {owner}, which carries a value of "
                           f"{sid}, was stored while the erasure was prepared; retry")  # fmt: skip


def _apply_erase_signal(tx: StoreTxn, log_sequence: int, entry: rec.LogEntry) -> Applied:
    command = entry.erase_signal
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
    response = admin_pb2.EraseSignalResponse()
    applied = Applied(response)
    # The signals that carry (part of) its value, as the scan found them: erased with it.
    removed = {sid: _Removed(record, tx.submissions(sid))}
    for carrier in sorted(set(command.carrier_ids) - {sid}):
        found = tx.signal(carrier)
        if found is not None:  # else removed since the scan
            removed[carrier] = _Removed(found, tx.submissions(carrier))
    for gone_id, gone in removed.items():
        _remove_submissions(tx, applied, gone_id, gone.submissions, [], "", entry.received_at,
                            erased=True)  # fmt: skip
    why = f"shares a PDQ hash (a video frame) with erased signal {sid}: {command.reason}"
    tombstones, response.log_entries_redacted, response.feed_events_scrubbed = _erase(
        tx, removed, command.reason, command, entry.received_at, log_sequence,
        reasons={c: why for c in removed if c != sid},
    )  # fmt: skip
    for tombstone in tombstones:
        if tombstone.signal_id == sid:
            response.tombstone.CopyFrom(tombstone)
        else:
            response.also_erased.add().CopyFrom(tombstone)
    # A video's retained frames are refused for good too, as photos and in other videos.
    for frame_id in sorted(set(command.frame_ids) - set(removed)):
        if tx.erased(frame_id) is None:
            tx.put_erased(admin_pb2.ErasedSignal(
                signal_id=frame_id, type="pdq", erased_at=entry.received_at,
                reason=f"a retained frame of erased signal {sid}: {command.reason}",
            ))  # fmt: skip
    return applied


def _erase(
    tx: StoreTxn,
    removed: dict[str, _Removed],
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
        tombstone = admin_pb2.ErasedSignal(signal_id=sid, type=removed[sid].record.signal.type,
                                           reason=(reasons or {}).get(sid, reason),
                                           erased_at=when)  # fmt: skip
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
        entry.redaction.signals.add(index=i, signal_id=sid, type=batch.signals[i].type,
                                    pdq_rows=0 if sid in first else rows[sid])  # fmt: skip
        first.add(sid)
    envelope.payload = batch.SerializeToString()
    return True
