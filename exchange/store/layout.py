"""The store's layout: its tables, how each table's keys are built, the constants every part
of the store shares, and the audit chain's link (see the package docstring's table)."""

from __future__ import annotations

import hashlib
import struct

import lmdb

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec

INITIAL_MAP_BYTES = 256 * 1024 * 1024
LOW_DISK_BYTES = 4 * 1024 * 1024
"""A failed write with less free disk than this is taken for a full disk."""
MAX_DATABASES = 32
PDQ_ROW_BYTES = 48
MAX_KEY_BYTES = 511
"""LMDB's largest key (its default build)."""
_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
LIVE_SUBMISSIONS = "live_submissions/"
"""Prefix of the meta counters of each member's submissions in force."""
LIVE_SUBMISSIONS_COUNTED = "live_submissions_counted"
"""Meta flag: the counters above cover the whole table (a store from before they existed is
counted once, when a hub first opens it for writing)."""

_DATABASES = (
    "meta",
    "log",
    "feed",
    "signals",
    "submissions",
    "batches",
    "members",
    "keys",
    "pdq",
    "groups",
    "group_signals",
    "audit",
    "audit_heads",
    "opinions",
    "requests",
    "expiries",
    "stats",
    "typed",
    "incidents",
    "erased",
    "warning_lists",
    "warning_entries",
    "warning_proposals",
    "match_days",
    "match_rates",
    "quarantine",
    "reviews",
)
_LATER_DATABASES = _DATABASES[_DATABASES.index("typed") :]
"""Tables added after stores were first written (a store may lack them): every table from
`typed` on. A new table goes at the end of _DATABASES, and so is one of these."""
STATE_DATABASES = tuple(d for d in _DATABASES if d not in ("meta", "audit_heads", "stats"))
"""Everything apply writes: replaying the log must reproduce these exactly."""

SEALED_RECORDS = "sealed_records"
"""Meta flag: every sealed table's records carry a seal (set on a store created empty); a
record without one is then corrupt rather than merely old."""
PDQ_TABLE_SUM = "pdq_table_sum"
"""Meta counter: sum over the PDQ table of pdq_row_term(row, value), modulo 2**64."""
STORE_CORRUPTION = (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.PanicError)
"""What LMDB raises when its own structures (pages, B-trees) are damaged."""


def describe_key(db: str, key: bytes) -> str:
    """A stored record's name for people: "signal <id>", "feed record 12"..."""
    if db == "signals" and len(key) == 16:
        return f"signal {key.hex()}"
    if db == "submissions" and len(key) == 28:
        seq, index = _U64.unpack(key[16:24])[0], _U32.unpack(key[24:])[0]
        return f"submission {index} of log entry {seq} of signal {key[:16].hex()}"
    if db in ("log", "feed", "audit", "audit_heads", "pdq") and len(key) == 8:
        name = {
            "log": "log entry",
            "feed": "feed record",
            "audit": "audit link",
            "audit_heads": "signed audit head",
            "pdq": "PDQ row",
        }[db]
        return f"{name} {_U64.unpack(key)[0]}"
    if db == "pdq" and not key:
        return "PDQ table"
    if db in ("opinions", "erased") and len(key) >= 16:
        return f"{db} record of signal {key[:16].hex()}"
    if db in ("typed", "group_signals", "incidents") and len(key) > 17:
        prefix = key[:-16].rstrip(b"\x00").decode(errors="replace")
        return f"{db} row {prefix!r} of signal {key[-16:].hex()}"
    text = key.decode(errors="replace").replace("\x00", "/")
    return f"{db} record {text!r}"


def signal_problem(key: bytes, record: rec.SignalRecord) -> str | None:
    """Why a signal record cannot be the one stored under `key`; None when it can. A record
    with no value is a placeholder of an erased value (audit replays write them)."""
    s = record.signal
    if s.signal_id != key.hex():
        return "it names another signal id"
    if s.value and domain.signal_id(s.type, s.value) != s.signal_id:
        return "its type and value do not match its signal id"
    return None


def u64(n: int) -> bytes:
    """Big-endian 8-byte key of a sequence number."""
    return _U64.pack(n)


GENESIS_HASH = bytes(32)
"""The chain hash before the first log entry."""


def audit_link(
    previous_chain: bytes, sequence: int, entry_bytes: bytes, entry_hash: bytes | None = None
) -> rec.AuditRecord:
    """The audit chain link of one log entry: its hash, and SHA-256(previous chain hash,
    sequence, entry hash), so that changing, dropping or reordering any entry changes every
    later chain hash. A redacted entry links the hash of its original bytes (`entry_hash`)."""
    entry_hash = entry_hash or hashlib.sha256(entry_bytes).digest()
    chain = hashlib.sha256(previous_chain + u64(sequence) + entry_hash).digest()
    return rec.AuditRecord(entry_hash=entry_hash, chain_hash=chain)


def _hash_of(entry: rec.LogEntry) -> bytes | None:
    """The hash the audit chain links for an entry: a redacted entry's original one."""
    return entry.redaction.original_entry_hash if entry.HasField("redaction") else None


def _incident_prefix(member_id: str, incident: str) -> bytes:
    return member_id.encode() + b"\x00" + incident.encode() + b"\x00"


def submission_key(signal_id: str, record: rec.SubmissionRecord) -> bytes:
    """Submissions of a signal sort by the log entry that carried them, then batch position."""
    return bytes.fromhex(signal_id) + u64(record.log_sequence) + _U32.pack(record.index)


def _request_key(kind: str, member_id: str, request_id: str) -> bytes:
    return kind.encode() + b"\x00" + member_id.encode() + b"\x00" + request_id.encode()


def _batch_key(member_id: str, batch_id: str) -> bytes:
    return member_id.encode() + b"\x00" + batch_id.encode()


def _typed_key(type_name: str, signal_id: str) -> bytes:
    return type_name.encode() + b"\x00" + bytes.fromhex(signal_id)


def _group_signal_key(group_id: str, signal_id: str) -> bytes:
    return group_id.encode() + b"\x00" + bytes.fromhex(signal_id)


def warning_key(list_name: str, type_name: str, value: str) -> bytes:
    """Key of a warning list's entry or proposal: list, 0x00, type, 0x00, canonical value."""
    return f"{list_name}\x00{type_name}\x00{value}".encode()


WARNING_VERSION = "warning_lists_version"
"""Meta counter: the version of the set of warning lists (grows with every change)."""
WARNING_ENTRIES = "warning_entries/"
"""Prefix of the meta counters of each warning list's approved entries."""
WARNING_PROPOSALS = "warning_proposals/"
"""Prefix of the meta counters of each member's open warning proposals and endorsements."""


def _opinion_key(signal_id: str, member_id: str) -> bytes:
    return bytes.fromhex(signal_id) + member_id.encode()
