"""`signalhub hash` (PDQ of images, vPDQ of videos, or a plug-in type's hash of any file) and
`signalhub types` (the signal types and how each is matched); also how the other commands
tell a video from an image and hash it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from signalhub import domain

from ..hashing import HashingError, pdq_from_image
from ..models import SignalTypeInfo
from .base import Groups, UsageError, connection_flags, fail, json_flag, member_client, runs


def add_hash(groups: Groups) -> None:
    """The `hash` command."""
    p = groups[""].add_parser("hash", help="PDQ of images, vPDQ (PDQ of sampled frames) of videos")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE|VIDEO")
    p.add_argument(
        "--fps",
        type=float,
        default=1.0,
        help="video frames hashed a second (default 1; 0: every frame)",
    )
    p.add_argument(
        "--prune-distance",
        type=int,
        default=None,
        metavar="BITS",
        help="drop a video frame within BITS of the last one kept",
    )
    p.add_argument(
        "--type",
        default=None,
        metavar="TYPE",
        help="hash files as this type (a plug-in's, e.g. tlsh for documents); "
        "default: PDQ of images, vPDQ of videos",
    )
    json_flag(p, "one JSON object a line")
    runs(p, cmd_hash)


def add_types(groups: Groups) -> None:
    """The `types` command."""
    p = groups[""].add_parser(
        "types", help="the signal types the hub accepts, and how it matches them"
    )
    p.add_argument(
        "--local",
        action="store_true",
        help="list this installation's registry instead of asking the hub",
    )
    json_flag(p, "one JSON object a line")
    connection_flags(p)
    runs(p, cmd_types)


# --- images and videos ---------------------------------------------------------------------------
def is_video(path: Path) -> bool:
    """Told from the content, not the name: what Pillow cannot read as an image is treated as
    a video (hashing it then says clearly when it is neither). A missing file is an image, so
    that the image path reports it."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        return False
    try:
        with Image.open(path):
            return False
    except (UnidentifiedImageError, OSError):
        return True


def _seconds_per_hash(fps: float) -> float:
    if not fps >= 0:
        raise UsageError("--fps is 0 (every frame) or more")
    return 0.0 if fps == 0 else 1.0 / fps


def video_frames(path: Path, args: argparse.Namespace) -> list[Any]:
    """The vPDQ frames of the video at `path`, sampled at --fps (and --prune-distance)."""
    from ..video import VideoError, hash_video

    try:
        return hash_video(
            path,
            seconds_per_hash=_seconds_per_hash(args.fps),
            prune_distance=getattr(args, "prune_distance", None),
        )
    except VideoError as e:
        if "not a video that can be read" in str(e):  # Pillow could not read it either
            raise VideoError(f"{path}: not an image or a video that can be read") from None
        raise


def video_text(path: Path, args: argparse.Namespace) -> str:
    """The vPDQ of the video at `path` as a signal value; a bad video is a UsageError."""
    from ..video import frames_to_text

    try:
        frames = video_frames(path, args)
    except (HashingError, ValueError) as e:
        raise UsageError(str(e)) from None
    return frames_to_text(frames)


# --- commands (a file that cannot be hashed is reported, fail() counts it, and the rest go on) ---
def _hash_as_type(args: argparse.Namespace) -> int:
    spec = domain.SIGNAL_TYPES.get(args.type)
    if spec is None or spec.hash_content is None:
        hashable = sorted(n for n, t in domain.SIGNAL_TYPES.items() if t.hash_content) or ["none"]
        raise UsageError(
            f"--type {args.type!r}: not a type that hashes files (installed: "
            f"{', '.join(hashable)}; PDQ and vPDQ need no --type)"
        )
    failures = 0
    for path in args.images:
        try:
            value = spec.hash_content(path.read_bytes())
        except OSError as e:
            failures += fail(f"{path}: {e.strerror}")
            continue
        except domain.InvalidValue as e:
            failures += fail(f"{path}: {e}")
            continue
        if args.json:
            print(json.dumps({"path": str(path), "type": spec.name, "value": value}))
        else:
            print(f"{value}  {spec.name}  {path}")
    return 1 if failures else 0


def _hash_video(path: Path, args: argparse.Namespace) -> int:
    from ..video import quality_filter, video_json

    try:
        frames = video_frames(path, args)
    except (HashingError, ValueError) as e:
        return fail(str(e))
    if args.json:
        print(json.dumps(video_json(path, frames)))
    else:
        kept = len(quality_filter(frames))
        print(f"vpdq  {len(frames)} frames, {kept} of quality >= 50  {path}")
    return 0


def _hash_image(path: Path, args: argparse.Namespace) -> int:
    try:
        h = pdq_from_image(path)
    except (HashingError, FileNotFoundError) as e:
        return fail(str(e))
    if args.json:
        print(json.dumps({"path": str(path), "pdq": h.hex, "quality": h.quality}))
    else:
        print(f"{h.hex}  quality={h.quality:<3}  {path}")
    return 0


def cmd_hash(args: argparse.Namespace) -> int:
    """Prints the hash of each file; exits 1 if any could not be hashed."""
    if args.type is not None:
        return _hash_as_type(args)
    failures = 0
    for path in args.images:
        failures += (_hash_video if is_video(path) else _hash_image)(path, args)
    return 1 if failures else 0


def _local_types() -> list[SignalTypeInfo]:
    return [
        SignalTypeInfo(
            t.name,
            t.description,
            t.match.value,
            t.bits,
            t.default_threshold,
            t.max_threshold,
            t.personal,
            t.origin,
            t.pytx_name or "",
        )
        for t in (domain.SIGNAL_TYPES[n] for n in sorted(domain.SIGNAL_TYPES))
    ]


def cmd_types(args: argparse.Namespace) -> int:
    """Lists the signal types (the hub's, or with --local this installation's)."""
    if args.local:
        types = _local_types()
    else:
        with member_client(args) as client:
            types = client.signal_types()
    for t in types:
        if args.json:
            print(json.dumps(t.to_json()))
            continue
        how = t.match
        if t.match in ("distance", "hamming", "video"):
            how += f" (default {t.default_threshold}, at most {t.max_threshold})"
        local = "" if args.local or t.name in domain.SIGNAL_TYPES else "  [not installed here]"
        print(f"{t.name:<12} {how:<34} {t.origin:<24} {t.description}{local}")
    return 0
