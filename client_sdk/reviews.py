"""A member's calls of decision propagation (issue 21.3; docs/decision-propagation.md), mixed
into `Client`: record the outcome of a user's appeal against an action on a signal's match (an
upheld one asks every other member that matched the signal to review its actions), list the
review notices the hub sent this member, and mark them reviewed. Appeals and reviews are signed
envelopes, idempotent by request id, as opinions and retractions are."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from signalhub import reviews as rv
from signalhub.v1 import coalition_pb2, common_pb2, exchange_pb2

from .connection import _Connection
from .errors import SignalhubError
from .models import AppealResult, SignalInfo
from .review_models import ReviewNotice

APPEAL_OUTCOMES: dict[str, coalition_pb2.AppealOutcome] = {
    "upheld": coalition_pb2.APPEAL_OUTCOME_UPHELD,
    "denied": coalition_pb2.APPEAL_OUTCOME_DENIED,
}
"""An appeal's outcome: upheld (the action was wrong) or denied (kept for your report only)."""
RETRACT_REASONS: dict[str, common_pb2.RetractReason] = {
    "": common_pb2.RETRACT_REASON_UNSPECIFIED,
    "false_positive": common_pb2.RETRACT_REASON_FALSE_POSITIVE,
}
"""Why a member retracts: not said, or false_positive (members that matched are asked to
review their actions)."""


def _word(text: str) -> str:
    return text.strip().lower().replace("-", "_")


def retract_reason(reason: str) -> common_pb2.RetractReason:
    """The wire reason of `Client.retract(reason=...)`: "" or "false_positive"."""
    value = RETRACT_REASONS.get(_word(reason))
    if value is None:
        raise SignalhubError(f"unknown retraction reason {reason!r}: false_positive or none")
    return value


class ReviewCalls:
    """`Client`'s appeal and review calls (it provides the signed connection, `_conn`)."""

    _conn: _Connection

    def record_appeal(
        self, signal_id: str, outcome: str, note: str = "", *, request_id: str | None = None
    ) -> AppealResult:
        """Records the outcome of a user's appeal against your action on a signal you may see:
        "upheld" (the action was wrong; every other member that matched the signal in the
        review window is asked to review its actions, never told by whom) or "denied" (kept
        for your report; nobody is told). `note` (at most 1000 characters) stays in the hub's
        log and is never shown to other members. Signed; a retry keeps the request id."""
        wire = APPEAL_OUTCOMES.get(_word(outcome))
        if wire is None:
            raise SignalhubError(f"unknown appeal outcome {outcome!r}: upheld or denied")
        response = self._conn.signed_command(
            "/signalhub.v1.Exchange/RecordAppeal",
            rv.APPEAL_SIGNING_PREFIX,
            coalition_pb2.Appeal(
                request_id=request_id or uuid.uuid4().hex,
                signal_id=signal_id,
                outcome=wire,
                note=note,
            ),
            exchange_pb2.RecordAppealRequest,
            exchange_pb2.RecordAppealResponse,
        )
        return AppealResult(
            SignalInfo.from_wire(response.signal), _word(outcome), response.replayed
        )

    def reviews(self, *, include_reviewed: bool = False, page_size: int = 0) -> list[ReviewNotice]:
        """Your review notices, newest first: the open ones, or with `include_reviewed` also
        those you marked reviewed. Every page is read (`page_size` notices at a time, 0 = the
        hub's default of 100)."""
        out: list[ReviewNotice] = []
        token = ""
        while True:
            page = self._conn.signed_unary(
                "/signalhub.v1.Exchange/ListReviews",
                exchange_pb2.ListReviewsRequest(
                    include_reviewed=include_reviewed, page_size=page_size, page_token=token
                ),
                exchange_pb2.ListReviewsResponse,
            )
            out += [ReviewNotice.from_wire(n) for n in page.reviews]
            token = page.next_page_token
            if not token:
                return out

    def mark_reviewed(
        self, review_ids: str | Sequence[str], note: str = "", *, request_id: str | None = None
    ) -> list[ReviewNotice]:
        """Marks your review notices done (one id or up to 1,000), with a note of what you did
        (at most 1000 characters); returns them as they are now, in the order named. A notice
        already reviewed keeps its first time and note. Signed; a retry keeps the request id."""
        ids = [review_ids] if isinstance(review_ids, str) else list(review_ids)
        response = self._conn.signed_command(
            "/signalhub.v1.Exchange/MarkReviewed",
            rv.REVIEW_DONE_SIGNING_PREFIX,
            coalition_pb2.ReviewDone(
                request_id=request_id or uuid.uuid4().hex, review_ids=ids, note=note
            ),
            exchange_pb2.MarkReviewedRequest,
            exchange_pb2.MarkReviewedResponse,
        )
        return [ReviewNotice.from_wire(n) for n in response.reviews]
