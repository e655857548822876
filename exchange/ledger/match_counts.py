"""A node's logged match counts (exchange.match_counts), applied: each (signal, member) count
goes into the signal's match history per UTC day (what review notices count, `reviews`), and,
when the member is not one of the signal's submitters, into its matches per hour; a signal
whose current hour jumps above its trailing baseline as the entry's policy says is quarantined
(flood quarantine, issue 21.2). Everything is decided from the entry: its counts' times, its
policy, the store; never the clock or the hub's settings now."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import coalition_pb2, common_pb2, exchange_pb2

from ..store import StoreTxn
from .common import Applied, append_event, valid_time, visibility_of

MAX_HISTORY_DAYS = 366
"""Match history older than this (days before a count) is dropped when the pair is counted
again: no review window reaches further."""
MAX_BASELINE_HOURS = 24 * 28
"""Longest baseline a policy may ask for (longer ones are cut to this)."""


def apply_match_counts(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Adds the entry's counts to the history and rates; quarantines the signals it tips."""
    command = entry.match_counts
    applied = Applied(exchange_pb2.RetractSubmissionResponse())
    touched: dict[str, int] = {}  # signal id -> the latest hour counted at a non-submitter
    for count in command.counts:
        if not _well_formed(count):
            continue
        record = tx.signal(count.signal_id)
        if record is None:  # removed (or erased) since it was matched
            continue
        _add_to_history(tx, count)
        if count.member_id in record.members:
            continue  # a submitter matching its own signal says nothing of a flood
        hour = count.last.seconds // 3600
        _add_to_rate(tx, count.signal_id, hour, count.matches, command.policy)
        touched[count.signal_id] = max(hour, touched.get(count.signal_id, 0))
    policy = command.policy
    if not policy.disabled:
        for sid in sorted(touched):
            _maybe_quarantine(tx, sid, touched[sid], policy, entry.received_at)
    return applied


def _well_formed(count: rec.MatchCount) -> bool:
    return (
        domain.is_signal_id(count.signal_id)
        and bool(count.member_id)
        and count.matches > 0
        and valid_time(count.first)
        and valid_time(count.last)
    )


def _add_to_history(tx: StoreTxn, count: rec.MatchCount) -> None:
    day = count.last.seconds // 86_400
    stale = []
    held: rec.MatchDayRecord | None = None
    for _member, d, record in tx.match_days(count.signal_id, count.member_id):
        if d == day:
            held = record
        elif d < day - MAX_HISTORY_DAYS:
            stale.append(d)
    for d in stale:
        tx.delete_match_day(count.signal_id, count.member_id, d)
    first, last = count.first.ToMilliseconds(), count.last.ToMilliseconds()
    if held is None:
        held = rec.MatchDayRecord(matches=count.matches, first_ms=first, last_ms=last)
    else:
        held.matches += count.matches
        held.first_ms = min(held.first_ms, first)
        held.last_ms = max(held.last_ms, last)
    tx.put_match_day(count.signal_id, count.member_id, day, held)


def _baseline_hours(policy: rec.QuarantinePolicy) -> int:
    return min(max(policy.baseline_hours, 1), MAX_BASELINE_HOURS)


def _add_to_rate(
    tx: StoreTxn, signal_id: str, hour: int, matches: int, policy: rec.QuarantinePolicy
) -> None:
    rate = tx.match_rate(signal_id) or rec.MatchRateRecord()
    hours = dict(zip(rate.hours, rate.matches, strict=False))
    hours[hour] = hours.get(hour, 0) + matches
    newest = max(hours)
    keep = sorted(h for h in hours if h >= newest - _baseline_hours(policy))
    del rate.hours[:]
    del rate.matches[:]
    rate.hours.extend(keep)
    rate.matches.extend(hours[h] for h in keep)
    tx.put_match_rate(signal_id, rate)


def rate_at(
    rate: rec.MatchRateRecord, hour: int, policy: rec.QuarantinePolicy
) -> tuple[int, float]:
    """(matches in `hour`, the baseline: mean matches per hour over the policy's hours before
    it, at least the rate it was last released at)."""
    hours = dict(zip(rate.hours, rate.matches, strict=False))
    span = _baseline_hours(policy)
    before = sum(n for h, n in hours.items() if hour - span <= h < hour)
    return hours.get(hour, 0), max(before / span, rate.released_floor)


def _maybe_quarantine(
    tx: StoreTxn, signal_id: str, hour: int, policy: rec.QuarantinePolicy, when: Timestamp
) -> None:
    if tx.quarantined(signal_id) is not None:
        return
    rate = tx.match_rate(signal_id)
    record = tx.signal(signal_id)
    if rate is None or record is None:
        return
    current, baseline = rate_at(rate, hour, policy)
    if current <= policy.min_matches_per_hour or current <= policy.ratio * baseline:
        return
    shown = coalition_pb2.QuarantinedSignal(
        signal_id=signal_id,
        type=record.signal.type,
        quarantined_at=when,
        matches_per_hour=current,
        baseline_per_hour=baseline,
    )
    tx.put_quarantine(rec.QuarantineRecord(signal=shown, log_sequence=tx.counter("log_seq")))
    set_quarantined(tx, record, True, common_pb2.EVENT_KIND_SIGNAL_QUARANTINED, when)


def set_quarantined(
    tx: StoreTxn,
    record: rec.SignalRecord,
    quarantined: bool,
    kind: common_pb2.EventKind,
    when: Timestamp,
) -> None:
    """Marks the stored signal (every view of it carries the flag) and tells whoever may see
    it, with a feed event of `kind`."""
    record.signal.quarantined = quarantined
    tx.put_signal(record)
    subs = tx.submissions(record.signal.signal_id)
    append_event(tx, visibility_of(subs), kind, record.signal, "", when)
