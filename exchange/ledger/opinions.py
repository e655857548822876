"""Opinions: a member's signed opinion of a signal it may see (counts kept on the signal, an
update event to whoever sees a submission the giver sees)."""

from __future__ import annotations

import hashlib

import grpc

from exchange.errors import HubError, invalid
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2, exchange_pb2

from ..store import StoreTxn
from ..visibility import Viewer, count_opinion, signal_view
from .common import Applied, append_event, check_window, replayed, signed_request, visibility_of


def apply_opinion(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """Records a member's signed opinion of a signal it may see (replacing its earlier one)."""
    change, _key = signed_request(tx, entry, common_pb2.OpinionChange, "opinion")
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
    prior = replayed(
        tx, "opinion", change.member_id, change.request_id, digest, exchange_pb2.SetOpinionResponse
    )
    if prior is not None:
        return Applied(prior, stored=False)
    check_window(entry, change.created_at)
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
    append_event(
        tx,
        visibility_of(subs),
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
