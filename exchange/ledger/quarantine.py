"""The operator's decision on a quarantined signal (flood quarantine, issue 21.2): release it
(matches are no longer flagged; its baseline is floored at the rate it was released at, so
the same rate does not trip it again) or retract it (every submission withdrawn, the signal
removed with a tombstone to followers, and every member that matched it in the review window
asked to review its actions)."""

from __future__ import annotations

import grpc

from exchange.errors import HubError, invalid
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, coalition_pb2, common_pb2

from ..store import StoreTxn
from .common import MAX_REASON_CHARS, Applied, remove_submissions
from .match_counts import set_quarantined
from .reviews import request_reviews


def apply_resolve_quarantine(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Releases or retracts a quarantined signal; NOT_FOUND when it is not quarantined."""
    command = entry.resolve_quarantine
    sid = command.signal_id
    if not domain.is_signal_id(sid):
        raise invalid("signal_id: 32 lowercase hex digits required", [("signal_id", "not an id")])
    actions = (coalition_pb2.QUARANTINE_ACTION_RELEASE, coalition_pb2.QUARANTINE_ACTION_RETRACT)
    if command.action not in actions:
        raise invalid("action: release or retract", [("action", "release or retract")])
    if len(command.note) > MAX_REASON_CHARS:
        raise invalid(f"note: at most {MAX_REASON_CHARS} characters", [("note", "too long")])
    held = tx.quarantined(sid)
    record = tx.signal(sid)
    if held is None or record is None:
        raise HubError(grpc.StatusCode.NOT_FOUND, f"signal {sid} is not in quarantine")
    response = admin_pb2.ResolveQuarantineResponse(signal=held.signal)
    applied = Applied(response)
    when = entry.received_at
    if command.action == coalition_pb2.QUARANTINE_ACTION_RELEASE:
        tx.delete_quarantine(sid)
        rate = tx.match_rate(sid) or rec.MatchRateRecord()
        rate.released_floor = float(held.signal.matches_per_hour)
        tx.put_match_rate(sid, rate)
        set_quarantined(tx, record, False, common_pb2.EVENT_KIND_SIGNAL_RELEASED, when)
        return applied
    request_reviews(tx, entry, record, coalition_pb2.REVIEW_REASON_QUARANTINE_RETRACTED, "")
    subs = tx.submissions(sid)
    response.retracted_submissions = len(subs)
    response.removed = remove_submissions(tx, applied, sid, subs, [], "", when)
    return applied
