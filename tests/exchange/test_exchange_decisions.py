"""The withdrawal rules of exchange/ledger/decisions.py, on plain values (no hub), and the
dispatcher's table covering every command a log entry can carry."""

from __future__ import annotations

from exchange.ledger import HANDLERS
from exchange.ledger.decisions import (
    Withdraw,
    erased_signal_ids,
    offboarding_withdraws,
    withdrawals,
    withdrawn_by_compromise,
)
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, common_pb2

A, B = "a" * 32, "b" * 32


def _revoke(compromised_since_ms: int | None) -> rec.LogEntry:
    entry = rec.LogEntry()
    entry.revoke_key.member_id = "m1"
    entry.revoke_key.key_id = "k1"
    if compromised_since_ms is not None:
        entry.revoke_key.compromised_since.FromMilliseconds(compromised_since_ms)
    return entry


def test_every_command_has_a_handler() -> None:
    oneof = rec.LogEntry.DESCRIPTOR.oneofs_by_name["command"]
    assert set(HANDLERS) == {f.name for f in oneof.fields}


def test_compromise_withdraws_the_key_from_its_time_on() -> None:
    command = _revoke(1000).revoke_key
    assert withdrawn_by_compromise(command, "k1", 1000)
    assert withdrawn_by_compromise(command, "k1", 5000)
    assert not withdrawn_by_compromise(command, "k1", 999)
    assert not withdrawn_by_compromise(command, "k2", 5000)
    assert not withdrawn_by_compromise(_revoke(None).revoke_key, "k1", 5000)
    assert withdrawals(_revoke(1000)) == [Withdraw("m1", key_id="k1", since_ms=1000)]
    assert withdrawals(_revoke(None)) == []
    (w,) = withdrawals(_revoke(1000))
    assert w.takes("m1", "k1", 1000)
    assert not w.takes("m2", "k1", 1000)


def test_offboarding_withdraws_unless_kept() -> None:
    entry = rec.LogEntry()
    entry.remove_member.member_id = "m1"
    for fate, withdraws in [
        (admin_pb2.OFFBOARD_SUBMISSIONS_KEEP, False),
        (admin_pb2.OFFBOARD_SUBMISSIONS_RETRACT, True),
        (admin_pb2.OFFBOARD_SUBMISSIONS_ERASE, True),
    ]:
        entry.remove_member.submissions = fate
        assert offboarding_withdraws(entry.remove_member) is withdraws
        assert withdrawals(entry) == ([Withdraw("m1")] if withdraws else [])


def test_retraction_withdraws_the_members_named_signals_once_each() -> None:
    entry = rec.LogEntry()
    payload = common_pb2.Retraction(member_id="m1", signal_ids=[B, A, B])
    entry.retract.envelope.payload = payload.SerializeToString()
    (w,) = withdrawals(entry)
    assert w == Withdraw("m1", (B, A))
    assert w.takes("m1", "any key", 0)
    assert not w.takes("m2", "any key", 0)


def test_erasure_withdraws_everyones_submissions_of_it_and_its_carriers() -> None:
    entry = rec.LogEntry()
    entry.erase_signal.signal_id = B
    entry.erase_signal.carrier_ids.extend([B, "c" * 32, A])
    assert erased_signal_ids(entry.erase_signal) == (B, A, "c" * 32)
    (w,) = withdrawals(entry)
    assert w.member is None and w.takes("anyone", "k", 0)


def test_other_commands_withdraw_nothing() -> None:
    entry = rec.LogEntry()
    entry.expire_tick.SetInParent()
    assert withdrawals(entry) == []
    assert withdrawals(rec.LogEntry()) == []
