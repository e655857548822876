"""How the hub searches a video query's frames (exchange.service.matching): the first frames
searched are exactly enough to rule every stored video out when none of them finds anything.
That answers are unchanged is tested through the real hub (tests/e2e/test_e2e_video.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exchange.service.matching import frames_to_rule_out


@given(st.integers(1, 400), st.floats(0, 100))
def test_frames_to_rule_out_is_the_fewest_misses_no_video_survives(
    frames: int, percent: float
) -> None:
    """Against brute force, with scored_videos' own arithmetic: k frames all missing leaves at
    most frames - k to match, under the threshold; k - 1 would not."""
    k = frames_to_rule_out(frames, percent)

    def rules_out(misses: int) -> bool:
        return 100.0 * (frames - misses) / frames < percent

    if percent == 0:
        assert k == frames and not rules_out(frames)
    else:
        assert rules_out(k) and (k == 0 or not rules_out(k - 1))
