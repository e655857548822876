"""The report's replay of the log (exchange.report.history) on plain log entries: no hub, no
store. What each command withdraws follows the log's meaning: a key revoked as compromised
withdraws its member's submissions signed with it since the compromise (a plain revocation
none); an offboarding that retracts or erases withdraws all the member's submissions (one that
keeps them, none); an erasure withdraws every member's submissions of the signal."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp

from client_sdk.signing import Signer
from exchange.report import History, Period
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, common_pb2

PERIOD = Period(date(2026, 11, 2), date(2026, 11, 15))
A, B = "memberalpha", "memberbravo"
SIGNERS = {m: Signer(m, Ed25519PrivateKey.generate()) for m in (A, B)}


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def stamp(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


def url(name: str) -> str:
    return f"https://example.org/{name}"


def sid(name: str) -> str:
    return domain.canonical_signal("url", url(name), (), ()).signal_id


def submit(member: str, when: datetime, *names: str) -> rec.LogEntry:
    signals = [common_pb2.SignalSubmission(type="url", value=url(n)) for n in names]
    envelope = SIGNERS[member].envelope(uuid.uuid4().hex, signals, created_at=when)
    return rec.LogEntry(received_at=stamp(when), submit=rec.SubmitCommand(envelope=envelope))


def replay(*entries: rec.LogEntry) -> History:
    return History(PERIOD).replay(enumerate(entries, start=1))


def withdrawn(history: History) -> list[tuple[str, str, int, bool]]:
    return [(w.member, w.signal_id, w.submissions, w.removed) for w in history.retractions]


def test_a_key_revoked_as_compromised_withdraws_what_it_signed_since_the_compromise() -> None:
    revoke = rec.RevokeKeyCommand(
        member_id=A, key_id=SIGNERS[A].key_id, compromised_since=stamp(at(5))
    )
    history = replay(
        submit(A, at(3), "before"),
        submit(A, at(6), "after"),
        submit(B, at(6), "after"),
        rec.LogEntry(received_at=stamp(at(8)), revoke_key=revoke),
    )
    assert withdrawn(history) == [(A, sid("after"), 1, False)]  # B's submission keeps it
    assert [s.member for s in history.signals[sid("before")].live] == [A]
    assert [s.member for s in history.signals[sid("after")].live] == [B]


def test_a_plain_key_revocation_withdraws_nothing() -> None:
    revoke = rec.RevokeKeyCommand(member_id=A, key_id=SIGNERS[A].key_id)
    history = replay(
        submit(A, at(6), "one"), rec.LogEntry(received_at=stamp(at(8)), revoke_key=revoke)
    )
    assert withdrawn(history) == []
    assert len(history.signals[sid("one")].live) == 1


def offboard(how: admin_pb2.OffboardSubmissions.ValueType) -> rec.LogEntry:
    command = rec.RemoveMemberCommand(member_id=A, submissions=how)
    return rec.LogEntry(received_at=stamp(at(9)), remove_member=command)


def test_an_offboarding_that_retracts_or_erases_withdraws_all_the_members_submissions() -> None:
    for how in (admin_pb2.OFFBOARD_SUBMISSIONS_RETRACT, admin_pb2.OFFBOARD_SUBMISSIONS_ERASE):
        history = replay(submit(A, at(3), "one", "two"), submit(B, at(4), "two"), offboard(how))
        assert sorted(withdrawn(history)) == sorted(
            [(A, sid("one"), 1, True), (A, sid("two"), 1, False)]
        )


def test_an_offboarding_that_keeps_submissions_withdraws_none() -> None:
    for how in (admin_pb2.OFFBOARD_SUBMISSIONS_KEEP, admin_pb2.OFFBOARD_SUBMISSIONS_UNSPECIFIED):
        history = replay(submit(A, at(3), "one"), offboard(how))
        assert withdrawn(history) == []


def test_an_erasure_withdraws_every_members_submissions_of_the_signal() -> None:
    erase = rec.EraseSignalCommand(signal_id=sid("gone"))
    history = replay(
        submit(B, at(3), "gone", "kept"),
        submit(A, at(4), "gone"),
        rec.LogEntry(received_at=stamp(at(10)), erase_signal=erase),
    )
    # by member, in order; the last one removes the signal
    assert withdrawn(history) == [(A, sid("gone"), 1, False), (B, sid("gone"), 1, True)]
    assert len(history.signals[sid("kept")].live) == 1


def test_an_erasure_withdraws_the_carriers_its_scan_found_as_the_hub_does() -> None:
    # The hub removes the signals the erasure's scan found carrying the value (videos with it
    # as a frame) with it; the report reads the same rule (ledger.decisions), so they are
    # withdrawn in its history too (before, the report withdrew only the named signal).
    erase = rec.EraseSignalCommand(signal_id=sid("gone"), carrier_ids=[sid("carrier")])
    history = replay(
        submit(B, at(3), "gone", "carrier", "kept"),
        rec.LogEntry(received_at=stamp(at(10)), erase_signal=erase),
    )
    assert withdrawn(history) == [(B, sid("gone"), 1, True), (B, sid("carrier"), 1, True)]
    assert history.signals[sid("carrier")].live == []
    assert len(history.signals[sid("kept")].live) == 1


def test_commands_a_report_does_not_follow_are_skipped_and_unreadable_ones_noted() -> None:
    add = rec.AddMemberCommand(member_id=A)
    broken = rec.LogEntry(
        received_at=stamp(at(4)),
        submit=rec.SubmitCommand(envelope=common_pb2.SignedEnvelope(payload=b"\xff\xff")),
    )
    history = replay(rec.LogEntry(received_at=stamp(at(2)), add_member=add), broken)
    assert history.last_sequence == 2
    assert history.unreadable == [2]
    assert history.signals == {}


def test_the_commands_the_replay_follows() -> None:
    assert sorted(History.COMMANDS) == sorted(
        [
            "submit",
            "set_opinion",
            "retract",
            "expire_tick",
            "revoke_key",
            "remove_member",
            "erase_signal",
        ]
    )
