"""The vPDQ scoring the hub and local replicas share (`scored_videos`): shares, thresholds,
order, and rows that are not frames of a video the caller matches; and parsing vPDQ values,
whose fast path for well-formed values must answer as the frame-by-frame parser does."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalhub.normalisation import InvalidValue
from signalhub.vpdq_format import (
    VideoScore,
    VpdqFrame,
    _canonical_frames,
    _checked_frames,
    scored_videos,
    vpdq_frames,
    vpdq_text,
)

# rows 1-4 are frames of video "a" (4 frames), rows 10-11 of "b" (2 frames), row 20 a photo
_VIDEO_OF_ROW = {1: "a", 2: "a", 3: "a", 4: "a", 10: "b", 11: "b"}
_FRAMES = {"a": 4, "b": 2}


def _score(hits: list[list[tuple[int, int]]], query: float = 0, compared: float = 0) -> list:
    return scored_videos(hits, _VIDEO_OF_ROW.get, _FRAMES.__getitem__, query, compared)


def test_shares_count_distinct_query_frames_and_distinct_video_rows() -> None:
    # query frame 0 hits rows 1 and 2 of a, frame 1 hits row 1 again and row 10 of b, frame 2
    # hits only the photo
    hits = [[(1, 5), (2, 9)], [(1, 3), (10, 7)], [(20, 0)]]
    assert _score(hits) == [
        VideoScore("a", 100.0 * 2 / 3, 100.0 * 2 / 4, 3),
        VideoScore("b", 100.0 * 1 / 3, 100.0 * 1 / 2, 7),
    ]


def test_thresholds_drop_a_video_below_either_share() -> None:
    hits = [[(1, 5), (2, 9)], [(1, 3), (10, 7)], [(20, 0)]]
    assert [s.signal_id for s in _score(hits, query=50)] == ["a"]
    assert [s.signal_id for s in _score(hits, compared=60)] == []
    assert [s.signal_id for s in _score(hits, compared=50)] == ["a", "b"]


def test_equal_shares_order_by_distance_then_signal_id() -> None:
    video_of_row = {1: "y", 2: "x", 3: "z"}.get
    hits = [[(1, 4), (2, 4), (3, 2)]]
    scores = scored_videos(hits, video_of_row, lambda sid: 1, 0, 0)
    assert [s.signal_id for s in scores] == ["z", "x", "y"]


def test_no_frames_or_only_photos_score_nothing() -> None:
    assert _score([]) == []
    assert _score([[(20, 0)], []]) == []


# ------------------------------------------------------------------ parsing: the canonical path

_HEX = "0123456789abcdef"
_field_texts = st.one_of(
    st.sampled_from(["90", "0", "100", "101", "-1", " 7", "+5", "1_0", "x", "", "5.0"]),
    st.sampled_from(["0.0", "1.5", "1.23e+02", "inf", "nan", "-0.5", " 2.0", "1e400", "2"]),
)


@st.composite
def _items(draw: st.DrawFn) -> list[object]:
    """vPDQ items, mostly well formed, some with one field or the shape spoilt."""
    count = draw(st.integers(1, 12))
    items: list[object] = []
    timestamp = 0.0
    for _ in range(count):
        pdq = "".join(draw(st.lists(st.sampled_from(_HEX), min_size=64, max_size=64)))
        timestamp += draw(st.sampled_from([0.0, 0.5, 1.0]))
        fields = [pdq, str(draw(st.integers(0, 100))), f"{timestamp:.3}"]
        spoil = draw(st.integers(0, 24))
        if spoil == 1:
            fields[0] = draw(st.sampled_from([pdq.upper(), f" {pdq}", pdq[:63], pdq + "0"]))
        elif spoil == 2:
            fields[draw(st.integers(1, 2))] = draw(_field_texts)
        elif spoil == 3:
            fields.append(draw(st.sampled_from(["", "1"])))
        elif spoil == 4:
            fields = fields[:2]
        item: object = ",".join(fields)
        if spoil == 5:
            item = draw(st.sampled_from([None, 3, ["a"], "\x00"]))
        items.append(item)
    if draw(st.booleans()) and len(items) > 1:
        items.reverse()  # timestamps decrease (unless all equal)
    return items


@given(_items())
@settings(max_examples=400, deadline=None)
def test_canonical_path_parses_as_frame_by_frame_does(items: list[object]) -> None:
    """vpdq_frames checks well-formed values a column at a time and anything else frame by
    frame: the frames, or the error, are always the frame-by-frame parser's."""
    text = json.dumps(items)
    try:
        expected: list[VpdqFrame] | str = _checked_frames(json.loads(text))
    except InvalidValue as e:
        expected = str(e)
    try:
        got: list[VpdqFrame] | str = vpdq_frames(text)
    except InvalidValue as e:
        got = str(e)
    assert got == expected
    if isinstance(got, list):
        assert all(type(f.quality) is int and type(f.timestamp) is float for f in got)


def test_canonical_frames_equal_checked_ones() -> None:
    frames = [VpdqFrame("ab" * 32, 90, 0.0), VpdqFrame("cd" * 32, 100, 1.5)]
    parsed = vpdq_frames(vpdq_text(frames))
    assert parsed == frames and [hash(f) for f in parsed] == [hash(f) for f in frames]
    assert _canonical_frames(json.loads(vpdq_text(frames))) == frames
    with pytest.raises(FrozenInstanceError):
        parsed[0].quality = 5  # type: ignore[misc]
