"""Conversion between 64-character hex strings and ``uint8 (n, 32)`` PDQ hash arrays.

Both directions are vectorised: the strings are joined and decoded with a single
lookup table, so converting millions of hashes costs a few numpy passes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

HASH_BYTES = 32
HEX_CHARS = 2 * HASH_BYTES

_INVALID = 255
_LUT = np.full(256, _INVALID, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _LUT[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _LUT[_c] = 10 + _i


def hashes_from_hex(hexes: Sequence[str]) -> npt.NDArray[np.uint8]:
    """Decode 64-character hex strings (either case) into a ``uint8 (n, 32)`` array.

    Raises ``ValueError`` if any item is not a string of exactly 64 hex digits.
    """
    n = len(hexes)
    if n == 0:
        return np.zeros((0, HASH_BYTES), dtype=np.uint8)
    for i, h in enumerate(hexes):
        if not isinstance(h, str) or len(h) != HEX_CHARS:
            raise ValueError(f"hash #{i} is not a {HEX_CHARS}-character hex string: {h!r}")
    try:
        raw = "".join(hexes).encode("ascii")
    except UnicodeEncodeError as exc:
        raise ValueError("hex hashes must be ASCII") from exc
    nibbles = _LUT[np.frombuffer(raw, dtype=np.uint8)]
    if (nibbles == _INVALID).any():
        rows_bad = (nibbles == _INVALID).reshape(n, HEX_CHARS).any(axis=1)
        bad = int(np.flatnonzero(rows_bad)[0])
        raise ValueError(f"hash #{bad} contains a non-hex character: {hexes[bad]!r}")
    pairs = nibbles.reshape(n, HASH_BYTES, 2)
    out = np.left_shift(pairs[:, :, 0], 4, dtype=np.uint8)
    out |= pairs[:, :, 1]
    return out


def hex_from_hashes(hashes: npt.ArrayLike) -> list[str]:
    """Encode a ``uint8 (n, 32)`` array as lowercase 64-character hex strings.

    Raises ``ValueError`` if the array does not have shape ``(n, 32)`` or is not ``uint8``.
    """
    arr = np.asarray(hashes)
    if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != HASH_BYTES:
        raise ValueError(
            f"expected a uint8 array of shape (n, {HASH_BYTES}), got {arr.dtype} {arr.shape}"
        )
    text = np.ascontiguousarray(arr).tobytes().hex()
    return [text[i : i + HEX_CHARS] for i in range(0, len(text), HEX_CHARS)]
