"""PDQ of RGB24 pixels in place, through the reference C++ functions that `pdqhash` compiles into
its extension, called directly (ctypes) rather than through `pdqhash.compute`.

Why: `pdqhash.compute` computes luma in numpy in float64 over copies of the whole picture, then
rounds it to float32 — twice the time of the C++ hashing itself on HD frames, and a bit or two
away from the reference now and then (the reference computes luma in float). Here luma is
Meta's own `fillFloatLumaFromRGB` (float, as vPDQ's reference calls it), read straight from a
decoded frame's buffer with its row stride (no numpy copy of the pixels), and then
`pdqHash256FromFloatLuma`, the function `pdqhash.compute` ends in. The result is the reference's
hash bit for bit.

The functions are found by their C++ names in pdqhash's extension (pdqhash 0.2.x exports them);
where they are missing, `available()` is False and callers use `pdqhash.compute` instead.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

import numpy as np
import pdqhash

from client_sdk.hashing import PDQHash

__all__ = ["RgbHasher", "available"]

_FILL_LUMA = "_ZN8facebook3pdq11downscaling20fillFloatLumaFromRGBEPKhS3_S3_iiiiPf"
"""facebook::pdq::downscaling::fillFloatLumaFromRGB(const uint8_t* r, const uint8_t* g,
const uint8_t* b, int numRows, int numCols, int rowStride, int colStride, float* luma)."""
_HASH_LUMA = (
    "_ZN8facebook3pdq7hashing23pdqHash256FromFloatLumaEPfS2_iiPA64_fS4_PA16_fRNS1_7Hash256ERi"
)
"""facebook::pdq::hashing::pdqHash256FromFloatLuma(float* luma, float* scratch, int numRows,
int numCols, float[64][64], float[16][64], float[16][16], Hash256& hash, int& quality)."""

_P = ctypes.c_void_p
_I = ctypes.c_int


_Function = Callable[..., None]


@cache
def _functions() -> tuple[_Function, _Function] | None:
    """The two C++ functions, or None when pdqhash's extension does not export them."""
    try:
        library = ctypes.CDLL(pdqhash.bindings.__file__)
        fill, hash_luma = getattr(library, _FILL_LUMA), getattr(library, _HASH_LUMA)
    except (OSError, AttributeError):
        return None
    fill.restype = None
    fill.argtypes = [_P, _P, _P, _I, _I, _I, _I, _P]
    hash_luma.restype = None
    hash_luma.argtypes = [_P, _P, _I, _I, _P, _P, _P, _P, _P]
    return fill, hash_luma


def available() -> bool:
    """Whether pdqhash's extension exports the functions this module calls."""
    return _functions() is not None


class RgbHasher:
    """PDQ of RGB24 pictures of one size, with the buffers allocated once (a video's frames).
    Not for use from two threads at once. Raises RuntimeError when not `available()`."""

    def __init__(self, width: int, height: int) -> None:
        functions = _functions()
        if functions is None:
            raise RuntimeError("pdqhash's extension does not export the PDQ functions")
        self._fill, self._hash = functions
        self.width, self.height = width, height
        self._luma = np.empty((height, width), np.float32)
        self._scratch = np.empty((height, width), np.float32)
        self._b64x64 = np.empty((64, 64), np.float32)
        self._b16x64 = np.empty((16, 64), np.float32)
        self._b16x16 = np.empty((16, 16), np.float32)
        self._words = np.zeros(16, np.uint16)
        self._quality = ctypes.c_int()

    def hash_buffer(self, address: int, row_stride: int) -> PDQHash:
        """PDQ of the RGB24 picture at `address` (`row_stride` bytes from one row to the next).
        The caller keeps the memory alive and at least `height` rows of `width` pixels long."""
        if row_stride < 3 * self.width:
            raise ValueError(f"row stride {row_stride} is under 3 x width {self.width}")
        self._fill(
            address,
            address + 1,
            address + 2,
            self.height,
            self.width,
            row_stride,
            3,
            self._luma.ctypes.data,
        )
        self._hash(
            self._luma.ctypes.data,
            self._scratch.ctypes.data,
            self.height,
            self.width,
            self._b64x64.ctypes.data,
            self._b16x64.ctypes.data,
            self._b16x16.ctypes.data,
            self._words.ctypes.data,
            ctypes.addressof(self._quality),
        )
        # Hash256's 16 words, most significant last: the reference's hashToString order.
        return PDQHash(self._words[::-1].astype(">u2").tobytes().hex(), self._quality.value)

    def hash_pixels(self, rgb: np.ndarray) -> PDQHash:
        """PDQ of an (height, width, 3) uint8 array of this hasher's size."""
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(
                f"expected ({self.height}, {self.width}, 3) uint8 pixels, not {rgb.shape} "
                f"{rgb.dtype}"
            )
        pixels = np.ascontiguousarray(rgb)
        return self.hash_buffer(pixels.ctypes.data, pixels.strides[0])
