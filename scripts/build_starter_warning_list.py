"""Builds the starter warning list (issue 21.1): PDQ hashes of degenerate images that PDQ's
quality score alone lets through, so that a match on one is flagged rather than actioned.

Degenerate images are drawn deterministically (flat colours, linear and radial gradients,
checkerboards and stripes, text-only frames, letterboxed and pillarboxed frames, near-blank
frames with slight noise), hashed as the SDK hashes (`client_sdk.hashing.pdq_from_pixels`), and
kept when their quality is at least the project's threshold (50) and they are not within
DEDUP_BITS of an entry already kept. Most flat and near-blank frames score below 50 and are
refused by quality already; what survives is what the list is for.

    python scripts/build_starter_warning_list.py           # write signalhub/data/..., print summary
    python scripts/build_starter_warning_list.py --check   # exit 1 if the committed file differs

tests/test_starter_warning_list.py runs the check. `HELD_OUT` draws the same kinds of image with
other parameters: benchmarks/warning_lists.py measures the list on those, not on its own images.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from client_sdk.hashing import pdq_from_pixels  # noqa: E402
from signalhub.vpdq_format import VPDQ_MIN_QUALITY  # noqa: E402

OUT = ROOT / "signalhub" / "data" / "starter_warning_list.json"
LIST_NAME = "degenerate-images"
MIN_QUALITY = VPDQ_MIN_QUALITY
"""PDQ quality below which the project does not match a hash (client_sdk.hashing: "below 50
is unreliable"; the vPDQ frame filter uses the same 50)."""
DEDUP_BITS = 4
"""An image within this many bits of one already kept adds nothing to the list."""
MAX_DISTANCE = 16
"""The list's max_distance. benchmarks/warning_lists.py (benchmarks/RESULTS.md, "Warning
lists") finds recall of edited copies unchanged and no photo flagged at every distance up to
31 (the nearest photo hash is 94 bits from a listed one), and held-out degenerate images either
exactly on a listed value or far from all: the measurement does not pin it. 16, the top of the
range expected and about half the match threshold, leaves room for real photos that come
closer to a listed value than these synthetic ones."""
SIDE = 256

RGB = npt.NDArray[np.uint8]
PRIMARIES = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "cyan": (0, 255, 255),
    "magenta": (255, 0, 255),
}


@dataclass(frozen=True)
class Params:
    """What one set of degenerate images varies over."""

    greys: tuple[int, ...]
    angles_deg: tuple[int, ...]
    radial_centres: tuple[tuple[float, float], ...]
    periods_px: tuple[int, ...]
    texts: tuple[str, ...]
    text_sizes_px: tuple[int, ...]
    bar_fractions: tuple[float, ...]
    noise_sigmas: tuple[float, ...]
    noise_seed: int


LIST = Params(
    greys=(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 255),
    angles_deg=(0, 45, 90, 135, 180, 225, 270, 315),
    radial_centres=((0.5, 0.5), (0.25, 0.25), (0.75, 0.75), (0.5, 0.0)),
    periods_px=(2, 4, 8, 16, 32, 64, 128),
    texts=("SAMPLE", "No signal", "Loading...", "Lorem ipsum dolor sit amet"),
    text_sizes_px=(16, 32, 64),
    bar_fractions=(0.125, 0.25),
    noise_sigmas=(1.0, 3.0),
    noise_seed=2101,
)
HELD_OUT = Params(
    greys=(8, 40, 72, 100, 136, 168, 200, 232, 250),
    angles_deg=(10, 30, 60, 100, 150, 200, 250, 300, 340),
    radial_centres=((0.4, 0.6), (0.1, 0.9), (0.6, 0.3)),
    periods_px=(3, 6, 12, 24, 48, 96),
    texts=("Video unavailable", "TEST", "Image removed", "copyright 2024"),
    text_sizes_px=(24, 48),
    bar_fractions=(0.1, 0.2, 0.3),
    noise_sigmas=(2.0, 5.0),
    noise_seed=7919,
)


def _flat(colour: tuple[int, int, int]) -> RGB:
    return np.broadcast_to(np.array(colour, dtype=np.uint8), (SIDE, SIDE, 3)).copy()


def _grey(values: npt.NDArray[np.float64]) -> RGB:
    level = np.clip(np.rint(values * 255), 0, 255).astype(np.uint8)
    return np.repeat(level[:, :, None], 3, axis=2)


def _linear(angle_deg: int) -> RGB:
    y, x = np.mgrid[0:SIDE, 0:SIDE] / (SIDE - 1)
    a = np.deg2rad(angle_deg)
    t = np.cos(a) * (x - 0.5) + np.sin(a) * (y - 0.5)
    return _grey((t - t.min()) / (t.max() - t.min()))


def _radial(cx: float, cy: float) -> RGB:
    y, x = np.mgrid[0:SIDE, 0:SIDE] / (SIDE - 1)
    r = np.hypot(x - cx, y - cy)
    return _grey(r / r.max())


def _checker(period: int) -> RGB:
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    return _grey((((x // period) + (y // period)) % 2).astype(np.float64))


def _stripes(period: int, direction: str) -> RGB:
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    along = {"vertical": x, "horizontal": y, "diagonal": x + y}[direction]
    return _grey(((along // period) % 2).astype(np.float64))


def _text(text: str, size: int, dark_on_light: bool) -> RGB:
    ink, paper = ((0, 0, 0), (255, 255, 255)) if dark_on_light else ((255, 255, 255), (0, 0, 0))
    image = Image.new("RGB", (SIDE, SIDE), paper)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=size)  # Pillow's bundled font: the same on every machine
    draw.multiline_text((SIDE // 2, SIDE // 2), text, fill=ink, font=font, anchor="mm")
    return np.asarray(image).copy()


def _barred(middle: RGB, fraction: float, letterbox: bool) -> RGB:
    out = middle.copy()
    bar = int(SIDE * fraction)
    if letterbox:
        out[:bar] = 0
        out[SIDE - bar :] = 0
    else:
        out[:, :bar] = 0
        out[:, SIDE - bar :] = 0
    return out


def degenerate_images(params: Params) -> Iterator[tuple[str, RGB]]:
    """(note, RGB pixels) of every degenerate image `params` describes, in a fixed order."""
    for g in params.greys:
        yield f"flat grey {g}", _flat((g, g, g))
    for name, colour in PRIMARIES.items():
        yield f"flat {name}", _flat(colour)
    for angle in params.angles_deg:
        yield f"linear gradient {angle} deg", _linear(angle)
    for cx, cy in params.radial_centres:
        yield f"radial gradient at ({cx}, {cy})", _radial(cx, cy)
    for period in params.periods_px:
        yield f"checkerboard {period} px", _checker(period)
        for direction in ("vertical", "horizontal", "diagonal"):
            yield f"{direction} stripes {period} px", _stripes(period, direction)
    yield from _framed_images(params)


def _framed_images(params: Params) -> Iterator[tuple[str, RGB]]:
    """The text-only, barred and near-blank frames of `params`."""
    for text in params.texts:
        for size in params.text_sizes_px:
            yield f"text {text!r} {size} px black on white", _text(text, size, True)
            yield f"text {text!r} {size} px white on black", _text(text, size, False)
    middles = [("grey 128", _flat((128, 128, 128))), ("vertical gradient", _linear(90))]
    for fraction in params.bar_fractions:
        for letterbox, kind in ((True, "letterbox"), (False, "pillarbox")):
            for middle_name, middle in middles:
                yield (
                    f"{kind} {fraction:g} bars, {middle_name}",
                    _barred(middle, fraction, letterbox),
                )
    rng = np.random.default_rng(params.noise_seed)
    for g in params.greys:
        for sigma in params.noise_sigmas:
            noisy = np.clip(g + rng.normal(0, sigma, (SIDE, SIDE)), 0, 255)
            yield f"near-blank grey {g}, noise sigma {sigma:g}", _grey(noisy / 255)


def _distance(a: bytes, b: bytes) -> int:
    return int.from_bytes(bytes(x ^ y for x, y in zip(a, b, strict=True)), "big").bit_count()


def hashed_images(params: Params) -> list[dict[str, Any]]:
    """Every image of `params` with its PDQ hash and quality: {"note", "value", "quality"}."""
    out = []
    for note, pixels in degenerate_images(params):
        pdq = pdq_from_pixels(pixels)
        out.append({"note": note, "value": pdq.hex, "quality": pdq.quality})
    return out


def build_list(params: Params = LIST) -> tuple[dict[str, Any], dict[str, int]]:
    """The starter list (as written to the JSON file) and counts: generated, passed quality,
    kept."""
    hashed = hashed_images(params)
    passed = [h for h in hashed if h["quality"] >= MIN_QUALITY]
    kept: list[dict[str, Any]] = []
    for h in passed:
        raw = bytes.fromhex(h["value"])
        if all(_distance(raw, bytes.fromhex(k["value"])) > DEDUP_BITS for k in kept):
            kept.append(h)
    entries = [
        {"type": "pdq", "value": k["value"], "note": k["note"]}
        for k in sorted(kept, key=lambda k: str(k["value"]))
    ]
    warning_list = {
        "name": LIST_NAME,
        "description": (
            "PDQ hashes of degenerate images (gradients, checkerboards, stripes, text-only and "
            "letterboxed frames) whose PDQ quality is 50 or more: a match on one, or within "
            f"{MAX_DISTANCE} bits, says little about the content. Generated by "
            "scripts/build_starter_warning_list.py."
        ),
        "max_distance": MAX_DISTANCE,
        "entries": entries,
    }
    counts = {"generated": len(hashed), "passed_quality": len(passed), "kept": len(entries)}
    return warning_list, counts


def render(warning_list: dict[str, Any]) -> str:
    """The file's exact text."""
    return json.dumps(warning_list, indent=2, ensure_ascii=False) + "\n"


def _table(counts: dict[str, int], warning_list: dict[str, Any]) -> str:
    lines = [
        f"{'generated':>16} {counts['generated']:>5}",
        f"{'quality >= ' + str(MIN_QUALITY):>16} {counts['passed_quality']:>5}",
        f"{'kept (distinct)':>16} {counts['kept']:>5}",
        "",
    ]
    lines += [f"  {e['value']}  {e['note']}" for e in warning_list["entries"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Writes (or with --check compares) the committed starter list."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    warning_list, counts = build_list()
    text = render(warning_list)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(
                f"{args.out} is stale: run scripts/build_starter_warning_list.py", file=sys.stderr
            )
            return 1
        print(f"{args.out} is up to date ({counts['kept']} entries)")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    summary = {**counts, "min_quality": MIN_QUALITY, "dedup_bits": DEDUP_BITS}
    summary["max_distance"] = MAX_DISTANCE
    print(json.dumps(summary))
    print(_table(counts, warning_list))
    return 0


if __name__ == "__main__":
    sys.exit(main())
