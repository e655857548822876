"""Datasets shaped like real hash lists, for benchmarks/match.py.

Uniform random hashes are the worst case for multi-index hashing's bucket balance but say
little about what a hub holds. Real lists hold *families*: the same picture re-encoded, resized
and watermarked by many uploaders, so many stored hashes sit a few bits from each other and a
query that matches one often matches several. Two generators here:

* ``families_dataset``: families of variants, each 5-30 random bits from its family's root,
  mixed with unrelated uniform hashes; queries are fresh variants of stored families and
  unrelated hashes.
* ``photo_dataset``: PDQ hashes of real photographs found on the machine (``find_photos``),
  cut into random crops so a handful of files gives thousands of distinct pictures; each crop
  is stored with two edited copies among uniform hashes, and queried with other edits of it
  and with crops that were never stored.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]

FAMILY_MIN_BITS = 5
FAMILY_MAX_BITS = 30
# Families are 1 + Geometric(1/8) variants: mean 9, a long tail of heavily shared pictures.
FAMILY_MEAN_SIZE = 8
FLIP_BLOCK_ROWS = 200_000


def flip_random_bits(rng: np.random.Generator, base: U8, k: npt.NDArray[np.int64]) -> U8:
    """``base[i]`` with exactly ``k[i]`` distinct random bits flipped (``k <= 64``)."""
    out = base.copy()
    kmax = int(k.max()) if k.size else 0
    for s in range(0, base.shape[0], FLIP_BLOCK_ROWS):
        rows = slice(s, s + FLIP_BLOCK_ROWS)
        keys = rng.random((out[rows].shape[0], 256), dtype=np.float32)
        pos = np.argpartition(keys, kmax, axis=1)[:, :kmax]  # kmax distinct random bits
        bits = np.zeros_like(keys, dtype=np.uint8)
        np.put_along_axis(bits, pos, (np.arange(kmax) < k[rows, None]).astype(np.uint8), axis=1)
        out[rows] ^= np.packbits(bits, axis=1)
    return out


def random_flips(rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
    return rng.integers(FAMILY_MIN_BITS, FAMILY_MAX_BITS + 1, n)


@dataclass
class FamilyData:
    hashes: U8
    queries: U8
    families: int
    family_members: int


def families_dataset(
    rng: np.random.Generator, n: int, nq: int, family_fraction: float = 0.5
) -> FamilyData:
    """n hashes, ``family_fraction`` of them in families; nq queries, half fresh variants."""
    members = int(n * family_fraction)
    sizes = 1 + rng.geometric(1 / FAMILY_MEAN_SIZE, size=max(1, members))
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), members)) + 1]
    sizes[-1] -= int(sizes.sum()) - members
    sizes = sizes[sizes > 0]
    roots = rng.integers(0, 256, size=(sizes.shape[0], 32), dtype=np.uint8)
    owner = np.repeat(np.arange(sizes.shape[0]), sizes)
    variants = flip_random_bits(rng, roots[owner], random_flips(rng, members))
    background = rng.integers(0, 256, size=(n - members, 32), dtype=np.uint8)
    hashes = np.concatenate([variants, background])[rng.permutation(n)]
    del variants, background
    fam = rng.integers(0, sizes.shape[0], nq // 2)
    near = flip_random_bits(rng, roots[fam], random_flips(rng, fam.shape[0]))
    far = rng.integers(0, 256, size=(nq - nq // 2, 32), dtype=np.uint8)
    queries = np.concatenate([near, far])[rng.permutation(nq)]
    return FamilyData(hashes, queries, int(sizes.shape[0]), members)


# ------------------------------------------------------------------ photos

# Real photographs that packages commonly ship: matplotlib's sample data (a dependency) and
# the Rust embedded book's board photos. Found ones are used; --photo-files replaces them.
PHOTO_GLOBS = (
    "~/.rustup/toolchains/*/share/doc/rust/html/embedded-book/assets/*.jp*g",
    "/usr/share/doc/rust*/html/embedded-book/assets/*.jp*g",
)
MIN_CROP_SIDE = 0.4


def find_photos() -> list[str]:
    """Paths of known real photographs on this machine, one per distinct file content."""
    import matplotlib

    paths = [os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")]
    for pattern in PHOTO_GLOBS:
        paths += sorted(glob.glob(os.path.expanduser(pattern)))
    found: dict[int, str] = {}
    for path in paths:
        if os.path.isfile(path):  # same size: the same file shipped twice (two toolchains)
            found.setdefault(os.path.getsize(path), os.path.realpath(path))
    return sorted(found.values())


def random_crop(rng: np.random.Generator, im: Any) -> Any:
    w, h = im.size
    cw = int(w * rng.uniform(MIN_CROP_SIDE, 1.0))
    ch = int(h * rng.uniform(MIN_CROP_SIDE, 1.0))
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    return im.crop((x0, y0, x0 + cw, y0 + ch))


@dataclass
class PhotoData:
    stored: U8  # crop hashes and their stored edits
    queries: U8
    labels: list[str]  # edit kind of the query, or "fresh crop" (never stored)
    photos: list[str]


def photo_dataset(
    rng: np.random.Generator, paths: list[str], n_crops: int, nq: int, stored_edits: int = 2
) -> PhotoData:
    """Crops of real photographs: each stored with ``stored_edits`` of its edits; queries are
    the crops' other edits (half) and fresh crops never stored (half)."""
    from PIL import Image

    from benchmarks.match import edits, pdq_of

    photos = [Image.open(p).convert("RGB") for p in paths]
    stored: list[U8] = []
    held_out: list[tuple[str, U8]] = []
    for _ in range(n_crops):
        crop = random_crop(rng, photos[int(rng.integers(0, len(photos)))])
        stored.append(pdq_of(crop)[0])
        variants = edits(rng, crop)
        order = rng.permutation(len(variants))
        for j in order[:stored_edits]:
            stored.append(pdq_of(variants[int(j)][1])[0])
        for j in order[stored_edits:]:
            kind, im = variants[int(j)]
            held_out.append((kind, pdq_of(im)[0]))
    pick = rng.permutation(len(held_out))[: nq // 2]
    labels = [held_out[int(i)][0] for i in pick]
    queries = [held_out[int(i)][1] for i in pick]
    for _ in range(nq - len(queries)):
        queries.append(pdq_of(random_crop(rng, photos[int(rng.integers(0, len(photos)))]))[0])
        labels.append("fresh crop")
    order = rng.permutation(len(queries))
    return PhotoData(
        np.array(stored, dtype=np.uint8),
        np.array(queries, dtype=np.uint8)[order],
        [labels[int(i)] for i in order],
        paths,
    )
