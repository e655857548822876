"""The vPDQ scoring the hub and local replicas share (`scored_videos`): shares, thresholds,
order, and rows that are not frames of a video the caller matches."""

from __future__ import annotations

from signalhub.vpdq_format import VideoScore, scored_videos

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
