"""Transparency reports on a scripted history: entries applied to a real store through the real
ledger, usage counts added as the hub adds them, and every number of the report checked against
the script's own counts."""

from __future__ import annotations

import base64
import csv
import json
import re
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp

from client_sdk.signing import Signer
from exchange import report, usage
from exchange.ledger import append_and_apply
from exchange.store import Store
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2

FIRST, LAST = date(2026, 11, 2), date(2026, 11, 15)  # Monday to Sunday: two ISO weeks
MEMBERS = [f"member{w}" for w in (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima")]  # fmt: skip
TP, FP, DISPUTED, CLEAR = (
    common_pb2.OPINION_TRUE_POSITIVE, common_pb2.OPINION_FALSE_POSITIVE,
    common_pb2.OPINION_DISPUTED, common_pb2.OPINION_UNSPECIFIED)  # fmt: skip


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def d(n: int) -> date:
    """Day n of the period (0 = its first)."""
    return FIRST + timedelta(days=n)


def stamp(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


def value(kind: str, name: str) -> str:
    digest = __import__("hashlib").sha256(name.encode()).hexdigest()
    return {"pdq": digest, "md5": digest[:32], "sha256": digest}.get(
        kind, f"https://example.org/{name}"
    )


@dataclass
class Script:
    """Applies a history to a store and keeps its own plain record of what it did."""

    store: Store
    signers: dict[str, Signer] = field(default_factory=dict)
    ids: dict[str, tuple[str, str]] = field(default_factory=dict)
    """name -> (signal id, type)"""
    submissions: list[tuple[datetime, str, str, str, tuple[str, ...]]] = field(default_factory=list)
    """(time, member, signal id, type, labels) of each stored submission."""
    stats: dict[bytes, tuple[int, ...]] = field(default_factory=dict)

    def apply(self, entry: rec.LogEntry) -> None:
        self.store.write(lambda tx: append_and_apply(tx, entry))

    def add_member(self, name: str) -> None:
        key = Ed25519PrivateKey.generate()
        self.signers[name] = Signer(name, key)
        command = rec.AddMemberCommand(member_id=name, public_key=domain.raw_public_key(key))
        self.apply(rec.LogEntry(received_at=stamp(at(FIRST - timedelta(days=30))),
                                add_member=command))  # fmt: skip

    def group(self, group: str, members: list[str], when: datetime) -> None:
        self.apply(rec.LogEntry(received_at=stamp(when), add_group_members=rec.GroupMembersCommand(
            group_id=group, member_ids=members)))  # fmt: skip

    def submit(
        self,
        member: str,
        when: datetime,
        kind: str,
        names: list[str],
        labels: tuple[str, ...] = (),
        expires: datetime | None = None,
        audience: tuple[str, ...] = (),
    ) -> None:
        signals = []
        for name in names:
            s = common_pb2.SignalSubmission(type=kind, value=value(kind, name), labels=labels)
            if expires is not None:
                s.expires_at.CopyFrom(stamp(expires))
            signals.append(s)
        envelope = self.signers[member].envelope(
            uuid.uuid4().hex, signals, created_at=when, audience=audience
        )
        self.apply(
            rec.LogEntry(received_at=stamp(when), submit=rec.SubmitCommand(envelope=envelope))
        )
        for name in dict.fromkeys(names):
            canonical = domain.canonical_signal(kind, value(kind, name), labels, ())
            self.ids[name] = (canonical.signal_id, kind)
            self.submissions.append((when, member, canonical.signal_id, kind, labels))

    def sid(self, name: str) -> str:
        return self.ids[name][0]

    def opinion(self, member: str, name: str, opinion: int, when: datetime) -> None:
        payload = common_pb2.OpinionChange(member_id=member, request_id=uuid.uuid4().hex,
                                           created_at=stamp(when), signal_id=self.sid(name),
                                           opinion=opinion).SerializeToString()  # fmt: skip
        envelope = self.signers[member].sign_payload(domain.OPINION_SIGNING_PREFIX, payload)
        self.apply(rec.LogEntry(received_at=stamp(when),
                                set_opinion=rec.SignedCommand(envelope=envelope)))  # fmt: skip

    def retract(self, member: str, names: list[str], when: datetime) -> None:
        payload = common_pb2.Retraction(member_id=member, request_id=uuid.uuid4().hex,
                                        created_at=stamp(when),
                                        signal_ids=[self.sid(n) for n in names]
                                        ).SerializeToString()  # fmt: skip
        envelope = self.signers[member].sign_payload(domain.RETRACTION_SIGNING_PREFIX, payload)
        self.apply(rec.LogEntry(received_at=stamp(when),
                                retract=rec.SignedCommand(envelope=envelope)))  # fmt: skip

    def expire_tick(self, when: datetime) -> None:
        self.apply(rec.LogEntry(received_at=stamp(when), expire_tick=rec.ExpireTick()))

    def matched(self, member: str, name: str, day: date, count: int) -> None:
        key = usage.match_key(report.day_number(day), self.sid(name), member)
        self.stats[key] = (count,)

    def queried(self, member: str, day: date, queries: int, matched: int) -> None:
        self.stats[usage.queries_key(report.day_number(day), member)] = (queries, matched)

    def propagated(self, day: date, buckets: dict[int, int]) -> None:
        counts = [0] * (len(usage.PROPAGATION_MS) + 1)
        for i, n in buckets.items():
            counts[i] = n
        self.stats[usage.propagation_key(report.day_number(day))] = tuple(counts)

    def flush_stats(self) -> None:
        self.store.write(lambda tx: tx.add_stats(self.stats))


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Script]:
    store = Store(tmp_path_factory.mktemp("report") / "lmdb", sync=False)
    s = Script(store)
    try:
        build_history(s)
        yield s
    finally:
        store.close()


A, B, C, D, E, F, G, H, I, J, K, L = MEMBERS  # noqa: E741


def build_history(s: Script) -> None:
    for m in MEMBERS:
        s.add_member(m)
    s.group("pair", [J, K], at(FIRST - timedelta(days=20)))
    before = at(FIRST - timedelta(days=3))  # 2026-10-30 12:00, before the period
    s.submit(A, before, "pdq", [f"P{i}" for i in range(12)], ("csam",))
    s.opinion(D, "P1", TP, before + timedelta(days=1))  # before the period: not counted
    # day 0: 30 new PDQ signals; a second member corroborates ten of them an hour later
    s.submit(A, at(d(0), 10), "pdq", [f"N{i}" for i in range(30)], ("csam",))
    s.submit(B, at(d(0), 11), "pdq", [f"N{i}" for i in range(10)], ("csam",))
    s.submit(B, at(d(0), 11), "md5", [f"M{i}" for i in range(4)], ("ncii", "sextortion"))
    s.submit(B, at(d(0), 11), "md5", [f"M{i}" for i in range(4, 12)], ("sextortion",))
    # day 1: ten members contribute one URL each; the old P signals are corroborated
    for i, m in enumerate(MEMBERS[2:]):
        s.submit(m, at(d(1), 9), "url", [f"U{i + 2}"], ("grooming",))
    s.submit(C, at(d(1), 9), "pdq", [f"P{i}" for i in range(12)], ("csam",))
    s.submit(D, at(d(1), 15), "sha256", ["S0", "S1", "S2"], ("ncii",))
    # day 2: a batch repeating a value (stored once), a re-submission, unlabelled signals
    s.submit(A, at(d(2), 8), "pdq", ["X", "X"], ("other",))
    s.submit(A, at(d(2), 9), "pdq", ["N0"], ("csam",))
    s.submit(E, at(d(2), 10), "md5", ["D0", "D1"])
    # day 3-5: eleven signals that expire on day 5; one of them is corroborated without expiry
    s.submit(F, at(d(3), 10), "pdq", [f"E{i}" for i in range(11)], ("csam",),
             expires=at(d(5), 12))  # fmt: skip
    s.submit(G, at(d(4), 10), "pdq", ["E0"], ("csam",))
    s.expire_tick(at(d(5), 11))  # nothing due yet
    s.expire_tick(at(d(5), 13))
    # day 4: a submission shared with a privacy group only
    s.submit(K, at(d(4), 12), "pdq", ["N20"], ("terrorism",), audience=("pair",))
    # opinions
    s.opinion(C, "M0", FP, at(d(5), 9))  # of a signal removed later: still counted
    s.opinion(C, "N10", FP, at(d(7), 9))  # changed to true positive two days later
    for m in MEMBERS[2:]:
        s.opinion(m, "N10", TP, at(d(9), 9))
    for m in MEMBERS[1:]:
        s.opinion(m, "N11", FP, at(d(8), 9))
    s.opinion(B, "N12", FP, at(d(8), 10))
    for m in (C, D, E):
        s.opinion(m, "U4", DISPUTED, at(d(8), 11))
    s.opinion(F, "N13", DISPUTED, at(d(8), 12))
    s.opinion(F, "N13", CLEAR, at(d(9), 12))  # cleared: counts nothing
    # day 6: B withdraws its corroborations (the signals stay) and its MD5 signals (removed)
    s.retract(B, [f"N{i}" for i in range(10)], at(d(6), 9))
    s.retract(B, [f"M{i}" for i in range(12)], at(d(6), 10))
    # after the period: not counted
    s.submit(L, at(LAST + timedelta(days=1), 9), "pdq", ["Z0", "Z1"], ("csam",))
    s.retract(A, ["X"], at(LAST + timedelta(days=1), 10))
    # usage counts, as the hub flushes them
    s.matched(F, "N0", d(1), 15)
    s.matched(G, "P0", d(2), 4)
    s.matched(A, "N1", d(2), 2)  # its own signal
    s.matched(H, "M0", d(7), 5)  # after M0's removal on day 6: labels it carried last
    s.matched(I, "U4", d(4), 20)
    s.matched(A, "N20", d(10), 1)  # N20's terrorism label is invisible to A
    s.matched(F, "N0", LAST + timedelta(days=1), 99)  # after the period
    s.queried(F, d(1), 100, 15)
    s.queried(G, d(2), 50, 4)
    s.queried(A, d(2), 10, 2)
    s.queried(H, d(7), 30, 5)
    s.queried(I, d(4), 200, 20)
    s.queried(A, d(10), 5, 1)
    s.queried(F, LAST + timedelta(days=1), 500, 99)
    s.propagated(d(1), {2: 40, 3: 55, 7: 5})
    s.propagated(LAST + timedelta(days=1), {0: 1000})
    s.flush_stats()


def coalition(script: Script, k: int = 10, granularity: str = "auto") -> tuple[Any, Any]:
    period = report.Period(FIRST, LAST)
    history = report.History(period).replay(report.log_entries(script.store))
    with script.store.read() as view:
        used = report.Usage.read(view, period)
    tree, sheet = report.coalition_tree(history, used, report.Buckets.of(period, granularity), k)
    return tree, sheet


def in_period(when: datetime) -> bool:
    return FIRST <= when.date() <= LAST


def test_every_number_matches_the_script(script: Script) -> None:
    tree, _ = coalition(script)
    raw = report.resolve(tree, 10, public=False)
    s = raw["summary"]
    subs = [x for x in script.submissions if in_period(x[0])]
    first_seen: dict[str, datetime] = {}
    for when, _, sid, _, _ in script.submissions:
        first_seen.setdefault(sid, when)
    signals = {x[2] for x in subs}
    new = {sid for sid in signals if in_period(first_seen[sid])}
    assert s["contributions"] == {
        "signals": 81,  # 30 N, 12 M, 12 P, 10 U, 3 S, X, 2 D, 11 E
        "new_signals": 69,  # all but P
        "submissions": 94,
        "contributing_members": 12,
    }
    assert (len(signals), len(new), len(subs)) == (81, 69, 94)
    # 10 N corroborated after 1 h, E0 after 24 h, 12 P after 3 days 21 h, N20 after 4 days 2 h
    assert s["corroboration"] == {"corroborated_signals": 24, "median_hours_to_corroboration": 93}
    assert s["matches"] == {
        "queries": 395, "queries_with_match": 47, "querying_members": 5,
        "matches": 47, "matches_of_signals_from_other_members": 44, "signals_matched": 6,
    }  # fmt: skip
    # C's false positive on N10 became a true positive; F's cleared dispute counts nothing
    assert s["opinions"] == {
        "true_positive": 10, "false_positive": 13, "disputed": 3,
        "false_positive_share": round(13 / 23, 4),
    }  # fmt: skip
    assert s["removals"] == {
        "retractions": 22, "signals_removed_by_retraction": 12,
        "expired_submissions": 11, "signals_removed_by_expiry": 10,
    }  # fmt: skip
    assert s["propagation"] == {
        "deliveries": 100,
        "p50": {"from_ms": 5, "to_ms": 10},
        "p99": {"from_ms": 100, "to_ms": 250},
    }
    by_type = {r["type"]: r for r in raw["tables"]["by_type"]}
    assert set(by_type) == set(domain.SIGNAL_TYPES)
    for kind in domain.SIGNAL_TYPES:
        ids = {x[2] for x in subs if x[3] == kind}
        assert by_type[kind]["signals"] == len(ids)
        assert by_type[kind]["new_signals"] == len(ids & new)
        assert by_type[kind]["submissions"] == sum(1 for x in subs if x[3] == kind)
    assert {k: (r["signals"], r["matches"], r["signals_matched"]) for k, r in by_type.items()
            if r["signals"]} == {"pdq": (54, 22, 4), "md5": (14, 5, 1), "url": (10, 20, 1),
                                 "sha256": (3, 0, 0)}  # fmt: skip
    by_label = {r["label"]: r for r in raw["tables"]["by_label"]}
    assert set(by_label) == {*domain.LABELS, report.NO_LABEL}
    for label in by_label:
        ids = {x[2] for x in subs if label in (x[4] or (report.NO_LABEL,))}
        assert by_label[label]["signals"] == len(ids), label
        assert by_label[label]["new_signals"] == len(ids & new), label
    assert {k: (r["matches"], r["signals_matched"]) for k, r in by_label.items()
            if r["matches"]} == {"csam": (22, 4), "ncii": (5, 1), "sextortion": (5, 1),
                                 "grooming": (20, 1), "terrorism": (1, 1)}  # fmt: skip
    assert {k: (r["true_positive"], r["false_positive"], r["disputed"], r["false_positive_share"])
            for k, r in by_label.items()
            if r["true_positive"] or r["false_positive"] or r["disputed"]} == {
        "csam": (10, 12, 0, round(12 / 22, 4)), "ncii": (0, 1, 0, 1.0),
        "sextortion": (0, 1, 0, 1.0), "grooming": (0, 0, 3, None)}  # fmt: skip
    assert by_label["terrorism"]["signals"] == 1  # N20, shared with a group: counted
    # the trend, per day, against the script's own list
    trend = raw["tables"]["trend"]
    assert [r["start"] for r in trend] == [d(i).isoformat() for i in range(14)]
    match_days: dict[int, int] = defaultdict(int)
    query_days: dict[int, int] = defaultdict(int)
    for key, counts in script.stats.items():
        day = int.from_bytes(key[1:5], "big") - report.day_number(FIRST)
        if key[:1] == usage.MATCH:
            match_days[day] += counts[0]
        elif key[:1] == usage.QUERIES:
            query_days[day] += counts[0]
    for i, row in enumerate(trend):
        day_subs = [x for x in subs if x[0].date() == d(i)]
        assert row["signals"] == len({x[2] for x in day_subs})
        assert row["new_signals"] == len({x[2] for x in day_subs} & {
            sid for sid in new if first_seen[sid].date() == d(i)})  # fmt: skip
        assert row["submissions"] == len(day_subs)
        assert row["matches"] == match_days.get(i, 0)
        assert row["queries"] == query_days.get(i, 0)
    assert [r["deliveries"] for r in raw["tables"]["propagation"]] == [
        0, 0, 40, 55, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]  # fmt: skip
    weekly, _ = coalition(script, granularity="week")
    rows = report.resolve(weekly, 10, public=False)["tables"]["trend"]
    assert [(r["start"], r["end"], r["submissions"]) for r in rows] == [
        ("2026-11-02", "2026-11-08", 94), ("2026-11-09", "2026-11-15", 0)]  # fmt: skip


def walk(public: Any, raw: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    if isinstance(public, dict) and isinstance(raw, dict):
        for key in raw:
            yield from walk(public[key], raw[key], f"{path}.{key}")
    elif isinstance(public, list):
        for i, (p, r) in enumerate(zip(public, raw, strict=True)):
            yield from walk(p, r, f"{path}[{i}]")
    else:
        yield path, public, raw


def test_small_counts_are_suppressed_and_cannot_be_worked_out(script: Script) -> None:
    tree, sheet = coalition(script)
    raw = report.resolve(tree, 10, public=False)
    public = report.resolve(tree, 10)
    states = {id(c): c.state for c in report._cells(tree)}
    counts = 0
    cells = {"summary": public["summary"], "tables": public["tables"]}
    for path, shown, true in walk(cells, {"summary": raw["summary"], "tables": raw["tables"]}):
        if shown == "<10":
            assert isinstance(true, int) and true < 10, path
        elif shown == "suppressed":
            assert true is None or not isinstance(true, int) or true >= 10 or "share" in path, path
        elif isinstance(true, int) and not isinstance(true, bool):
            assert shown == true, path
            if not path.endswith(("days", "min_count", "through_log_entry", "format_version",
                                  "from_ms", "to_ms")):  # fmt: skip
                assert true >= 10, path
                counts += 1
    assert counts >= 40
    assert states  # every cell went through protection
    for relation in sheet.relations:
        assert sheet.safe(relation)
    s = public["summary"]
    assert s["contributions"]["signals"] == 81
    assert s["opinions"]["disputed"] == "<10"
    assert s["opinions"]["false_positive_share"] == round(13 / 23, 4)
    assert s["corroboration"]["median_hours_to_corroboration"] == 93
    by_type = {r["type"]: r for r in public["tables"]["by_type"]}
    assert by_type["sha256"]["signals"] == "<10"
    assert by_type["vpdq"]["signals"] == "<10"  # zero is below the threshold too
    # sha256's 3 (and the zeros) would follow from the total minus the others: the smallest
    # other is suppressed too
    assert [by_type[t]["signals"] for t in ("pdq", "md5", "url")] == [54, 14, "suppressed"]
    by_label = {r["label"]: r for r in public["tables"]["by_label"]}
    assert by_label["csam"]["false_positive_share"] == round(12 / 22, 4)
    assert by_label["ncii"]["false_positive_share"] == "suppressed"  # from counts below 10
    buckets = [r["deliveries"] for r in public["tables"]["propagation"]]
    assert buckets[3] == 55 and buckets[7] == "<10"
    assert buckets[2] == "suppressed"  # else 100 - 40 - 55 gives the 5 away
    # a threshold of 1 hides only zeros (and what would give them away)
    low = report.resolve(coalition(script, k=1)[0], 1)
    assert low["summary"]["opinions"]["disputed"] == 3


def test_suppression_of_a_sum() -> None:
    sheet = report.Sheet(10)
    total, cells = report.Cell(98), [report.Cell(v) for v in (95, 3, 0)]
    sheet.sums(total, cells)
    sheet.protect([total, *cells])
    assert [c.public(10) for c in (total, *cells)] == [98, "suppressed", "<10", "<10"]
    sheet = report.Sheet(10)
    total, cells = report.Cell(1000), [report.Cell(v) for v in (600, 380, 12, 8)]
    sheet.sums(total, cells)
    sheet.protect([total, *cells])
    assert [c.public(10) for c in cells] == [600, 380, "suppressed", "<10"]
    sheet = report.Sheet(10)  # a cover (labels): only lower bounds follow from it
    total, cells = report.Cell(50), [report.Cell(v) for v in (45, 30, 9)]
    sheet.sums(total, cells, exact=False)
    sheet.protect([total, *cells])
    assert [c.public(10) for c in cells] == [45, 30, "<10"]
    sheet = report.Sheet(10)
    total, cells = report.Cell(60), [report.Cell(v) for v in (55, 5)]
    sheet.sums(total, cells, exact=False)
    sheet.protect([total, *cells])
    assert [c.public(10) for c in cells] == ["suppressed", "<10"]  # else it is 5 at least


def files_text(directory: Path) -> str:
    """Everything written, with the charts' SVG decoded."""
    text = ""
    for path in sorted(directory.iterdir()):
        content = path.read_text(encoding="utf-8")
        text += content
        for data in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", content):
            text += base64.b64decode(data).decode()
    return text


def test_files_carry_the_same_numbers_and_no_member(script: Script, tmp_path: Path) -> None:
    data = report.coalition_report(script.store, FIRST, LAST)
    written = report.write_report(data, tmp_path)
    assert sorted(p.name for p in written) == sorted([
        "report.json", "summary.csv", "by_type.csv", "by_label.csv", "trend.csv",
        "propagation.csv", "report.html"])  # fmt: skip
    assert json.loads((tmp_path / "report.json").read_text()) == data
    with open(tmp_path / "summary.csv", newline="") as f:
        summary = {row["metric"]: row["value"] for row in csv.DictReader(f)}
    assert summary["contributions.signals"] == "81"
    assert summary["opinions.disputed"] == "<10"
    assert summary["propagation.p50.from_ms"] == "5" and summary["propagation.p50.to_ms"] == "10"
    assert len(summary) == len(report.summary_rows(data))
    for name, rows in data["tables"].items():
        with open(tmp_path / f"{name}.csv", newline="") as f:
            read = list(csv.DictReader(f))
        expected = [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows]
        assert read == expected, name
    text = files_text(tmp_path)
    for member in MEMBERS:
        assert member not in text
    for signer in script.signers.values():
        assert signer.key_id not in text
    for sid, _ in script.ids.values():
        assert sid not in text
    page = (tmp_path / "report.html").read_text()
    assert page.count("<img src='data:image/svg+xml;base64,") == 4
    for encoded in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", page):
        svg = base64.b64decode(encoded).decode()
        assert "<svg" in svg and "<!DOCTYPE" not in svg
        assert not re.search(r"(href|src)=\"(?!#)", svg)  # only references inside itself
    assert not re.search(r"(src|href)=['\"]?(https?:)?//|<link|<script|@import|url\(", page)
    assert "@media print" in page and "Method" in page and "&lt; 10" in page
    for item in data["method"]:
        assert item["title"] in page


def test_member_report_counts_its_own_and_names_no_other(script: Script) -> None:
    with script.store.read() as view:
        mine = report.member_report(view, A, FIRST, LAST)
    assert mine["member_id"] == A
    assert mine["contributions"] == {
        "signals": 31, "new_signals": 31, "submissions": 32,  # 30 N, X; N0 again
        "corroborated_by_others": 10,  # N0-N9 by B; K's N20 is not visible to A
        "by_type": {"pdq": 31}, "by_label": {"csam": 30, "other": 1},
    }  # fmt: skip
    assert mine["matches_of_your_signals_by_others"] == {  # F's of N0, G's of P0
        "matches": 19, "signals_matched": 2,
        "by_label": {"csam": {"matches": 19, "signals_matched": 2}},
        "by_week": [{"week_start": "2026-11-02", "matches": 19, "signals_matched": 2,
                     "matches_by_label": {"csam": 19}}],
    }  # fmt: skip
    queries = mine["your_queries"]
    assert (queries["queries"], queries["queries_with_match"], queries["matches"]) == (15, 3, 3)
    assert queries["by_label"] == {"csam": {"matches": 3, "signals_matched": 2}}  # no terrorism
    assert queries["queries_by_week"] == [
        {"week_start": "2026-11-02", "queries": 10, "queries_with_match": 2},
        {"week_start": "2026-11-09", "queries": 5, "queries_with_match": 1}]  # fmt: skip
    assert mine["opinions_of_your_signals_by_others"] == {
        "true_positive": 10, "false_positive": 12, "disputed": 0,
        "by_label": {"csam": {"true_positive": 10, "false_positive": 12, "disputed": 0}},
    }  # fmt: skip
    assert mine["removals"] == {
        "retractions": 0, "signals_removed_by_retraction": 0, "expired_submissions": 0}  # fmt: skip
    text = json.dumps(mine)
    for member in MEMBERS[1:]:
        assert member not in text

    with script.store.read() as view:
        b = report.member_report(view, B, FIRST, LAST)
    assert b["contributions"]["signals"] == 22 and b["contributions"]["new_signals"] == 12
    assert b["contributions"]["corroborated_by_others"] == 10
    # F matched N0 and A N1 while B held them; H matched M0 after B withdrew it
    assert b["matches_of_your_signals_by_others"]["matches"] == 15 + 2
    # C's false positive of M0 came while B held it; N11 and N12 were no longer B's
    assert b["opinions_of_your_signals_by_others"]["false_positive"] == 1
    assert b["removals"] == {"retractions": 22, "signals_removed_by_retraction": 12,
                             "expired_submissions": 0}  # fmt: skip
    with script.store.read() as view:
        f = report.member_report(view, F, FIRST, LAST)
    assert f["removals"]["expired_submissions"] == 11


def test_period_and_arguments() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        report.Period(LAST, FIRST)
    with pytest.raises(ValueError, match="not a date"):
        report.parse_date("2026-13-01")
    assert report.Buckets.of(report.Period(FIRST, FIRST + timedelta(days=30))).granularity == "day"
    weeks = report.Buckets.of(report.Period(date(2026, 11, 4), date(2026, 12, 10)))
    assert weeks.granularity == "week"
    assert weeks.ranges[0] == (date(2026, 11, 4), date(2026, 11, 8))  # clipped to the period
    assert weeks.ranges[-1] == (date(2026, 12, 7), date(2026, 12, 10))
    assert report.percentile_bucket([0] * 14 + [3], 0.5) == {"from_ms": 60_000, "to_ms": None}


def test_a_reader_adopts_a_map_the_hub_grew(tmp_path: Path) -> None:
    path = tmp_path / "lmdb"
    Store(path, map_bytes=1 << 20).close()
    reader = Store(path, readonly=True, map_bytes=1 << 20)
    try:
        with report.read_view(reader) as view:
            assert view.counter("log_seq") == 0
        grow = (  # another process (the hub) grows the map and writes
            "import lmdb, sys\n"
            "env = lmdb.open(sys.argv[1], map_size=64 << 20, max_dbs=32)\n"
            "db = env.open_db(b'meta')\n"
            "with env.begin(write=True) as t:\n"
            "    t.put(b'log_seq', (0).to_bytes(8, 'big'), db=db)\n"
            "    t.put(b'filler', bytes(4 << 20), db=db)\n"
        )
        subprocess.run([sys.executable, "-c", grow, str(path)], check=True)
        assert list(report.log_entries(reader)) == []
        with report.read_view(reader) as view:
            assert view.meta("filler") == bytes(4 << 20)
    finally:
        reader.close()
