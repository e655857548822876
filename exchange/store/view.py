"""`StoreView`: the typed reads of the store (members, keys, signals and their submissions,
the feed, the log and its audit chain, groups, requests, the PDQ and typed indexes, usage
counts), each record checked as it is read (exchange.store.checked)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2

from .. import usage
from .coalition_tables import CoalitionReads
from .layout import (
    _U32,
    _U64,
    LIVE_SUBMISSIONS,
    PDQ_ROW_BYTES,
    PDQ_TABLE_SUM,
    _batch_key,
    _incident_prefix,
    _request_key,
    signal_problem,
    u64,
)
from .seals import open_seal, pdq_table_sum
from .warning_tables import WarningReads


class StoreView(WarningReads, CoalitionReads):
    """Typed reads inside one LMDB transaction. Every record is checked as it is read (see the
    module's "Integrity"): a corrupt one raises HubError(DATA_LOSS) instead of being returned.
    """

    def live_submissions(self, member_id: str) -> int:
        """The member's submissions in force now (not retracted, expired or removed)."""
        return self.counter(LIVE_SUBMISSIONS + member_id)

    def member(self, member_id: str) -> admin_pb2.Member | None:
        """A member, or None."""
        return self._record("members", member_id.encode(), admin_pb2.Member)

    def members(self, after: str, limit: int) -> list[admin_pb2.Member]:
        """Up to `limit` members with ids after `after`, in id order."""
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
        """A key record, checked against its key id, or None."""
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
        """A batch's stored first answer, or None."""
        return self._record("batches", _batch_key(member_id, batch_id), rec.BatchRecord)

    def signal(self, signal_id: str) -> rec.SignalRecord | None:
        """A signal record, checked, or None."""
        key = bytes.fromhex(signal_id)
        raw = self._lookup("signals", key)
        return None if raw is None else self.signal_record(key, raw)

    def signals(self, signal_ids: list[str]) -> dict[str, rec.SignalRecord | None]:
        """`signal` of each id (a batch's), read in key order through one cursor."""
        keys = {sid: bytes.fromhex(sid) for sid in signal_ids}
        found = self._lookup_many("signals", list(keys.values()))
        return {
            sid: None if (raw := found[key]) is None else self.signal_record(key, raw)
            for sid, key in keys.items()
        }

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
        """Every submission of a signal, in log order."""
        scan = self._scan("submissions", bytes.fromhex(signal_id))
        return [self.submission_record(key, raw) for key, raw in scan]

    def submission_record(self, key: bytes, raw: bytes) -> rec.SubmissionRecord:
        """A stored submission, checked: its seal, and its key against its log position."""
        record = self.record("submissions", key, raw, rec.SubmissionRecord)
        if self.checks and key[16:] != u64(record.log_sequence) + _U32.pack(record.index):
            raise self.corrupt("submissions", key, "its key does not match its log position")
        return record

    def opinions(self, signal_id: str) -> list[rec.OpinionRecord]:
        """Every opinion of a signal."""
        scan = self._scan("opinions", bytes.fromhex(signal_id))
        return [self.record("opinions", key, raw, rec.OpinionRecord) for key, raw in scan]

    def request(self, kind: str, member_id: str, request_id: str) -> rec.RequestRecord | None:
        """A request's stored first answer, or None."""
        return self._record(
            "requests", _request_key(kind, member_id, request_id), rec.RequestRecord
        )

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
        """When the next submission expires (ms), or None."""
        cur = self.txn.cursor(db=self.dbs["expiries"])
        if not cur.first():
            return None
        return int(_U64.unpack(bytes(cur.key())[:8])[0])

    def submission_at(self, key: bytes) -> rec.SubmissionRecord | None:
        """The submission under a submission key, or None."""
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
        """A feed record by sequence, or None past the end."""
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
        """A privacy group, or None."""
        return self._record("groups", group_id.encode(), admin_pb2.PrivacyGroup)

    def groups(self) -> list[admin_pb2.PrivacyGroup]:
        """Every privacy group, in id order."""
        cur = self.txn.cursor(db=self.dbs["groups"])
        return [self.record("groups", bytes(k), bytes(v), admin_pb2.PrivacyGroup) for k, v in cur]

    def group_signals(self, group_id: str) -> list[str]:
        """Ids of the signals with a submission shared with `group_id`."""
        return self._signal_ids_after("group_signals", group_id.encode() + b"\x00")

    def audit(self, sequence: int) -> rec.AuditRecord | None:
        """The audit chain link of a log entry, or None."""
        return self._record("audit", u64(sequence), rec.AuditRecord)

    def latest_audit_head(self) -> admin_pb2.AuditHead | None:
        """The latest signed audit head, or None."""
        cur = self.txn.cursor(db=self.dbs["audit_heads"])
        if not cur.last():
            return None
        return self.record("audit_heads", bytes(cur.key()), bytes(cur.value()), admin_pb2.AuditHead)

    def audit_heads(self) -> list[admin_pb2.AuditHead]:
        """Every signed audit head, oldest first."""
        cur = self.txn.cursor(db=self.dbs["audit_heads"])
        return [self.record("audit_heads", bytes(k), bytes(v), admin_pb2.AuditHead) for k, v in cur]

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
        if value and (
            value != raw[:32].hex() if row == record.pdq_row else raw[:32].hex() not in value
        ):
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
                    raise self.corrupt(
                        "pdq",
                        bytes(key),
                        f"a row of {len(key)} + {len(value)} bytes, not 8 + {PDQ_ROW_BYTES}",
                    )
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

    def queries_on(self, day: int, member_id: str) -> int:
        """The member's match queries on `day` as the usage counts last stored them."""
        raw = self._get("stats", usage.queries_key(day, member_id))
        return 0 if raw is None else usage.decode_query_count(bytes(raw))

    def raw_signals(self) -> Iterator[tuple[bytes, bytes]]:
        """(key, stored bytes) of every signal record, in signal id order, unchecked: for a
        reader that checks the seal itself before using the bytes unparsed (exchange.snapshot);
        `signal_record` checks and parses one."""
        return self.items("signals")

    def feed_backwards(self) -> Iterator[rec.FeedRecord]:
        """Every feed record, newest first, each checked as `feed_record_at` checks it."""
        for key, raw in self.txn.cursor(db=self.dbs["feed"]).iterprev():
            yield self.feed_record_at(bytes(key), bytes(raw))

    def raw_log_entry(self, sequence: int) -> bytes | None:
        """A log entry's stored bytes as they are, unchecked (the audit replay hashes them)."""
        return self._get("log", u64(sequence))
