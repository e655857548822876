"""What a TLSH value is on the wire, how one is computed from a document and how two compare.

The wire form is python-threatexchange's (its `TextTLSHSignal`): "T1" and 70 uppercase hex
digits, the compact TLSH that py-tlsh 4.x computes by default (128 buckets, a 1-byte checksum).
"""

from __future__ import annotations

import re

import tlsh  # type: ignore[import-not-found, unused-ignore]  # a C extension, no stubs

from signalhub.signal_types import InvalidValue

TLSH_HEX_DIGITS = 70
"""Hex digits after the "T1" version prefix: checksum, l-value, q-ratios (1 byte each) and the
32-byte body (2 bits for each of 128 buckets)."""
TLSH_CHARS = 2 + TLSH_HEX_DIGITS
_CANONICAL = re.compile(r"T1[0-9A-F]{70}")
_NO_HASH = "TNULL"


def canonical_tlsh(value: str) -> str:
    """'T1' and 70 uppercase hex digits, from a value in either case with surrounding spaces.
    Raises InvalidValue on anything else (TNULL, a hash without its 'T1', other lengths)."""
    text = value.strip().upper()
    if _CANONICAL.fullmatch(text):
        return text
    if text == _NO_HASH:
        raise InvalidValue(
            "TNULL is what TLSH gives a document too short or too uniform to hash; it is not a "
            "signal"
        )
    if not text.startswith("T1"):
        raise InvalidValue(
            f"a tlsh value starts with the version prefix T1 (then {TLSH_HEX_DIGITS} hex digits)"
        )
    if len(text) != TLSH_CHARS:
        raise InvalidValue(
            f"a tlsh value is T1 and {TLSH_HEX_DIGITS} hex digits ({TLSH_CHARS} characters), "
            f"got {len(text)} characters"
        )
    raise InvalidValue(f"a tlsh value is T1 and {TLSH_HEX_DIGITS} hex digits (0-9, A-F)")


def tlsh_distance(a: str, b: str) -> int:
    """TLSH's distance between two canonical values, the l-value (length) term included:
    py-tlsh's `tlsh.diff`. 0 is identical; unrelated documents are typically 150-300 apart."""
    distance: int = tlsh.diff(a, b)
    return distance


def tlsh_from_bytes(data: bytes) -> str:
    """The canonical TLSH of a document's bytes. Raises InvalidValue when TLSH gives none: the
    document is shorter than 50 bytes or has too little variety (TLSH's 'TNULL')."""
    value = str(tlsh.hash(data))
    if value == _NO_HASH or not value:
        raise InvalidValue(
            f"TLSH gives no hash for this document ({len(data)} bytes): it needs at least 50 "
            "bytes with some variety"
        )
    return canonical_tlsh(value)
