"""The SDK's values of decision propagation, converted from the wire without a hub: a review
notice and a feed event carrying one, as `signalhub reviews --json` and `fetch --json` print
them."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from client_sdk.errors import SignalhubError
from client_sdk.models import FeedEvent
from client_sdk.review_models import ReviewNotice
from client_sdk.reviews import retract_reason
from signalhub.v1 import coalition_pb2, common_pb2


def _ts(ms: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMilliseconds(ms)
    return ts


def _notice(**fields: object) -> coalition_pb2.ReviewNotice:
    return coalition_pb2.ReviewNotice(
        review_id="ab" * 16,
        signal_id="cd" * 16,
        type="pdq",
        reason=coalition_pb2.REVIEW_REASON_APPEAL_UPHELD,
        matches=3,
        first_match=_ts(1_000),
        last_match=_ts(61_500),
        requested_at=_ts(120_000),
        **fields,  # type: ignore[arg-type]
    )


def test_an_open_notice_reads_with_its_own_counts_and_no_review() -> None:
    n = ReviewNotice.from_wire(_notice())
    assert (n.reason, n.matches, n.reviewed, n.reviewed_at) == ("appeal_upheld", 3, False, None)
    assert n.to_json() == {
        "review_id": "ab" * 16,
        "signal_id": "cd" * 16,
        "type": "pdq",
        "reason": "appeal_upheld",
        "matches": 3,
        "first_match": "1970-01-01T00:00:01Z",
        "last_match": "1970-01-01T00:01:01.500000Z",
        "requested_at": "1970-01-01T00:02:00Z",
        "reviewed": False,
        "reviewed_at": None,
        "review_note": "",
    }


def test_a_reviewed_notice_says_when_and_the_note() -> None:
    n = ReviewNotice.from_wire(_notice(reviewed_at=_ts(180_000), review_note="restored"))
    assert n.reviewed and n.reviewed_at == "1970-01-01T00:03:00Z" and n.review_note == "restored"


def test_an_unknown_reason_reads_unspecified() -> None:
    wire = _notice()
    wire.reason = 99  # type: ignore[assignment]  # a reason newer than this SDK
    assert ReviewNotice.from_wire(wire).reason == "unspecified"


def test_a_review_event_carries_the_notice_and_names_no_member() -> None:
    wire = common_pb2.FeedEvent(
        cursor="ef" * 16,
        kind=common_pb2.EVENT_KIND_REVIEW_REQUESTED,
        signal=common_pb2.Signal(signal_id="cd" * 16, type="pdq"),
        time=_ts(120_000),
        review=_notice(),
    )
    event = FeedEvent.from_wire(wire)
    assert event.event == "review_requested" and event.review == ReviewNotice.from_wire(_notice())
    line = event.to_json()
    assert line["event"] == "review_requested" and line["matches"] == 3
    assert "member_id" not in line and "reviewed" not in line  # the notice as sent


def test_other_events_carry_no_notice() -> None:
    wire = common_pb2.FeedEvent(kind=common_pb2.EVENT_KIND_SIGNAL_ADDED)
    assert FeedEvent.from_wire(wire).review is None


def test_retraction_reasons() -> None:
    assert retract_reason("") == common_pb2.RETRACT_REASON_UNSPECIFIED
    assert retract_reason("False-Positive") == common_pb2.RETRACT_REASON_FALSE_POSITIVE
    with pytest.raises(SignalhubError, match="false_positive"):
        retract_reason("mistake")
