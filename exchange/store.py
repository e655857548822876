"""LMDB storage: the one place that knows the key layout.

One environment, named databases:

| database      | key                                        | value                          |
| ------------- | ------------------------------------------ | ------------------------------ |
| `meta`        | name                                       | counters, the operator's key   |
| `log`         | log sequence, u64 big-endian               | storage LogEntry (command log) |
| `feed`        | feed sequence, u64 big-endian              | FeedRecord (event + audience)  |
| `signals`     | signal id, 16 bytes                        | SignalRecord                   |
| `submissions` | signal id + log sequence u64 + index u32   | SubmissionRecord               |
| `batches`     | member id, 0x00, batch id                  | BatchRecord (first answer)     |
| `members`     | member id                                  | signalhub.v1.Member            |
| `keys`        | key id                                     | KeyRecord                      |
| `pdq`         | row, u64 big-endian                        | 32-byte hash + 16-byte id      |
| `groups`      | group id                                   | signalhub.v1.PrivacyGroup      |
| `group_signals` | group id, 0x00, signal id (16 bytes)     | empty                          |
| `audit`       | log sequence, u64 big-endian               | AuditRecord (hash chain link)  |
| `audit_heads` | log sequence, u64 big-endian               | signalhub.v1.AuditHead         |
| `opinions`    | signal id (16 bytes) + member id           | OpinionRecord                  |
| `requests`    | kind, 0x00, member id, 0x00, request id    | RequestRecord (first answer)   |
| `expiries`    | expires_at ms u64 + submission key (28)    | empty                          |
| `stats`       | kind + day + ... (exchange.usage)          | usage counts (not in the log)  |
| `typed`       | type, 0x00, signal id (16 bytes)           | canonical value (plug-in index)|
| `incidents`   | member id, 0x00, incident, 0x00, signal id | empty                          |
| `erased`      | signal id (16 bytes)                       | signalhub.v1.ErasedSignal      |

`meta` also keeps, per member, the number of its submissions in force (`live_submissions/`
+ member id), kept by `put_submission` and `delete_submission` in the same transaction, so the
operator's usage view reads it in O(1) instead of scanning the `submissions` table.

Big-endian integer keys keep LMDB's byte order equal to numeric order, so a cursor walks the
log and the feed in sequence. Writes happen only on the writer thread (exchange.writer); reads
take short transactions and never hold one across an await.

**Integrity.** LMDB keeps no checksum of its own, so a flipped byte on disk would be served as it
reads. Every protobuf record of the SEALED_DATABASES ends with a 6-byte seal: protobuf field
2047 (fixed32) holding the CRC-32 of its key and the bytes before it, so any reader that does
not know of it (an older hub, a test, `snapshot`'s unparsed fast path) still parses the record.
Reads here check it; a lookup that misses and a prefix scan also check the records beside the
gap (a record whose key changed stays where it was). A PDQ row is checked against the signal it
names, a typed row against its id, a log entry against the audit chain (its SHA-256), and the
whole PDQ table, at start, against a running weighted sum kept in `meta` (PDQ_TABLE_SUM:
vectorised, it costs a tenth of loading the table). A signal record's id is recomputed from its
type and value only where it has no seal (a store from before seals, SEALED_RECORDS unset):
an intact seal already proves the bytes are those apply wrote under that key, and the SHA-256
would cost more than parsing the record. A record that fails raises HubError(DATA_LOSS)
(errors.data_loss) and is never served. `benchmarks/integrity.py` measures what the checks
cost; `exchange.integrity` walks the whole store (`signalhub admin check`).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import lmdb
import numpy as np
from google.protobuf.message import DecodeError, Message
from numpy.typing import NDArray

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2

from . import usage
from .errors import HubError, data_loss

INITIAL_MAP_BYTES = 256 * 1024 * 1024
LOW_DISK_BYTES = 4 * 1024 * 1024
"""A failed write with less free disk than this is taken for a full disk."""
MAX_DATABASES = 32
PDQ_ROW_BYTES = 48
MAX_KEY_BYTES = 511
"""LMDB's largest key (its default build)."""
_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
T = TypeVar("T")
M = TypeVar("M", bound=Message)
log = logging.getLogger("signalhub.store")
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
)
_LATER_DATABASES = ("typed", "incidents", "erased")
STATE_DATABASES = tuple(d for d in _DATABASES if d not in ("meta", "audit_heads", "stats"))
"""Everything apply writes: replaying the log must reproduce these exactly."""

SEALED_DATABASES = frozenset(
    ("signals", "submissions", "feed", "batches", "members", "keys", "groups", "opinions",
     "requests", "erased")
)  # fmt: skip
"""Tables whose every record ends with a seal. The log is not among them: the audit chain
already hashes each entry (only an entry an erasure redacted, which the chain no longer hashes,
is sealed); the audit chain and the signed heads check themselves."""
SEAL_TAG = b"\xfd\x7f"
"""Protobuf tag of field 2047, wire type 5 (fixed32): no record declares that field."""
SEAL_BYTES = 6
_CRC = struct.Struct("<I")
SEALED_RECORDS = "sealed_records"
"""Meta flag: every sealed table's records carry a seal (set on a store created empty); a
record without one is then corrupt rather than merely old."""
PDQ_TABLE_SUM = "pdq_table_sum"
"""Meta counter: sum over the PDQ table of pdq_row_term(row, value), modulo 2**64."""
_PDQ_WEIGHTS = (
    0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93,
    0xA0761D6478BD642F, 0xE7037ED1A0B428DB, 0x8EBC6AF09C88C6E3,
)  # fmt: skip
"""Odd weights (of the row number, then of each 8-byte word of the row's value): a change of
any one byte of a row changes its term, since an odd multiple of d * 2**k (d < 256, k <= 56) is
never 0 modulo 2**64."""
_MOD64 = 1 << 64
STORE_CORRUPTION = (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.PanicError)
"""What LMDB raises when its own structures (pages, B-trees) are damaged."""


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


def describe_key(db: str, key: bytes) -> str:
    """A stored record's name for people: "signal <id>", "feed record 12"..."""
    if db == "signals" and len(key) == 16:
        return f"signal {key.hex()}"
    if db == "submissions" and len(key) == 28:
        seq, index = _U64.unpack(key[16:24])[0], _U32.unpack(key[24:])[0]
        return f"submission {index} of log entry {seq} of signal {key[:16].hex()}"
    if db in ("log", "feed", "audit", "audit_heads", "pdq") and len(key) == 8:
        name = {"log": "log entry", "feed": "feed record", "audit": "audit link",
                "audit_heads": "signed audit head", "pdq": "PDQ row"}[db]  # fmt: skip
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


class _Gate:
    """Many readers or one map resize at a time: LMDB's set_mapsize needs no live transaction
    in this process."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._resizing = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._resizing:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            while self._resizing:
                self._cond.wait()
            self._resizing = True
            while self._readers:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._resizing = False
                self._cond.notify_all()


class StoreView:
    """Typed reads inside one LMDB transaction. Every record is checked as it is read (see the
    module's "Integrity"): a corrupt one raises HubError(DATA_LOSS) instead of being returned.
    """

    def __init__(
        self,
        txn: lmdb.Transaction,
        dbs: dict[str, lmdb._Database],
        on_corrupt: Callable[[str], None] | None = None,
        checks: bool = True,
    ) -> None:
        self.txn = txn
        self.dbs = dbs
        self.on_corrupt = on_corrupt
        """Called with the table's name when a corrupt record is found (the hub's metric)."""
        self.checks = checks
        """False only to measure what the checks cost (benchmarks/integrity.py)."""
        self._sealed: bool | None = None

    def _get(self, db: str, key: bytes) -> bytes | None:
        try:
            value = self.txn.get(key, db=self.dbs[db])
        except lmdb.BadValsizeError:
            if 0 < len(key) <= MAX_KEY_BYTES:  # a valid key: the size LMDB read is a page's
                raise self.corrupt(db, key, "LMDB read a damaged page for it") from None
            raise
        return None if value is None else bytes(value)

    def corrupt(self, db: str, key: bytes, problem: str) -> HubError:
        """The DATA_LOSS error for a corrupt record (logged and counted here)."""
        what = describe_key(db, key)
        log.error("corrupt record in the store: %s: %s", what, problem)
        if self.on_corrupt is not None:
            self.on_corrupt(db)
        return data_loss(f"the stored record for {what} is corrupt ({problem})", db)

    def seals_required(self) -> bool:
        """True when every record of a sealed table must carry a seal (SEALED_RECORDS)."""
        if self._sealed is None:
            self._sealed = self._get("meta", SEALED_RECORDS.encode()) is not None
        return self._sealed

    def payload(self, db: str, key: bytes, raw: bytes) -> tuple[bytes, bool]:
        """(a stored value of a sealed table without its seal, whether the seal was checked
        and matched); raises DATA_LOSS when it does not match, or is missing from a store
        whose every record has one."""
        if not self.checks:
            return (raw[:-SEAL_BYTES] if raw[-SEAL_BYTES:-4] == SEAL_TAG else raw), False
        body, sealed = open_seal(key, raw)
        if sealed:
            return body, True
        if self.seals_required():
            raise self.corrupt(
                db, key, "its checksum does not match" if sealed is False else "it has no checksum"
            )
        return raw, False  # written before seals: unchecked

    def record(self, db: str, key: bytes, raw: bytes, cls: type[M]) -> M:
        """A stored record parsed, once its seal (sealed tables) is checked."""
        body = self.payload(db, key, raw)[0] if db in SEALED_DATABASES else raw
        return self._parse(db, key, body, cls)

    def _parse(self, db: str, key: bytes, body: bytes, cls: type[M]) -> M:
        try:
            return cls.FromString(body)
        except DecodeError:
            raise self.corrupt(db, key, "it does not parse") from None

    def _record(self, db: str, key: bytes, cls: type[M]) -> M | None:
        raw = self._lookup(db, key)
        return None if raw is None else self.record(db, key, raw, cls)

    def _lookup(self, db: str, key: bytes) -> bytes | None:
        """The value under `key` of a sealed table, or None, once a miss is shown not to be a
        record whose key changed on disk: LMDB leaves such a record where its key was, so it
        is one of the two records on either side of the gap, and its seal (which covers its
        key) no longer matches."""
        raw = self._get(db, key)
        if raw is None and self.checks:
            cur = self.txn.cursor(db=self.dbs[db])
            if cur.set_range(key):
                if bytes(cur.key()) == key:  # walking finds what searching did not
                    raise self.corrupt(db, key, "LMDB's tree no longer leads to it (a damaged "
                                       "branch page)")  # fmt: skip
                self._intact(db, bytes(cur.key()), bytes(cur.value()))
                if cur.prev():
                    self._intact(db, bytes(cur.key()), bytes(cur.value()))
            elif cur.last():
                self._intact(db, bytes(cur.key()), bytes(cur.value()))
        return raw

    def _intact(self, db: str, key: bytes, raw: bytes) -> None:
        """Raises DATA_LOSS when a record of a sealed table fails its seal."""
        _, sealed = open_seal(key, raw)
        if sealed is False or (sealed is None and self.seals_required()):
            raise self.corrupt(db, key, "its checksum does not match: its key or value changed")

    def _scan(self, db: str, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) of a sealed table whose key starts with `prefix`, in key order.
        The records on either side of the range must pass their seals (as for _lookup: a
        record of the range whose key changed on disk is one of them)."""
        cur = self.txn.cursor(db=self.dbs[db])
        found = cur.set_range(prefix)
        if self.checks:
            if not found:
                if cur.last():
                    self._intact(db, bytes(cur.key()), bytes(cur.value()))
                return
            if cur.prev():
                self._intact(db, bytes(cur.key()), bytes(cur.value()))
                cur.next()
            else:
                cur.first()
        elif not found:
            return
        for key, value in cur:
            key = bytes(key)
            if not key.startswith(prefix):
                if self.checks:
                    self._intact(db, key, bytes(value))
                return
            yield key, bytes(value)

    def counter(self, name: str) -> int:
        raw = self._get("meta", name.encode())
        if raw is None:
            return 0
        if len(raw) != 8:
            raise self.corrupt("meta", name.encode(), f"a counter of {len(raw)} bytes, not 8")
        return int(_U64.unpack(raw)[0])

    def meta(self, name: str) -> bytes | None:
        return self._get("meta", name.encode())

    def live_submissions(self, member_id: str) -> int:
        """The member's submissions in force now (not retracted, expired or removed)."""
        return self.counter(LIVE_SUBMISSIONS + member_id)

    def member(self, member_id: str) -> admin_pb2.Member | None:
        return self._record("members", member_id.encode(), admin_pb2.Member)

    def members(self, after: str, limit: int) -> list[admin_pb2.Member]:
        out: list[admin_pb2.Member] = []
        cur = self.txn.cursor(db=self.dbs["members"])
        start = after.encode() + b"\x00" if after else b""
        if not cur.set_range(start):
            return out
        for key, value in cur:
            out.append(self.record("members", bytes(key), bytes(value), admin_pb2.Member))
            if len(out) >= limit:
                break
        return out

    def key(self, key_id: str) -> rec.KeyRecord | None:
        raw_key = key_id.encode()
        record = self._record("keys", raw_key, rec.KeyRecord)
        if (
            record is not None
            and self.checks
            and (record.key_id != key_id or domain.key_id(record.public_key) != key_id)
        ):
            raise self.corrupt("keys", raw_key, "its public key does not match its key id")
        return record

    def batch(self, member_id: str, batch_id: str) -> rec.BatchRecord | None:
        return self._record("batches", _batch_key(member_id, batch_id), rec.BatchRecord)

    def signal(self, signal_id: str) -> rec.SignalRecord | None:
        key = bytes.fromhex(signal_id)
        raw = self._lookup("signals", key)
        return None if raw is None else self.signal_record(key, raw)

    def signal_record(self, key: bytes, raw: bytes) -> rec.SignalRecord:
        """A stored signal record, checked: its seal (which covers its key) or, for a record
        written before seals, its id recomputed from its type and value (one SHA-256: it
        would cost a third of a checked read, and an intact seal already proves the bytes
        are those apply wrote under that key; benchmarks/integrity.py)."""
        body, sealed = self.payload("signals", key, raw)
        record = self._parse("signals", key, body, rec.SignalRecord)
        if self.checks and not sealed:
            problem = signal_problem(key, record)
            if problem:
                raise self.corrupt("signals", key, problem)
        return record

    def submissions(self, signal_id: str) -> list[rec.SubmissionRecord]:
        scan = self._scan("submissions", bytes.fromhex(signal_id))
        return [self.submission_record(key, raw) for key, raw in scan]

    def submission_record(self, key: bytes, raw: bytes) -> rec.SubmissionRecord:
        """A stored submission, checked: its seal, and its key against its log position."""
        record = self.record("submissions", key, raw, rec.SubmissionRecord)
        if self.checks and key[16:] != u64(record.log_sequence) + _U32.pack(record.index):
            raise self.corrupt("submissions", key, "its key does not match its log position")
        return record

    def opinions(self, signal_id: str) -> list[rec.OpinionRecord]:
        scan = self._scan("opinions", bytes.fromhex(signal_id))
        return [self.record("opinions", key, raw, rec.OpinionRecord) for key, raw in scan]

    def request(self, kind: str, member_id: str, request_id: str) -> rec.RequestRecord | None:
        return self._record("requests", _request_key(kind, member_id, request_id),
                            rec.RequestRecord)  # fmt: skip

    def due_expiries(self, until_ms: int) -> list[tuple[str, bytes]]:
        """(signal id, submission key) of every submission expiring at or before `until_ms`."""
        cur = self.txn.cursor(db=self.dbs["expiries"])
        out: list[tuple[str, bytes]] = []
        for key in cur.iternext(keys=True, values=False):
            key = bytes(key)
            if _U64.unpack(key[:8])[0] > until_ms:
                break
            out.append((key[8:24].hex(), key[8:]))
        return out

    def first_expiry_ms(self) -> int | None:
        cur = self.txn.cursor(db=self.dbs["expiries"])
        if not cur.first():
            return None
        return int(_U64.unpack(bytes(cur.key())[:8])[0])

    def submission_at(self, key: bytes) -> rec.SubmissionRecord | None:
        raw = self._lookup("submissions", key)
        return None if raw is None else self.submission_record(key, raw)

    def member_batch_signals(self, member_id: str) -> list[str]:
        """Ids of the signals in every batch the member submitted, sorted, without repeats."""
        prefix = member_id.encode() + b"\x00"
        cur = self.txn.cursor(db=self.dbs["batches"])
        found: set[str] = set()
        if not cur.set_range(prefix):
            return []
        for key, value in cur:
            key = bytes(key)
            if not key.startswith(prefix):
                break
            record = self.record("batches", key, bytes(value), rec.BatchRecord)
            found.update(r.signal_id for r in record.response.results)
        return sorted(found)

    def incident_signals(self, member_id: str, incident: str) -> list[str]:
        """Ids of the member's signals submitted with this incident reference."""
        return self._signal_ids_after("incidents", _incident_prefix(member_id, incident))

    def _signal_ids_after(self, db: str, prefix: bytes) -> list[str]:
        """The signal ids that end the keys starting with `prefix` (link tables)."""
        cur = self.txn.cursor(db=self.dbs[db])
        out: list[str] = []
        if not cur.set_range(prefix):
            return out
        for key in cur.iternext(keys=True, values=False):
            key = bytes(key)
            if not key.startswith(prefix):
                break
            out.append(key[len(prefix) :].hex())
        return out

    def feed_records_of(
        self, signal_ids: set[str], after: int = 0, until: int = 0
    ) -> list[tuple[int, rec.FeedRecord]]:
        """(sequence, record) of the feed records after `after` (and up to `until`, 0: the end)
        about one of these signals (erasure only), parsing just the records whose bytes name
        one of them."""
        # Searching the bytes for a few ids is far cheaper than parsing every record; for many
        # ids, parsing is.
        needles = [sid.encode() for sid in signal_ids] if len(signal_ids) <= 16 else []
        out: list[tuple[int, rec.FeedRecord]] = []
        cur = self.txn.cursor(db=self.dbs["feed"])
        if not cur.set_range(u64(after + 1)):
            return out
        for key, value in cur:
            seq = int(_U64.unpack(bytes(key))[0])
            if until and seq > until:
                break
            raw = bytes(value)
            if needles and not any(n in raw for n in needles):
                continue
            record = self.feed_record_at(bytes(key), raw)
            if record.event.signal.signal_id in signal_ids:
                out.append((seq, record))
        return out

    def opinion_answers_of(self, signal_ids: set[str]) -> list[tuple[bytes, rec.RequestRecord]]:
        """(key, record) of the stored answers of opinion requests that show one of these
        signals (SetOpinionResponse carries the signal): a walk of the `requests` table, whose
        size is the number of opinions and retractions ever made (erasure only)."""
        needles = [sid.encode() for sid in signal_ids]
        out: list[tuple[bytes, rec.RequestRecord]] = []
        for key, value in self.txn.cursor(db=self.dbs["requests"]).iternext():
            key, raw = bytes(key), bytes(value)
            if key.startswith(b"opinion\x00") and any(n in raw for n in needles):
                out.append((key, self.record("requests", key, raw, rec.RequestRecord)))
        return out

    def feed_record(self, sequence: int) -> rec.FeedRecord | None:
        key = u64(sequence)
        raw = self._get("feed", key)
        if raw is None:
            if self.checks and 0 < sequence <= self.counter("feed_seq"):
                raise self.corrupt("feed", key, "it is missing (feed records are never deleted)")
            return None
        return self.feed_record_at(key, raw)

    def feed_record_at(self, key: bytes, raw: bytes) -> rec.FeedRecord:
        """A stored feed record, checked: its seal, and its cursor against its key."""
        record = self.record("feed", key, raw, rec.FeedRecord)
        if self.checks and record.event.cursor != str(_U64.unpack(key)[0]):
            raise self.corrupt("feed", key, "its cursor does not match its sequence")
        return record

    def erased(self, signal_id: str) -> admin_pb2.ErasedSignal | None:
        """The tombstone of a signal erased on legal request, or None."""
        return self._record("erased", bytes.fromhex(signal_id), admin_pb2.ErasedSignal)

    def log_entry(self, sequence: int) -> rec.LogEntry | None:
        """A log entry, checked against its audit link (the SHA-256 of its bytes), or, when an
        erasure redacted it (the chain keeps the original's hash), against its seal."""
        key = u64(sequence)
        raw = self._get("log", key)
        if raw is None:
            if self.checks and 0 < sequence <= self.counter("log_seq"):
                raise self.corrupt("log", key, "it is missing (log entries are never deleted)")
            return None
        if self.checks:
            link = self.audit(sequence)
            if link is not None and hashlib.sha256(raw).digest() == link.entry_hash:
                return self.record("log", key, raw, rec.LogEntry)
            body, sealed = open_seal(key, raw)
            entry = self.record("log", key, body, rec.LogEntry)
            if (
                not entry.HasField("redaction")
                or sealed is False
                or (sealed is None and self.seals_required())
            ):
                raise self.corrupt("log", key, "its bytes do not match the audit chain")
            return entry
        return self.record("log", key, open_seal(key, raw)[0], rec.LogEntry)

    def feed(self, after: int, limit: int) -> list[rec.FeedRecord]:
        """Up to `limit` feed records with sequence > `after`, oldest first."""
        cur = self.txn.cursor(db=self.dbs["feed"])
        out: list[rec.FeedRecord] = []
        if not cur.set_range(u64(after + 1)):
            return out
        for key, value in cur:
            out.append(self.feed_record_at(bytes(key), bytes(value)))
            if len(out) >= limit:
                break
        return out

    def group(self, group_id: str) -> admin_pb2.PrivacyGroup | None:
        return self._record("groups", group_id.encode(), admin_pb2.PrivacyGroup)

    def groups(self) -> list[admin_pb2.PrivacyGroup]:
        cur = self.txn.cursor(db=self.dbs["groups"])
        return [self.record("groups", bytes(k), bytes(v), admin_pb2.PrivacyGroup) for k, v in cur]

    def group_signals(self, group_id: str) -> list[str]:
        """Ids of the signals with a submission shared with `group_id`."""
        return self._signal_ids_after("group_signals", group_id.encode() + b"\x00")

    def audit(self, sequence: int) -> rec.AuditRecord | None:
        return self._record("audit", u64(sequence), rec.AuditRecord)

    def latest_audit_head(self) -> admin_pb2.AuditHead | None:
        cur = self.txn.cursor(db=self.dbs["audit_heads"])
        if not cur.last():
            return None
        return self.record("audit_heads", bytes(cur.key()), bytes(cur.value()),
                           admin_pb2.AuditHead)  # fmt: skip

    def audit_heads(self) -> list[admin_pb2.AuditHead]:
        cur = self.txn.cursor(db=self.dbs["audit_heads"])
        return [self.record("audit_heads", bytes(k), bytes(v), admin_pb2.AuditHead)
                for k, v in cur]  # fmt: skip

    def items(self, db: str) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) of a database, in key order."""
        for key, value in self.txn.cursor(db=self.dbs[db]):
            yield bytes(key), bytes(value)

    def pdq_row(self, row: int) -> tuple[bytes, str] | None:
        """(32-byte hash, signal id) of a row of the packed PDQ table, checked against the
        signal it names: that signal must exist, own the row, and have that hash (a photo's
        value, or one of a video's frames)."""
        key = u64(row)
        raw = self._get("pdq", key)
        if raw is None:
            return None
        hash32, sid = raw[:32], raw[32:].hex()
        if self.checks:
            problem = self.pdq_row_problem(row, raw)
            if problem:
                raise self.corrupt("pdq", key, problem)
        return hash32, sid

    def pdq_row_problem(self, row: int, raw: bytes) -> str | None:
        """Why a PDQ row does not agree with the signal record it names; None when it does.
        The record itself is read checked (and raises when it is the corrupt one)."""
        if len(raw) != PDQ_ROW_BYTES:
            return f"it holds {len(raw)} bytes, not {PDQ_ROW_BYTES}"
        sid = raw[32:].hex()
        record = self.signal(sid)
        if record is None:
            return f"it names signal {sid}, which is not stored"
        if row != record.pdq_row and row not in record.frame_rows:
            return f"signal {sid} does not own this row"
        value = record.signal.value
        if value and (value != raw[:32].hex() if row == record.pdq_row
                      else raw[:32].hex() not in value):  # fmt: skip
            return f"its hash is not that of signal {sid}"
        return None

    def pdq_table(self) -> tuple[NDArray[np.uint64], NDArray[np.uint8]]:
        """The whole packed PDQ table as (rows, hashes) arrays, for loading the index; checked
        against PDQ_TABLE_SUM (a corrupt row raises HubError(DATA_LOSS))."""
        rows, packed = self.pdq_table_rows()
        return rows, np.ascontiguousarray(packed[:, :32])

    def pdq_table_rows(self) -> tuple[NDArray[np.uint64], NDArray[np.uint8]]:
        """(rows, their whole 48-byte values as an (n, 48) array), checked as pdq_table is."""
        cur = self.txn.cursor(db=self.dbs["pdq"])
        # Appended to two growing buffers rather than joined from lists of bytes objects:
        # about 3x faster at 10M rows (benchmarks/RESULTS.md, "Onboarding").
        keys = bytearray()
        values = bytearray()
        for key, value in cur.iternext(keys=True, values=True):
            keys += key
            values += value
        if not keys:
            return np.zeros(0, dtype=np.uint64), np.zeros((0, PDQ_ROW_BYTES), dtype=np.uint8)
        if len(keys) % 8 or len(values) != len(keys) // 8 * PDQ_ROW_BYTES:
            for key, value in self.txn.cursor(db=self.dbs["pdq"]):  # find it (rare)
                if len(key) != 8 or len(value) != PDQ_ROW_BYTES:
                    raise self.corrupt("pdq", bytes(key), f"a row of {len(key)} + {len(value)} "
                                       f"bytes, not 8 + {PDQ_ROW_BYTES}")  # fmt: skip
        rows = np.frombuffer(keys, dtype=">u8").astype(np.uint64)
        packed = np.frombuffer(values, dtype=np.uint8).reshape(-1, PDQ_ROW_BYTES)
        if self.checks:
            stored = self.meta(PDQ_TABLE_SUM)
            if stored is not None and self.counter(PDQ_TABLE_SUM) != pdq_table_sum(rows, packed):
                raise self.corrupt("pdq", b"", "its rows no longer add up to its checksum")
        return rows, packed

    def pdq_rows_after(
        self, after: int, limit: int
    ) -> tuple[NDArray[np.uint64], NDArray[np.uint8]]:
        """Up to `limit` rows of the packed PDQ table numbered above `after`, as (rows, 48-byte
        hash + signal id) arrays: for scans in short read transactions."""
        cur = self.txn.cursor(db=self.dbs["pdq"])
        keys = bytearray()
        values = bytearray()
        if cur.set_range(u64(after + 1)):
            for n, (key, value) in enumerate(cur.iternext(keys=True, values=True)):
                if n == limit:
                    break
                keys += key
                values += value
        rows = np.frombuffer(bytes(keys), dtype=">u8").astype(np.uint64)
        return rows, np.frombuffer(bytes(values), dtype=np.uint8).reshape(-1, PDQ_ROW_BYTES)

    def typed_values(self, type_name: str) -> Iterator[tuple[str, str]]:
        """(signal_id, canonical value) of every signal of a type matched by its own index,
        each checked against its id (an erased value's placeholder is empty)."""
        if "typed" not in self.dbs:
            return
        prefix = type_name.encode() + b"\x00"
        cur = self.txn.cursor(db=self.dbs["typed"])
        if not cur.set_range(prefix):
            return
        for key, value in cur:
            key = bytes(key)
            if not key.startswith(prefix):
                return
            sid = key[len(prefix) :].hex()
            try:
                text = bytes(value).decode()
            except UnicodeDecodeError:
                raise self.corrupt("typed", key, "its value is not UTF-8") from None
            mismatch = len(sid) != 32 or (text and domain.signal_id(type_name, text) != sid)
            if self.checks and mismatch:
                raise self.corrupt("typed", key, "its value does not match its signal id")
            yield sid, text

    def stats(self, kind: bytes, first_day: int, last_day: int) -> Iterator[tuple[bytes, bytes]]:
        """Usage counts of one kind (exchange.usage) for days first_day..last_day, in key
        order."""
        start, end = usage.day_range_keys(kind, first_day, last_day)
        cur = self.txn.cursor(db=self.dbs["stats"])
        if not cur.set_range(start):
            return
        for key, value in cur:
            key = bytes(key)
            if key >= end:
                return
            yield key, bytes(value)

    def stat(self, key: bytes) -> bytes | None:
        """One usage record of the `stats` database by its whole key (exchange.usage)."""
        return self._get("stats", key)

    def entries(self, db: str) -> int:
        return int(self.txn.stat(self.dbs[db])["entries"])


class StoreTxn(StoreView):
    """Typed writes inside the writer's transaction. Records of the SEALED_DATABASES are
    written sealed."""

    def __init__(
        self,
        txn: lmdb.Transaction,
        dbs: dict[str, lmdb._Database],
        env: lmdb.Environment,
        on_corrupt: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(txn, dbs, on_corrupt)
        self.env = env
        self._counters: dict[str, int] = {}
        """Counters changed in this transaction, written once at its end (a batch of 1,000
        signals would otherwise read and write each counter 1,000 times)."""

    def counter(self, name: str) -> int:
        cached = self._counters.get(name)
        return super().counter(name) if cached is None else cached

    def flush_counters(self) -> None:
        for name, value in self._counters.items():
            self.txn.put(name.encode(), u64(value), db=self.dbs["meta"])
        self._counters.clear()

    @contextmanager
    def savepoint(self) -> Iterator[StoreTxn]:
        """A nested transaction: kept when the block ends normally, undone when it raises.
        Lets the writer commit a group of batches at once while each stays all-or-nothing."""
        child = self.env.begin(write=True, parent=self.txn)
        nested = StoreTxn(child, self.dbs, self.env, self.on_corrupt)
        nested._sealed = self._sealed
        nested._counters = dict(self._counters)  # what this transaction has not written yet
        try:
            yield nested
            nested.flush_counters()
        except BaseException:
            child.abort()
            raise
        child.commit()
        self._counters.clear()  # the child wrote them into this transaction

    def set_counter(self, name: str, value: int) -> None:
        self._counters[name] = value

    def next_counter(self, name: str) -> int:
        """Increments a counter and returns its new value (the first is 1)."""
        value = self.counter(name) + 1
        self.set_counter(name, value)
        return value

    def set_meta(self, name: str, value: bytes) -> None:
        self.txn.put(name.encode(), value, db=self.dbs["meta"])

    def append_log(self, entry: rec.LogEntry) -> int:
        """Appends an entry to the command log and links it into the audit hash chain; returns
        its sequence. An entry already redacted (a replay of a redacted log) is stored sealed,
        as redact_log_entry stores one."""
        sequence = self.next_counter("log_seq")
        raw = entry.SerializeToString()
        stored = seal(u64(sequence), raw) if entry.HasField("redaction") else raw
        self.txn.put(u64(sequence), stored, db=self.dbs["log"], overwrite=False)
        previous = self.audit(sequence - 1)
        link = audit_link(
            previous.chain_hash if previous else GENESIS_HASH, sequence, raw, _hash_of(entry)
        )
        self.txn.put(u64(sequence), link.SerializeToString(), db=self.dbs["audit"])
        return sequence

    def redact_log_entry(self, sequence: int, entry: rec.LogEntry) -> None:
        """Replaces a log entry by its redacted form (entry.redaction set), sealed: its audit
        link is left as it was (it keeps the hash of the original bytes), so the seal is what
        checks the redacted bytes."""
        assert entry.HasField("redaction")
        self._put_sealed("log", u64(sequence), entry)

    def _put_sealed(self, db: str, key: bytes, record: Message, overwrite: bool = True) -> bool:
        """Writes a record sealed (see the module's "Integrity"); False when `overwrite` is
        off and the key was taken."""
        raw = seal(key, record.SerializeToString())
        return bool(self.txn.put(key, raw, db=self.dbs[db], overwrite=overwrite))

    def replace_feed(self, sequence: int, record: rec.FeedRecord) -> None:
        """Rewrites a feed record in place (only erasure does: to scrub a value)."""
        self._put_sealed("feed", u64(sequence), record)

    def replace_request(self, key: bytes, record: rec.RequestRecord) -> None:
        """Rewrites a stored answer in place (only erasure does: to scrub a value)."""
        self._put_sealed("requests", key, record)

    def link_incident(self, member_id: str, incident: str, signal_id: str) -> None:
        key = _incident_prefix(member_id, incident) + bytes.fromhex(signal_id)
        self.txn.put(key, b"", db=self.dbs["incidents"])

    def unlink_incident(self, member_id: str, incident: str, signal_id: str) -> None:
        key = _incident_prefix(member_id, incident) + bytes.fromhex(signal_id)
        self.txn.delete(key, db=self.dbs["incidents"])

    def put_erased(self, tombstone: admin_pb2.ErasedSignal) -> None:
        self._put_sealed("erased", bytes.fromhex(tombstone.signal_id), tombstone)

    def put_feed(self, sequence: int, record: rec.FeedRecord) -> None:
        self._put_sealed("feed", u64(sequence), record, overwrite=False)

    def put_group(self, group: admin_pb2.PrivacyGroup) -> None:
        self._put_sealed("groups", group.group_id.encode(), group)

    def link_group_signal(self, group_id: str, signal_id: str) -> None:
        key = group_id.encode() + b"\x00" + bytes.fromhex(signal_id)
        self.txn.put(key, b"", db=self.dbs["group_signals"])

    def put_audit_head(self, head: admin_pb2.AuditHead) -> None:
        self.txn.put(u64(head.sequence), head.SerializeToString(), db=self.dbs["audit_heads"])

    def put_member(self, member: admin_pb2.Member) -> None:
        self._put_sealed("members", member.member_id.encode(), member)

    def put_key(self, key: rec.KeyRecord) -> None:
        self._put_sealed("keys", key.key_id.encode(), key)

    def put_batch(self, member_id: str, batch_id: str, record: rec.BatchRecord) -> None:
        self._put_sealed("batches", _batch_key(member_id, batch_id), record)

    def put_signal(self, record: rec.SignalRecord) -> None:
        self._put_sealed("signals", bytes.fromhex(record.signal.signal_id), record)

    def put_submission(self, signal_id: str, record: rec.SubmissionRecord) -> None:
        key = submission_key(signal_id, record)
        raw = seal(key, record.SerializeToString())
        db = self.dbs["submissions"]
        if self.txn.put(key, raw, db=db, overwrite=False):  # new: no extra lookup
            self._count_live(record.member_id, 1)
        else:
            self.txn.put(key, raw, db=db)
        if record.HasField("expires_at"):
            expiry = u64(max(record.expires_at.ToMilliseconds(), 0)) + key
            self.txn.put(expiry, b"", db=self.dbs["expiries"])

    def delete_submission(self, signal_id: str, record: rec.SubmissionRecord) -> None:
        key = submission_key(signal_id, record)
        if self.txn.delete(key, db=self.dbs["submissions"]):
            self._count_live(record.member_id, -1)
        if record.HasField("expires_at"):
            expiry = u64(max(record.expires_at.ToMilliseconds(), 0)) + key
            self.txn.delete(expiry, db=self.dbs["expiries"])

    def _count_live(self, member_id: str, delta: int) -> None:
        name = LIVE_SUBMISSIONS + member_id
        self.set_counter(name, self.counter(name) + delta)

    def count_live_submissions(self) -> None:
        """Counts every member's submissions in force from the `submissions` table, once: for a
        store written before the counters existed (one pass over the table)."""
        if self.meta(LIVE_SUBMISSIONS_COUNTED) is not None:
            return
        counts: dict[str, int] = {}
        for key, value in self.txn.cursor(db=self.dbs["submissions"]):
            member = self.submission_record(bytes(key), bytes(value)).member_id
            counts[member] = counts.get(member, 0) + 1
        for member, n in counts.items():
            self.set_counter(LIVE_SUBMISSIONS + member, n)
        self.set_meta(LIVE_SUBMISSIONS_COUNTED, b"1")

    def delete_signal(self, record: rec.SignalRecord, groups: set[str]) -> None:
        """Removes a signal with no submission left: its record, PDQ row, group links and
        opinions."""
        sid = record.signal.signal_id
        self.txn.delete(bytes.fromhex(sid), db=self.dbs["signals"])
        if record.pdq_row:
            self._delete_pdq_row(record.pdq_row)
        for row in record.frame_rows:
            self._delete_pdq_row(row)
        self.txn.delete(_typed_key(record.signal.type, sid), db=self.dbs["typed"])
        for group in groups:
            self.txn.delete(group.encode() + b"\x00" + bytes.fromhex(sid),
                            db=self.dbs["group_signals"])  # fmt: skip
        for opinion in self.opinions(sid):
            self.txn.delete(bytes.fromhex(sid) + opinion.member_id.encode(),
                            db=self.dbs["opinions"])  # fmt: skip

    def put_opinion(self, signal_id: str, record: rec.OpinionRecord) -> None:
        key = bytes.fromhex(signal_id) + record.member_id.encode()
        if record.opinion:
            self._put_sealed("opinions", key, record)
        else:
            self.txn.delete(key, db=self.dbs["opinions"])

    def put_request(self, kind: str, member_id: str, request_id: str,
                    record: rec.RequestRecord) -> None:  # fmt: skip
        self._put_sealed("requests", _request_key(kind, member_id, request_id), record)

    def add_stats(self, counts: dict[bytes, tuple[int, ...]]) -> None:
        """Adds usage counts (exchange.usage) to what is stored."""
        db = self.dbs["stats"]
        for key in sorted(counts):
            old = self.txn.get(key, db=db)
            self.txn.put(key, usage.merge(key, None if old is None else bytes(old), counts[key]),
                         db=db)  # fmt: skip

    def put_typed(self, type_name: str, signal_id: str, value: str) -> None:
        """Files a signal under its type, for a type matched by its own index."""
        self.txn.put(_typed_key(type_name, signal_id), value.encode(), db=self.dbs["typed"])

    def put_pdq_row(self, row: int, hash32: bytes, signal_id: str) -> None:
        key, value, db = u64(row), hash32 + bytes.fromhex(signal_id), self.dbs["pdq"]
        if not self.txn.put(key, value, db=db, overwrite=False):  # new: no extra lookup
            self._delete_pdq_row(row)
            self.txn.put(key, value, db=db)
        self._add_to_pdq_sum(pdq_row_term(row, value))

    def _delete_pdq_row(self, row: int) -> None:
        key, db = u64(row), self.dbs["pdq"]
        old = self.txn.get(key, db=db)
        if old is None:
            return
        if len(old) == PDQ_ROW_BYTES:
            self._add_to_pdq_sum(-pdq_row_term(row, bytes(old)))
        self.txn.delete(key, db=db)

    def _add_to_pdq_sum(self, term: int) -> None:
        self.set_counter(PDQ_TABLE_SUM, (self.counter(PDQ_TABLE_SUM) + term) % _MOD64)

    def sum_pdq_table(self) -> None:
        """Sets PDQ_TABLE_SUM from the table as it is: once for a store written before the sum
        existed, or after a bulk load that bypassed put_pdq_row (tests, benchmarks)."""
        checks, self.checks = self.checks, False
        try:
            rows, packed = self.pdq_table_rows()
        finally:
            self.checks = checks
        self.set_counter(PDQ_TABLE_SUM, pdq_table_sum(rows, packed))


def _typed_key(type_name: str, signal_id: str) -> bytes:
    return type_name.encode() + b"\x00" + bytes.fromhex(signal_id)


class StoreFull(Exception):
    """The store cannot take more data: its disk is full, or it reached max_map_bytes."""


def _is_disk_full(error: lmdb.Error) -> bool:
    return "No space left" in str(error) or getattr(error, "errno", None) == errno.ENOSPC


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


class Store:
    """The hub's LMDB environment. `sync` stays on: a write is acknowledged only once it is on
    disk. The map grows (doubling) when full instead of failing."""

    def __init__(
        self,
        path: Path,
        *,
        map_bytes: int = INITIAL_MAP_BYTES,
        sync: bool = True,
        readonly: bool = False,
        max_map_bytes: int = 0,
        checks: bool = True,
    ) -> None:
        self.path = Path(path)
        self.checks = checks
        """False only to measure what the record checks cost (benchmarks/integrity.py)."""
        self.on_corrupt: Callable[[str], None] | None = None
        """Called with a table's name whenever a read finds a corrupt record (metrics)."""
        self.max_map_bytes = max_map_bytes
        """0 = grow as long as the disk allows."""
        if max_map_bytes:
            map_bytes = min(map_bytes, max_map_bytes)
        if not readonly:
            self.path.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(
            str(self.path),
            map_size=map_bytes,
            max_dbs=MAX_DATABASES,
            sync=sync,
            metasync=sync,
            writemap=False,
            readonly=readonly,
            max_readers=256,
            lock=True,
        )
        self._gate = _Gate()
        self._closed = False
        self.dbs: dict[str, lmdb._Database] = {}
        if readonly:
            for name in _DATABASES:
                try:
                    self.dbs[name] = self.env.open_db(name.encode(), create=False)
                except lmdb.NotFoundError:  # a store written before this table existed
                    if name not in _LATER_DATABASES:
                        raise
        else:
            with self.env.begin() as txn:  # the named tables, as LMDB's main table lists them
                present = {bytes(key).decode(errors="replace") for key, _ in txn.cursor()}
            missing = sorted(set(_DATABASES) - set(_LATER_DATABASES) - present)
            if present & set(_DATABASES) and missing:
                # A store with data lost a table's entry: creating it empty would serve nothing
                # where it had records, without a word.
                raise data_loss(f"the store's tables {', '.join(missing)} are missing (LMDB's "
                                "list of tables is damaged)")  # fmt: skip
            with self.env.begin(write=True) as txn:
                for name in _DATABASES:
                    self.dbs[name] = self.env.open_db(name.encode(), txn=txn, create=True)
            with self.read() as view:
                counted = view.meta(LIVE_SUBMISSIONS_COUNTED) is not None
                summed = view.meta(PDQ_TABLE_SUM) is not None
                fresh = not view.seals_required() and not any(
                    view.entries(name) for name in (*SEALED_DATABASES, "log")
                )
            if not counted:
                self.write(lambda tx: tx.count_live_submissions())
            if not summed:  # a store from before the sum: one pass over the table, once
                self.write(lambda tx: tx.sum_pdq_table())
            if fresh:
                self.write(lambda tx: tx.set_meta(SEALED_RECORDS, b"1"))

    @contextmanager
    def read(self) -> Iterator[StoreView]:
        """A short read transaction. Do not hold it across an await. LMDB's own corruption
        errors (a damaged page) become HubError(DATA_LOSS) too."""
        with self._gate.shared(), self.env.begin(buffers=False) as txn:
            try:
                yield StoreView(txn, self.dbs, self.on_corrupt, self.checks)
            except STORE_CORRUPTION as e:
                raise self._damaged(e) from e

    def _damaged(self, error: lmdb.Error) -> HubError:
        log.error("the store's LMDB pages are damaged: %s", error)
        if self.on_corrupt is not None:
            self.on_corrupt("lmdb")
        return data_loss(f"the store is damaged (LMDB: {type(error).__name__})")

    def write(self, work: Callable[[StoreTxn], T]) -> T:
        """Runs `work` in one write transaction and commits it; on a full map, aborts, doubles
        the map and runs `work` again (it must be repeatable: it is, being a function of the
        transaction's contents). Call only from the writer thread (or before serving)."""
        while True:
            try:
                with self._gate.shared(), self.env.begin(write=True) as txn:
                    tx = StoreTxn(txn, self.dbs, self.env, self.on_corrupt)
                    result = work(tx)
                    tx.flush_counters()
                return result
            except lmdb.MapFullError:
                self.grow()
            except STORE_CORRUPTION as e:
                raise self._damaged(e) from e
            except lmdb.Error as e:
                # LMDB reports a write into a full disk as ENOSPC or, from its commit, EIO.
                if _is_disk_full(e) or self.disk_free_bytes() < LOW_DISK_BYTES:
                    raise StoreFull("the disk under the store is full") from e
                raise

    def copy_to(self, directory: Path) -> None:
        """A compacted copy of the environment into `directory` (from one read transaction,
        so consistent while writes go on)."""
        with self._gate.shared():
            self.env.copy(str(directory), compact=True)

    def disk_free_bytes(self) -> int:
        return shutil.disk_usage(self.path).free

    def grow(self) -> None:
        """Doubles the map size (up to max_map_bytes), waiting until no read transaction is
        open. Raises StoreFull when the map may not grow further."""
        with self._gate.exclusive():
            size = int(self.env.info()["map_size"])
            if self.max_map_bytes and size >= self.max_map_bytes:
                raise StoreFull(f"the store reached its maximum size ({self.max_map_bytes} bytes)")
            target = size * 2
            if self.max_map_bytes:
                target = min(target, self.max_map_bytes)
            self.env.set_mapsize(target)

    def map_bytes(self) -> tuple[int, int]:
        """(bytes in use, map size); (0, 0) once closed."""
        if self._closed:
            return 0, 0
        info = self.env.info()
        stat = self.env.stat()
        used = (int(info["last_pgno"]) + 1) * int(stat["psize"])
        return used, int(info["map_size"])

    def file_bytes(self) -> int:
        data = self.path / "data.mdb"
        return os.path.getsize(data) if data.exists() else 0

    def close(self) -> None:
        self._closed = True
        self.env.close()
