"""Withdrawing submissions by the submitter or by time: a member's signed retraction, and the
expiry tick removing every submission whose expires_at has passed. (A compromised key's and an
offboarded member's withdrawals are in `members`; which submissions each command withdraws is
stated in `decisions`.)"""

from __future__ import annotations

import hashlib

from exchange.errors import invalid
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import coalition_pb2, common_pb2, exchange_pb2

from ..store import StoreTxn, submission_key
from ..visibility import Viewer
from .common import (
    MAX_REASON_CHARS,
    Applied,
    check_window,
    millis,
    remove_submissions,
    replayed,
    signed_request,
)
from .decisions import retraction_withdrawal
from .reviews import request_reviews

FALSE_POSITIVE = coalition_pb2.REVIEW_REASON_RETRACTED_FALSE_POSITIVE


def apply_retract(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Retracts a member's submissions of the signals its signed retraction names."""
    retraction, _key = signed_request(tx, entry, common_pb2.Retraction, "retract")
    ids = list(retraction.signal_ids)
    violations = [
        (f"signal_ids[{i}]", "32 lowercase hex digits required")
        for i, sid in enumerate(ids)
        if not domain.is_signal_id(sid)
    ]
    if not ids or len(ids) > domain.MAX_BATCH_SIGNALS:
        violations.append(("signal_ids", f"1-{domain.MAX_BATCH_SIGNALS} signal ids required"))
    reasons = (common_pb2.RETRACT_REASON_UNSPECIFIED, common_pb2.RETRACT_REASON_FALSE_POSITIVE)
    if retraction.reason not in reasons:
        violations.append(("reason", "unspecified or FALSE_POSITIVE"))
    if len(retraction.note) > MAX_REASON_CHARS:
        violations.append(("note", f"at most {MAX_REASON_CHARS} characters"))
    if violations:
        raise invalid(f"invalid retraction: {violations[0][0]}: {violations[0][1]}", violations)
    text = "\x00".join(ids)
    if retraction.reason or retraction.note:  # as before reasons existed when there is none
        text += f"\x01{retraction.reason}\x00{retraction.note}"
    digest = hashlib.sha256(text.encode()).digest()
    member = retraction.member_id
    prior = replayed(
        tx, "retract", member, retraction.request_id, digest, exchange_pb2.RetractSubmissionResponse
    )
    if prior is not None:
        return Applied(prior, stored=False)
    check_window(entry, retraction.created_at)
    response = exchange_pb2.RetractSubmissionResponse()
    applied = Applied(response)
    viewer = Viewer.load(tx, member)
    withdraw = retraction_withdrawal(retraction)
    done: dict[str, bool] = {}
    for i, sid in enumerate(ids):
        if sid not in done:
            subs = tx.submissions(sid)
            taken = [withdraw.takes(s.member_id, s.key_id, millis(s.received_at)) for s in subs]
            mine = [s for s, out in zip(subs, taken, strict=True) if out]
            if not mine:  # the same answer whether the signal exists or not
                raise invalid(
                    f"signal_ids[{i}]: you have no submission of signal {sid}",
                    [(f"signal_ids[{i}]", "you have no submission of this signal")],
                )
            rest = [s for s, out in zip(subs, taken, strict=True) if not out]
            record = tx.signal(sid)
            if retraction.reason == common_pb2.RETRACT_REASON_FALSE_POSITIVE and record:
                request_reviews(tx, entry, record, FALSE_POSITIVE, member)
            gone = remove_submissions(tx, applied, sid, mine, rest, member, entry.received_at)
            # Removed as the retractor sees it: a submission it may not see that keeps the
            # signal stored must not show (it would tell that another group holds the value).
            done[sid] = gone or not any(viewer.sees(s.member_id, s.audience) for s in rest)
        response.results.add(signal_id=sid, removed=done[sid])
    stored = rec.RequestRecord(content_digest=digest, response=response.SerializeToString())
    tx.put_request("retract", member, retraction.request_id, stored)
    return applied


def apply_expire_tick(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
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
        removed = remove_submissions(tx, applied, sid, expired, rest, "", entry.received_at)
        response.results.add(signal_id=sid, removed=removed)
    return applied
