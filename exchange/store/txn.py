"""`StoreTxn`: the typed writes of the store, inside the writer's transaction (records of the
SEALED_DATABASES are written sealed), with its counters, savepoints and the upkeep of the
per-member live-submission counters and the PDQ table's sum."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import lmdb
from google.protobuf.message import Message

from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, coalition_pb2

from .. import usage
from .coalition_tables import match_day_key, review_key
from .layout import (
    GENESIS_HASH,
    LIVE_SUBMISSIONS,
    LIVE_SUBMISSIONS_COUNTED,
    PDQ_ROW_BYTES,
    PDQ_TABLE_SUM,
    WARNING_ENTRIES,
    WARNING_PROPOSALS,
    WARNING_VERSION,
    _batch_key,
    _group_signal_key,
    _hash_of,
    _incident_prefix,
    _opinion_key,
    _request_key,
    _typed_key,
    audit_link,
    submission_key,
    u64,
    warning_key,
)
from .seals import _MOD64, pdq_row_term, pdq_table_sum, seal
from .view import StoreView


@dataclass
class _Deferred:
    """The records `StoreTxn.deferred_writes` holds back until its block ends, by table."""

    signals: dict[bytes, bytes] = field(default_factory=dict)
    submissions: list[tuple[bytes, bytes, str, bytes | None]] = field(default_factory=list)
    """(key, sealed record, member, expiry key or None)"""
    feed: list[tuple[bytes, bytes]] = field(default_factory=list)
    pdq: list[tuple[int, bytes]] = field(default_factory=list)
    """(row, stored value)"""


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]


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
        self._deferred: _Deferred | None = None

    def counter(self, name: str) -> int:
        """A meta counter, as this transaction has changed it."""
        cached = self._counters.get(name)
        return super().counter(name) if cached is None else cached

    def flush_counters(self) -> None:
        """Writes the counters changed in this transaction."""
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

    @contextmanager
    def deferred_writes(self) -> Iterator[None]:
        """Inside the block, put_signal, put_submission, put_feed and put_pdq_row only collect
        their records; when it ends normally each table's are written at once, in key order,
        by one LMDB call (putmulti); when it raises, none is. A batch of 1,000 signals so
        makes 4 calls instead of 4,000 (each of which let go of the GIL and had to take it
        back from the threads validating the next batches) and fills each B-tree page once.
        Reads inside the block do not see the records held back: it is for a loop that reads
        each signal once, before it writes it (a submission batch)."""
        assert self._deferred is None, "deferred_writes does not nest"
        self._deferred = deferred = _Deferred()
        try:
            yield
        finally:
            self._deferred = None
        self._write_deferred(deferred)

    def _write_deferred(self, d: _Deferred) -> None:
        if d.signals:
            cur = self.txn.cursor(db=self.dbs["signals"])
            cur.putmulti(sorted(d.signals.items()))
        # Sorted by key alone (a stable sort): of two records under one key the one written
        # last wins, as it would have one at a time.
        if d.submissions:
            d.submissions.sort(key=_first)
            if self._put_all_new("submissions", [(k, raw) for k, raw, _, _ in d.submissions]):
                counts: dict[str, int] = {}
                for _, _, member_id, _ in d.submissions:
                    counts[member_id] = counts.get(member_id, 0) + 1
                for member_id, n in counts.items():
                    self._count_live(member_id, n)
                expiries = sorted((e, b"") for _, _, _, e in d.submissions if e is not None)
                if expiries:
                    self.txn.cursor(db=self.dbs["expiries"]).putmulti(expiries)
            else:  # a key was taken (not at ingest: its log sequence is new): one at a time
                for key, raw, member_id, expiry in d.submissions:
                    self._write_submission(key, raw, member_id, expiry)
        if d.feed:
            d.feed.sort(key=_first)  # (the first of two under one key is kept: never overwritten)
            self.txn.cursor(db=self.dbs["feed"]).putmulti(d.feed, overwrite=False)
        if d.pdq:
            d.pdq.sort(key=_first)
            if self._put_all_new("pdq", [(u64(row), value) for row, value in d.pdq]):
                terms = sum(pdq_row_term(row, value) for row, value in d.pdq)
                self._add_to_pdq_sum(terms % _MOD64)
            else:  # a row was taken (counters only grow: a damaged store), one at a time
                for row, value in d.pdq:
                    self._write_pdq_row(row, value)

    def _put_all_new(self, db: str, items: list[tuple[bytes, bytes]]) -> bool:
        """Writes every (key, value), sorted by key, when no key is taken yet; else writes
        none and returns False."""
        child = self.env.begin(write=True, parent=self.txn)
        try:
            _, added = child.cursor(db=self.dbs[db]).putmulti(items, overwrite=False)
        except BaseException:
            child.abort()
            raise
        if added != len(items):
            child.abort()
            return False
        child.commit()
        return True

    def set_counter(self, name: str, value: int) -> None:
        """Sets a meta counter (written at the transaction's end)."""
        self._counters[name] = value

    def next_counter(self, name: str) -> int:
        """Increments a counter and returns its new value (the first is 1)."""
        value = self.counter(name) + 1
        self.set_counter(name, value)
        return value

    def set_meta(self, name: str, value: bytes) -> None:
        """Sets a meta value."""
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
        off and the key was taken. Serialised deterministically: a record with a map (a
        source record's metadata) must come out byte-identical when `audit verify` replays it."""
        raw = seal(key, record.SerializeToString(deterministic=True))
        return bool(self.txn.put(key, raw, db=self.dbs[db], overwrite=overwrite))

    def replace_feed(self, sequence: int, record: rec.FeedRecord) -> None:
        """Rewrites a feed record in place (only erasure does: to scrub a value)."""
        self._put_sealed("feed", u64(sequence), record)

    def replace_request(self, key: bytes, record: rec.RequestRecord) -> None:
        """Rewrites a stored answer in place (only erasure does: to scrub a value)."""
        self._put_sealed("requests", key, record)

    def link_incident(self, member_id: str, incident: str, signal_id: str) -> None:
        """Files a signal under a member's incident reference."""
        key = _incident_prefix(member_id, incident) + bytes.fromhex(signal_id)
        self.txn.put(key, b"", db=self.dbs["incidents"])

    def unlink_incident(self, member_id: str, incident: str, signal_id: str) -> None:
        """Takes a signal off a member's incident reference."""
        key = _incident_prefix(member_id, incident) + bytes.fromhex(signal_id)
        self.txn.delete(key, db=self.dbs["incidents"])

    def put_erased(self, tombstone: admin_pb2.ErasedSignal) -> None:
        """Stores the tombstone of an erased signal."""
        self._put_sealed("erased", bytes.fromhex(tombstone.signal_id), tombstone)

    def put_feed(self, sequence: int, record: rec.FeedRecord) -> None:
        """Appends a feed record (never overwrites one)."""
        if self._deferred is not None:
            key = u64(sequence)
            raw = seal(key, record.SerializeToString(deterministic=True))
            self._deferred.feed.append((key, raw))
            return
        self._put_sealed("feed", u64(sequence), record, overwrite=False)

    def put_warning_list(self, settings: coalition_pb2.WarningList) -> None:
        """Stores a warning list's settings (its entries are stored one by one)."""
        assert not settings.entries
        self._put_sealed("warning_lists", settings.name.encode(), settings)

    def put_warning_entry(self, list_name: str, entry: coalition_pb2.WarningEntry) -> None:
        """Puts an entry on a list (or changes its note), counting the list's entries."""
        key = warning_key(list_name, entry.type, entry.value)
        if self.txn.get(key, db=self.dbs["warning_entries"]) is None:
            name = WARNING_ENTRIES + list_name
            self.set_counter(name, self.counter(name) + 1)
        self._put_sealed("warning_entries", key, entry)

    def delete_warning_entry(self, list_name: str, type_name: str, value: str) -> None:
        """Takes an entry off a list."""
        key = warning_key(list_name, type_name, value)
        if self.txn.delete(key, db=self.dbs["warning_entries"]):
            name = WARNING_ENTRIES + list_name
            self.set_counter(name, self.counter(name) - 1)

    def put_warning_proposal(self, proposal: coalition_pb2.ProposedEntry) -> None:
        """Stores the state of a proposed entry."""
        key = warning_key(proposal.list, proposal.entry.type, proposal.entry.value)
        self._put_sealed("warning_proposals", key, proposal)

    def delete_warning_proposal(self, list_name: str, type_name: str, value: str) -> None:
        """Drops a proposed entry."""
        key = warning_key(list_name, type_name, value)
        self.txn.delete(key, db=self.dbs["warning_proposals"])

    def count_warning_proposals(self, member_id: str, delta: int) -> None:
        """Changes the member's count of open proposals and endorsements."""
        for name in (WARNING_PROPOSALS + member_id, WARNING_PROPOSALS):  # and all members'
            self.set_counter(name, self.counter(name) + delta)

    def bump_warning_version(self) -> int:
        """The set of warning lists changed: its new version."""
        return self.next_counter(WARNING_VERSION)

    def put_match_day(
        self, signal_id: str, member_id: str, day: int, record: rec.MatchDayRecord
    ) -> None:
        """Stores a member's matches of a signal on a day."""
        self._put_sealed("match_days", match_day_key(signal_id, member_id, day), record)

    def delete_match_day(self, signal_id: str, member_id: str, day: int) -> None:
        """Drops a member's matches of a signal on a day (older than any review window)."""
        self.txn.delete(match_day_key(signal_id, member_id, day), db=self.dbs["match_days"])

    def put_match_rate(self, signal_id: str, record: rec.MatchRateRecord) -> None:
        """Stores a signal's matches per hour."""
        self._put_sealed("match_rates", bytes.fromhex(signal_id), record)

    def put_quarantine(self, record: rec.QuarantineRecord) -> None:
        """Quarantines a signal."""
        self._put_sealed("quarantine", bytes.fromhex(record.signal.signal_id), record)

    def delete_quarantine(self, signal_id: str) -> None:
        """Ends a signal's quarantine."""
        self.txn.delete(bytes.fromhex(signal_id), db=self.dbs["quarantine"])

    def put_review(self, member_id: str, record: rec.ReviewRecord) -> None:
        """Stores a member's review notice."""
        self._put_sealed("reviews", review_key(member_id, record.notice.review_id), record)

    def _forget_matches(self, signal_id: str) -> None:
        """Drops a removed signal's match history, rate and quarantine (a signal submitted
        again later starts afresh)."""
        sid = bytes.fromhex(signal_id)
        cur = self.txn.cursor(db=self.dbs["match_days"])
        if cur.set_range(sid):
            while bytes(cur.key()).startswith(sid):
                if not cur.delete():
                    break
        self.txn.delete(sid, db=self.dbs["match_rates"])
        self.txn.delete(sid, db=self.dbs["quarantine"])

    def put_group(self, group: admin_pb2.PrivacyGroup) -> None:
        """Stores a privacy group."""
        self._put_sealed("groups", group.group_id.encode(), group)

    def link_group_signal(self, group_id: str, signal_id: str) -> None:
        """Files a signal under a group one of its submissions is shared with."""
        self.txn.put(_group_signal_key(group_id, signal_id), b"", db=self.dbs["group_signals"])

    def unlink_group_signal(self, group_id: str, signal_id: str) -> None:
        """Takes a signal off a group's list (none of its submissions is shared with it now):
        the inverse of link_group_signal."""
        self.txn.delete(_group_signal_key(group_id, signal_id), db=self.dbs["group_signals"])

    def put_audit_head(self, head: admin_pb2.AuditHead) -> None:
        """Stores a signed audit head."""
        self.txn.put(u64(head.sequence), head.SerializeToString(), db=self.dbs["audit_heads"])

    def put_member(self, member: admin_pb2.Member) -> None:
        """Stores a member."""
        self._put_sealed("members", member.member_id.encode(), member)

    def put_key(self, key: rec.KeyRecord) -> None:
        """Stores a member's key."""
        self._put_sealed("keys", key.key_id.encode(), key)

    def put_batch(self, member_id: str, batch_id: str, record: rec.BatchRecord) -> None:
        """Stores a batch's first answer."""
        self._put_sealed("batches", _batch_key(member_id, batch_id), record)

    def put_signal(self, record: rec.SignalRecord) -> None:
        """Stores a signal record."""
        key = bytes.fromhex(record.signal.signal_id)
        if self._deferred is not None:
            raw = seal(key, record.SerializeToString(deterministic=True))
            self._deferred.signals[key] = raw
            return
        self._put_sealed("signals", key, record)

    def put_submission(self, signal_id: str, record: rec.SubmissionRecord) -> None:
        """Stores a submission, counts it as live when new, and files its expiry."""
        key = submission_key(signal_id, record)
        raw = seal(key, record.SerializeToString(deterministic=True))
        expiry = (
            u64(max(record.expires_at.ToMilliseconds(), 0)) + key
            if record.HasField("expires_at")
            else None
        )
        if self._deferred is not None:
            self._deferred.submissions.append((key, raw, record.member_id, expiry))
        else:
            self._write_submission(key, raw, record.member_id, expiry)

    def _write_submission(
        self, key: bytes, raw: bytes, member_id: str, expiry: bytes | None
    ) -> None:
        db = self.dbs["submissions"]
        if self.txn.put(key, raw, db=db, overwrite=False):  # new: no extra lookup
            self._count_live(member_id, 1)
        else:
            self.txn.put(key, raw, db=db)
        if expiry is not None:
            self.txn.put(expiry, b"", db=self.dbs["expiries"])

    def delete_submission(self, signal_id: str, record: rec.SubmissionRecord) -> None:
        """Deletes a submission, its live count and its expiry."""
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
            self.unlink_group_signal(group, sid)
        for opinion in self.opinions(sid):
            self.txn.delete(_opinion_key(sid, opinion.member_id), db=self.dbs["opinions"])
        self._forget_matches(sid)

    def put_opinion(self, signal_id: str, record: rec.OpinionRecord) -> None:
        """Stores a member's opinion of a signal (an empty opinion deletes it)."""
        key = _opinion_key(signal_id, record.member_id)
        if record.opinion:
            self._put_sealed("opinions", key, record)
        else:
            self.txn.delete(key, db=self.dbs["opinions"])

    def put_request(
        self, kind: str, member_id: str, request_id: str, record: rec.RequestRecord
    ) -> None:
        """Stores a request's first answer."""
        self._put_sealed("requests", _request_key(kind, member_id, request_id), record)

    def add_stats(self, counts: dict[bytes, tuple[int, ...]]) -> None:
        """Adds usage counts (exchange.usage) to what is stored."""
        db = self.dbs["stats"]
        for key in sorted(counts):
            old = self.txn.get(key, db=db)
            self.txn.put(
                key, usage.merge(key, None if old is None else bytes(old), counts[key]), db=db
            )

    def put_typed(self, type_name: str, signal_id: str, value: str) -> None:
        """Files a signal under its type, for a type matched by its own index."""
        self.txn.put(_typed_key(type_name, signal_id), value.encode(), db=self.dbs["typed"])

    def put_pdq_row(self, row: int, hash32: bytes, signal_id: str) -> None:
        """Stores a row of the packed PDQ table, keeping PDQ_TABLE_SUM."""
        value = hash32 + bytes.fromhex(signal_id)
        if self._deferred is not None:
            self._deferred.pdq.append((row, value))
        else:
            self._write_pdq_row(row, value)

    def _write_pdq_row(self, row: int, value: bytes) -> None:
        key, db = u64(row), self.dbs["pdq"]
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
