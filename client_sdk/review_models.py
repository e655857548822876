"""Plain values of decision propagation (issue 21.3; docs/decision-propagation.md): a review
notice ("review your actions on SIGNAL_ID") as the member it is for receives it, converted from
the wire at the edge. A notice tells a member about its own matches only: it carries no member
id, so nothing in it says who submitted, who else matched or who appealed.

Kept apart from `models` (which imports it for the feed's `review_requested` events) so that
neither grows past its size; it needs nothing of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from signalhub.v1 import coalition_pb2

from .admin_models import UtcTime, iso_time

REVIEW_REASONS: dict[int, str] = {
    coalition_pb2.REVIEW_REASON_RETRACTED_FALSE_POSITIVE: "retracted_false_positive",
    coalition_pb2.REVIEW_REASON_APPEAL_UPHELD: "appeal_upheld",
    coalition_pb2.REVIEW_REASON_QUARANTINE_RETRACTED: "quarantine_retracted",
}
"""Why a member is asked to review, as the word the SDK and the CLI use."""


def _time(message: Message, name: str) -> str | None:
    """An optional Timestamp field in RFC 3339 with a Z, or None when unset."""
    if not message.HasField(name):
        return None
    return iso_time(UtcTime.from_wire(getattr(message, name)))


@dataclass(frozen=True)
class ReviewNotice:
    """ "Review your actions on a signal": why, and this member's own matches of it in the hub's
    review window (default 90 days). Open until the member marks it reviewed."""

    review_id: str
    """What `Client.mark_reviewed` names (32 hex digits)."""
    signal_id: str
    type: str
    reason: str
    """retracted_false_positive, appeal_upheld or quarantine_retracted."""
    matches: int
    """How many of your match queries hit the signal in the window."""
    first_match: str | None
    last_match: str | None
    requested_at: str | None
    """When the decision was recorded at the hub."""
    reviewed_at: str | None = None
    """When you marked it reviewed (None while it is open)."""
    review_note: str = ""
    """Your note when you marked it reviewed."""

    @property
    def reviewed(self) -> bool:
        """You marked it reviewed."""
        return self.reviewed_at is not None

    @classmethod
    def from_wire(cls, n: coalition_pb2.ReviewNotice) -> ReviewNotice:
        """The SDK's value of a wire `ReviewNotice` (an unknown reason reads "unspecified")."""
        return cls(
            n.review_id,
            n.signal_id,
            n.type,
            REVIEW_REASONS.get(n.reason, "unspecified"),
            n.matches,
            _time(n, "first_match"),
            _time(n, "last_match"),
            _time(n, "requested_at"),
            _time(n, "reviewed_at"),
            n.review_note,
        )

    def to_json(self) -> dict[str, Any]:
        """As a JSON object (`signalhub reviews --json`): every field, plus `reviewed`."""
        return {
            "review_id": self.review_id,
            "signal_id": self.signal_id,
            "type": self.type,
            "reason": self.reason,
            "matches": self.matches,
            "first_match": self.first_match,
            "last_match": self.last_match,
            "requested_at": self.requested_at,
            "reviewed": self.reviewed,
            "reviewed_at": self.reviewed_at,
            "review_note": self.review_note,
        }
