"""Reading one signal (GetSignal: the signal as the caller may see it and a page of the
submissions it may see, each with its signed envelope) and the signal-type registry
(ListSignalTypes)."""

from __future__ import annotations

import grpc

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import exchange_pb2

from ..auth import Caller
from ..errors import HubError, invalid
from ..store import StoreView, submission_key
from ..visibility import Viewer, view_from, visible_opinions, withheld_submission
from .context import Hub
from .matching import admit_queries, record_queries

SUBMISSIONS_PAGE_DEFAULT = 100
SUBMISSIONS_PAGE_MAX = 1000
ENVELOPE_BYTES_PER_PAGE = 8 * 1024 * 1024
"""A GetSignal page ends before its envelopes pass this size (after its first submission)."""


def get_signal(
    hub: Hub, caller: Caller, message: exchange_pb2.GetSignalRequest
) -> exchange_pb2.GetSignalResponse:
    """The signal as the caller may see it, with a page of the submissions it may see; an
    invisible signal is NOT_FOUND, exactly like a missing one."""
    sid = message.signal_id.strip().lower()
    if not domain.is_signal_id(sid):
        raise invalid(
            "a signal id is 32 hex digits",
            [("signal_id", f"not a signal id: {message.signal_id[:40]!r}")],
        )
    if message.page_size < 0 or message.page_size > SUBMISSIONS_PAGE_MAX:
        raise invalid(f"page_size is 0-{SUBMISSIONS_PAGE_MAX}", [("page_size", "out of range")])
    token = message.page_token
    # A lookup by id is an exact-match query (an id is computable from a guessed value): it
    # counts against the match budget and for the sweep detector; later pages do not.
    counted = not caller.is_operator and not token
    if counted:
        admit_queries(hub, caller.member_id, 1)
    after = hub.codec.decode_position(token) if token else b""
    size = message.page_size or SUBMISSIONS_PAGE_DEFAULT
    with hub.store.read() as view:
        viewer = Viewer.load(view, caller.member_id)
        record = view.signal(sid)
        subs = (
            []
            if record is None
            else [s for s in view.submissions(sid) if viewer.sees(s.member_id, s.audience)]
        )
        shown = (
            None
            if record is None
            else view_from(record.signal, subs, visible_opinions(view, sid, subs, viewer), viewer)
        )
        if counted:
            record_queries(hub, caller.member_id, 1, int(shown is None))
        if record is None or shown is None:  # invisible looks exactly like missing
            raise HubError(grpc.StatusCode.NOT_FOUND, f"no signal {sid}")
        response = exchange_pb2.GetSignalResponse(signal=shown)
        page = [s for s in subs if not token or _position(sid, s) > after]
        envelope_bytes = 0
        last: rec.SubmissionRecord | None = None
        for sub in page:
            entry = view.log_entry(sub.log_sequence)
            if withheld_submission(sub, viewer):
                entry = None  # its payload carries the value; its size must not show either
            envelope = entry.submit.envelope if entry is not None else None
            cost = envelope.ByteSize() if envelope is not None else 0
            full = len(response.submissions) >= size or (
                response.submissions and envelope_bytes + cost > ENVELOPE_BYTES_PER_PAGE
            )
            if full and last is not None:
                response.next_page_token = hub.codec.encode_position(_position(sid, last))
                break
            _add_submission(view, response, caller, sub, entry)
            response.submissions[-1].envelope_withheld = entry is None and bool(sub.sharing)
            envelope_bytes += cost
            last = sub
    return response


def _add_submission(
    view: StoreView,
    response: exchange_pb2.GetSignalResponse,
    caller: Caller,
    sub: rec.SubmissionRecord,
    entry: rec.LogEntry | None,
) -> None:
    """Adds one submission to the page, with its key and its envelope (as logged)."""
    key = view.key(sub.key_id)
    out = response.submissions.add(
        member_id=sub.member_id,
        key_id=sub.key_id,
        batch_id=sub.batch_id,
        index=sub.index,
        labels=sub.labels,
        tags=sub.tags,
        received_at=sub.received_at,
        audience=sub.audience,
        public_key=key.public_key if key else b"",
        industry=sub.industry,
        confidence=sub.confidence,
        sharing=sub.sharing,
    )
    if sub.HasField("expires_at"):
        out.expires_at.CopyFrom(sub.expires_at)
    if sub.HasField("classifier"):
        out.classifier.CopyFrom(sub.classifier)
    if sub.source_ref:
        out.source_ref = sub.source_ref  # seen by whoever sees the submission (unlike incident)
    if sub.metadata:
        out.metadata.update(sub.metadata)
    if sub.incident and caller.member_id in (sub.member_id, domain.OPERATOR_ID):
        out.incident = sub.incident  # a case reference is its submitter's
    if entry is not None:
        out.envelope.CopyFrom(entry.submit.envelope)
        out.envelope_redacted = entry.HasField("redaction")


def _position(signal_id: str, sub: rec.SubmissionRecord) -> bytes:
    """A submission's place among a signal's submissions (12 bytes: its log sequence and
    index), handed out only encrypted as a page token (exchange.cursor)."""
    return submission_key(signal_id, sub)[16:]


def signal_types_response() -> exchange_pb2.ListSignalTypesResponse:
    """The registry as ListSignalTypes answers it."""
    registry = domain.SIGNAL_TYPES
    response = exchange_pb2.ListSignalTypesResponse(fingerprint=registry.fingerprint())
    for name in sorted(registry):
        t = registry[name]
        response.types.add(
            name=t.name,
            description=t.description,
            match=t.match.value,
            bits=t.bits,
            default_threshold=t.default_threshold,
            max_threshold=t.max_threshold,
            personal=t.personal,
            origin=t.origin,
            pytx_name=t.pytx_name or "",
        )
    return response
