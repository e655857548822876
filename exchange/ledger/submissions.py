"""Submitting signals: a batch's validation (`PreparedBatch`, `canonical_batch`, a pure function
of its payload, shared by the service's precheck and apply) and its apply (`apply_submit`):
each distinct signal of the batch one submission, with its signal, PDQ rows, typed index
entries and feed event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import grpc

from exchange.errors import HubError, invalid
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2, exchange_pb2
from signalhub.vpdq_format import vpdq_frames, vpdq_retained

from ..auth import check_signer, parse_batch
from ..store import StoreTxn, StoreView
from ..visibility import Viewer, add_source, merge_verdicts
from .common import Applied, check_window, millis, valid_time


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
        """Validates `payload` (already parsed as `batch`, if given)."""
        batch = parse_batch(payload) if batch is None else batch
        signals = canonical_batch(batch)
        digest = domain.batch_content_digest(signals, batch.audience, batch.urgent, batch.sharing)
        return cls(payload, batch, signals, digest)


def canonical_batch(
    batch: common_pb2.SubmissionBatch, erased: Mapping[int, rec.RedactedSignal] | None = None
) -> list[domain.CanonicalSignal]:
    """Validates a batch's own fields and every signal; returns the signals in canonical form.
    Raises INVALID_ARGUMENT listing every violation (up to 100), each naming its field.
    `erased`: positions of a redacted batch whose value an erasure scrubbed (replay only):
    they stand for their recorded signal id, with an empty value."""
    violations = _batch_field_violations(batch)
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
                out.append(_canonical_signal(s))
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


def _batch_field_violations(batch: common_pb2.SubmissionBatch) -> list[tuple[str, str]]:
    """What is wrong with a batch's own fields (its id, time and number of signals)."""
    violations: list[tuple[str, str]] = []
    if not batch.batch_id or len(batch.batch_id.encode()) > domain.MAX_BATCH_ID_CHARS:
        violations.append(("batch_id", f"1-{domain.MAX_BATCH_ID_CHARS} bytes of UTF-8 required"))
    if not batch.HasField("created_at"):
        violations.append(("created_at", "required"))
    elif not valid_time(batch.created_at):
        violations.append(("created_at", "not a valid time"))
    if batch.sharing not in domain.SHARING_NAMES:
        violations.append(
            ("sharing", f"unknown sharing level {batch.sharing}: full (0) or match-only (1)")
        )
    if not batch.signals:
        violations.append(("signals", "a batch carries at least one signal"))
    if len(batch.signals) > domain.MAX_BATCH_SIGNALS:
        violations.append(
            (
                "signals",
                f"at most {domain.MAX_BATCH_SIGNALS} signals a batch, got {len(batch.signals)}",
            )
        )
    return violations


def _canonical_signal(s: common_pb2.SignalSubmission) -> domain.CanonicalSignal:
    """One submitted signal in canonical form; raises `domain.InvalidValue`."""
    return domain.canonical_signal(
        s.type,
        s.value,
        s.labels,
        s.tags,
        industry=s.industry,
        confidence=s.confidence,
        expires_at_ms=millis(s.expires_at) if s.HasField("expires_at") else 0,
        verdict=domain.validate_verdict(
            s.classifier.classifier,
            s.classifier.score,
            s.classifier.human_reviewed,
        )
        if s.HasField("classifier")
        else None,
        incident=s.incident,
        source_ref=s.source_ref,
        metadata=s.metadata,
    )


def _erased_placeholder(
    s: common_pb2.SignalSubmission, erased: rec.RedactedSignal
) -> domain.CanonicalSignal:
    """A redacted batch's erased signal, as replay applies it: its recorded id, no value."""
    out = domain.CanonicalSignal(
        erased.type,
        "",
        tuple(sorted(set(s.labels))),
        tuple(sorted({t.strip() for t in s.tags})),
        s.industry,
        s.confidence,
        millis(s.expires_at) if s.HasField("expires_at") else 0,
        None,
        s.incident,
        s.source_ref,
        tuple(sorted(s.metadata.items())),
    )
    object.__setattr__(out, "signal_id", erased.signal_id)
    return out


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


def apply_submit(
    tx: StoreTxn, log_sequence: int, entry: rec.LogEntry, hint: PreparedBatch | None
) -> Applied:
    """Applies a signed submission batch: each distinct signal one submission; a batch id
    used before answers its first answer again (stored=False); a dry run is undone."""
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
    _refuse_erased(tx, signals, erased)

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

    check_window(entry, batch.created_at)

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
        sharing=batch.sharing,
    )
    bases = _BatchBases.of(base, log_sequence)
    received_ms = millis(entry.received_at)
    results = response.results
    counts = applied.signals
    # Every signal of the batch read at once, in key order, and its records written at once
    # at the end (StoreTxn.deferred_writes): the loop reads each signal once, before its write.
    stored = tx.signals([signal.signal_id for signal in signals])
    with tx.deferred_writes():
        for index, signal in enumerate(signals):
            sid = signal.signal_id
            status: int
            if sid in seen:
                status = exchange_pb2.SUBMIT_STATUS_DUPLICATE
            else:
                seen.add(sid)
                submission = _submission_of(base, index, signal, received_ms)
                status = _record_submission(
                    tx, applied, signal, stored[sid], submission, submitter, bases,
                    erased.get(index),
                )  # fmt: skip
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


def _refuse_erased(
    tx: StoreView, signals: list[domain.CanonicalSignal], erased: Mapping[int, object]
) -> None:
    """Raises INVALID_ARGUMENT naming every signal of the batch that is a value erased on legal
    request (the positions of `erased`, a replay's placeholders, excepted)."""
    if not tx.entries("erased"):
        return
    refused = [
        (f"signals[{i}].value", "this signal was erased on legal request")
        for i, signal in enumerate(signals)
        if i not in erased and _carries_erased(tx, signal)
    ]
    if refused:
        raise invalid(f"invalid batch: {refused[0][0]}: {refused[0][1]}", refused)


def _submission_of(
    base: rec.SubmissionRecord, index: int, signal: domain.CanonicalSignal, received_ms: int
) -> rec.SubmissionRecord:
    """The submission record of the batch's signal at `index`: a copy of `base` (what every
    submission of the batch shares) with the signal's own fields."""
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
    if signal.source_ref:
        submission.source_ref = signal.source_ref
    for key, value in signal.metadata:
        submission.metadata[key] = value
    return submission


@dataclass(frozen=True)
class _BatchBases:
    """What the records of a batch's signals share, built once and copied per signal (one
    copy of a template costs less than setting its fields again, a signal at a time)."""

    feed: rec.FeedRecord
    """A feed record's: the submitter, time, urgency, audience and log entry."""
    signal: rec.SignalRecord
    """A new signal record's: its one member, corroboration 1, first and last seen."""

    @classmethod
    def of(cls, submission: rec.SubmissionRecord, log_sequence: int) -> _BatchBases:
        """The bases of a batch, from the part of a submission record every signal shares."""
        feed = rec.FeedRecord(audience=submission.audience, log_sequence=log_sequence)
        feed.event.member_id = submission.member_id
        feed.event.urgent = submission.urgent
        feed.event.time.CopyFrom(submission.received_at)
        signal = rec.SignalRecord(members=[submission.member_id])
        signal.signal.corroboration = 1
        signal.signal.first_seen.CopyFrom(submission.received_at)
        signal.signal.last_seen.CopyFrom(submission.received_at)
        return cls(feed, signal)


_STATUS_NAMES = {
    value: name.removeprefix("SUBMIT_STATUS_").lower()
    for name, value in exchange_pb2.SubmitStatus.items()
}


def _record_submission(
    tx: StoreTxn,
    applied: Applied,
    signal: domain.CanonicalSignal,
    record: rec.SignalRecord | None,
    submission: rec.SubmissionRecord,
    submitter: Viewer,
    bases: _BatchBases,
    erased: rec.RedactedSignal | None = None,
) -> int:
    """Stores one member's submission of one signal, updates the signal (`record`, as stored
    before the batch, or None) and appends its feed event (a copy of `bases.feed`, which
    carries the batch's member, time and audience);
    returns the submit status as the submitter may know it (a signal it cannot see counts as
    new to it). `erased`: replaying a value an erasure scrubbed (rows are placeholders, which
    that erasure deletes again)."""
    sid = signal.signal_id
    if record is None:  # the common case at ingest: a signal never seen
        status = exchange_pb2.SUBMIT_STATUS_NEW
        kind = common_pb2.EVENT_KIND_SIGNAL_ADDED
        record = _new_signal_record(tx, applied, signal, submission, bases.signal, erased)
    else:
        status, kind = _merge_submission(tx, record, signal, submission, submitter)
    if submission.audience or submission.sharing:
        record.restricted = True  # views differ: computed per caller (exchange.visibility)
    if submission.audience:
        for group in submission.audience:
            tx.link_group_signal(group, sid)
    if submission.incident:
        tx.link_incident(submission.member_id, submission.incident, sid)
    tx.put_signal(record)
    tx.put_submission(sid, submission)
    sequence = tx.next_counter("feed_seq")
    # The event names the signal only: readers compute each caller's view when they read.
    feed = rec.FeedRecord()
    feed.CopyFrom(bases.feed)
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


def _new_signal_record(
    tx: StoreTxn,
    applied: Applied,
    signal: domain.CanonicalSignal,
    submission: rec.SubmissionRecord,
    signal_base: rec.SignalRecord,
    erased: rec.RedactedSignal | None,
) -> rec.SignalRecord:
    """The record of a signal never seen before (a copy of `signal_base`, the batch's
    member and time), with its PDQ rows or typed index entry stored (and noted in `applied`
    for the index to load after commit)."""
    sid = signal.signal_id
    record = rec.SignalRecord()
    record.CopyFrom(signal_base)
    sig = record.signal
    sig.signal_id = sid
    sig.type = signal.type
    sig.value = signal.value
    if signal.labels:
        sig.labels.extend(signal.labels)
    if signal.tags:
        sig.tags.extend(signal.tags)
    if submission.HasField("classifier"):
        sig.classifiers.append(submission.classifier)
    add_source(sig, submission)
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
    return record


def _merge_submission(
    tx: StoreTxn,
    record: rec.SignalRecord,
    signal: domain.CanonicalSignal,
    submission: rec.SubmissionRecord,
    submitter: Viewer,
) -> tuple[exchange_pb2.SubmitStatus, common_pb2.EventKind]:
    """Merges another submission into a stored signal's record (members, labels, tags,
    corroboration, verdicts); returns the submit status and the feed event's kind as the
    submitter may know them."""
    sid = signal.signal_id
    known_to_submitter = [s for s in tx.submissions(sid) if submitter.sees(s.member_id, s.audience)]
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
    add_source(sig, submission)
    return status, kind


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
