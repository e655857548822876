"""Record seals (see the package docstring's "Integrity"): the CRC-32 that ends every record of
the SEALED_DATABASES, and the running weighted sum that checks the whole PDQ table."""

from __future__ import annotations

import struct
import zlib

import numpy as np
from numpy.typing import NDArray

SEALED_DATABASES = frozenset(
    (
        "signals",
        "submissions",
        "feed",
        "batches",
        "members",
        "keys",
        "groups",
        "opinions",
        "requests",
        "erased",
        "warning_lists",
        "warning_entries",
        "warning_proposals",
        "match_days",
        "match_rates",
        "quarantine",
        "reviews",
    )
)
"""Tables whose every record ends with a seal. The log is not among them: the audit chain
already hashes each entry (only an entry an erasure redacted, which the chain no longer hashes,
is sealed); the audit chain and the signed heads check themselves."""
SEAL_TAG = b"\xfd\x7f"
"""Protobuf tag of field 2047, wire type 5 (fixed32): no record declares that field."""
SEAL_BYTES = 6
_CRC = struct.Struct("<I")
_PDQ_WEIGHTS = (
    0x9E3779B97F4A7C15,
    0xBF58476D1CE4E5B9,
    0x94D049BB133111EB,
    0xD6E8FEB86659FD93,
    0xA0761D6478BD642F,
    0xE7037ED1A0B428DB,
    0x8EBC6AF09C88C6E3,
)
"""Odd weights (of the row number, then of each 8-byte word of the row's value): a change of
any one byte of a row changes its term, since an odd multiple of d * 2**k (d < 256, k <= 56) is
never 0 modulo 2**64."""
_MOD64 = 1 << 64


def seal(key: bytes, payload: bytes) -> bytes:
    """A record as stored under `key` in a sealed table: the payload, then its seal. The CRC
    covers the key too: a record whose key changed on disk does not pass as another one."""
    return payload + SEAL_TAG + _CRC.pack(zlib.crc32(payload, zlib.crc32(key)))


def seal_state(key: bytes, raw: bytes) -> bool | None:
    """True when `raw`, stored under `key`, ends with a seal that matches; None when it ends
    with none; False when it ends with one that does not match (corrupt, or an unsealed record
    of an old store whose last bytes happen to look like a seal). Copies nothing."""
    if len(raw) < SEAL_BYTES or raw[-SEAL_BYTES:-4] != SEAL_TAG:
        return None
    crc = zlib.crc32(memoryview(raw)[:-SEAL_BYTES], zlib.crc32(key))
    return bool(crc == _CRC.unpack_from(raw, len(raw) - 4)[0])


def open_seal(key: bytes, raw: bytes) -> tuple[bytes, bool | None]:
    """(payload, seal_state) of a stored value: the payload without its seal when the seal
    matches, else `raw` as it is."""
    sealed = seal_state(key, raw)
    return (raw[:-SEAL_BYTES] if sealed else raw), sealed


def unsealed(db: str, key: bytes, raw: bytes) -> bytes:
    """A stored value without its seal (if it has one that matches): what apply wrote. Audit
    replays compare these, so a store written before seals still verifies."""
    if db in SEALED_DATABASES or db == "log":
        return open_seal(key, raw)[0]
    return raw


def pdq_row_term(row: int, value: bytes) -> int:
    """One row's share of PDQ_TABLE_SUM (value: the row's 48 bytes)."""
    total = row * _PDQ_WEIGHTS[0]
    for word, weight in zip(struct.unpack("<6Q", value), _PDQ_WEIGHTS[1:], strict=True):
        total += word * weight
    return total % _MOD64


def pdq_table_sum(rows: NDArray[np.uint64], packed: NDArray[np.uint8]) -> int:
    """PDQ_TABLE_SUM of a whole table (rows, and their values as an (n, 48) array), vectorised
    (uint64 arithmetic wraps modulo 2**64, as the sum is defined)."""
    weights = np.array(_PDQ_WEIGHTS[1:], dtype=np.uint64)
    total = 0
    step = 1 << 20  # bounded temporaries
    for lo in range(0, len(rows), step):
        words = np.ascontiguousarray(packed[lo : lo + step]).view("<u8").astype(np.uint64)
        terms = rows[lo : lo + step] * np.uint64(_PDQ_WEIGHTS[0]) + words @ weights
        total += int(terms.sum(dtype=np.uint64))
    return total % _MOD64
