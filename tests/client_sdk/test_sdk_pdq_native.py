"""PDQ through pdqhash's own C++ functions (client_sdk.pdq_native): the same hash as
`pdqhash.compute` up to its float64 luma rounding, from any row stride, and the functions are
there in the pdqhash this project pins (else video hashing silently takes the slower path)."""

from __future__ import annotations

import numpy as np
import pytest
from imagetools import photo

from client_sdk import pdq_native
from client_sdk.hashing import pdq_from_pixels
from client_sdk.video import pdq_distance


def test_pinned_pdqhash_exports_the_functions() -> None:
    assert pdq_native.available()


@pytest.mark.parametrize("seed", range(6))
def test_same_hash_as_pdqhash_compute(seed: int) -> None:
    """Measured identical on these photos; pdqhash's luma is float64 rounded to float32, the
    reference's (and ours here) float, so a bit may differ on other pictures: asserted <= 2."""
    pixels = np.asarray(photo(seed))
    ours = pdq_native.RgbHasher(pixels.shape[1], pixels.shape[0]).hash_pixels(pixels)
    theirs = pdq_from_pixels(pixels)
    assert ours.quality == theirs.quality
    assert pdq_distance(ours.hex, theirs.hex) <= 2


def test_padded_rows_hash_as_contiguous_ones() -> None:
    """Decoded frames have rows padded for alignment: the stride is honoured, padding ignored."""
    pixels = np.asarray(photo(7, size=(101, 77)))
    padded = np.full((77, 101 * 3 + 29), 255, np.uint8)
    padded[:, : 101 * 3] = pixels.reshape(77, -1)
    hasher = pdq_native.RgbHasher(101, 77)
    assert hasher.hash_buffer(padded.ctypes.data, padded.strides[0]) == hasher.hash_pixels(pixels)


def test_one_hasher_hashes_many_pictures_independently() -> None:
    hasher = pdq_native.RgbHasher(480, 360)
    pictures = [np.asarray(photo(seed)) for seed in (1, 2, 1)]
    first, second, again = (hasher.hash_pixels(p) for p in pictures)
    assert first == again and first != second


def test_wrong_size_or_stride_is_refused() -> None:
    hasher = pdq_native.RgbHasher(480, 360)
    with pytest.raises(ValueError, match="expected"):
        hasher.hash_pixels(np.zeros((360, 481, 3), np.uint8))
    with pytest.raises(ValueError, match="expected"):
        hasher.hash_pixels(np.zeros((360, 480, 3), np.float32))
    with pytest.raises(ValueError, match="row stride"):
        hasher.hash_buffer(0, 3 * 480 - 1)
