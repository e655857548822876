"""MatchHashes' query planning, a pure function: the request in, a `MatchPlan` out (each query
canonicalised, video queries parsed into frames, each indexed type's distance decided), or
HubError(INVALID_ARGUMENT) naming every bad field. It reads neither the store nor the index,
so its refusals are tested without a hub (tests/exchange/test_query_plan.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from signalhub import domain
from signalhub.v1 import exchange_pb2
from signalhub.vpdq_format import VpdqFrame, vpdq_frames

from ..errors import invalid


@dataclass(frozen=True)
class VideoThresholds:
    """How much of two videos must match for a video query to match a stored video."""

    query: float
    """Least share (percent) of the query's retained frames found in a stored video."""
    compared: float
    """Least share (percent) of the stored video's retained frames found in the query."""


@dataclass
class MatchPlan:
    """A checked MatchHashes request, ready to match."""

    max_distance: int
    """PDQ (and video frame) distance, in bits."""
    thresholds: VideoThresholds
    queries: list[tuple[str, str]] = field(default_factory=list)
    """(type, canonical value) of each query, in order; a video's value is "" (matched by its
    frames, not its text)."""
    typed_limits: dict[int, int] = field(default_factory=dict)
    """Query position -> its max_distance, for types matched by an index of their own."""
    videos: dict[int, list[VpdqFrame]] = field(default_factory=dict)
    """Query position -> the video's frames (parsed once)."""
    exclude_warned: bool = False
    exclude_quarantined: bool = False
    """Leave out matches a warning list flags (counted in QueryMatches.excluded_warned)."""


def plan_match(message: exchange_pb2.MatchHashesRequest) -> MatchPlan:
    """Checks a MatchHashes request and plans its queries; HubError(INVALID_ARGUMENT) naming
    the bad fields otherwise (the call's max_distance and query count are checked first, on
    their own; then every query, the video thresholds and the frame count together)."""
    max_distance = (
        message.max_distance
        if message.HasField("max_distance")
        else domain.DEFAULT_PDQ_MAX_DISTANCE
    )
    most = domain.SIGNAL_TYPES["pdq"].max_threshold  # the registry says it: 64
    if not 0 <= max_distance <= most:
        raise invalid(
            f"max_distance is 0-{most} bits",
            [("max_distance", f"0-{most} required, got {max_distance}")],
        )
    if len(message.queries) > domain.MAX_MATCH_QUERIES:
        raise invalid(
            f"at most {domain.MAX_MATCH_QUERIES} queries a call",
            [("queries", f"got {len(message.queries)}")],
        )
    plan = MatchPlan(
        max_distance,
        _thresholds(message),
        exclude_warned=message.exclude_warned,
        exclude_quarantined=message.exclude_quarantined,
    )
    violations: list[tuple[str, str]] = [
        (name, "0-100 required")
        for name, value in (
            ("min_query_match_percent", plan.thresholds.query),
            ("min_compared_match_percent", plan.thresholds.compared),
        )
        if not 0 <= value <= 100  # also refuses NaN
    ]
    for i, q in enumerate(message.queries):
        try:
            violations.extend(_plan_query(plan, i, q))
        except domain.InvalidValue as e:
            field_name = "type" if q.type not in domain.SIGNAL_TYPES else "value"
            violations.append((f"queries[{i}].{field_name}", str(e)))
    frames = sum(len(v) for v in plan.videos.values())
    if frames > domain.MAX_MATCH_FRAMES:
        violations.append(
            ("queries", f"at most {domain.MAX_MATCH_FRAMES} video frames a call, got {frames}")
        )
    if violations:
        raise invalid(f"invalid query: {violations[0][0]}: {violations[0][1]}", violations)
    return plan


def _thresholds(message: exchange_pb2.MatchHashesRequest) -> VideoThresholds:
    """The request's video thresholds, or their defaults."""
    return VideoThresholds(
        message.min_query_match_percent
        if message.HasField("min_query_match_percent")
        else domain.VPDQ_QUERY_MATCH_PERCENT,
        message.min_compared_match_percent
        if message.HasField("min_compared_match_percent")
        else 0.0,
    )


def _plan_query(plan: MatchPlan, i: int, q: exchange_pb2.MatchQuery) -> list[tuple[str, str]]:
    """Adds query `i` to the plan; returns what is wrong with its distance. Raises
    domain.InvalidValue for an unknown type or a bad value."""
    if q.type == "vpdq":
        plan.videos[i] = vpdq_frames(q.value)
        plan.queries.append((q.type, ""))  # matched by its frames, not its text
        return []
    plan.queries.append((q.type, domain.canonical_value(q.type, q.value)))
    spec = domain.SIGNAL_TYPES[q.type]
    if not spec.indexed:
        if q.HasField("max_distance"):
            return [
                (f"queries[{i}].max_distance", f"{q.type} is not matched by a distance of its own")
            ]
        return []
    limit = q.max_distance if q.HasField("max_distance") else spec.default_threshold
    plan.typed_limits[i] = limit
    if not 0 <= limit <= spec.max_threshold:
        return [(f"queries[{i}].max_distance", f"0-{spec.max_threshold} for {q.type}, got {limit}")]
    return []
