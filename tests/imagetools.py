"""Test images: photo-like pictures (smooth random structure, so PDQ quality is high) and the
edits a platform sees in the wild (resized, JPEG re-encoded, brightened)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance


def photo(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A deterministic photo-like RGB image."""
    rng = np.random.default_rng(seed)
    small = (rng.random((12, 16, 3)) * 255).astype(np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def save_photo(path: Path, seed: int) -> Path:
    photo(seed).save(path)
    return path


def save_edited_copy(path: Path, seed: int) -> Path:
    """The image of `seed`, downscaled to 60%, brightened 10% and saved as a JPEG at quality 70."""
    image = photo(seed)
    image = image.resize((image.width * 3 // 5, image.height * 3 // 5), Image.Resampling.LANCZOS)
    image = ImageEnhance.Brightness(image).enhance(1.1)
    image.save(path, format="JPEG", quality=70)
    return path
