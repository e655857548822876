"""A member's review notices (decision propagation, issue 21.3) as it reads them: its own
only, newest first, paged with an encrypted position (exchange.cursor)."""

from __future__ import annotations

import struct

from signalhub import reviews as rv
from signalhub.v1 import exchange_pb2

from ..auth import Caller
from ..errors import invalid
from ..store import StoreView
from .context import Hub

_POSITION = struct.Struct(">q16s")
"""A notice's place in the newest-first order: -requested_at ms, review id."""


def _position(notice_ms: int, review_id: str) -> bytes:
    return _POSITION.pack(-notice_ms, bytes.fromhex(review_id))


def list_reviews(
    hub: Hub, view: StoreView, caller: Caller, message: exchange_pb2.ListReviewsRequest
) -> exchange_pb2.ListReviewsResponse:
    """The caller's notices (open ones only unless `include_reviewed`), newest first."""
    size = message.page_size or rv.DEFAULT_REVIEWS_PAGE
    if not 0 < size <= rv.MAX_REVIEWS_PAGE:
        raise invalid(
            f"page_size: 1-{rv.MAX_REVIEWS_PAGE} (0 = {rv.DEFAULT_REVIEWS_PAGE})",
            [("page_size", f"got {message.page_size}")],
        )
    after = hub.codec.decode_position(message.page_token) if message.page_token else b""
    notices = [
        r.notice
        for r in view.reviews(caller.member_id)
        if message.include_reviewed or not r.notice.HasField("reviewed_at")
    ]
    placed = sorted((_position(n.requested_at.ToMilliseconds(), n.review_id), n) for n in notices)
    page = [(p, n) for p, n in placed if not after or p > after][: size + 1]
    response = exchange_pb2.ListReviewsResponse(reviews=[n for _, n in page[:size]])
    if len(page) > size:
        response.next_page_token = hub.codec.encode_position(page[size - 1][0])
    return response
