"""Video signals (vPDQ) through the real hub: clip-aware matching served from the PDQ index,
images matched against video frames, retraction and privacy, and bad vPDQ values.

Frames here are synthetic (random PDQ hashes, with bits flipped for "edited" copies), so every
expected share is known exactly; decoding real videos is tested with the hashing module."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from hubtools import HubProcess, store_fingerprint

from client_sdk import Client, Signal
from client_sdk.errors import SignalhubError, error_from_rpc
from signalhub import domain
from signalhub.vpdq_format import VpdqFrame, vpdq_frames, vpdq_text


def _hash(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def _flip(hex_hash: str, bits: int, rng: random.Random) -> str:
    value = int(hex_hash, 16)
    for b in rng.sample(range(256), bits):
        value ^= 1 << b
    return f"{value:064x}"


def video(seed: int, frames: int = 100, quality: int = 80) -> list[VpdqFrame]:
    rng = random.Random(seed)
    return [VpdqFrame(_hash(rng), quality, float(t)) for t in range(frames)]


def edited(frames: list[VpdqFrame], seed: int, bits: int = 8) -> list[VpdqFrame]:
    """The same frames re-encoded: each hash a few bits away, timestamps shifted to 0."""
    rng = random.Random(seed)
    start = frames[0].timestamp
    return [VpdqFrame(_flip(f.pdq, bits, rng), f.quality, f.timestamp - start) for f in frames]


STORED = video(seed=1)
OTHER = video(seed=2)
BLURRY = video(seed=3, quality=20)  # every frame below the quality threshold


@pytest.fixture(scope="module")
def members(hub: HubProcess, keys_dir: Path) -> dict[str, Path]:
    keys = {name: hub.add_member(name, keys_dir) for name in ("vid-a", "vid-b", "vid-c")}
    with hub.admin() as admin:
        admin.add_group_members("vid-private", ["vid-b"])
    with hub.client("vid-a", keys["vid-a"]) as client:
        client.submit(
            [
                Signal("vpdq", vpdq_text(STORED), labels=("csam",)),
                Signal("vpdq", vpdq_text(OTHER)),
                Signal("vpdq", vpdq_text(BLURRY)),
                Signal("pdq", STORED[10].pdq),  # a photo that is also a frame of STORED
            ]
        )
    return keys


def _client(hub: HubProcess, members: dict[str, Path], name: str = "vid-a") -> Client:
    return hub.client(name, members[name])


def test_a_clip_cut_from_a_stored_video_and_edited_is_found(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    clip = edited(STORED[30:60], seed=7)
    with _client(hub, members) as client:
        result = client.match_video(clip)
        whole = client.match_video(edited(STORED, seed=8))
    assert [m.signal.value for m in result.matches] == [vpdq_text(STORED)]
    best = result.matches[0]
    assert best.query_match_percent == 100.0 and best.compared_match_percent == 30.0
    assert best.distance == 8 and best.signal.labels == ("csam",)
    assert [(m.query_match_percent, m.compared_match_percent) for m in whole.matches] == [
        (100.0, 100.0)
    ]


def test_thresholds_decide_partial_overlaps(hub: HubProcess, members: dict[str, Path]) -> None:
    rng = random.Random(9)
    half = edited(STORED[:50], seed=9) + [
        VpdqFrame(_hash(rng), 80, 50.0 + i) for i in range(50)
    ]  # half the query's frames are unrelated
    clip = edited(STORED[30:60], seed=10)
    with _client(hub, members) as client:
        assert client.match_video(half).matches == ()  # 50 % < 80 % by default
        lowered = client.match_video(half, min_query_match_percent=40)
        strict = client.match_video(clip, min_compared_match_percent=50)
    assert [(m.query_match_percent, m.compared_match_percent) for m in lowered.matches] == [
        (50.0, 50.0)
    ]
    assert strict.matches == ()  # the clip covers 30 % of the stored video


def test_unrelated_and_low_quality_videos_do_not_match(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    with _client(hub, members) as client:
        assert client.match_video(video(seed=99)).matches == ()
        # BLURRY is stored but none of its frames is retained for matching.
        assert client.match_video(BLURRY).matches == ()
        # A query whose every frame is of low quality has nothing to match with.
        assert client.match_video(edited(STORED, seed=4, bits=0)[:0] + BLURRY).matches == ()


def test_an_image_finds_the_video_with_a_frame_like_it_and_its_time(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    near_frame_42 = _flip(STORED[42].pdq, 5, random.Random(5))
    with _client(hub, members) as client:
        (result,) = client.match_pdq([near_frame_42])
        (photo_and_video,) = client.match_pdq([STORED[10].pdq])
    assert [(m.signal.type, m.distance, m.frame_timestamp) for m in result.matches] == [
        ("vpdq", 5, 42.0)
    ]
    # The photo equal to frame 10 and the video containing it: each once, nearest first.
    found = sorted((m.signal.type, m.distance, m.frame_timestamp) for m in photo_and_video.matches)
    assert found == [("pdq", 0, None), ("vpdq", 0, 10.0)]


def test_videos_shared_with_a_group_are_matched_only_by_its_members(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    secret = video(seed=20)
    with _client(hub, members, "vid-b") as b:
        b.submit([Signal("vpdq", vpdq_text(secret))], audience=["vid-private"])
        assert len(b.match_video(edited(secret, seed=21)).matches) == 1
    with _client(hub, members, "vid-c") as c:
        assert c.match_video(edited(secret, seed=21)).matches == ()
        (by_image,) = c.match_pdq([secret[3].pdq])
        assert by_image.matches == ()


def test_retracting_a_video_removes_its_frames_from_matching_and_the_feed_says_so(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    gone = video(seed=30, frames=20)
    text = vpdq_text(gone)
    with _client(hub, members, "vid-c") as client:
        result = client.submit([Signal("vpdq", text)])
        sid = result.items[0].signal_id
        assert len(client.match_video(gone).matches) == 1
        events = [e for e in client.fetch() if e.signal.signal_id == sid]
        assert [e.event for e in events] == ["signal_added"] and events[0].signal.value == text
        client.retract([sid])
        assert client.match_video(gone).matches == ()
        (by_image,) = client.match_pdq([gone[5].pdq])
        assert by_image.matches == ()
        events = [e for e in client.fetch() if e.signal.signal_id == sid]
    # (Earlier events of a removed signal are no longer shown: a new subscriber never sees it.)
    assert [e.event for e in events][-1:] == ["signal_removed"]


def test_pytx_text_is_accepted_and_stored_canonically(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    """What pytx's `vpdq_to_json` writes is the canonical form; other spellings of the same
    frames (upper-case hex, more timestamp digits, no spaces) get the same signal id."""
    frames = video(seed=40, frames=5)
    canonical = vpdq_text(frames)
    assert canonical.startswith('["') and '", "' in canonical and ",80,0.0" in canonical
    other = "[" + ",".join(f'"{f.pdq.upper()},{f.quality},{f.timestamp:.6f}"' for f in frames) + "]"
    with _client(hub, members) as client:
        first, second = (
            client.submit([Signal("vpdq", canonical)]),
            client.submit([Signal("vpdq", other)]),
        )
    assert first.items[0].signal_id == second.items[0].signal_id
    assert second.items[0].status == "duplicate"
    assert vpdq_frames(other) == frames


def _refused(hub: HubProcess, action: Callable[[], object]) -> SignalhubError:
    before = store_fingerprint(hub.data_dir)
    with pytest.raises((grpc.RpcError, SignalhubError)) as info:
        action()
    error = info.value
    converted = error_from_rpc(error) if isinstance(error, grpc.RpcError) else error
    assert converted.code == grpc.StatusCode.INVALID_ARGUMENT, f"{converted.code}: {converted}"
    assert store_fingerprint(hub.data_dir) == before
    return converted


GOOD = f'"{"ab" * 32},80,0.0"'


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[]", "at least one frame"),
        ("not json", "JSON list"),
        (f'[{GOOD}, "{"zz" * 32},80,1.0"]', "frame 1: the PDQ hash is 64 hex digits"),
        (f'[{GOOD}, "{"ab" * 32},101,1.0"]', "frame 1: quality is 0-100"),
        (f'["{"ab" * 32},80,5.0", "{"cd" * 32},80,4.0"]', "frame 1: timestamps must not decrease"),
        (f'["{"ab" * 32},80,-1"]', "frame 0: the timestamp is seconds from the start"),
        (f'["{"ab" * 32},80"]', "frame 0:"),
    ],
)
def test_malformed_vpdq_values_are_refused_and_nothing_is_stored(
    hub: HubProcess, members: dict[str, Path], value: str, message: str
) -> None:
    def submit() -> object:
        with _client(hub, members) as client:
            return client.submit([Signal("pdq", "12" * 32), Signal("vpdq", value)])

    error = _refused(hub, submit)
    assert [f for f, _ in error.violations] == ["signals[1].value"]
    assert message in str(error)

    def match() -> object:
        with _client(hub, members) as client:
            return client.match([("vpdq", value)])

    assert message in str(_refused(hub, match))


def test_bad_thresholds_and_too_many_frames_are_refused(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    with _client(hub, members) as client:
        error = _refused(hub, lambda: client.match_video(STORED, min_query_match_percent=101))
        assert [f for f, _ in error.violations] == ["min_query_match_percent"]
        error = _refused(hub, lambda: client.match_video(STORED, min_compared_match_percent=-1))
        assert [f for f, _ in error.violations] == ["min_compared_match_percent"]
        many = vpdq_text([VpdqFrame("ab" * 32, 80, float(t)) for t in range(10_001)])
        error = _refused(hub, lambda: client.match([("vpdq", many)] * 10))
        assert "at most 100000 video frames" in str(error)


def test_signal_id_is_the_canonical_texts() -> None:
    text = vpdq_text(STORED)
    assert domain.canonical_value("vpdq", text) == text
    assert domain.signal_id("vpdq", text) == domain.canonical_signal("vpdq", text, (), ()).signal_id


def test_frames_are_matched_after_a_restart(hub: HubProcess, members: dict[str, Path]) -> None:
    """The index is rebuilt from the store's PDQ table, frames included (last: restarts the hub)."""
    hub.restart()
    with _client(hub, members) as client:
        result = client.match_video(edited(STORED[10:40], seed=50))
        (by_image,) = client.match_pdq([STORED[77].pdq])
    assert [(m.query_match_percent, m.compared_match_percent) for m in result.matches] == [
        (100.0, 30.0)
    ]
    assert ("vpdq", 77.0) in [(m.signal.type, m.frame_timestamp) for m in by_image.matches]


def test_a_synced_replica_matches_videos_offline_as_the_hub_does(
    hub: HubProcess, members: dict[str, Path], tmp_path: Path
) -> None:
    """Local sync behaves for videos as for photos: the replica answers clip, image and
    threshold queries with the hub's answers."""
    from client_sdk.local import LocalReplica

    clip = vpdq_text(edited(STORED[20:50], seed=61))
    unrelated = [VpdqFrame(f.pdq, f.quality, f.timestamp + 50) for f in video(seed=63, frames=50)]
    half = vpdq_text(edited(STORED[:50], seed=62) + unrelated)
    near_frame = _flip(STORED[33].pdq, 4, random.Random(64))
    queries = [("vpdq", clip), ("vpdq", half), ("pdq", near_frame), ("vpdq", vpdq_text(OTHER))]

    def shape(results: list[Any]) -> list[list[tuple[Any, ...]]]:
        return [
            [(m.signal.signal_id, m.distance, m.query_match_percent, m.compared_match_percent,
              m.frame_timestamp) for m in r.matches]
            for r in results
        ]  # fmt: skip

    with _client(hub, members) as client:
        at_hub = client.match(queries, min_query_match_percent=40)
        with LocalReplica(tmp_path / "replica") as replica:
            replica.sync(client)
            local = replica.match(queries, min_query_match_percent=40)
    assert shape(local) == shape(at_hub)
    assert [len(r.matches) for r in local] == [1, 1, 1, 1]  # clip, half (40 %), frame, itself


def test_videos_ruled_out_by_their_first_frames_get_the_answers_of_a_full_search(
    hub: HubProcess, members: dict[str, Path], tmp_path: Path
) -> None:
    """The hub searches a video query's first frames first and stops when they rule every
    video out (exchange.service.matching.frames_to_rule_out). Queries sharing 0-100 % of their
    frames with a stored video, those frames first, last or spread, at thresholds either side
    of each share, several in one call: the answers are a local replica's, which searches
    every frame."""
    from client_sdk.local import LocalReplica

    rng = random.Random(71)
    queries = []
    for shared in (0, 1, 19, 20, 21, 50, 79, 80, 81, 99, 100):
        mine = edited(STORED[:shared], seed=shared, bits=6) if shared else []
        others = [VpdqFrame(_hash(rng), 80, 0.0) for _ in range(100 - shared)]
        for order in ("first", "last", "spread"):
            if order == "first":
                hashes = [f.pdq for f in mine + others]
            elif order == "last":
                hashes = [f.pdq for f in others + mine]
            else:
                hashes = [f.pdq for f in mine + others]
                rng.shuffle(hashes)
            frames = [VpdqFrame(h, 80, float(t)) for t, h in enumerate(hashes)]
            queries.append(("vpdq", vpdq_text(frames)))
    queries.append(("pdq", STORED[5].pdq))

    def shape(results: list[Any]) -> list[list[tuple[Any, ...]]]:
        return [
            [(m.signal.signal_id, m.distance, m.query_match_percent, m.compared_match_percent)
             for m in r.matches]
            for r in results
        ]  # fmt: skip

    with _client(hub, members) as client, LocalReplica(tmp_path / "replica") as replica:
        replica.sync(client)
        for percent in (0.0, 1.0, 20.0, 20.5, 50.0, 79.0, 80.0, 80.5, 99.0, 100.0):
            at_hub = client.match(queries, min_query_match_percent=percent)
            local = replica.match(queries, min_query_match_percent=percent)
            assert shape(at_hub) == shape(local), percent
            assert any(r.matches for r in at_hub[:-1]) or percent > 100
