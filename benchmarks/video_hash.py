"""Benchmark vPDQ hashing: ours (client_sdk.video: PyAV decoding, pdqhash) against Meta's
reference (the `vpdq` package: C++ over the system's FFmpeg), on the same generated videos in
the same process, one after the other.

Run from the repository root::

    python -m benchmarks.video_hash                 # about a minute on 2 cores
    python -m benchmarks.video_hash --quick --out /tmp/video_hash.json

Videos are generated with tests/videotools.py (H.264, x264 veryfast, CRF 23): the test suite's
320x240 15 fps clips (4 seeds, and the 4 edited copies of one), and 640x360, 1280x720 and
1920x1080 clips at 30 fps with per-frame grain (so that they cost what camera footage costs to
decode: about 1.5 Mbit/s at 720p).

Each video is hashed at one frame a second (the default; decoding dominates) and at every frame
(PDQ dominates). Speed is frames per CPU-second of the whole process (`time.process_time`: every
thread, so "per core"), best of --repeat runs for one frame a second and a single run for every
frame. "Decoded" counts every frame through the decoder, "hashed" the frames PDQ-hashed. The
reference runs with `thread_count=1` (its hashing threads); both decoders use FFmpeg's default
threading, which CPU time accounts for. The "decode only" row is PyAV decoding every frame and
nothing else (frame threads): a floor for a hasher that decodes every frame, which ours at one
frame a second no longer does. The "ours, downsample" rows hash frames scaled to
640 wide (area filter), the reference's downsample option; their hashes are compared with our
full-size ones.

Per-frame agreement: every frame of ours against the reference's frame with the same index (the
two must give the same timestamps): Hamming distance median, max, share within 31 bits and share
identical; at every frame (all frames) and at one frame a second (where ours decodes only what
the hashed frames need: client_sdk.video's skipping decoder).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import av

from benchmarks.match import machine
from client_sdk.video import VpdqFrame, hash_video, pdq_distance

TESTS = Path(__file__).resolve().parent.parent / "tests"


def _videotools() -> ModuleType:
    """tests/videotools.py, which generates the test suite's videos."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    import videotools  # type: ignore[import-not-found, unused-ignore]

    module: ModuleType = videotools
    return module


def _reference() -> tuple[ModuleType | None, str]:
    try:
        import vpdq  # type: ignore[import-not-found, unused-ignore]
    except ImportError as e:
        return None, (
            f"vpdq reference not installed ({e}); it builds with `pip install vpdq` once "
            "FFmpeg's headers are there (Debian: apt-get install libavcodec-dev libavformat-dev "
            "libavutil-dev libswscale-dev libswresample-dev libavfilter-dev libavdevice-dev "
            "pkg-config cmake)"
        )
    version = "unknown"
    try:
        from importlib.metadata import version as dist_version

        version = dist_version("vpdq")
    except Exception:
        pass
    return vpdq, version


@dataclass(frozen=True)
class Video:
    group: str
    path: Path
    width: int
    height: int
    frames: int


def generate(root: Path, quick: bool) -> list[Video]:
    vt = _videotools()
    videos: list[tuple[str, Path]] = []
    small = "320x240 15fps 12s (tests)"
    for seed in (1, 2, 3, 4):
        videos.append((small, vt.save_video(root / f"small-{seed}.mp4", seed)))
    source = root / "small-1.mp4"
    videos += [
        (small, vt.save_reencoded(root / "small-1-reencoded.mp4", source)),
        (small, vt.save_resized(root / "small-1-resized.mp4", source)),
        (small, vt.save_clip(root / "small-1-clip.mp4", source)),
        (small, vt.save_watermarked(root / "small-1-watermarked.mp4", source)),
    ]
    sizes = [((640, 360), 10), ((1280, 720), 5), ((1920, 1080), 4)]
    if quick:
        sizes = [((640, 360), 4), ((1280, 720), 2)]
    for (width, height), seconds in sizes:
        group = f"{width}x{height} 30fps {seconds}s"
        path = root / f"{width}x{height}.mp4"
        vt.save_video(path, 20 + width, seconds=seconds, size=(width, height), fps=30, noise=8.0)
        videos.append((group, path))
    out = []
    for group, path in videos:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            count = sum(1 for _ in container.decode(stream))
            out.append(Video(group, path, stream.width, stream.height, count))
    return out


def _cpu(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def _decode_only(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def _downsample_size(video: Video) -> tuple[int, int] | None:
    if video.width <= 640:
        return None
    return 640, max(6, round(640 * video.height / video.width / 2) * 2)


def _stats(distances: list[int]) -> dict[str, Any]:
    if not distances:
        return {"frames": 0}
    return {
        "frames": len(distances),
        "median": statistics.median(distances),
        "max": max(distances),
        "within_31": sum(d <= 31 for d in distances),
        "identical": sum(d == 0 for d in distances),
        "share_le_31": round(sum(d <= 31 for d in distances) / len(distances), 4),
        "share_identical": round(sum(d == 0 for d in distances) / len(distances), 4),
    }


def run(*, quick: bool = False, repeat: int = 3) -> dict[str, Any]:
    """Generates the videos, hashes them with both, and returns the figures (JSON-able)."""
    reference, ref_note = _reference()
    res: dict[str, Any] = {
        "pyav": av.__version__,
        "ffmpeg_in_pyav": ".".join(map(str, av.library_versions["libavcodec"])),
        "reference": ref_note if reference is None else f"vpdq {ref_note}",
        "reference_available": reference is not None,
        "repeat": repeat,
    }
    with tempfile.TemporaryDirectory(prefix="video-hash-") as tmp:
        started = time.perf_counter()
        videos = generate(Path(tmp), quick)
        res["generation_seconds"] = round(time.perf_counter() - started, 1)
        groups: dict[str, dict[str, Any]] = {}
        all_distances: list[int] = []
        all_distances_1s: list[int] = []
        for video in videos:
            g = groups.setdefault(
                video.group,
                {
                    "videos": 0,
                    "frames": 0,
                    "rows": {},
                    "distances": [],
                    "distances_1s": [],
                    "downsample_distances": [],
                },
            )
            g["videos"] += 1
            g["frames"] += video.frames
            _measure(video, reference, repeat, g)
        res["groups"] = {}
        for name, g in groups.items():
            all_distances += g["distances"]
            all_distances_1s += g["distances_1s"]
            rows = {
                key: {
                    "decoded_frames": row["decoded"],
                    "hashed_frames": row["hashed"],
                    "cpu_seconds": round(row["cpu"], 3),
                    "wall_seconds": round(row["wall"], 3),
                    "decoded_fps_per_core": round(row["decoded"] / row["cpu"], 1),
                    "hashed_fps_per_core": round(row["hashed"] / row["cpu"], 1),
                }
                for key, row in g["rows"].items()
            }
            res["groups"][name] = {
                "videos": g["videos"],
                "frames": g["frames"],
                "speed": rows,
                "ours_vs_reference": _stats(g["distances"]),
                "ours_vs_reference_1s": _stats(g["distances_1s"]),
                "downsampled_vs_full": _stats(g["downsample_distances"]),
            }
        res["ours_vs_reference"] = _stats(all_distances)
        res["ours_vs_reference_1s"] = _stats(all_distances_1s)
    return res


def _add(g: dict[str, Any], key: str, decoded: int, hashed: int, cpu: float, wall: float) -> None:
    row = g["rows"].setdefault(key, {"decoded": 0, "hashed": 0, "cpu": 0.0, "wall": 0.0})
    row["decoded"] += decoded
    row["hashed"] += hashed
    row["cpu"] += cpu
    row["wall"] += wall


def _measure(video: Video, reference: ModuleType | None, repeat: int, g: dict[str, Any]) -> None:
    path = str(video.path)
    small = _downsample_size(video)
    for label, seconds, runs in (("1/s", 1.0, repeat), ("every frame", 0.0, 1)):
        best: dict[str, tuple[list[Any], float, float]] = {}
        attempts: list[tuple[str, Callable[[], Any]]] = [
            ("ours", partial(hash_video, path, seconds_per_hash=seconds)),
        ]
        if reference is not None:
            attempts.append(
                (
                    "reference vpdq",
                    partial(reference.computeHash, path, seconds_per_hash=seconds, thread_count=1),
                )
            )
        if small is not None:
            attempts.append(
                (
                    f"ours, downsample {small[0]}x{small[1]}",
                    partial(hash_video, path, seconds_per_hash=seconds, downsample=small),
                )
            )
        for _ in range(runs):
            for name, fn in attempts:
                result, cpu, wall = _cpu(fn)
                if name not in best or cpu < best[name][1]:
                    best[name] = (result, cpu, wall)
        for name, (result, cpu, wall) in best.items():
            _add(g, f"{name} @ {label}", video.frames, len(result), cpu, wall)
        ours: list[VpdqFrame] = best["ours"][0]
        if "reference vpdq" in best:
            # Every frame: all frames; 1/s: the frames the skipping decoder hashes.
            theirs = best["reference vpdq"][0]
            if [f.timestamp for f in ours] != [f.timestamp for f in theirs]:
                raise SystemExit(f"{video.path.name}: timestamps differ from the reference's")
            pairs = zip(ours, theirs, strict=True)
            key = "distances" if seconds == 0.0 else "distances_1s"
            g[key] += [pdq_distance(o.pdq, t.hex) for o, t in pairs]
        if small is not None and seconds == 0.0:
            scaled: list[VpdqFrame] = best[f"ours, downsample {small[0]}x{small[1]}"][0]
            g["downsample_distances"] += [
                pdq_distance(o.pdq, s.pdq) for o, s in zip(ours, scaled, strict=True)
            ]
    decode = partial(_decode_only, video.path)
    best_decode = min((_cpu(decode) for _ in range(repeat)), key=lambda r: r[1])
    _add(g, "decode only (PyAV)", video.frames, 0, best_decode[1], best_decode[2])


def _summary(stats: dict[str, Any]) -> str:
    n = stats["frames"]
    return (
        f"{n} frames, distance median {stats['median']}, max {stats['max']}, "
        f"<= 31 bits {stats['within_31']}/{n}, identical {stats['identical']}/{n}"
    )


def table(res: dict[str, Any]) -> str:
    lines = [
        f"vPDQ hashing, ours (PyAV {res['pyav']}, FFmpeg libavcodec {res['ffmpeg_in_pyav']}) "
        f"vs reference ({res['reference']})",
        "",
    ]
    for name, g in res["groups"].items():
        lines.append(f"{name}: {g['videos']} video(s), {g['frames']} frames")
        lines.append(
            f"  {'hasher':<44} {'decoded f/s/core':>16} {'hashed f/s/core':>16} {'wall s':>8}"
        )
        for key, row in g["speed"].items():
            hashed = "-" if not row["hashed_frames"] else f"{row['hashed_fps_per_core']:,.1f}"
            lines.append(
                f"  {key:<44} {row['decoded_fps_per_core']:>16,.1f} {hashed:>16} "
                f"{row['wall_seconds']:>8.2f}"
            )
        for what, stats in (
            ("ours vs reference", g["ours_vs_reference"]),
            ("ours vs reference @ 1/s", g["ours_vs_reference_1s"]),
            ("downsampled vs full size (ours)", g["downsampled_vs_full"]),
        ):
            if stats["frames"]:
                lines.append(f"  {what}: {_summary(stats)}")
        lines.append("")
    total = res["ours_vs_reference"]
    if total["frames"]:
        lines.append(f"all frames, ours vs reference: {_summary(total)}")
        lines.append(f"frames @ 1/s, ours vs reference: {_summary(res['ours_vs_reference_1s'])}")
    else:
        lines.append(f"no reference comparison: {res['reference']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer and shorter large videos")
    ap.add_argument("--repeat", type=int, default=3, help="runs at 1 frame/s; the best counts")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    res = {"machine": machine(), **run(quick=args.quick, repeat=max(1, args.repeat))}
    print(json.dumps(res, indent=2))
    print()
    print(table(res))
    if args.out:
        args.out.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
