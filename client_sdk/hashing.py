"""Hashing of media on the member's side: PDQ of image files with `pdqhash`, on RGB pixels as
the PDQ reference expects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image, UnidentifiedImageError


class HashingError(ValueError):
    """A file that could not be read as an image."""


@dataclass(frozen=True)
class PDQHash:
    """A PDQ hash (64 hex digits) and its quality (0-100; below 50 is unreliable)."""

    hex: str
    quality: int


def pdq_from_pixels(rgb: np.ndarray) -> PDQHash:
    """PDQ of an (height, width, 3) uint8 RGB array."""
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb, dtype=np.uint8))
    packed = np.packbits(np.asarray(bits, dtype=np.uint8))
    return PDQHash(packed.tobytes().hex(), int(quality))


def rgb_pixels(path: Path) -> np.ndarray:
    """The RGB pixels of an image file (palette, alpha and greyscale converted)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as e:
        raise HashingError(f"{path}: not an image that can be read ({e})") from None


def pdq_from_image(path: str | Path) -> PDQHash:
    """PDQ of an image file."""
    return pdq_from_pixels(rgb_pixels(Path(path)))


DIHEDRAL: tuple[tuple[str, Callable[[np.ndarray], np.ndarray]], ...] = (
    ("original", lambda a: a),
    ("rotate90", lambda a: np.rot90(a, -1)),
    ("rotate180", lambda a: np.rot90(a, 2)),
    ("rotate270", lambda a: np.rot90(a, 1)),
    ("flip_horizontal", lambda a: a[:, ::-1]),
    ("flip_vertical", lambda a: a[::-1]),
    ("transpose", lambda a: a.transpose(1, 0, 2)),
    ("transverse", lambda a: np.rot90(a, 2).transpose(1, 0, 2)),
)
"""The 8 rotations and flips of an image, each applied to the pixels and hashed: pdqhash's own
`compute_dihedral` shortcut does not reproduce the reference hashes of transformed images."""


def pdq_dihedral(path: str | Path) -> list[tuple[str, PDQHash]]:
    """PDQ of an image under each of the 8 dihedral transforms, by name (the transform applied
    to this image)."""
    pixels = rgb_pixels(Path(path))
    return [(name, pdq_from_pixels(transform(pixels))) for name, transform in DIHEDRAL]
