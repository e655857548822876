"""TLSH (Trend Micro's locality-sensitive hash of documents) as a signalhub signal type: a
third-party plug-in, registered under the `signalhub.signal_types` entry point, that the hub,
SDK and CLI pick up when it is installed, with no change to signalhub itself.

`values` says what a TLSH value is (wire form, distance, hashing a document); `index` holds the
exact index the hub matches TLSH signals with (`TLSHIndex`).
"""

from __future__ import annotations

from signalhub.signal_types import MatchKind, SignalType
from signalhub_tlsh.index import TLSHIndex
from signalhub_tlsh.values import canonical_tlsh, tlsh_distance, tlsh_from_bytes

__all__ = [
    "DEFAULT_THRESHOLD",
    "MAX_THRESHOLD",
    "TLSH",
    "TLSHIndex",
    "canonical_tlsh",
    "tlsh_distance",
    "tlsh_from_bytes",
]

DEFAULT_THRESHOLD = 30
"""A match when a query names no distance. python-threatexchange matches TLSH at 30 (on
`diffxlen`, which leaves out the length term), and TLSH's authors put "very similar" around 30
and a low false-positive rate below about 50. Our distance includes the length term, which only
adds, so every match at 30 is one pytx would also report; documents whose lengths differ by
more than about 20 % (two l-value steps, 24 points) need a larger threshold."""
MAX_THRESHOLD = 300
"""The largest distance a query may ask for: unrelated documents are typically 150-300 apart,
so beyond 300 nearly everything of a similar length matches and the answer says nothing."""


TLSH = SignalType(
    name="tlsh",
    match=MatchKind.DISTANCE,
    description="TLSH of a document (T1 + 70 hex digits), matched by TLSH distance",
    canonical=canonical_tlsh,
    normalize=canonical_tlsh,
    distance=tlsh_distance,
    index=TLSHIndex,
    default_threshold=DEFAULT_THRESHOLD,
    max_threshold=MAX_THRESHOLD,
    pytx_name="text_tlsh",
    hash_content=tlsh_from_bytes,
)
"""The signal type this plug-in registers (entry point `tlsh = "signalhub_tlsh:TLSH"`)."""
