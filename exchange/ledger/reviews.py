"""Decision propagation (issue 21.3), the part every deciding command shares: when a signal is
retracted as a false positive, an appeal against an action on it is upheld, or the operator
retracts it out of quarantine, every other member that matched it in the review window gets a
review notice ("review your actions on SIGNAL_ID") with its own match counts only, as a feed
event only it receives. Counted from the logged match history (`match_days`), so a replay
asks the same members for the same reviews."""

from __future__ import annotations

import hashlib

from google.protobuf.timestamp_pb2 import Timestamp

from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import coalition_pb2, common_pb2

from ..store import StoreTxn

DEFAULT_REVIEW_WINDOW_DAYS = 90
MAX_REVIEW_WINDOW_DAYS = 365


def window_days(entry: rec.LogEntry) -> int:
    """The review window the entry was logged with."""
    return min(entry.review_window_days or DEFAULT_REVIEW_WINDOW_DAYS, MAX_REVIEW_WINDOW_DAYS)


def review_id(log_sequence: int, signal_id: str, member_id: str) -> str:
    """A notice's id: 32 hex digits that say nothing of the log or of other notices."""
    text = f"review\x00{log_sequence}\x00{signal_id}\x00{member_id}".encode()
    return hashlib.sha256(text).hexdigest()[:32]


def request_reviews(
    tx: StoreTxn,
    entry: rec.LogEntry,
    record: rec.SignalRecord,
    reason: coalition_pb2.ReviewReason,
    actor: str,
) -> int:
    """Sends a review notice to every member but `actor` (and members since removed) that
    matched the signal in the entry's review window; returns how many. Call before the
    signal's submissions are removed (its history goes with its last one)."""
    sid = record.signal.signal_id
    since_day = entry.received_at.seconds // 86_400 - window_days(entry)
    mine: dict[str, list[int]] = {}  # member -> [matches, first ms, last ms]
    for member, day, matches in tx.match_days(sid):
        if member == actor or day < since_day:
            continue
        held = mine.setdefault(member, [0, matches.first_ms, matches.last_ms])
        held[0] += matches.matches
        held[1] = min(held[1], matches.first_ms)
        held[2] = max(held[2], matches.last_ms)
    sequence = tx.counter("log_seq")
    sent = 0
    for member, (n, first, last) in sorted(mine.items()):
        if tx.member(member) is None:
            continue
        notice = coalition_pb2.ReviewNotice(
            review_id=review_id(sequence, sid, member),
            signal_id=sid,
            type=record.signal.type,
            reason=reason,
            matches=n,
            first_match=_ts(first),
            last_match=_ts(last),
            requested_at=entry.received_at,
        )
        tx.put_review(member, rec.ReviewRecord(notice=notice, log_sequence=sequence))
        _notify(tx, member, notice, entry.received_at)
        sent += 1
    return sent


def _notify(tx: StoreTxn, member: str, notice: coalition_pb2.ReviewNotice, when: Timestamp) -> None:
    sequence = tx.next_counter("feed_seq")
    event = common_pb2.FeedEvent(
        cursor=str(sequence),
        kind=common_pb2.EVENT_KIND_REVIEW_REQUESTED,
        signal=common_pb2.Signal(signal_id=notice.signal_id, type=notice.type),
        time=when,
        review=notice,
    )
    record = rec.FeedRecord(event=event, target_member=member, private=True)
    record.log_sequence = tx.counter("log_seq")
    tx.put_feed(sequence, record)


def _ts(ms: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMilliseconds(ms)
    return ts
