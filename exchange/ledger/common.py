"""What apply's command families share: the outcome of an entry (`Applied`), feed events
and who may see them, removing submissions (and a signal left with none) and rebuilding a
signal from the rest, and the checks of signed commands (payload, key, request id, created_at
within the entry's window, replayed request ids)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from exchange.errors import HubError, invalid, unauthenticated
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, common_pb2

from ..auth import check_key, parse_signed_payload
from ..store import StoreTxn, StoreView, submission_key
from ..visibility import merge_verdicts, set_sources
from .decisions import Withdraw

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


MAX_TIMESTAMP_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z, protobuf's upper bound


def valid_time(ts: Timestamp) -> bool:
    """A time protobuf can represent, from 1970 on."""
    return 0 <= ts.seconds <= MAX_TIMESTAMP_SECONDS and 0 <= ts.nanos < 1_000_000_000


def millis(ts: Timestamp) -> int:
    """A timestamp in whole milliseconds."""
    return int(ts.ToMilliseconds())


def existing_member(tx: StoreView, member_id: str, field: str = "member_id") -> admin_pb2.Member:
    """The member, or NOT_FOUND."""
    member = tx.member(member_id)
    if member is None:
        raise HubError(grpc.StatusCode.NOT_FOUND, f"no member {member_id!r}")
    return member


MAX_REASON_CHARS = 1000


@dataclass(frozen=True)
class Removed:
    """A signal as it was just before its last submission went."""

    record: rec.SignalRecord
    submissions: list[rec.SubmissionRecord]


def retract_where(
    tx: StoreTxn,
    applied: Applied,
    withdraw: Withdraw,
    when: Timestamp,
) -> tuple[int, dict[str, Removed]]:
    """Retracts the submissions `withdraw` takes of its member (over every signal the member
    submitted), as the member's own retraction would (feed events, signals left with none
    removed). Returns how many, and the signals removed (with their record and submissions as
    they were, for an erasure to follow)."""
    member_id = withdraw.member
    assert member_id is not None, "a withdrawal of one member's submissions"
    retracted = 0
    removed: dict[str, Removed] = {}
    for sid in tx.member_batch_signals(member_id):
        subs = tx.submissions(sid)
        mine = [s for s in subs if withdraw.takes(s.member_id, s.key_id, millis(s.received_at))]
        if not mine:
            continue
        keys = {submission_key(sid, s) for s in mine}
        rest = [s for s in subs if submission_key(sid, s) not in keys]
        record = tx.signal(sid)
        retracted += len(mine)
        if remove_submissions(tx, applied, sid, mine, rest, member_id, when) and record:
            removed[sid] = Removed(record, subs)
    return retracted, removed


def rebuild(record: rec.SignalRecord, subs: list[rec.SubmissionRecord]) -> None:
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
    set_sources(sig, subs)
    record.restricted = any(s.audience or s.sharing for s in subs)


def visibility_of(subs: list[rec.SubmissionRecord]) -> rec.FeedRecord:
    """A feed record visible to whoever could see any of `subs`: everyone when one of them
    is shared with everyone, else their submitters and their audiences' members."""
    if not all(s.audience for s in subs):
        return rec.FeedRecord(members=sorted({s.member_id for s in subs}))
    return rec.FeedRecord(
        private=True,
        members=sorted({s.member_id for s in subs}),
        audience=sorted({g for s in subs for g in s.audience}),
    )


def append_event(
    tx: StoreTxn,
    visibility: rec.FeedRecord,
    kind: common_pb2.EventKind,
    signal: common_pb2.Signal,
    member_id: str,
    when: Timestamp,
) -> int:
    """Appends a feed event about `signal` seen as `visibility` says; returns its sequence."""
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


def remove_submissions(
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
    visibility = visibility_of(removed)
    visibility.withholds_value = any(s.sharing for s in removed)  # match-only: no value
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
            bare = common_pb2.Signal(
                signal_id=sid, type=record.signal.type, value=record.signal.value
            )
            kind = common_pb2.EVENT_KIND_SIGNAL_REMOVED
        append_event(tx, visibility, kind, bare, member_id, when)
        return True
    rebuild(record, remaining)
    kept_groups = {g for s in remaining for g in s.audience}
    for group in removed_groups - kept_groups:
        tx.unlink_group_signal(group, sid)
    tx.put_signal(record)
    visibility.withdraws = True  # whoever saw only these has lost sight of the signal
    append_event(
        tx, visibility, common_pb2.EVENT_KIND_SIGNAL_UPDATED, record.signal, member_id, when
    )
    return False


def signed_request(
    tx: StoreTxn, entry: rec.LogEntry, payload_cls: type[M], prefix_kind: str
) -> tuple[M, rec.KeyRecord]:
    """Parses a signed command's payload (signature verified before logging) and checks its
    key, request id and created_at. `prefix_kind` is "opinion" or the LogEntry field holding
    the SignedCommand ("retract", "propose_warning_entries"...)."""
    field_name = "set_opinion" if prefix_kind == "opinion" else prefix_kind  # the entry's field
    envelope = getattr(entry, field_name).envelope
    payload = parse_signed_payload(envelope, payload_cls)
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


def check_window(entry: rec.LogEntry, created: Timestamp) -> None:
    """created_at must be within the window recorded in the entry of its receive time."""
    window = entry.window_seconds or domain.REPLAY_WINDOW_SECONDS
    skew = abs(millis(entry.received_at) - millis(created))
    if skew > window * 1000:
        raise unauthenticated(
            f"created_at is {skew / 1000:.0f} s away from the hub's clock; the window is "
            f"±{window} s",
            "stale",
        )


def replayed(
    tx: StoreTxn,
    kind: str,
    member_id: str,
    request_id: str,
    digest: bytes,
    response_cls: type[M],
) -> M | None:
    """The stored answer to a request id used before (marked replayed), None for a new one;
    ALREADY_EXISTS when it was used for different content."""
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
