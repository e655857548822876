"""One feed record as one caller sees it: `event_for` (the caller's copy, or nothing) and
`shared_event` (the copy every member sees alike, serialised once for all followers). The feed
(exchange.service.feed) and the snapshot's "would it be sent" check (exchange.snapshot) follow
these rules."""

from __future__ import annotations

from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2

from ..cursor import CursorCodec
from ..snapshot import framed
from ..store import StoreView
from ..visibility import Viewer, event_visible, view_from, visible_opinions

EVERYONE = Viewer("", frozenset())
"""A viewer in no group: sees what every member sees."""
GONE = (common_pb2.EVENT_KIND_SIGNAL_REMOVED, common_pb2.EVENT_KIND_SIGNAL_ERASED)
CHANGES = (common_pb2.EVENT_KIND_SIGNAL_ADDED, common_pb2.EVENT_KIND_SIGNAL_UPDATED)
"""Events a caller receives as "added" or "updated" as it sees the signal (quarantine and
release events keep their kind)."""
AS_LOGGED = (common_pb2.EVENT_KIND_WARNING_LISTS_CHANGED, common_pb2.EVENT_KIND_REVIEW_REQUESTED)
"""Events sent as stored: about no signal's view (a review notice is for one member only)."""
"""Events that carry the signal as it was (id and type; a removal also its value)."""
EVENTS_FIELD = 2  # FetchUpdatesResponse.events

SharedEvent = tuple[common_pb2.FeedEvent, bytes]
"""An event every member sees alike, and its frame as field 2 of FetchUpdatesResponse."""


def shared_event(view: StoreView, record: rec.FeedRecord, codec: CursorCodec) -> SharedEvent | None:
    """The event of a record every member sees alike (public, about a signal no submission of
    which is restricted), with its serialised frame; None when views may differ."""
    if record.target_member or record.private or record.members or record.audience:
        return None
    if record.event.kind == common_pb2.EVENT_KIND_WARNING_LISTS_CHANGED:
        event = event_for(view, record, EVERYONE, codec)
        assert event is not None
        return event, framed(EVENTS_FIELD, event.SerializeToString())
    if record.event.kind not in GONE:
        stored = view.signal(record.event.signal.signal_id)
        if stored is None or stored.restricted:
            return None
    event = event_for(view, record, EVERYONE, codec)
    if event is None:
        return None
    return event, framed(EVENTS_FIELD, event.SerializeToString())


def value_withheld(record: rec.FeedRecord, viewer: Viewer) -> bool:
    """Whether a removal's value is kept from the caller: the submissions it removed include
    one shared match-only, and the caller is neither the operator nor one of their submitters
    (a member that saw the value through a full submission already has it, and a removal needs
    the id only)."""
    return (
        record.withholds_value and not viewer.is_operator and viewer.member_id not in record.members
    )


def event_for(
    view: StoreView, record: rec.FeedRecord, viewer: Viewer, codec: CursorCodec
) -> common_pb2.FeedEvent | None:
    """The caller's copy of a feed record, or None when it may not see it. Signal events carry
    the caller's view of the signal as it is now, so replaying the feed from any cursor ends
    with exactly what the caller may see; a signal the caller has lost sight of since becomes
    a tombstone, and one removed since is skipped (its tombstone comes later in the feed)."""
    if not event_visible(record, viewer):
        return None
    event = record.event
    out = common_pb2.FeedEvent()
    out.CopyFrom(event)
    out.cursor = codec.encode(int(event.cursor))  # never the sequence itself (exchange.cursor)
    if event.kind in GONE or event.kind in AS_LOGGED:
        if value_withheld(record, viewer):
            out.signal.value = ""
            out.signal.value_withheld = True
        return out
    stored = view.signal(event.signal.signal_id)
    if stored is None:
        return None
    visible = [
        s for s in view.submissions(stored.signal.signal_id) if viewer.sees(s.member_id, s.audience)
    ]
    if stored.restricted:
        opinions = visible_opinions(view, stored.signal.signal_id, visible, viewer)
        shown = view_from(stored.signal, visible, opinions, viewer)
    else:
        shown = stored.signal
    if shown is not None and record.log_sequence and event.kind in CHANGES:
        # Added or updated as this caller sees it: an earlier submission it cannot see must
        # not show through as an "update".
        earlier = any(s.log_sequence < record.log_sequence for s in visible)
        out.kind = (
            common_pb2.EVENT_KIND_SIGNAL_UPDATED if earlier else common_pb2.EVENT_KIND_SIGNAL_ADDED
        )
    if shown is None and not record.withdraws:
        # An older event about a signal the caller no longer sees: not sent, exactly as when
        # the signal is gone (its removal reached the caller as the withdrawal below, or as a
        # tombstone). Sending it as a removal would tell that somebody still holds it.
        return None
    if shown is None:
        out.kind = common_pb2.EVENT_KIND_SIGNAL_REMOVED
        out.signal.CopyFrom(
            common_pb2.Signal(
                signal_id=stored.signal.signal_id,
                type=stored.signal.type,
                value=stored.signal.value,
            )
        )
        if value_withheld(record, viewer):
            out.signal.value = ""
            out.signal.value_withheld = True
    else:
        out.signal.CopyFrom(shown)
    return out
