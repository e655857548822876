"""vPDQ: the PDQ hashes of a video's frames, sampled at a fixed interval, as Meta's reference
(ThreatExchange `vpdq`, C++ with Python bindings, which python-threatexchange's `vpdq` signal type
calls) computes them, and the text form python-threatexchange reads and writes.

Hashing follows the reference step for step:

- the first video stream is decoded in full; frames are numbered 0, 1, 2, ... in the order the
  decoder returns them;
- the frame rate is the stream's average frame rate, or its real base rate when that is unknown;
  every `int(seconds_per_hash * rate)`-th frame is hashed (every frame when that is 0);
- a hashed frame is converted to RGB24 at the stream's own width and height with swscale's
  area filter, and PDQ-hashed on those pixels at full resolution: the reference scales frames
  down only when asked to (`downsample_width`/`downsample_height`, here `downsample=`), and
  python-threatexchange never asks;
- its timestamp is `float32(frame number) / float32(rate)` seconds (so 1/30 s is 0.0333333...).

Decoding is PyAV's (FFmpeg bundled in its wheels); PDQ is Meta's C++ inside `pdqhash`, called
on the frame's RGB buffer with the reference's own float luma (`client_sdk.pdq_native`; plain
`pdqhash.compute` where its extension lacks those functions). FFmpeg's decoders are exact, so
frames match the reference's; what can still differ is rounding in the YUV-to-RGB conversion
between FFmpeg versions (benchmarks/video_hash.py measures it: identical on every frame so far).
Frames are not rotated by a container's display matrix, as in the reference.

Two shortcuts the reference does not take, neither of which changes a hash: frames that are not
hashed are dropped by the decoder when no other frame refers to them (`skip_frame = NONREF`,
numbering frames by their packets' timestamps, with a full decode whenever that numbering
cannot be trusted: see `_sampled_frames`), and small frames are decoded on one thread
(`FRAME_THREADS_MIN_PIXELS`).

The text form (python-threatexchange's `VPDQSignal` signal string) is a JSON list with one string
per frame, `"<pdq hex>,<quality>,<timestamp>"`, written with `json.dumps` defaults (`", "`
between items) and the timestamp as Python's `f"{timestamp:.3}"`: three *significant* digits, so
`0.0`, `0.967`, `12.5`, `1.23e+02` (123.4 s), `1.2e+03` (1200 s). Beyond 100 s the text form
therefore keeps whole seconds only, and beyond 1000 s tens of seconds; timestamps read back are
any float. Readers accept timestamps that stay equal from one frame to the next (rounding makes
them so) but never decreasing ones.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
from av.container import InputContainer
from av.packet import Packet
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream

from client_sdk import pdq_native
from client_sdk.hashing import HashingError, pdq_from_pixels
from signalhub.vpdq_format import VpdqFrame

__all__ = [
    "DEFAULT_MIN_QUALITY",
    "MIN_HASHABLE_DIMENSION",
    "VideoError",
    "VpdqFormatError",
    "VpdqFrame",
    "dedupe",
    "frames_from_json",
    "frames_from_text",
    "frames_to_json",
    "frames_to_text",
    "hash_video",
    "pdq_distance",
    "prune",
    "quality_filter",
    "video_json",
]

DEFAULT_MIN_QUALITY = 50
"""python-threatexchange's `VPDQ_QUALITY_THRESHOLD`: frames below it are not compared."""
MIN_HASHABLE_DIMENSION = 5
"""The reference refuses frames narrower or shorter than this."""

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_QUALITY = re.compile(r"[0-9]{1,3}")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class VideoError(HashingError):
    """A file that could not be hashed as a video: missing, not a video, no video stream, no
    frame, or a frame the decoder rejected. (A `HashingError`, so a `ValueError`.)"""


class VpdqFormatError(ValueError):
    """A vPDQ text or JSON value that is not valid. `index` is the 0-based frame at fault, or
    None when the problem is with the whole value."""

    def __init__(self, index: int | None, problem: str) -> None:
        self.index = index
        self.problem = problem
        super().__init__(problem if index is None else f"frame {index}: {problem}")


def _frame_problem(pdq: object, quality: object, timestamp: object) -> str | None:
    """What is wrong with a frame's fields, or None. `pdq` must already be lowercase."""
    if not isinstance(pdq, str) or len(pdq) != 64 or not _HEX64.fullmatch(pdq):
        return f"pdq {pdq!r} is not 64 hex digits"
    if pdq != pdq.lower():
        return f"pdq {pdq!r} is not lowercase"
    if not isinstance(quality, int) or isinstance(quality, bool):
        return f"quality {quality!r} is not an integer"
    if not 0 <= quality <= 100:
        return f"quality {quality} is outside 0-100"
    if not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
        return f"timestamp {timestamp!r} is not a number"
    if not math.isfinite(timestamp):
        return f"timestamp {timestamp!r} is not finite"
    if timestamp < 0:
        return f"timestamp {timestamp!r} is negative"
    return None


# ------------------------------------------------------------------ hashing


def pdq_distance(a: str, b: str) -> int:
    """Hamming distance between two PDQ hashes given as hex."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def prune(frames: Iterable[VpdqFrame], max_distance: int) -> list[VpdqFrame]:
    """Drops each frame whose PDQ is within `max_distance` bits (inclusive) of the last frame
    kept, as the vPDQ description's optional pruning (the first frame is always kept)."""
    kept: list[VpdqFrame] = []
    for frame in frames:
        if not kept or pdq_distance(kept[-1].pdq, frame.pdq) > max_distance:
            kept.append(frame)
    return kept


def hash_video(
    path: str | Path,
    *,
    seconds_per_hash: float = 1.0,
    prune_distance: int | None = None,
    downsample: tuple[int, int] | None = None,
) -> list[VpdqFrame]:
    """vPDQ of a video file: one frame every `seconds_per_hash` seconds (0: every frame), in
    frame order, as the reference computes it (see the module's docstring). With
    `prune_distance`, a frame within that many bits of the last frame kept is dropped.

    `downsample=(width, height)` scales each hashed frame to that size (area filter) before
    PDQ, as the reference's `downsample_width`/`downsample_height`: several times faster per
    hashed frame on HD video, but the hashes then differ from the default ones (and from what
    python-threatexchange computes): measured median 4-6 bits, at most 12, for 720p and 1080p
    scaled to 640x360; up to 30 for 320x240 scaled to 160x120. Leave it unset for hashes to
    share.

    Raises `VideoError` for a missing or unreadable file, a file without a video stream, a video
    with no frame, or frames too small to hash; `ValueError` for a bad argument."""
    if not (isinstance(seconds_per_hash, int | float) and math.isfinite(seconds_per_hash)):
        raise ValueError(f"seconds_per_hash must be a finite number, not {seconds_per_hash!r}")
    if seconds_per_hash < 0:
        raise ValueError(f"seconds_per_hash must be >= 0, not {seconds_per_hash!r}")
    if prune_distance is not None and not (
        isinstance(prune_distance, int) and 0 <= prune_distance <= 256
    ):
        raise ValueError(f"prune_distance must be an integer in 0-256, not {prune_distance!r}")
    if downsample is not None and not (
        isinstance(downsample, tuple)
        and len(downsample) == 2
        and all(isinstance(n, int) and n >= MIN_HASHABLE_DIMENSION for n in downsample)
    ):
        raise ValueError(
            f"downsample must be (width, height), each at least {MIN_HASHABLE_DIMENSION}, "
            f"not {downsample!r}"
        )
    p = Path(path)
    if not p.is_file():
        raise VideoError(f"{p}: {'not a regular file' if p.exists() else 'no such file'}")
    try:
        frames = _hash_file(p, seconds_per_hash, downsample)
    except av.error.FFmpegError as e:
        raise VideoError(f"{p}: not a video that can be read ({e})") from None
    if not frames:
        raise VideoError(f"{p}: the video has no frame")
    return frames if prune_distance is None else prune(frames, prune_distance)


def _hash_file(
    path: Path, seconds_per_hash: float, downsample: tuple[int, int] | None
) -> list[VpdqFrame]:
    with _opened(path, downsample) as video:
        every = max(1, int(seconds_per_hash * float(video.rate)))
        if every > 1:
            try:
                return video.hash_frames(_sampled_frames(video.container, video.stream, every))
            except _NotRankable:
                pass  # decode every frame, as the reference does, from the start again
    with _opened(path, downsample) as video:
        numbered = enumerate(video.container.decode(video.stream))
        return video.hash_frames((n, f) for n, f in numbered if n % every == 0)


FRAME_THREADS_MIN_PIXELS = 1280 * 720
"""Frames at least this big are decoded with FFmpeg's frame and slice threads: wall time falls
by up to the number of cores for about 5 % more CPU time. Smaller frames are decoded on one
thread: there threading cost 35 % more CPU time at 640x360 (measured, benchmarks/video_hash.py),
and per-core speed is what a hashing fleet pays for."""


@dataclass
class _OpenVideo:
    """A video file open for hashing: its first video stream, the size frames are hashed at,
    its frame rate, and what turns a decoded frame into a `VpdqFrame`."""

    container: InputContainer
    stream: VideoStream
    width: int
    height: int
    rate: Fraction

    def hash_frames(self, numbered: Iterable[tuple[int, VideoFrame]]) -> list[VpdqFrame]:
        """The vPDQ frames of (frame number, decoded frame) pairs."""
        rate32 = np.float32(float(self.rate))
        width, height = self.width, self.height
        # One scaler for the whole video (a frame's own to_ndarray makes one per call).
        scaler = VideoReformatter()
        native = pdq_native.RgbHasher(width, height) if pdq_native.available() else None
        frames: list[VpdqFrame] = []
        for number, frame in numbered:
            rgb = scaler.reformat(
                frame, width=width, height=height, format="rgb24", interpolation="AREA"
            )
            if native is None:
                pdq = pdq_from_pixels(rgb.to_ndarray())
            else:
                plane = rgb.planes[0]
                pdq = native.hash_buffer(plane.buffer_ptr, plane.line_size)
            timestamp = float(np.float32(number) / rate32)
            frames.append(VpdqFrame(pdq.hex, pdq.quality, timestamp))
        return frames


@contextmanager
def _opened(path: Path, downsample: tuple[int, int] | None) -> Iterator[_OpenVideo]:
    with av.open(str(path), mode="r") as container:
        if not container.streams.video:
            raise VideoError(f"{path}: no video stream")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise VideoError(f"{path}: the video stream has no picture size")
        threads = "AUTO" if width * height >= FRAME_THREADS_MIN_PIXELS else "NONE"
        if downsample is not None:
            width, height = downsample
        if width < MIN_HASHABLE_DIMENSION or height < MIN_HASHABLE_DIMENSION:
            raise VideoError(f"{path}: frames of {width}x{height} are too small to hash")
        rate = stream.average_rate or stream.base_rate
        if not rate:
            raise VideoError(f"{path}: the video's frame rate is unknown")
        stream.thread_type = threads
        yield _OpenVideo(container, stream, width, height, Fraction(rate))


# ------------------------------------------------------------------ decoding only what is hashed


class _NotRankable(Exception):
    """A stream whose frame numbers cannot be told from its packets' timestamps (no timestamp,
    two alike, reordering deeper than the look-ahead, discarded or corrupt packets, frames the
    decoder returns out of timestamp order or not at all): it is decoded frame by frame."""


LOOKAHEAD_PACKETS = 32
"""Packets read ahead of the decoder to number frames: more than any encoder's B-frame
reordering (x264 at most 16)."""


def _ranked_packets(
    container: InputContainer, stream: VideoStream
) -> Iterator[tuple[Packet[VideoStream], int]]:
    """Each packet of `stream` in decoding order with the number of its frame in presentation
    order (its timestamp's rank among all the stream's timestamps), which is the frame's number
    as the reference counts frames when the decoder returns one frame per packet in timestamp
    order (`_sampled_frames` checks that). Raises `_NotRankable`."""
    pending: deque[Packet[VideoStream]] = deque()
    seen: list[int] = []  # sorted timestamps not yet folded into `below`
    below = 0  # timestamps below every timestamp still to be ranked
    ranked_max: int | None = None
    for packet in container.demux(stream):
        pts = packet.pts
        if pts is None and packet.size == 0:
            continue  # the demuxer's end-of-stream packet
        if pts is None or packet.is_discard or packet.is_corrupt:
            raise _NotRankable("a packet without timestamp, discarded or corrupt")
        if not seen and not below and not packet.is_keyframe:
            raise _NotRankable("the first packet is not a key frame")
        if ranked_max is not None and pts <= ranked_max:
            raise _NotRankable("reordered further than the look-ahead")
        at = bisect.bisect_left(seen, pts)
        if at < len(seen) and seen[at] == pts:
            raise _NotRankable("two packets with one timestamp")
        seen.insert(at, pts)
        pending.append(packet)
        if len(pending) > LOOKAHEAD_PACKETS:
            first = pending.popleft()
            assert first.pts is not None
            ranked_max = first.pts if ranked_max is None else max(ranked_max, first.pts)
            yield first, below + bisect.bisect_left(seen, first.pts)
        if len(seen) > 4 * LOOKAHEAD_PACKETS:
            assert ranked_max is not None  # more than the look-ahead seen: some ranked
            floor = min(ranked_max, *(p.pts for p in pending if p.pts is not None))
            cut = bisect.bisect_left(seen, floor)
            below += cut
            del seen[:cut]
    for first in pending:
        assert first.pts is not None
        yield first, below + bisect.bisect_left(seen, first.pts)


def _sampled_frames(
    container: InputContainer, stream: VideoStream, every: int
) -> Iterator[tuple[int, VideoFrame]]:
    """(frame number, frame) for every `every`-th frame of `stream` (numbers 0, every, ...),
    decoding the others only as far as later frames need them: a packet whose frame is not
    hashed is sent with `skip_frame = NONREF`, so that the decoder drops it when no other frame
    refers to it (B-frames: about half of x264's frames). The frames hashed are decoded exactly
    as in a full decode (no frame refers to a dropped one). Raises `_NotRankable` (possibly after
    yielding some frames) when the frames cannot be numbered as the reference numbers them."""
    codec = stream.codec_context
    ranks: dict[int, int] = {}
    last = -1
    wanted = produced = 0

    def numbered(decoded: list[VideoFrame]) -> Iterator[tuple[int, VideoFrame]]:
        nonlocal last, produced
        for frame in decoded:
            rank = None if frame.pts is None else ranks.pop(frame.pts, None)
            if rank is None or rank <= last:
                raise _NotRankable("a frame out of timestamp order or of no packet")
            last = rank
            if rank % every == 0:
                produced += 1
                yield rank, frame

    skipping = False
    for packet, rank in _ranked_packets(container, stream):
        assert packet.pts is not None
        ranks[packet.pts] = rank
        hashed = rank % every == 0
        wanted += hashed
        if skipping == hashed:  # the setting travels with each packet, to each decoder thread
            skipping = not hashed
            codec.skip_frame = "NONREF" if skipping else "DEFAULT"
        yield from numbered(codec.decode(packet))
        if len(ranks) > 8 * LOOKAHEAD_PACKETS:
            # Frames the decoder dropped leave their ranks behind; no frame ranked below
            # the last one returned can come any more (it would be out of order).
            kept = {pts: r for pts, r in ranks.items() if r > last}
            ranks.clear()
            ranks.update(kept)
    yield from numbered(codec.decode(None))
    if produced != wanted:
        raise _NotRankable(f"{wanted - produced} frame(s) to hash not returned by the decoder")


# ------------------------------------------------------------------ matcher helpers


def dedupe(frames: Iterable[VpdqFrame]) -> list[VpdqFrame]:
    """The frames in order, without those whose PDQ equals an earlier frame's."""
    seen: set[str] = set()
    unique: list[VpdqFrame] = []
    for frame in frames:
        if frame.pdq not in seen:
            seen.add(frame.pdq)
            unique.append(frame)
    return unique


def quality_filter(
    frames: Iterable[VpdqFrame], min_quality: int = DEFAULT_MIN_QUALITY
) -> list[VpdqFrame]:
    """The frames whose quality is at least `min_quality`."""
    return [frame for frame in frames if frame.quality >= min_quality]


# ------------------------------------------------------------------ text and JSON forms


def _format_timestamp(timestamp: float) -> str:
    """python-threatexchange's `f"{timestamp:.{VPDQ_TIMESTAMP_PRECISION}}"` (3 significant
    digits)."""
    return f"{timestamp:.3}"


def _check_sequence(frames: Sequence[VpdqFrame]) -> None:
    if not frames:
        raise VpdqFormatError(None, "no frame")
    for index in range(1, len(frames)):
        if frames[index].timestamp < frames[index - 1].timestamp:
            raise VpdqFormatError(
                index,
                f"timestamp {frames[index].timestamp!r} is before the previous frame's "
                f"{frames[index - 1].timestamp!r}",
            )


def _checked(index: int, pdq: object, quality: object, timestamp: object) -> VpdqFrame:
    if isinstance(pdq, str) and _HEX64.fullmatch(pdq):
        pdq = pdq.lower()
    problem = _frame_problem(pdq, quality, timestamp)
    if problem is not None:
        raise VpdqFormatError(index, problem)
    assert isinstance(pdq, str) and isinstance(quality, int)
    assert isinstance(timestamp, int | float)
    return VpdqFrame(pdq, quality, float(timestamp))


def frames_to_text(frames: Sequence[VpdqFrame]) -> str:
    """The python-threatexchange `vpdq` signal string of the frames (byte for byte what its
    `vpdq_to_json` writes). Timestamps keep 3 significant digits. Raises `VpdqFormatError` for an
    empty list or decreasing timestamps (which no reader would accept)."""
    _check_sequence(frames)
    return json.dumps([f"{f.pdq},{f.quality},{_format_timestamp(f.timestamp)}" for f in frames])


def frames_from_text(text: str) -> list[VpdqFrame]:
    """Frames from a python-threatexchange `vpdq` signal string. Hex digits may be in either
    case (they are lowercased). Raises `VpdqFormatError` naming the frame and the problem: not
    JSON, not a list of strings, no frame, not three comma-separated fields, not 64 hex digits,
    a quality that is not an integer in 0-100, a timestamp that is not a finite number >= 0 or
    is before the previous frame's."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError) as e:
        raise VpdqFormatError(None, f"not JSON ({e})") from None
    if not isinstance(value, list):
        raise VpdqFormatError(None, f"not a JSON list but {type(value).__name__}")
    frames: list[VpdqFrame] = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise VpdqFormatError(index, f"{item!r} is not a string")
        parts = item.split(",")
        if len(parts) != 3:
            raise VpdqFormatError(
                index, f"{item!r} is not <pdq hex>,<quality>,<timestamp> ({len(parts)} fields)"
            )
        pdq, quality_text, timestamp_text = parts
        if not _QUALITY.fullmatch(quality_text):
            raise VpdqFormatError(index, f"quality {quality_text!r} is not an integer in 0-100")
        if not _NUMBER.fullmatch(timestamp_text):
            raise VpdqFormatError(index, f"timestamp {timestamp_text!r} is not a number")
        frames.append(_checked(index, pdq, int(quality_text), float(timestamp_text)))
    _check_sequence(frames)
    return frames


def frames_to_json(frames: Sequence[VpdqFrame]) -> list[dict[str, Any]]:
    """The frames as JSON objects `{"pdq", "quality", "timestamp"}` (timestamp in full
    precision), for `signalhub hash VIDEO --json`. Raises `VpdqFormatError` as
    `frames_to_text`."""
    _check_sequence(frames)
    return [{"pdq": f.pdq, "quality": f.quality, "timestamp": f.timestamp} for f in frames]


def video_json(path: str | Path, frames: Sequence[VpdqFrame]) -> dict[str, Any]:
    """`{"path": ..., "frames": [...]}`: one video's line of `signalhub hash --json`."""
    return {"path": str(path), "frames": frames_to_json(frames)}


_JSON_KEYS = frozenset({"pdq", "quality", "timestamp"})


def frames_from_json(value: object) -> list[VpdqFrame]:
    """Frames from the list `frames_to_json` makes (already parsed from JSON). Each item must be
    an object with exactly the keys pdq (64 hex digits, either case), quality (an integer in
    0-100) and timestamp (a finite number >= 0, not before the previous frame's); at least one
    frame. Raises `VpdqFormatError` naming the frame and the problem."""
    if not isinstance(value, list):
        raise VpdqFormatError(None, f"frames are not a list but {type(value).__name__}")
    frames: list[VpdqFrame] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise VpdqFormatError(index, f"{item!r} is not an object")
        keys = set(item)
        if keys != _JSON_KEYS:
            missing, extra = sorted(_JSON_KEYS - keys), sorted(str(k) for k in keys - _JSON_KEYS)
            what = "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else [])
                + ([f"unknown {', '.join(extra)}"] if extra else [])
            )
            raise VpdqFormatError(index, f"keys must be pdq, quality, timestamp ({what})")
        frames.append(_checked(index, item["pdq"], item["quality"], item["timestamp"]))
    _check_sequence(frames)
    return frames
