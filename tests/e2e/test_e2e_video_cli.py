"""Videos as a trust-and-safety engineer handles them with the `signalhub` command, against a
real hub: hash, submit (hash lines or video files), match edited copies, a clip, an unrelated
video, and an image that is a frame of a stored video."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hubtools import HubProcess, run_cli, store_fingerprint
from PIL import Image
from videotools import (
    read_frames,
    save_clip,
    save_reencoded,
    save_resized,
    save_video,
    save_watermarked,
    save_zero_frame_video,
)


@pytest.fixture(scope="module")
def env(hub: HubProcess, keys_dir: Path) -> dict[str, str]:
    key = hub.add_member("video-cli", keys_dir)
    return {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "video-cli",
            "SIGNALHUB_KEY": str(key)}  # fmt: skip


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    # Seed 8: 11 of its 12 watermarked frames are within 26 bits of the original's (seed 1 had 10
    # of 12 within 31, and x264's output shifts a frame by a few bits with the CPUs it may use).
    original = save_video(d / "original.mp4", seed=8)
    return {
        "original": original,
        "other": save_video(d / "other.mp4", seed=2),
        "unrelated": save_video(d / "unrelated.mp4", seed=3),
        "reencoded": save_reencoded(d / "reencoded.mp4", original),
        "resized": save_resized(d / "resized.mp4", original),
        "clip": save_clip(d / "clip.mp4", original),
        "watermarked": save_watermarked(d / "watermarked.mp4", original),
    }


@pytest.fixture(scope="module")
def stored(env: dict[str, str], videos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
           ) -> dict[str, str]:  # fmt: skip
    """The original submitted from `hash --json` lines, the other one straight from the file."""
    hashed = run_cli("hash", "--json", str(videos["original"]), check=True)
    line = json.loads(hashed.stdout)
    assert line["path"] == str(videos["original"]) and len(line["frames"]) >= 10
    assert all(set(f) == {"pdq", "quality", "timestamp"} for f in line["frames"])
    listing = tmp_path_factory.mktemp("lists") / "videos.jsonl"
    listing.write_text(hashed.stdout)
    first = run_cli("submit", str(listing), "--label", "csam", "--json", env=env, check=True)
    assert json.loads(first.stdout)["new"] == 1
    second = run_cli("submit", "--from-video", str(videos["other"]), "--json", env=env, check=True)
    assert json.loads(second.stdout)["new"] == 1
    return {"frames": str(len(line["frames"]))}


@pytest.mark.parametrize("edit", ["reencoded", "resized", "clip", "watermarked"])
def test_edited_copies_and_a_clip_match_the_stored_video(
    edit: str, env: dict[str, str], videos: dict[str, Path], stored: dict[str, str]
) -> None:
    result = run_cli("match", str(videos[edit]), "--json", env=env, check=True)
    answer = json.loads(result.stdout)
    assert answer["query"] == str(videos[edit]) and answer["type"] == "vpdq"
    assert len(answer["matches"]) == 1, answer["matches"]
    match = answer["matches"][0]
    assert match["labels"] == ["csam"] and match["query_match_percent"] >= 80
    if edit == "clip":  # a 30 % clip covers about a third of the stored video
        assert 15 <= match["compared_match_percent"] <= 50
    else:
        assert match["compared_match_percent"] >= 80
    human = run_cli("match", str(videos[edit]), env=env, check=True)
    assert "1 match" in human.stdout and "query_match=" in human.stdout


def test_an_unrelated_video_does_not_match(
    env: dict[str, str], videos: dict[str, Path], stored: dict[str, str]
) -> None:
    result = run_cli("match", str(videos["unrelated"]), "--json", env=env, check=True)
    assert json.loads(result.stdout)["matches"] == []


def test_an_image_finds_the_video_it_is_a_frame_of(
    env: dict[str, str], videos: dict[str, Path], stored: dict[str, str], tmp_path: Path
) -> None:
    frames = list(read_frames(videos["original"]))
    still = tmp_path / "still.png"
    Image.fromarray(np.asarray(frames[len(frames) // 2])).save(still)
    result = run_cli("match", str(still), "--json", env=env, check=True)
    answer = json.loads(result.stdout)
    videos_found = [m for m in answer["matches"] if m["type"] == "vpdq"]
    assert len(videos_found) == 1 and videos_found[0]["labels"] == ["csam"]
    assert videos_found[0]["frame_timestamp"] >= 0


def test_bad_videos_are_refused_before_anything_is_sent(
    hub: HubProcess, env: dict[str, str], tmp_path: Path
) -> None:
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("this is text")
    empty = save_zero_frame_video(tmp_path / "empty.mp4")
    bad_line = tmp_path / "bad.jsonl"
    bad_line.write_text(json.dumps({"frames": [{"pdq": "zz" * 32, "quality": 80,
                                                "timestamp": 0}]}) + "\n")  # fmt: skip
    before = store_fingerprint(hub.data_dir)
    for args in (
        ("submit", "--from-video", str(not_a_video)),
        ("submit", "--from-video", str(empty)),
        ("submit", "--from-video", str(tmp_path / "missing.mp4")),
        ("submit", str(bad_line)),
        ("match", str(not_a_video)),
    ):
        result = run_cli(*args, env=env)
        assert result.returncode == 1, (args, result.stdout)
        assert result.stderr.startswith("signalhub: error:"), result.stderr
    hashed = run_cli("hash", str(not_a_video), str(empty))
    assert hashed.returncode == 1 and hashed.stderr.count("signalhub: error:") == 2
    assert store_fingerprint(hub.data_dir) == before
