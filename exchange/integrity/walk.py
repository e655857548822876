"""The record walk of `signalhub admin check` (exchange.integrity): one method per table (see
exchange.integrity's docstring for what each checks), sharing what later tables need, each
problem named in a CheckReport instead of raised."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator

import lmdb
import numpy as np
from google.protobuf.message import DecodeError, Message

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, coalition_pb2, common_pb2

from .. import usage
from ..errors import HubError
from ..store import (
    LIVE_SUBMISSIONS,
    PDQ_ROW_BYTES,
    PDQ_TABLE_SUM,
    SEALED_RECORDS,
    Store,
    open_seal,
    pdq_table_sum,
    signal_problem,
    u64,
)
from ..visibility import set_sources
from .report import CheckReport, key_text

KEY_BYTES = 32
_COUNTERS = ("log_seq", "feed_seq", "pdq_rows", "stream_seq", PDQ_TABLE_SUM)
_STATS_VALUE_BYTES = {
    usage.MATCH: 8,
    usage.QUERIES: 16,
    usage.PROPAGATION: 8 * (len(usage.PROPAGATION_MS) + 1),
    usage.SUBMISSIONS: 16,
    usage.LAST_SEEN: 8,
}


class TableWalk:
    """The walk itself: one method per table, sharing what later tables need. The store's own
    checks are off in its view: it makes them all, naming each problem instead of raising."""

    def __init__(self, store: Store, report: CheckReport) -> None:
        self.store = store
        self.view = store.begin_view(checks=False)
        self.report = report
        self.sealed = self.view.seals_required()
        self.members: set[str] = set()
        self.groups: set[str] = set()
        self.live: dict[str, int] = {}
        """Submissions by member, as the submissions table holds them."""
        self.owned_rows: list[int] = []
        self.broken_signals: set[bytes] = set()
        self.walked: set[str] = set()
        """Steps that ran to their end (later checks that count on one need it whole)."""
        self.log_seq = 0
        self.feed_seq = 0

    def add(self, table: str, key: bytes, what: str) -> None:
        """Reports a problem of the record under `key` of `table`."""
        self.report.add(table, key_text(table, key), what)

    def run(self) -> None:
        """Walks every table in turn; a table LMDB cannot read to its end is reported and the
        walk goes on in a new transaction."""
        steps: list[tuple[str, Callable[[], None]]] = [
            ("meta", self.meta),
            ("members", self.members_table),
            ("keys", self.keys_table),
            ("groups", self.groups_table),
            ("signals", self.signals_and_submissions),
            ("pdq", self.pdq),
            ("typed", self.typed),
            ("expiries", self.expiries),
            ("feed", self.feed),
            ("log", self.log),
            ("batches", lambda: self.plain("batches", rec.BatchRecord)),
            ("requests", lambda: self.plain("requests", rec.RequestRecord)),
            ("opinions", self.opinions),
            ("erased", self.erased),
            ("warning_lists", lambda: self.plain("warning_lists", coalition_pb2.WarningList)),
            ("warning_entries", lambda: self.plain("warning_entries", coalition_pb2.WarningEntry)),
            (
                "warning_proposals",
                lambda: self.plain("warning_proposals", coalition_pb2.ProposedEntry),
            ),
            ("match_days", lambda: self.plain("match_days", rec.MatchDayRecord)),
            ("match_rates", lambda: self.plain("match_rates", rec.MatchRateRecord)),
            ("quarantine", lambda: self.plain("quarantine", rec.QuarantineRecord)),
            ("reviews", lambda: self.plain("reviews", rec.ReviewRecord)),
            ("audit_heads", self.audit_heads),
            ("stats", self.stats),
            ("counters", self.live_counters),
        ]
        try:
            for table, step in steps:
                try:
                    step()
                    self.walked.add(table)
                except (HubError, lmdb.Error) as e:
                    # LMDB stopped the walk of this table (a damaged page); the transaction is
                    # dead after that: go on with the next table in a new one.
                    self.report.add(table, "-", f"the walk stopped: {type(e).__name__}: {e}")
                    self.view.end()
                    self.view = self.store.begin_view(checks=False)
        finally:
            self.view.end()

    def items(self, db: str) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) of a table (none when the store lacks it), each checked to be
        found by a lookup too; counts them in the report."""
        if not self.view.has_table(db):
            return
        n = 0
        try:
            for key, value in self.view.items(db):
                n += 1
                if not self.view.lookup_finds(db, key):  # walking finds what searching does not
                    self.add(
                        db,
                        key,
                        "LMDB's tree no longer leads to it: a lookup misses it "
                        "(a damaged branch page)",
                    )
                yield key, value
        finally:
            self.report.records[db] = self.report.records.get(db, 0) + n

    def parse(self, db: str, key: bytes, raw: bytes, cls: type[Message]) -> Message | None:
        """The record, once its seal is checked; None (and a problem) when it is corrupt."""
        body, sealed = open_seal(key, raw)
        if sealed is False and self.sealed:
            self.add(db, key, "its checksum does not match (the record changed on disk)")
            return None
        if sealed is None and self.sealed:
            self.add(db, key, "it has no checksum (the record was damaged or rewritten)")
            return None
        if not sealed:
            self.report.unchecked += 1
            body = raw
        try:
            return cls.FromString(body)
        except DecodeError:
            self.add(db, key, "it does not parse")
            return None

    # --- meta and the small tables ---------------------------------------------------------

    def meta(self) -> None:
        """The keys and counters a hub needs; keeps the log and feed counters for later steps."""
        values = dict(self.items("meta"))
        for name in ("hub_public_key", "operator_public_key"):
            raw = values.get(name.encode())
            if raw is None:
                self.add("meta", name.encode(), "missing (the hub cannot serve without it)")
            elif len(raw) != KEY_BYTES:
                self.add("meta", name.encode(), f"a key of {len(raw)} bytes, not {KEY_BYTES}")
        for key, raw in values.items():
            name = key.decode(errors="replace")
            if (name in _COUNTERS or name.startswith(LIVE_SUBMISSIONS)) and len(raw) != 8:
                self.add("meta", key, f"a counter of {len(raw)} bytes, not 8")
        self.log_seq = self._counter(values, "log_seq")
        self.feed_seq = self._counter(values, "feed_seq")
        types = values.get(b"signal_types")
        if types is not None:
            try:
                parsed = json.loads(types)
                assert isinstance(parsed, dict)
            except (ValueError, AssertionError):
                self.add("meta", b"signal_types", "not the JSON object of the served types")

    @staticmethod
    def _counter(values: dict[bytes, bytes], name: str) -> int:
        raw = values.get(name.encode(), b"")
        return int.from_bytes(raw, "big") if len(raw) == 8 else 0

    def members_table(self) -> None:
        """Each member record names its key; collects the members."""
        for key, raw in self.items("members"):
            member = self.parse("members", key, raw, admin_pb2.Member)
            if isinstance(member, admin_pb2.Member):
                if member.member_id.encode() != key:
                    self.add("members", key, "it names another member")
                self.members.add(member.member_id)

    def keys_table(self) -> None:
        """Each key record: its id against its public key, its member registered."""
        for key, raw in self.items("keys"):
            record = self.parse("keys", key, raw, rec.KeyRecord)
            if not isinstance(record, rec.KeyRecord):
                continue
            if record.key_id.encode() != key or domain.key_id(record.public_key) != record.key_id:
                self.add("keys", key, "its public key does not match its key id")
            if record.member_id not in self.members:
                self.add("keys", key, f"its member {record.member_id!r} is not registered")

    def groups_table(self) -> None:
        """Each group record names its key; collects the groups."""
        for key, raw in self.items("groups"):
            group = self.parse("groups", key, raw, admin_pb2.PrivacyGroup)
            if isinstance(group, admin_pb2.PrivacyGroup):
                if group.group_id.encode() != key:
                    self.add("groups", key, "it names another group")
                self.groups.add(group.group_id)

    def plain(self, db: str, cls: type[Message]) -> None:
        """Each record of a table checked only for its seal and that it parses."""
        for key, raw in self.items(db):
            self.parse(db, key, raw, cls)

    # --- signals and their submissions (one merged walk: both are in signal id order) ------

    def signals_and_submissions(self) -> None:
        """Signals and their submissions in one merged walk (both are in signal id order)."""
        self.walked.add("whole submissions")  # until one is corrupt: counters would then differ
        subs = self._submissions()
        pending = next(subs, None)
        for key, raw in self.items("signals"):
            while pending is not None and pending[0][:16] < key:
                self.add("submissions", pending[0], "its signal is not stored")
                pending = next(subs, None)
            mine: list[rec.SubmissionRecord] = []
            whole = True  # no submission of it is corrupt (else comparing with them would
            # only repeat that problem)
            while pending is not None and pending[0][:16] == key:
                if pending[1] is None:
                    whole = False
                else:
                    mine.append(pending[1])
                pending = next(subs, None)
            self._signal(key, raw, mine, whole)
        while pending is not None:
            self.add("submissions", pending[0], "its signal is not stored")
            pending = next(subs, None)

    def _submissions(self) -> Iterator[tuple[bytes, rec.SubmissionRecord | None]]:
        """(key, record or None when corrupt) of every submission, each checked on its own."""
        for key, raw in self.items("submissions"):
            record = self.parse("submissions", key, raw, rec.SubmissionRecord)
            if not isinstance(record, rec.SubmissionRecord):
                self.walked.discard("whole submissions")
                yield key, None
                continue
            if len(key) != 28 or key[16:] != u64(record.log_sequence) + record.index.to_bytes(
                4, "big"
            ):
                self.add("submissions", key, "its key does not match its log position")
            elif not 0 < record.log_sequence <= self.log_seq:
                self.add("submissions", key, f"its log entry {record.log_sequence} is not logged")
            if record.member_id not in self.members:
                self.add("submissions", key, f"its member {record.member_id!r} is not registered")
            self.live[record.member_id] = self.live.get(record.member_id, 0) + 1
            if record.HasField("expires_at"):
                expiry = u64(max(record.expires_at.ToMilliseconds(), 0)) + key
                if not self.view.lookup_finds("expiries", expiry):
                    self.add("submissions", key, "its expiry is not filed (it would never expire)")
            yield key, record

    def _signal(
        self, key: bytes, raw: bytes, subs: list[rec.SubmissionRecord], whole: bool
    ) -> None:
        record = self.parse("signals", key, raw, rec.SignalRecord)
        problem = signal_problem(key, record) if isinstance(record, rec.SignalRecord) else None
        if problem:
            self.add("signals", key, problem)
        if not isinstance(record, rec.SignalRecord) or problem:
            self.broken_signals.add(key)  # its rows are not reported again as orphans
            return
        if whole:
            self._aggregates(key, record, subs)
        s = record.signal
        rows = ([record.pdq_row] if record.pdq_row else []) + list(record.frame_rows)
        for row in rows:
            self.owned_rows.append(row)
            found = self.view.raw("pdq", u64(row))
            if found is None:
                self.add("signals", key, f"its PDQ row {row} is missing (it cannot be matched)")
            elif len(found) != PDQ_ROW_BYTES or found[32:] != key:
                self.add("pdq", u64(row), f"it does not name signal {key.hex()}, which owns it")
            elif s.value and (
                s.value != found[:32].hex()
                if row == record.pdq_row
                else found[:32].hex() not in s.value
            ):
                self.add("pdq", u64(row), f"its hash is not that of signal {key.hex()}")
        spec = domain.SIGNAL_TYPES.get(s.type)
        if spec is not None and (spec.indexed or spec.replaceable_matching):
            typed_key = s.type.encode() + b"\x00" + key
            value = self.view.raw("typed", typed_key) if self.view.has_table("typed") else None
            if value is None:
                self.add("signals", key, "its typed row is missing (it cannot be matched)")
            elif value.decode(errors="replace") != s.value:
                self.add("typed", typed_key, f"its value differs from signal {key.hex()}'s")

    def _aggregates(
        self, key: bytes, record: rec.SignalRecord, subs: list[rec.SubmissionRecord]
    ) -> None:
        """A signal's record against its submissions (what apply derives from them)."""
        s = record.signal
        if not subs:
            self.add("signals", key, "it has no submission (it should have been removed)")
            return
        members = sorted({x.member_id for x in subs})
        if list(record.members) != members or s.corroboration != len(members):
            self.add("signals", key, "its members or corroboration differ from its submissions")
        labels = {x for sub in subs for x in sub.labels}
        tags = {x for sub in subs for x in sub.tags}
        if set(s.labels) != labels or set(s.tags) != tags:
            self.add("signals", key, "its labels or tags differ from its submissions")
        derived = common_pb2.Signal()
        set_sources(derived, subs)
        if list(s.sources) != list(derived.sources) or (
            s.sources_truncated != derived.sources_truncated
        ):
            self.add("signals", key, "its source records differ from its submissions'")
        if record.restricted != any(sub.audience or sub.sharing for sub in subs):
            self.add(
                "signals",
                key,
                "its `restricted` flag differs from its submissions' "
                "audiences and sharing levels (visibility would be wrong)",
            )

    # --- the packed and typed indexes ------------------------------------------------------

    def pdq(self) -> None:
        """The PDQ table: row sizes, its checksum, rows owned twice or by no signal, its row
        counter."""
        keys, values = bytearray(), bytearray()
        for key, raw in self.items("pdq"):
            if len(key) != 8 or len(raw) != PDQ_ROW_BYTES:
                self.add("pdq", key, f"a row of {len(key)} + {len(raw)} bytes, not 8 + 48")
                continue
            keys += key
            values += raw
        rows = np.frombuffer(bytes(keys), dtype=">u8").astype(np.uint64)
        packed = np.frombuffer(bytes(values), dtype=np.uint8).reshape(-1, PDQ_ROW_BYTES)
        if self.view.meta(PDQ_TABLE_SUM) is not None and len(rows) == self.report.records["pdq"]:
            raw_sum = self.view.meta(PDQ_TABLE_SUM) or b""
            if len(raw_sum) == 8 and int.from_bytes(raw_sum, "big") != pdq_table_sum(rows, packed):
                self.report.add(
                    "pdq",
                    "-",
                    "the table no longer adds up to its checksum (a hub refuses to start on it)",
                )
        owned = np.array(self.owned_rows, dtype=np.uint64)
        unique, counts = np.unique(owned, return_counts=True)
        for row in unique[counts > 1].tolist():
            self.report.add("pdq", str(row), "more than one signal owns this row")
        if "signals" in self.walked:
            by_row = dict(zip(rows.tolist(), range(len(rows)), strict=True))
            for row in np.setdiff1d(rows, owned).tolist():
                if packed[by_row[row], 32:].tobytes() not in self.broken_signals:
                    self.add("pdq", u64(row), "no signal owns this row (a match finds nothing)")
        top = self.view.meta("pdq_rows") or b""
        if len(rows) and (len(top) != 8 or int(rows.max()) > int.from_bytes(top, "big")):
            self.report.add("meta", "'pdq_rows'", "the row counter is behind the PDQ table")

    def typed(self) -> None:
        """Each typed row: its key, its value against its signal id, its signal stored."""
        for key, raw in self.items("typed"):
            type_name, _, rest = key.partition(b"\x00")
            if len(rest) != 16:
                self.add("typed", key, "a key that is not type, 0, signal id")
                continue
            try:
                value = raw.decode()
            except UnicodeDecodeError:
                self.add("typed", key, "its value is not UTF-8")
                continue
            if value and domain.signal_id(type_name.decode(errors="replace"), value) != rest.hex():
                self.add("typed", key, "its value does not match its signal id")
            elif self.view.raw("signals", rest) is None:
                self.add("typed", key, "its signal is not stored")

    def expiries(self) -> None:
        """Each expiry names a stored submission."""
        for key, raw in self.items("expiries"):
            if len(key) != 36 or raw:
                self.add("expiries", key, "not an expiry time and a submission key")
            elif self.view.raw("submissions", key[8:]) is None:
                self.add("expiries", key, "its submission is not stored")

    # --- the feed and the log --------------------------------------------------------------

    def feed(self) -> None:
        """The feed: contiguous up to its counter, each record carrying its own cursor."""
        expected = 1
        for key, raw in self.items("feed"):
            seq = int.from_bytes(key, "big") if len(key) == 8 else -1
            if seq != expected:
                self.add("feed", key, f"out of sequence: expected feed record {expected}")
            expected = seq + 1
            record = self.parse("feed", key, raw, rec.FeedRecord)
            if not isinstance(record, rec.FeedRecord):
                continue
            if record.event.cursor != str(seq):
                self.add("feed", key, f"it carries cursor {record.event.cursor[:20]!r}")
            if record.log_sequence > self.log_seq:
                self.add("feed", key, f"its log entry {record.log_sequence} is not logged")
        if expected - 1 != self.feed_seq:
            self.report.add(
                "feed", "-", f"it ends at {expected - 1}, the counter says {self.feed_seq}"
            )

    def log(self) -> None:
        """The log: contiguous up to its counter, each entry against its audit link (or,
        redacted, its seal)."""
        expected = 1
        for key, raw in self.items("log"):
            seq = int.from_bytes(key, "big") if len(key) == 8 else -1
            if seq != expected:
                self.add("log", key, f"out of sequence: expected log entry {expected}")
            expected = seq + 1
            link = self.view.raw("audit", key)
            if link is not None:
                try:
                    if hashlib.sha256(raw).digest() == rec.AuditRecord.FromString(link).entry_hash:
                        continue
                except DecodeError:
                    self.add("audit", key, "it does not parse")
                    continue
            body, sealed = open_seal(key, raw)
            try:
                entry = rec.LogEntry.FromString(body)
            except DecodeError:
                self.add("log", key, "it does not parse")
                continue
            if not entry.HasField("redaction") or sealed is False:
                self.add("log", key, "its bytes do not match its audit link")
            elif not sealed:
                if self.sealed:
                    self.add("log", key, "it was redacted but has no checksum")
                else:
                    self.report.unchecked += 1
        if expected - 1 != self.log_seq:
            self.report.add(
                "log", "-", f"it ends at {expected - 1}, the counter says {self.log_seq}"
            )
        audits = self.view.entries("audit")
        if audits != self.log_seq:
            self.report.add("audit", "-", f"{audits} links for {self.log_seq} log entries")

    # --- the rest --------------------------------------------------------------------------

    def opinions(self) -> None:
        """Each opinion names its member and a stored signal."""
        for key, raw in self.items("opinions"):
            record = self.parse("opinions", key, raw, rec.OpinionRecord)
            if not isinstance(record, rec.OpinionRecord):
                continue
            if key[16:] != record.member_id.encode():
                self.add("opinions", key, "it names another member")
            elif self.view.raw("signals", key[:16]) is None:
                self.add("opinions", key, "its signal is not stored")

    def erased(self) -> None:
        """Each tombstone names its key."""
        for key, raw in self.items("erased"):
            record = self.parse("erased", key, raw, admin_pb2.ErasedSignal)
            if isinstance(record, admin_pb2.ErasedSignal) and record.signal_id != key.hex():
                self.add("erased", key, "it names another signal")

    def audit_heads(self) -> None:
        """Each signed head parses and signs the entry of its key, one that is logged."""
        for key, raw in self.items("audit_heads"):
            try:
                head = admin_pb2.AuditHead.FromString(raw)
            except DecodeError:
                self.add("audit_heads", key, "it does not parse")
                continue
            if u64(head.sequence) != key or head.sequence > self.log_seq:
                self.add("audit_heads", key, f"it signs entry {head.sequence}, not this one")

    def stats(self) -> None:
        """Each usage count has a kind and a size this hub writes."""
        for key, raw in self.items("stats"):
            size = _STATS_VALUE_BYTES.get(key[:1])
            if size is None or len(raw) != size:
                self.add("stats", key, "not a usage count this hub writes")

    def live_counters(self) -> None:
        """Each member's live-submission counter against the submissions the walk counted."""
        if not {"signals", "whole submissions"} <= self.walked:
            return
        counted = {
            key.decode(errors="replace")[len(LIVE_SUBMISSIONS) :]: int.from_bytes(raw, "big")
            for key, raw in self.view.items("meta")
            if key.startswith(LIVE_SUBMISSIONS.encode())
        }
        for member in sorted(set(counted) | set(self.live)):
            if counted.get(member, 0) != self.live.get(member, 0):
                self.report.add(
                    "meta",
                    repr(LIVE_SUBMISSIONS + member),
                    f"counts {counted.get(member, 0)} live submissions, the table "
                    f"holds {self.live.get(member, 0)}",
                )
        if self.sealed and self.view.meta(SEALED_RECORDS) is None:
            self.report.add("meta", repr(SEALED_RECORDS), "missing")  # pragma: no cover
