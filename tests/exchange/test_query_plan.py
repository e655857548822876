"""MatchHashes' query planning without a hub: every bad request is refused with
INVALID_ARGUMENT naming the field (and saying what the e2e bad-input tests see: the same codes
and messages), and a good one is planned as the matcher needs it."""

from __future__ import annotations

import random

import grpc
import pytest

from exchange.errors import HubError
from exchange.service import MatchPlan, VideoThresholds, plan_match
from signalhub import domain
from signalhub.v1 import exchange_pb2
from signalhub.vpdq_format import VpdqFrame, vpdq_frames, vpdq_text

PDQ = "f0" * 32
GOOD = f'"{"ab" * 32},80,0.0"'


def request(queries: list[tuple[str, str]], **fields: object) -> exchange_pb2.MatchHashesRequest:
    return exchange_pb2.MatchHashesRequest(
        queries=[exchange_pb2.MatchQuery(type=t, value=v) for t, v in queries],
        **fields,  # type: ignore[arg-type]
    )


def refused(message: exchange_pb2.MatchHashesRequest) -> HubError:
    with pytest.raises(HubError) as info:
        plan_match(message)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    return info.value


def fields(error: HubError) -> list[str]:
    return [name for name, _ in error.violations]


@pytest.mark.parametrize(
    ("queries", "max_distance", "field"),
    [
        ([("pdq", "12")], 31, "queries[0].value"),
        ([("pdq", PDQ), ("nope", PDQ)], 31, "queries[1].type"),
        ([("pdq", PDQ)], 65, "max_distance"),
        ([("pdq", PDQ)], -1, "max_distance"),
    ],
)
def test_a_bad_query_or_distance_is_refused_naming_the_field(
    queries: list[tuple[str, str]], max_distance: int, field: str
) -> None:
    error = refused(request(queries, max_distance=max_distance))
    assert fields(error) == [field]


def test_a_distance_out_of_range_names_the_bits() -> None:
    error = refused(request([("pdq", PDQ)], max_distance=65))
    assert error.message == "max_distance is 0-64 bits"
    assert error.violations == [("max_distance", "0-64 required, got 65")]


def test_a_distance_for_a_type_without_one_is_refused() -> None:
    message = request([("pdq", PDQ)])
    message.queries[0].max_distance = 5
    error = refused(message)
    assert fields(error) == ["queries[0].max_distance"]
    assert "not matched by a distance of its own" in str(error)


def test_every_bad_query_is_named_and_the_message_gives_the_first() -> None:
    error = refused(request([("pdq", PDQ), ("pdq", "zz"), ("nope", "x"), ("md5", "12")]))
    assert fields(error) == ["queries[1].value", "queries[2].type", "queries[3].value"]
    assert error.message.startswith("invalid query: queries[1].value: ")


def test_too_many_queries_are_refused_before_any_is_read() -> None:
    queries = [("pdq", "zz")] * (domain.MAX_MATCH_QUERIES + 1)  # each bad too: not looked at
    error = refused(request(queries))
    assert error.violations == [("queries", f"got {domain.MAX_MATCH_QUERIES + 1}")]
    assert error.message == f"at most {domain.MAX_MATCH_QUERIES} queries a call"


@pytest.mark.parametrize(
    ("thresholds", "field"),
    [
        ({"min_query_match_percent": 101}, "min_query_match_percent"),
        ({"min_compared_match_percent": -1}, "min_compared_match_percent"),
        ({"min_query_match_percent": float("nan")}, "min_query_match_percent"),
    ],
)
def test_bad_video_thresholds_are_refused(thresholds: dict[str, float], field: str) -> None:
    error = refused(request([("vpdq", vpdq_text([VpdqFrame(PDQ, 80, 0.0)]))], **thresholds))
    assert fields(error) == [field]


def test_too_many_video_frames_a_call_are_refused() -> None:
    many = vpdq_text([VpdqFrame("ab" * 32, 80, float(t)) for t in range(10_001)])
    error = refused(request([("vpdq", many)] * 10))
    assert "at most 100000 video frames" in str(error)
    assert fields(error) == ["queries"]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("[]", "at least one frame"),
        ("not json", "JSON list"),
        (f'["{"ab" * 32},80,3.0", "{"cd" * 32},80,2.0"]', "frame 1: timestamps must not decrease"),
        (f'[{GOOD}, "{"ab" * 32},-5,1.0"]', "frame 1: quality is 0-100"),
    ],
)
def test_a_malformed_video_query_is_refused_saying_why(value: str, says: str) -> None:
    error = refused(request([("vpdq", value)]))
    assert fields(error) == ["queries[0].value"]
    assert says in str(error)


def test_an_indexed_types_distance_is_checked_against_its_own_range() -> None:
    if "tlsh" not in domain.SIGNAL_TYPES:
        pytest.skip("the tlsh plug-in is not installed")
    tlsh = pytest.importorskip("tlsh")
    rng = random.Random(3)
    value = str(tlsh.hash(bytes(rng.randrange(256) for _ in range(2048))))
    most = domain.SIGNAL_TYPES["tlsh"].max_threshold
    message = request([("tlsh", value)])
    message.queries[0].max_distance = most + 1
    error = refused(message)
    assert error.violations == [("queries[0].max_distance", f"0-{most} for tlsh, got {most + 1}")]
    fine = plan_match(request([("tlsh", value)]))
    assert fine.typed_limits == {0: domain.SIGNAL_TYPES["tlsh"].default_threshold}


def test_a_good_request_is_planned_with_canonical_values_and_parsed_videos() -> None:
    frames = [VpdqFrame("ab" * 32, 80, 0.0), VpdqFrame("cd" * 32, 90, 1.0)]
    message = request(
        [("pdq", PDQ.upper()), ("vpdq", vpdq_text(frames)), ("md5", "A" * 32)], max_distance=4
    )
    plan = plan_match(message)
    assert plan == MatchPlan(
        max_distance=4,
        thresholds=VideoThresholds(domain.VPDQ_QUERY_MATCH_PERCENT, 0.0),
        queries=[
            ("pdq", domain.canonical_value("pdq", PDQ.upper())),
            ("vpdq", ""),
            ("md5", domain.canonical_value("md5", "A" * 32)),
        ],
        typed_limits={},
        videos={1: vpdq_frames(vpdq_text(frames))},
    )


def test_defaults_fill_what_the_request_leaves_out() -> None:
    plan = plan_match(request([("pdq", PDQ)]))
    assert plan.max_distance == domain.DEFAULT_PDQ_MAX_DISTANCE
    assert plan.thresholds == VideoThresholds(domain.VPDQ_QUERY_MATCH_PERCENT, 0.0)
