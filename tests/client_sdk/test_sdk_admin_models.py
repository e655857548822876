"""The operator's values (client_sdk.admin_models) converted from the Admin service's wire
messages without a hub: unset optional fields are None, times are UTC datetimes that keep the
Timestamp's milliseconds, and the JSON is what `signalhub admin ... --json` prints."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from client_sdk.admin_models import (
    EraseSignalResult,
    Key,
    Member,
    MemberContact,
    UsageReport,
    UtcTime,
    iso_time,
)
from signalhub.v1 import admin_pb2


def stamp(ms: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMilliseconds(ms)
    return ts


def test_a_time_keeps_its_milliseconds_and_prints_in_utc_with_a_z() -> None:
    when = UtcTime.from_wire(stamp(1_700_000_000_123))
    assert when.ToMilliseconds() == 1_700_000_000_123
    assert when == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert iso_time(when) == "2023-11-14T22:13:20.123000Z" and iso_time(None) is None


def test_a_member_without_contact_or_removal_has_none_and_lists_null() -> None:
    wire = admin_pb2.Member(member_id="acme", key_ids=["k1"], created_at=stamp(0))
    member = Member.from_wire(wire)
    assert member.contact is None and member.removed_at is None
    assert not member.HasField("contact") and not member.HasField("removed_at")
    assert member.to_json() == {
        "member_id": "acme",
        "display_name": "",
        "key_ids": ["k1"],
        "suspended": False,
        "group_ids": [],
        "created_at": "1970-01-01T00:00:00Z",
        "contact": None,
        "removed_at": None,
    }


def test_a_contact_equals_the_wire_message_of_the_same_fields() -> None:
    wire = admin_pb2.MemberContact(name="Trust team", email="tns@acme.example")
    contact = MemberContact.from_wire(wire)
    assert contact == wire and contact.to_wire() == wire and MemberContact.of(wire) == contact
    assert contact != admin_pb2.MemberContact(name="Trust team")
    member = Member.from_wire(admin_pb2.Member(member_id="acme", contact=wire))
    assert member.HasField("contact") and member.contact == wire


def test_keys_say_whether_they_are_revoked() -> None:
    valid = Key.from_wire(admin_pb2.Key(key_id="k", member_id="m", public_key=b"\x01" * 32))
    revoked = Key.from_wire(admin_pb2.Key(key_id="k", revoked_at=stamp(5)))
    assert not valid.HasField("revoked_at") and revoked.HasField("revoked_at")
    assert valid.to_json()["public_key"] == "01" * 32 and valid.to_json()["revoked_at"] is None


def test_usage_rows_carry_the_period_and_never_seen_is_null() -> None:
    wire = admin_pb2.GetMemberUsageResponse(
        first_day="2026-01-01",
        last_day="2026-01-30",
        usage=[admin_pb2.MemberUsage(member_id="idle", live_submissions=2)],
    )
    report = UsageReport.from_wire(wire)
    (idle,) = report.usage
    assert not idle.HasField("last_seen") and idle.live_submissions == 2
    assert report.rows_json() == [
        {
            "member_id": "idle",
            "first_day": "2026-01-01",
            "last_day": "2026-01-30",
            "signals_submitted": 0,
            "batches": 0,
            "queries": 0,
            "queries_with_match": 0,
            "live_submissions": 2,
            "last_seen": None,
            "queries_today": 0,
            "match_budget_per_day": 0,
            "sweeping": False,
            "misses_last_hour": 0,
        },
    ]


def test_an_erasure_lists_the_signals_erased_with_it() -> None:
    wire = admin_pb2.EraseSignalResponse(
        tombstone=admin_pb2.ErasedSignal(signal_id="a" * 32, type="pdq", reason="order"),
        log_entries_redacted=2,
        also_erased=[admin_pb2.ErasedSignal(signal_id="b" * 32, type="md5", reason="order")],
    )
    out = EraseSignalResult.from_wire(wire).to_json()
    assert out["erased_at"] == "1970-01-01T00:00:00Z" and out["log_entries_redacted"] == 2
    assert out["also_erased"] == [{"signal_id": "b" * 32, "type": "md5", "reason": "order"}]
