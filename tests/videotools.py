"""Test videos, written with PyAV (H.264 in MP4): short synthetic clips whose picture changes over
time (a camera panning over photo-like scenes, a new scene every few seconds, a moving disc), and
the edits a platform sees in the wild (re-encoded at a low bitrate, resized, a clip cut from the
middle, a watermark overlaid). Everything is deterministic given the seed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

RGB = npt.NDArray[np.uint8]

SIZE = (320, 240)
"""Width and height of the generated videos."""
FPS = 15
SECONDS = 12
SCENE_SECONDS = 3.0
"""A new scene (new texture, new disc path) every this many seconds."""
PAN_PIXELS_PER_SECOND = 8.0
DISC_PIXELS_PER_SECOND = 10.0


def _texture(rng: np.random.Generator, width: int, height: int) -> RGB:
    """A photo-like picture: smooth random colour structure plus a finer grain."""
    coarse = (rng.random((8, 16, 3)) * 255).astype(np.uint8)
    smooth = np.asarray(
        Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16
    )
    fine = (rng.random((height // 8, width // 8, 3)) * 255).astype(np.uint8)
    grain = np.asarray(
        Image.fromarray(fine).resize((width, height), Image.Resampling.BILINEAR), dtype=np.int16
    )
    texture: RGB = np.clip(smooth + (grain - 128) // 6, 0, 255).astype(np.uint8)
    return texture


def frames(
    seed: int,
    *,
    seconds: float = SECONDS,
    size: tuple[int, int] = SIZE,
    fps: int | Fraction = FPS,
    noise: float = 0.0,
) -> Iterator[RGB]:
    """The RGB frames of the synthetic video of `seed`: a pan over a photo-like scene that is
    replaced every `SCENE_SECONDS`, with a disc moving across it. `noise` adds fresh grain of
    that standard deviation to every frame (as a camera sensor does; it makes the video costlier
    to encode and decode, like real footage)."""
    width, height = size
    count = round(seconds * fps)
    rng = np.random.default_rng(seed)
    noise_rng = np.random.default_rng([seed, 1])
    pan_span = int(PAN_PIXELS_PER_SECOND * SCENE_SECONDS) + 1
    scene = -1
    texture: RGB = np.zeros((height, width + pan_span, 3), np.uint8)
    start = end = np.zeros(2)
    colour: tuple[int, ...] = (255, 255, 255)
    yy, xx = np.mgrid[0:height, 0:width]
    radius = min(width, height) / 6
    for index in range(count):
        t = float(index / fps)
        if int(t // SCENE_SECONDS) != scene:
            scene = int(t // SCENE_SECONDS)
            texture = _texture(rng, width + pan_span, height)
            start = rng.random(2) * (width, height)
            end = start + (rng.random(2) - 0.5) * 2 * DISC_PIXELS_PER_SECOND * SCENE_SECONDS
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        into = (t - scene * SCENE_SECONDS) / SCENE_SECONDS
        offset = int(PAN_PIXELS_PER_SECOND * (t - scene * SCENE_SECONDS))
        frame = texture[:, offset : offset + width].copy()
        cx, cy = start + (end - start) * into
        frame[(xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2] = colour
        if noise:
            grain = (noise_rng.standard_normal(frame.shape, np.float32) * noise).astype(np.int16)
            frame = np.clip(frame + grain, 0, 255).astype(np.uint8)
        yield frame


def write_video(
    path: Path,
    pictures: Iterable[RGB],
    *,
    fps: int | Fraction = FPS,
    crf: int = 23,
    bit_rate: int | None = None,
) -> Path:
    """Encode RGB frames as H.264 (yuv420p) in the container named by `path`'s suffix. With
    `bit_rate`, x264 aims at that many bits/s instead of a constant quality `crf`."""
    with av.open(str(path), mode="w") as container:
        stream: av.VideoStream | None = None
        for picture in pictures:
            if stream is None:
                stream = container.add_stream("libx264", rate=fps)
                stream.height, stream.width = picture.shape[:2]
                stream.pix_fmt = "yuv420p"
                options: dict[str, object] = {"preset": "veryfast"}
                if bit_rate is None:
                    options["crf"] = str(crf)
                else:
                    stream.bit_rate = bit_rate
                stream.options = options
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
            container.mux(stream.encode(frame))
        if stream is not None:
            container.mux(stream.encode(None))
    return path


def read_frames(path: Path) -> Iterator[RGB]:
    """Decode every frame of a video file as RGB (for making edited copies)."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            rgb: RGB = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
            yield rgb


def video_rate(path: Path) -> Fraction:
    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
        assert rate is not None
        return rate


def save_video(
    path: Path,
    seed: int,
    *,
    seconds: float = SECONDS,
    size: tuple[int, int] = SIZE,
    fps: int | Fraction = FPS,
    noise: float = 0.0,
) -> Path:
    """The synthetic video of `seed` as H.264 in `path` (see `frames`)."""
    pictures = frames(seed, seconds=seconds, size=size, fps=fps, noise=noise)
    return write_video(path, pictures, fps=fps)


def save_reencoded(path: Path, source: Path, *, bit_rate: int = 40_000) -> Path:
    """`source` decoded and encoded again at a low bitrate (default 40 kbit/s: visibly blocky)."""
    return write_video(path, read_frames(source), fps=video_rate(source), bit_rate=bit_rate)


def save_resized(path: Path, source: Path, *, scale: float = 0.6) -> Path:
    """`source` scaled by `scale` (to even dimensions), Lanczos."""

    def resized() -> Iterator[RGB]:
        for picture in read_frames(source):
            height, width = picture.shape[:2]
            size = (round(width * scale / 2) * 2, round(height * scale / 2) * 2)
            image = Image.fromarray(picture).resize(size, Image.Resampling.LANCZOS)
            yield np.asarray(image)

    return write_video(path, resized(), fps=video_rate(source))


def clip_range(total_frames: int, start: float = 0.35, length: float = 0.3) -> range:
    """The frame indices `save_clip` keeps of a video of `total_frames` frames."""
    first = round(total_frames * start)
    return range(first, first + round(total_frames * length))


def save_clip(path: Path, source: Path, *, start: float = 0.35, length: float = 0.3) -> Path:
    """The part of `source` from `start` (a fraction of its length) lasting `length` of it; by
    default the middle 30%."""
    pictures = list(read_frames(source))
    keep = clip_range(len(pictures), start, length)
    return write_video(path, pictures[keep.start : keep.stop], fps=video_rate(source))


def save_watermarked(path: Path, source: Path) -> Path:
    """`source` with a re-uploader's logo in its lower right corner: a translucent white banner
    (30% of the width, 10% of the height, 40% opaque) with dark text."""

    def marked() -> Iterator[RGB]:
        overlay: Image.Image | None = None
        for picture in read_frames(source):
            image = Image.fromarray(picture).convert("RGBA")
            if overlay is None:
                overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
                draw = ImageDraw.Draw(overlay)
                w, h = image.size
                box = (w - w // 20 - w * 3 // 10, h - h // 20 - h // 10, w - w // 20, h - h // 20)
                draw.rectangle(box, fill=(255, 255, 255, 102))
                draw.text((box[0] + 4, box[1] + 4), "reupload.example", fill=(0, 0, 0, 160))
            yield np.asarray(Image.alpha_composite(image, overlay).convert("RGB"))

    return write_video(path, marked(), fps=video_rate(source))


def save_zero_frame_video(path: Path, size: tuple[int, int] = SIZE) -> Path:
    """A well-formed AVI (whatever `path`'s suffix) whose MPEG-4 video stream holds no frame. (The
    MP4 and Matroska muxers drop a track without packets, or write no readable file at all.)"""
    with av.open(str(path), mode="w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        container.start_encoding()
        container.mux(stream.encode(None))
    return path


def save_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """An M4A (AAC) file with one audio stream and no video stream."""
    rate = 16_000
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        samples = (np.sin(np.arange(int(rate * seconds)) / 10) * 0.2).astype(np.float32)
        for start in range(0, len(samples), 1024):
            chunk = samples[start : start + 1024].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate = rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
