"""The coalition report's safety section (exchange.report.safety) on a scripted history: warning
lists, flood quarantine and decision propagation applied to a real store through the real
ledger (quarantines and review notices decided by apply, as on a hub), and every count of the
section checked against the script, before and after suppression."""

from __future__ import annotations

import csv
import hashlib
import html
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp

from client_sdk.signing import Signer
from exchange import report
from exchange.ledger import append_and_apply
from exchange.report import safety
from exchange.store import Store
from signalhub import domain
from signalhub import reviews as rv
from signalhub import warnings as wl
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, coalition_pb2, common_pb2

FIRST, LAST = date(2026, 11, 2), date(2026, 11, 15)
MEMBERS = [f"safetymember{i:02d}" for i in range(12)]
A, B, C, D, E, F, G, H, I, J, K, L = MEMBERS  # noqa: E741
LIST = "benign"
POLICY = rec.QuarantinePolicy(ratio=20, min_matches_per_hour=50, baseline_hours=24)
BEFORE = FIRST - timedelta(days=3)
AFTER = LAST + timedelta(days=1)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def d(n: int) -> date:
    return FIRST + timedelta(days=n)


def stamp(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


def md5(name: str) -> str:
    return hashlib.md5(name.encode()).hexdigest()


@dataclass
class Script:
    """Applies a history to a store through the ledger."""

    store: Store
    signers: dict[str, Signer] = field(default_factory=dict)
    serial: int = 0

    def apply(self, when: datetime, **command: Any) -> int:
        entry = rec.LogEntry(received_at=stamp(when), **command)
        self.store.write(lambda tx: append_and_apply(tx, entry))
        with self.store.read() as view:
            return view.counter("log_seq")

    def signed(self, member: str, prefix: bytes, payload: Any) -> rec.SignedCommand:
        envelope = self.signers[member].sign_payload(prefix, payload.SerializeToString())
        return rec.SignedCommand(envelope=envelope)

    def add_member(self, name: str) -> None:
        key = Ed25519PrivateKey.generate()
        self.signers[name] = Signer(name, key)
        command = rec.AddMemberCommand(member_id=name, public_key=domain.raw_public_key(key))
        self.apply(at(BEFORE - timedelta(days=30)), add_member=command)

    def submit(
        self, member: str, when: datetime, names: list[str], audience: tuple[str, ...] = ()
    ) -> list[str]:
        signals = [common_pb2.SignalSubmission(type="md5", value=md5(n)) for n in names]
        envelope = self.signers[member].envelope(
            uuid.uuid4().hex, signals, created_at=when, audience=audience
        )
        self.apply(when, submit=rec.SubmitCommand(envelope=envelope))
        return [domain.canonical_signal("md5", md5(n), (), ()).signal_id for n in names]

    def matched(self, when: datetime, counts: list[tuple[str, str, int]]) -> int:
        """(signal id, member, matches) answered in the hour before `when`."""
        self.serial += 1
        first = stamp(when - timedelta(minutes=30))
        command = rec.MatchCountsCommand(
            node="n1",
            serial=self.serial,
            policy=POLICY,
            counts=[
                rec.MatchCount(signal_id=s, member_id=m, matches=n, first=first, last=stamp(when))
                for s, m, n in counts
            ],
        )
        return self.apply(when, match_counts=command)

    def set_list(self, when: datetime, endorsements: int) -> None:
        command = rec.SetWarningListCommand(
            name=LIST, description="benign values", endorsements_required=endorsements
        )
        self.apply(when, set_warning_list=command)

    def edit(self, when: datetime, edit: int, names: list[str]) -> None:
        entries = [coalition_pb2.WarningEntry(type="md5", value=md5(n)) for n in names]
        command = rec.EditWarningEntriesCommand(list=LIST, edit=edit, entries=entries)
        self.apply(when, edit_warning_entries=command)

    def propose(
        self, member: str, when: datetime, names: list[str], withdraw: bool = False
    ) -> None:
        action = (
            coalition_pb2.WARNING_ACTION_WITHDRAW
            if withdraw
            else (coalition_pb2.WARNING_ACTION_PROPOSE)
        )
        proposal = coalition_pb2.WarningProposal(
            member_id=member,
            request_id=uuid.uuid4().hex,
            created_at=stamp(when),
            list=LIST,
            action=action,
            entries=[coalition_pb2.WarningEntry(type="md5", value=md5(n)) for n in names],
        )
        signed = self.signed(member, wl.WARNING_PROPOSAL_SIGNING_PREFIX, proposal)
        self.apply(when, propose_warning_entries=signed)

    def resolve(self, when: datetime, sid: str, action: int) -> None:
        command = rec.ResolveQuarantineCommand(signal_id=sid, action=action)
        self.apply(when, resolve_quarantine=command)

    def retract(self, member: str, when: datetime, ids: list[str], false_positive: bool) -> int:
        reason = common_pb2.RETRACT_REASON_FALSE_POSITIVE if false_positive else 0
        retraction = common_pb2.Retraction(
            member_id=member,
            request_id=uuid.uuid4().hex,
            created_at=stamp(when),
            signal_ids=ids,
            reason=reason,
        )
        return self.apply(
            when, retract=self.signed(member, domain.RETRACTION_SIGNING_PREFIX, retraction)
        )

    def appeal(self, member: str, when: datetime, sid: str, upheld: bool) -> None:
        outcome = (
            coalition_pb2.APPEAL_OUTCOME_UPHELD if upheld else (coalition_pb2.APPEAL_OUTCOME_DENIED)
        )
        appeal = coalition_pb2.Appeal(
            member_id=member,
            request_id=uuid.uuid4().hex,
            created_at=stamp(when),
            signal_id=sid,
            outcome=outcome,
        )
        self.apply(when, record_appeal=self.signed(member, rv.APPEAL_SIGNING_PREFIX, appeal))

    def reviewed(self, member: str, when: datetime, ids: list[str]) -> None:
        done = coalition_pb2.ReviewDone(
            member_id=member, request_id=uuid.uuid4().hex, created_at=stamp(when), review_ids=ids
        )
        self.apply(when, mark_reviewed=self.signed(member, rv.REVIEW_DONE_SIGNING_PREFIX, done))

    def notices(self, member: str, reason: int) -> list[str]:
        with self.store.read() as view:
            return sorted(
                r.notice.review_id for r in view.reviews(member) if r.notice.reason == reason
            )


APPROVE, REJECT, REMOVE = (
    admin_pb2.WARNING_EDIT_APPROVE,
    admin_pb2.WARNING_EDIT_REJECT,
    admin_pb2.WARNING_EDIT_REMOVE,
)
RELEASE, RETRACT = coalition_pb2.QUARANTINE_ACTION_RELEASE, coalition_pb2.QUARANTINE_ACTION_RETRACT
FP_REASON = coalition_pb2.REVIEW_REASON_RETRACTED_FALSE_POSITIVE


def warning_lists(s: Script) -> None:
    """Approved in the period: 13 by the operator, 3 by endorsements; 2 removed."""
    s.set_list(at(BEFORE), 3)
    s.edit(at(BEFORE), APPROVE, ["pre0", "pre1"])  # before the period
    s.edit(at(d(0)), APPROVE, [f"O{i}" for i in range(12)] + ["pre0"])  # pre0: listed already
    for member in (B, C):
        s.propose(member, at(d(1)), ["E0", "E1", "E2"])
    s.propose(B, at(d(1), 13), ["E0"])  # the same member again: no endorsement
    s.propose(D, at(d(1), 14), ["E0", "O5"])  # the third endorsement approves E0; O5 is listed
    s.propose(E, at(d(2)), ["E3"])
    s.propose(E, at(d(2), 13), ["E3"], withdraw=True)
    s.propose(F, at(d(2), 14), ["E3"])
    s.set_list(at(d(3)), 2)  # E1 and E2 have two endorsements each: approved
    s.edit(at(d(4)), REJECT, ["E3"])
    s.propose(G, at(d(4), 13), ["E4"])
    s.edit(at(d(4), 14), APPROVE, ["E4"])  # a proposed entry approved by the operator
    s.edit(at(d(5)), REMOVE, ["O0", "O1", "never-listed"])
    s.edit(at(AFTER), APPROVE, ["late"])
    s.edit(at(AFTER), REMOVE, ["O2"])


def quarantine(s: Script) -> None:
    """In the period: 13 quarantines (one of a signal released and quarantined again), 3
    releases (one of a signal quarantined before), 1 retraction out of quarantine."""
    q = s.submit(A, at(BEFORE - timedelta(days=1)), [f"Q{i}" for i in range(14)])
    s.matched(at(BEFORE), [(q[13], B, 100)])  # quarantined before the period
    # a privacy group's new member: feed records that name no log entry, before the period's
    s.submit(K, at(BEFORE), ["G0", "G1"], audience=("pair",))
    s.apply(at(d(1), 9), add_group_members=rec.GroupMembersCommand(group_id="pair", member_ids=[L]))
    s.matched(at(d(1), 10), [(sid, B, 100) for sid in q[:12]] + [(q[12], A, 1000)])  # A's own
    s.resolve(at(d(2)), q[0], RELEASE)
    s.resolve(at(d(2)), q[1], RELEASE)
    s.resolve(at(d(2)), q[13], RELEASE)
    s.resolve(at(d(3)), q[2], RETRACT)  # B matched it: one review notice
    s.matched(at(d(5)), [(q[0], B, 3000)])  # above 20 x the rate it was released at
    s.matched(at(AFTER), [(q[12], C, 200)])  # after the period


def decisions(s: Script) -> None:
    """In the period: 11 retractions as false positive, 2 appeals upheld, 3 denied; notices
    sent: 22 after those retractions, 3 after the upheld appeals, 1 after the quarantine
    retraction; 12 marked reviewed."""
    r = s.submit(C, at(BEFORE - timedelta(days=1)), [f"R{i}" for i in range(13)])
    p = s.submit(A, at(BEFORE - timedelta(days=1)), ["P0", "P1"])
    s.matched(
        at(BEFORE),
        [(sid, m, 1) for sid in r for m in (D, E)]
        + [(p[0], m, 2) for m in (F, G, H)]
        + [(p[1], G, 1)],
    )
    s.retract(C, at(BEFORE, 14), [r[12]], false_positive=True)  # before: D and E told
    s.retract(C, at(d(6)), [*r[:11], r[0]], false_positive=True)  # r[0] twice: counted once
    s.retract(C, at(d(6), 13), [r[11]], false_positive=False)
    s.appeal(F, at(d(7)), p[0], upheld=True)  # G and H told, not F
    s.appeal(F, at(d(7), 13), p[1], upheld=True)  # G told
    for hour in (14, 15, 16):
        s.appeal(I, at(d(7), hour), p[0], upheld=False)
    mine = s.notices(D, FP_REASON)
    assert len(mine) == 12
    s.reviewed(D, at(d(8)), mine)  # the one sent before the period too
    s.reviewed(D, at(d(9)), mine[:2])  # again: they keep their first mark
    s.reviewed(E, at(AFTER), s.notices(E, FP_REASON)[:1])


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Script]:
    store = Store(tmp_path_factory.mktemp("safety") / "lmdb", sync=False)
    s = Script(store)
    try:
        for m in MEMBERS:
            s.add_member(m)
        s.apply(
            at(BEFORE),
            add_group_members=rec.GroupMembersCommand(group_id="pair", member_ids=[J, K]),
        )
        warning_lists(s)
        quarantine(s)
        decisions(s)
        yield s
    finally:
        store.close()


def section(store: Store, k: int = 10, last: int | None = None) -> tuple[Any, Any, Any]:
    """(true values, published values, the log follower) of the safety section."""
    period = report.Period(FIRST, LAST)
    follower = safety.SafetyLog(period)
    history = report.History(period).replay(follower.watch(report.log_entries(store, last)))
    follower.read_store(store)
    with store.read() as view:
        used = report.Usage.read(view, period)
    tree, _ = report.coalition_tree(history, used, report.Buckets.of(period), k, follower)
    cells = tree["summary"]["safety"]  # (the whole tree's true values need propagation times)
    return report.resolve(cells, k, public=False), report.resolve(cells, k), follower


EXPECTED = {
    "warning_lists": {
        "entries_approved": 16,
        "entries_approved_by_operator": 13,
        "entries_approved_by_endorsements": 3,
        "entries_removed": 2,
    },
    "quarantine": {"quarantines": 13, "releases": 3, "retractions": 1},
    "decision_propagation": {
        "retractions_as_false_positive": 11,
        "appeals_upheld": 2,
        "appeals_denied": 3,
        "review_notices_sent": 26,
        "review_notices_after_false_positive_retraction": 22,
        "review_notices_after_upheld_appeal": 3,
        "review_notices_after_quarantine_retraction": 1,
        "review_notices_marked_reviewed": 12,
    },
}


def test_every_safety_count_matches_the_script(script: Script) -> None:
    raw, _, follower = section(script.store)
    assert raw == EXPECTED
    assert follower.unreadable == []


def test_the_replayed_warning_lists_are_the_stores(script: Script) -> None:
    _, _, follower = section(script.store)
    with script.store.read() as view:
        listed = {(LIST, e.type, e.value) for e in view.warning_entries(LIST)}
        open_proposals = {
            (LIST, p.entry.type, p.entry.value): set(p.members)
            for p in view.warning_proposals(LIST)
            if not p.approved
        }
    assert follower.lists.listed == listed
    assert follower.lists.proposals == open_proposals


def test_small_safety_counts_are_suppressed(script: Script) -> None:
    _, public, _ = section(script.store)
    w, q, p = public["warning_lists"], public["quarantine"], public["decision_propagation"]
    # 3 by endorsements would be 16 - 13: the operator's 13 is suppressed too
    assert w == {
        "entries_approved": 16,
        "entries_approved_by_operator": "suppressed",
        "entries_approved_by_endorsements": "<10",
        "entries_removed": "<10",
    }
    assert q == {"quarantines": 13, "releases": "<10", "retractions": "<10"}
    # the two small reasons add up to 4 (< 10): 26 - 22 would give them away
    assert p == {
        "retractions_as_false_positive": 11,
        "appeals_upheld": "<10",
        "appeals_denied": "<10",
        "review_notices_sent": 26,
        "review_notices_after_false_positive_retraction": "suppressed",
        "review_notices_after_upheld_appeal": "<10",
        "review_notices_after_quarantine_retraction": "<10",
        "review_notices_marked_reviewed": 12,
    }
    _, exact, _ = section(script.store, k=1)  # a threshold of 1 hides only zeros
    assert exact == EXPECTED


def test_counts_stop_at_the_last_log_entry_read(script: Script) -> None:
    with script.store.read() as view:
        retraction = next(
            n
            for n, e in report.view_log_entries(view)
            if e.WhichOneof("command") == "retract" and e.received_at.ToDatetime().date() == d(6)
        )
    raw, _, _ = section(script.store, k=1, last=retraction - 1)
    p = raw["decision_propagation"]
    assert p["retractions_as_false_positive"] == 0
    assert p["review_notices_after_false_positive_retraction"] == 0  # stored, but logged later
    assert p["review_notices_after_quarantine_retraction"] == 1
    assert raw["quarantine"] == EXPECTED["quarantine"]  # logged before the retraction


def test_the_feed_search_starts_where_the_entrys_records_do(script: Script) -> None:
    with script.store.read() as view:
        records = view.feed(0, 1 << 20)
        last = view.counter("log_seq")
        assert any(r.log_sequence == 0 for r in records)  # group changes name no entry
        for entry in range(1, last + 2):
            # the last record of an earlier entry: every record of this entry or later is after
            earlier = [int(r.event.cursor) for r in records if 0 < r.log_sequence < entry]
            assert safety._feed_before(view, entry) == (earlier[-1] if earlier else 0), entry


def test_an_empty_store_has_every_row(tmp_path: Path) -> None:
    store = Store(tmp_path / "lmdb", sync=False)
    try:
        data = report.coalition_report(store, FIRST, LAST)
    finally:
        store.close()
    rows = data["summary"]["safety"]
    assert [(part, key) for part, keys in rows.items() for key in keys] == [
        (part, key) for part, key, _ in safety.ROWS
    ]
    assert {v for keys in rows.values() for v in keys.values()} == {"<10"}


def test_files_carry_the_safety_rows_and_no_member(script: Script, tmp_path: Path) -> None:
    data = report.coalition_report(script.store, FIRST, LAST)
    assert data["summary"]["safety"]["quarantine"]["quarantines"] == 13
    report.write_report(data, tmp_path)
    with open(tmp_path / "summary.csv", newline="") as f:
        summary = {row["metric"]: row["value"] for row in csv.DictReader(f)}
    assert summary["safety.quarantine.quarantines"] == "13"
    assert summary["safety.warning_lists.entries_approved_by_endorsements"] == "<10"
    page = (tmp_path / "report.html").read_text()
    assert "Coalition safety" in page
    for _, _, title in safety.ROWS:
        assert html.escape(title) in page
    titles = [m["title"] for m in data["method"]]
    assert [t for t, _ in safety.SAFETY_METHOD] == [t for t in titles if "safety" in t]
    text = "".join(p.read_text() for p in tmp_path.iterdir())
    for member in MEMBERS:
        assert member not in text


def test_every_safety_row_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "report.md").read_text()
    for _, key, _ in safety.ROWS:
        assert f"`{key}`" in doc, key
