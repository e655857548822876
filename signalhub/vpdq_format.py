"""The vPDQ value of a video: its frames' PDQ hashes, qualities and times, in the text
python-threatexchange reads and writes (parsed, validated and written back canonically here;
matched frame by frame by the hub and the SDK)."""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .normalisation import InvalidValue

MAX_VPDQ_CHARS = 1 << 20
"""A vPDQ value carries every frame: ~80 characters a frame, so about 13,000 frames (3.6 hours
at one frame a second)."""

# --- vPDQ (video) ------------------------------------------------------------------------------
# The text python-threatexchange's `vpdq` signal type reads and writes: a JSON list of strings
# "<pdq hex>,<quality>,<timestamp>", the timestamp written as pytx writes it (`f"{t:.3}"`: three
# significant digits, so 1234.5 s is written 1.23e+03). Canonical form: exactly that text with
# pytx's separators, lowercase hex, and integer qualities, so that a video hashed by pytx and by
# us has one signal id.
VPDQ_MIN_QUALITY = 50
"""Frames of lower quality are not matched (pytx's VPDQ_QUALITY_THRESHOLD)."""
_PDQ_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class VpdqFrame:
    """One hashed frame of a video: its PDQ (64 lowercase hex digits), PDQ quality (0-100;
    below 50 is unreliable) and time from the start in seconds. Checked when made."""

    pdq: str
    quality: int
    timestamp: float

    def __post_init__(self) -> None:
        if not isinstance(self.pdq, str) or not _PDQ_HEX.fullmatch(self.pdq):
            raise ValueError(f"pdq {self.pdq!r} is not 64 lowercase hex digits")
        if isinstance(self.quality, bool) or not isinstance(self.quality, int):
            raise ValueError(f"quality {self.quality!r} is not an integer")
        if not 0 <= self.quality <= 100:
            raise ValueError(f"quality {self.quality} is outside 0-100")
        if isinstance(self.timestamp, bool) or not isinstance(self.timestamp, int | float):
            raise ValueError(f"timestamp {self.timestamp!r} is not a number")
        if not (math.isfinite(self.timestamp) and self.timestamp >= 0):
            raise ValueError(f"timestamp {self.timestamp!r} is not a finite number >= 0")

    def __str__(self) -> str:
        """The frame as pytx writes it: "<pdq>,<quality>,<timestamp to 3 significant digits>"."""
        return f"{self.pdq},{self.quality},{self.timestamp:.3}"


def vpdq_frames(text: str) -> list[VpdqFrame]:
    """Parses and validates a vPDQ value; raises InvalidValue naming the bad frame."""
    if len(text) > MAX_VPDQ_CHARS:
        raise InvalidValue(f"a vpdq value is at most {MAX_VPDQ_CHARS} characters")
    try:
        items = json.loads(text)
    except ValueError:
        raise InvalidValue(
            'a vpdq value is a JSON list of "<pdq hex>,<quality>,<timestamp>" strings'
        ) from None
    if not isinstance(items, list) or not items:
        raise InvalidValue("a vpdq value lists at least one frame")
    frames = _canonical_frames(items)
    return frames if frames is not None else _checked_frames(items)


def _canonical_frames(items: list[object]) -> list[VpdqFrame] | None:
    """The frames of a list of items all valid with lowercase hex and no spaces (what writers
    write), checked a column at a time; None for anything else, which `_checked_frames` then
    parses item by item, to say which frame is wrong. Both give the same frames: a frame whose
    fields each pass the same test (`int`, `float`, the same bounds) as in `_checked_frames`.
    Frame by frame, building and checking each `VpdqFrame` was most of a video match's parsing
    (benchmarks/video.py)."""
    if not all(type(item) is str for item in items):
        return None
    texts: list[str] = items  # type: ignore[assignment]  # (checked just above)
    if not all(item.count(",") == 2 for item in texts):
        return None
    fields = ",".join(texts).split(",")
    hashes = fields[0::3]
    joined = "".join(hashes)
    if len(joined) != 64 * len(texts) or joined != joined.lower():
        return None
    if not all(len(h) == 64 for h in hashes):
        return None
    try:
        # bytes.fromhex skips whitespace: a full-length result means 64 hex digits each.
        if len(bytes.fromhex(joined)) != 32 * len(texts):
            return None
        qualities = [int(q) for q in fields[1::3]]
        timestamps = [float(t) for t in fields[2::3]]
    except ValueError:
        return None
    if not (min(qualities) >= 0 and max(qualities) <= 100):
        return None
    if not all(math.isfinite(t) and t >= 0 for t in timestamps):
        return None
    if any(b < a for a, b in itertools.pairwise(timestamps)):
        return None
    return [_trusted_frame(*f) for f in zip(hashes, qualities, timestamps, strict=True)]


def _trusted_frame(pdq: str, quality: int, timestamp: float) -> VpdqFrame:
    """A VpdqFrame from fields already checked as `__post_init__` checks them."""
    frame = object.__new__(VpdqFrame)
    frame.__dict__.update(pdq=pdq, quality=quality, timestamp=timestamp)
    return frame


def _checked_frames(items: list[object]) -> list[VpdqFrame]:
    """The frames of a vPDQ value's items, checked one by one; raises InvalidValue naming the
    first bad frame."""
    frames: list[VpdqFrame] = []
    for i, item in enumerate(items):
        parts = item.split(",") if isinstance(item, str) else []
        if len(parts) != 3:
            raise InvalidValue(f'frame {i}: "<pdq hex>,<quality>,<timestamp>" required')
        pdq = parts[0].strip().lower()
        if not _PDQ_HEX.fullmatch(pdq):
            raise InvalidValue(f"frame {i}: the PDQ hash is 64 hex digits")
        try:
            quality = int(parts[1])
            timestamp = float(parts[2])
        except ValueError:
            raise InvalidValue(f"frame {i}: quality is an integer, timestamp a number") from None
        if not 0 <= quality <= 100:
            raise InvalidValue(f"frame {i}: quality is 0-100, got {quality}")
        if not (math.isfinite(timestamp) and timestamp >= 0):
            raise InvalidValue(f"frame {i}: the timestamp is seconds from the start, >= 0")
        if frames and timestamp < frames[-1].timestamp:
            raise InvalidValue(f"frame {i}: timestamps must not decrease")
        frames.append(VpdqFrame(pdq, quality, timestamp))
    return frames


def vpdq_text(frames: list[VpdqFrame]) -> str:
    """The canonical text of `frames` (what pytx's `vpdq_to_json` writes)."""
    # VpdqFrame.__str__ inline: a third of the time for a video's frames.
    return json.dumps([f"{f.pdq},{f.quality},{f.timestamp:.3}" for f in frames])


def vpdq_retained(frames: list[VpdqFrame], min_quality: int = VPDQ_MIN_QUALITY) -> list[VpdqFrame]:
    """The frames matching uses: quality at least `min_quality`, the first of each exact hash
    (pytx's quality_filter then dedupe)."""
    seen: set[str] = set()
    out = []
    for f in frames:
        if f.quality >= min_quality and f.pdq not in seen:
            seen.add(f.pdq)
            out.append(f)
    return out


def canonical_vpdq(value: str) -> str:
    """A vPDQ value in canonical text (what pytx writes); raises InvalidValue."""
    return vpdq_text(vpdq_frames(value))


@dataclass(frozen=True)
class VideoScore:
    """How much a stored video shares with a query video: the share (percent) of the query's
    retained frames that match any of its frames, the share of its frames that match any frame
    of the query, and the nearest frame's distance."""

    signal_id: str
    query_percent: float
    compared_percent: float
    distance: int


def scored_videos(
    frame_hits: Sequence[Iterable[tuple[int, int]]],
    video_of_row: Callable[[int], str | None],
    frames_of: Callable[[str], int],
    min_query_percent: float,
    min_compared_percent: float,
) -> list[VideoScore]:
    """The stored videos that share enough frames with a query, as pytx's vPDQ matcher decides,
    best first (query share, then compared share, descending; then distance and signal id).
    `frame_hits[i]`: (row, distance) of each stored frame near the query's retained frame i;
    `video_of_row`: the video a row is a frame of (None: not a video the caller matches);
    `frames_of`: how many frames a video has. The hub and local replicas both score by this."""
    query_frames: dict[str, set[int]] = {}
    video_rows: dict[str, set[int]] = {}
    nearest: dict[str, int] = {}
    for position, candidates in enumerate(frame_hits):
        for row, distance in candidates:
            sid = video_of_row(row)
            if sid is None:
                continue
            query_frames.setdefault(sid, set()).add(position)
            video_rows.setdefault(sid, set()).add(row)
            nearest[sid] = min(distance, nearest.get(sid, distance))
    scored = []
    for sid, positions in query_frames.items():
        query_percent = 100.0 * len(positions) / len(frame_hits)
        compared_percent = 100.0 * len(video_rows[sid]) / max(frames_of(sid), 1)
        if query_percent >= min_query_percent and compared_percent >= min_compared_percent:
            scored.append((-query_percent, -compared_percent, nearest[sid], sid))
    return [VideoScore(sid, -q, -c, d) for q, c, d, sid in sorted(scored)]
