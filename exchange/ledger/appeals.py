"""A member's appeal outcomes and reviews (decision propagation, issue 21.3): RecordAppeal
records the outcome of a user's appeal against an action on a signal the member may see (an
upheld one asks every other member that matched the signal to review its actions), and
MarkReviewed marks the member's own notices done. Both are signed and idempotent by
(member, request_id)."""

from __future__ import annotations

import hashlib

import grpc

from exchange.errors import HubError, invalid
from signalhub import domain
from signalhub import reviews as rv
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import coalition_pb2, exchange_pb2

from ..store import StoreTxn
from ..visibility import Viewer, signal_view
from .common import Applied, check_window, replayed, signed_request
from .reviews import request_reviews


def apply_record_appeal(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Records an appeal's outcome; an upheld one sends review notices to the other members
    that matched the signal. A signal the member may not see is NOT_FOUND, as a missing one."""
    appeal, _key = signed_request(tx, entry, coalition_pb2.Appeal, "record_appeal")
    sid = appeal.signal_id
    outcomes = (coalition_pb2.APPEAL_OUTCOME_UPHELD, coalition_pb2.APPEAL_OUTCOME_DENIED)
    violations = []
    if not domain.is_signal_id(sid):
        violations.append(("signal_id", "32 lowercase hex digits required"))
    if appeal.outcome not in outcomes:
        violations.append(("outcome", "UPHELD or DENIED required"))
    if len(appeal.note) > rv.MAX_NOTE_CHARS:
        violations.append(("note", f"at most {rv.MAX_NOTE_CHARS} characters"))
    if violations:
        raise invalid(f"invalid appeal: {violations[0][0]}: {violations[0][1]}", violations)
    digest = hashlib.sha256(f"{sid}\x00{appeal.outcome}\x00{appeal.note}".encode()).digest()
    member = appeal.member_id
    prior = replayed(
        tx, "appeal", member, appeal.request_id, digest, exchange_pb2.RecordAppealResponse
    )
    if prior is not None:
        return Applied(prior, stored=False)
    check_window(entry, appeal.created_at)
    record = tx.signal(sid)
    shown = None if record is None else signal_view(tx, record, Viewer.load(tx, member))
    if record is None or shown is None:  # invisible looks exactly like missing
        raise HubError(grpc.StatusCode.NOT_FOUND, f"no signal {sid}")
    response = exchange_pb2.RecordAppealResponse(signal=shown)
    if appeal.outcome == coalition_pb2.APPEAL_OUTCOME_UPHELD:
        request_reviews(tx, entry, record, coalition_pb2.REVIEW_REASON_APPEAL_UPHELD, member)
    stored = rec.RequestRecord(content_digest=digest, response=response.SerializeToString())
    tx.put_request("appeal", member, appeal.request_id, stored)
    return Applied(response)


def apply_mark_reviewed(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Marks the member's own notices reviewed (one that is not its own is NOT_FOUND, as one
    that never existed); a notice already reviewed keeps its first time and note."""
    done, _key = signed_request(tx, entry, coalition_pb2.ReviewDone, "mark_reviewed")
    ids = list(done.review_ids)
    violations = [
        (f"review_ids[{i}]", "32 lowercase hex digits required")
        for i, one in enumerate(ids)
        if not rv.is_review_id(one)
    ]
    if not ids or len(ids) > rv.MAX_REVIEW_IDS:
        violations.append(("review_ids", f"1-{rv.MAX_REVIEW_IDS} review ids required"))
    if len(done.note) > rv.MAX_NOTE_CHARS:
        violations.append(("note", f"at most {rv.MAX_NOTE_CHARS} characters"))
    if violations:
        raise invalid(f"invalid review: {violations[0][0]}: {violations[0][1]}", violations)
    digest = hashlib.sha256(("\x00".join(ids) + "\x01" + done.note).encode()).digest()
    member = done.member_id
    prior = replayed(
        tx, "reviewed", member, done.request_id, digest, exchange_pb2.MarkReviewedResponse
    )
    if prior is not None:
        return Applied(prior, stored=False)
    check_window(entry, done.created_at)
    response = exchange_pb2.MarkReviewedResponse()
    for i, one in enumerate(ids):
        held = tx.review(member, one)
        if held is None:
            raise HubError(grpc.StatusCode.NOT_FOUND, f"review_ids[{i}]: you have no review {one}")
        if not held.notice.HasField("reviewed_at"):
            held.notice.reviewed_at.CopyFrom(entry.received_at)
            held.notice.review_note = done.note
            tx.put_review(member, held)
        response.reviews.append(held.notice)
    stored = rec.RequestRecord(content_digest=digest, response=response.SerializeToString())
    tx.put_request("reviewed", member, done.request_id, stored)
    return Applied(response)
