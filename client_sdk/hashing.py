"""Hashing of media on the member's side: PDQ of image files with `pdqhash`, on RGB pixels as
the PDQ reference expects."""

from __future__ import annotations

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
