"""Exact Hamming search over PDQ hashes and exact-match lookups; knows nothing of gRPC or LMDB.

Public API: :class:`PDQIndex`, :class:`ExactIndex`, :func:`hashes_from_hex`,
:func:`hex_from_hashes`.  Nothing here is thread-safe: callers serialise access
(the server guards every call with its own lock).
"""

from matcher.exact_index import ExactIndex
from matcher.hexcodec import hashes_from_hex, hex_from_hashes
from matcher.pdq_index import PDQIndex

__all__ = ["ExactIndex", "PDQIndex", "hashes_from_hex", "hex_from_hashes"]
