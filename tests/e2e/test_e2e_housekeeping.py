"""Operator housekeeping against a real hub: member contact details (given at AddMember, set
later, validated, logged and replayed by `audit verify`), the admin list commands' JSON lines,
and the per-member usage view, whose numbers equal what the test did."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from hubtools import HubProcess, run_cli, store_fingerprint

from client_sdk import Signal, SignalhubError
from exchange.server import lmdb_path
from exchange.store import Store
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2

Contact = admin_pb2.MemberContact
MEMBER_KEYS = {"member_id", "display_name", "key_ids", "suspended", "group_ids", "created_at",
               "contact", "removed_at"}  # fmt: skip


def operator_env(hub: HubProcess) -> dict[str, str]:
    return {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_OPERATOR_KEY": str(hub.operator_key)}


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def new_key(keys_dir: Path, name: str) -> Path:
    key = keys_dir / f"{name}.key"
    domain.write_key_pair(domain.new_private_key(), key)
    return key


def refused(hub: HubProcess, action: Callable[[], object], code: grpc.StatusCode) -> SignalhubError:
    """`action` fails with `code` and nothing stored changes."""
    before = store_fingerprint(hub.data_dir)
    with pytest.raises(SignalhubError) as info:
        action()
    assert info.value.code == code, info.value
    assert store_fingerprint(hub.data_dir) == before
    return info.value


@pytest.fixture(scope="module")
def contact_member(hub: HubProcess, keys_dir: Path) -> str:
    hub.add_member("hk-contact", keys_dir)
    return "hk-contact"


# --- contact details -------------------------------------------------------------------------
def test_contact_given_at_add_member_and_set_later_is_listed_and_replayed(
    hub: HubProcess, keys_dir: Path
) -> None:
    env = operator_env(hub)
    key = new_key(keys_dir, "hk-acme")
    run_cli("admin", "add-member", "hk-acme", "--public-key", f"{key}.pub", "--display-name",
            "Acme", "--contact-name", "Trust team", "--contact-email", "tns@acme.example",
            "--contact-phone", "+1 555 0100", env=env, check=True)  # fmt: skip
    listed = {m["member_id"]: m for m in json_lines(
        run_cli("admin", "list-members", "--json", env=env, check=True).stdout)}  # fmt: skip
    acme = listed["hk-acme"]
    assert set(acme) == MEMBER_KEYS
    assert acme["contact"] == {"name": "Trust team", "email": "tns@acme.example",
                               "phone": "+1 555 0100", "notes": ""}  # fmt: skip
    assert (acme["display_name"], acme["suspended"], acme["group_ids"]) == ("Acme", False, [])
    assert acme["key_ids"] == [domain.key_id(domain.read_public_key(Path(f"{key}.pub")))]

    # set-contact changes the fields given and keeps the others; "" clears one
    set_ = run_cli("admin", "set-contact", "hk-acme", "--notes", "escalate: on-call, UTC+1",
                   "--phone", "", env=env, check=True)  # fmt: skip
    assert "Trust team <tns@acme.example>" in set_.stdout
    with hub.admin() as admin:
        (stored,) = [m for m in admin.list_members() if m.member_id == "hk-acme"]
    assert stored.contact == Contact(name="Trust team", email="tns@acme.example",
                                     notes="escalate: on-call, UTC+1")  # fmt: skip
    text = run_cli("admin", "list-members", env=env, check=True).stdout
    (line,) = [x for x in text.splitlines() if x.startswith("hk-acme ")]
    assert line.endswith("Acme  contact: Trust team <tns@acme.example>")

    # removing every field removes the contact; a member without one lists null
    with hub.admin() as admin:
        cleared = admin.set_member_contact("hk-acme", Contact())
        assert not cleared.HasField("contact")
        admin.set_member_contact("hk-acme", stored.contact)
    listed = {m["member_id"]: m for m in json_lines(
        run_cli("admin", "list-members", "--json", env=env, check=True).stdout)}  # fmt: skip
    assert listed["hk-acme"]["contact"]["notes"] == "escalate: on-call, UTC+1"
    assert all(set(m) == MEMBER_KEYS for m in listed.values())

    # the contact is a logged command: replaying the log rebuilds the same members table
    verified = run_cli("audit", "verify", "--data-dir", str(hub.data_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr


BAD_CONTACTS = [
    (Contact(email="not-an-email"), "contact.email"),
    (Contact(name="Ops", email="ops@localhost"), "contact.email"),
    (Contact(email="x" * 250 + "@example.org"), "contact.email"),
    (Contact(notes="n" * 1001), "contact.notes"),
    (Contact(name="x" * 201), "contact.name"),
    (Contact(name="Bob\nSmith"), "contact.name"),
    (Contact(phone="call me maybe"), "contact.phone"),
    (Contact(phone="+1"), "contact.phone"),
]


@pytest.mark.parametrize(("contact", "field"), BAD_CONTACTS,
                         ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_CONTACTS)])  # fmt: skip
def test_a_bad_contact_is_refused_naming_the_field_and_nothing_is_stored(
    hub: HubProcess, contact_member: str, contact: Contact, field: str
) -> None:
    with hub.admin() as admin:
        error = refused(hub, lambda: admin.set_member_contact(contact_member, contact),
                        grpc.StatusCode.INVALID_ARGUMENT)  # fmt: skip
        assert [f for f, _ in error.violations] == [field] and field in str(error)
        public = domain.raw_public_key(domain.new_private_key())
        error = refused(hub, lambda: admin.add_member("hk-refused", public, "", contact),
                        grpc.StatusCode.INVALID_ARGUMENT)  # fmt: skip
        assert [f for f, _ in error.violations] == [field]
        assert "hk-refused" not in {m.member_id for m in admin.list_members()}


def test_contact_limits_are_inclusive(hub: HubProcess, contact_member: str) -> None:
    longest = Contact(name="x" * 200, notes="n" * 1000, email="a@b.io", phone="112")
    with hub.admin() as admin:
        assert admin.set_member_contact(contact_member, longest).contact == longest


def test_contact_of_an_unknown_member_and_by_a_member_is_refused(
    hub: HubProcess, keys_dir: Path, contact_member: str
) -> None:
    with hub.admin() as admin:
        refused(hub, lambda: admin.set_member_contact("hk-nobody", Contact(name="X")),
                grpc.StatusCode.NOT_FOUND)  # fmt: skip
        refused(hub, lambda: admin.member_usage("hk-nobody"), grpc.StatusCode.NOT_FOUND)
    key = hub.add_member("hk-intruder", keys_dir)
    with hub.client("hk-intruder", key) as client:
        conn = client._conn  # a member signing Admin calls with its own key
        for method, request, response in (
            ("SetMemberContact", admin_pb2.SetMemberContactRequest(
                member_id="hk-intruder", contact=Contact(name="me")),
             admin_pb2.SetMemberContactResponse),
            ("GetMemberUsage", admin_pb2.GetMemberUsageRequest(),
             admin_pb2.GetMemberUsageResponse),
        ):  # fmt: skip
            refused(hub, lambda m=method, q=request, r=response: conn.signed_unary(
                f"/signalhub.v1.Admin/{m}", q, r), grpc.StatusCode.PERMISSION_DENIED)  # fmt: skip


def test_the_cli_refuses_a_bad_contact_in_one_line(hub: HubProcess, contact_member: str) -> None:
    before = store_fingerprint(hub.data_dir)
    result = run_cli("admin", "set-contact", contact_member, "--email", "bad@",
                     env=operator_env(hub))  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("signalhub: error: ")
    assert "contact.email" in result.stderr
    nothing = run_cli("admin", "set-contact", contact_member, env=operator_env(hub))
    assert nothing.returncode == 1 and "--name" in nothing.stderr
    assert store_fingerprint(hub.data_dir) == before


# --- list commands ---------------------------------------------------------------------------
def test_list_commands_print_one_json_object_a_line(hub: HubProcess, keys_dir: Path) -> None:
    env = operator_env(hub)
    key = hub.add_member("hk-lists", keys_dir)
    second = new_key(keys_dir, "hk-lists-2")
    with hub.admin() as admin:
        new_id = admin.add_key("hk-lists", domain.read_public_key(Path(f"{second}.pub")))
        old_id = domain.key_id(domain.read_public_key(Path(f"{key}.pub")))
        admin.revoke_key("hk-lists", old_id)
        admin.add_group_members("hk-group", ["hk-lists"])
        admin.add_group_members("hk-empty", [])

    keys = json_lines(run_cli("admin", "list-keys", "hk-lists", "--json", env=env,
                              check=True).stdout)  # fmt: skip
    assert [set(k) for k in keys] == [{"key_id", "member_id", "public_key", "created_at",
                                      "revoked_at"}] * 2  # fmt: skip
    assert [(k["key_id"], k["revoked_at"] is None) for k in keys] == [(old_id, False),
                                                                     (new_id, True)]  # fmt: skip
    groups = json_lines(run_cli("admin", "list-groups", "--json", env=env, check=True).stdout)
    assert {"group_id": "hk-group", "member_ids": ["hk-lists"]} in groups
    assert {"group_id": "hk-empty", "member_ids": []} in groups
    assert all(set(g) == {"group_id", "member_ids"} for g in groups)
    members = {m["member_id"]: m for m in json_lines(
        run_cli("admin", "list-members", "--json", env=env, check=True).stdout)}  # fmt: skip
    assert members["hk-lists"]["group_ids"] == ["hk-group"]
    assert members["hk-lists"]["key_ids"] == [old_id, new_id]
    assert members["hk-lists"]["contact"] is None

    texts = [run_cli("admin", *a, env=env, check=True).stdout
             for a in (("list-keys", "hk-lists"), ("list-groups",))]  # fmt: skip
    assert "revoked" in texts[0] and "valid" in texts[0] and "hk-group" in texts[1]


# --- usage -----------------------------------------------------------------------------------
def _md5(n: int) -> Signal:
    return Signal("md5", f"{n:032x}")


@pytest.fixture(scope="module")
def scripted_usage(hub: HubProcess, keys_dir: Path) -> dict[str, object]:
    """Scripted activity of three members; returns what the test did and when."""
    keys = {m: hub.add_member(m, keys_dir) for m in ("hk-use-a", "hk-use-b", "hk-use-idle")}
    with hub.client("hk-use-a", keys["hk-use-a"]) as a:
        a.submit([_md5(1), _md5(2), _md5(3)])
        a.submit([_md5(4), _md5(4), _md5(5)])  # a repeated value is stored once: 2 signals
        replayed = a.submit([_md5(6)], batch_id="hk-once")
        a.submit([_md5(6)], batch_id="hk-once")  # a replay: its first answer, counted once
        a.submit([_md5(7)], validate_only=True)  # a dry run stores nothing
        with pytest.raises(SignalhubError):
            a.submit([Signal("md5", "not-hex")])  # refused
        a.match([("md5", _md5(1).value), ("md5", _md5(2).value), ("md5", "f" * 32)])
        a.match([("md5", _md5(3).value)])
        a.retract([replayed.items[0].signal_id])
        a_seen = time.time()
    with hub.client("hk-use-b", keys["hk-use-b"]) as b:
        b.submit([_md5(1)])  # corroborates: a submission of b's own
        b.match([("md5", "e" * 32), ("md5", "d" * 32)])
        before = time.time()
        b.match([("md5", _md5(5).value)])
        after = time.time()
    hub.restart()  # usage counts are written at shutdown (and every 5 s)
    return {"a_seen": a_seen, "b_window": (before, after)}


def test_usage_equals_the_scripted_activity(
    hub: HubProcess, scripted_usage: dict[str, object]
) -> None:
    today = datetime.now(UTC).date()
    with hub.admin() as admin:
        response = admin.member_usage()
    assert (response.first_day, response.last_day) == (
        (today - timedelta(days=29)).isoformat(), today.isoformat())  # fmt: skip
    rows = {u.member_id: u for u in response.usage}
    assert [u.member_id for u in response.usage] == sorted(rows)
    a, b, idle = rows["hk-use-a"], rows["hk-use-b"], rows["hk-use-idle"]
    assert (a.signals_submitted, a.batches, a.queries, a.queries_with_match,
            a.live_submissions) == (6, 3, 4, 3, 5)  # fmt: skip
    assert (b.signals_submitted, b.batches, b.queries, b.queries_with_match,
            b.live_submissions) == (1, 1, 3, 1, 1)  # fmt: skip
    assert (idle.signals_submitted, idle.queries, idle.live_submissions) == (0, 0, 0)
    assert not idle.HasField("last_seen")
    start, end = scripted_usage["b_window"]  # type: ignore[misc]
    assert int(start * 1000) <= b.last_seen.ToMilliseconds() <= int(end * 1000) + 1
    assert a.last_seen.ToMilliseconds() <= int(scripted_usage["a_seen"] * 1000) + 1  # type: ignore[operator]
    assert a.last_seen.ToMilliseconds() < b.last_seen.ToMilliseconds()

    # the counters of submissions in force equal a scan of the stored submissions
    store = Store(lmdb_path(hub.data_dir), readonly=True)
    try:
        with store.read() as view:
            scanned = Counter(rec.SubmissionRecord.FromString(v).member_id
                              for _, v in view.items("submissions"))  # fmt: skip
    finally:
        store.close()
    assert {u.member_id: u.live_submissions for u in response.usage} == {
        m: scanned.get(m, 0) for m in rows}  # fmt: skip


def test_usage_counts_only_the_period_asked_for(
    hub: HubProcess, scripted_usage: dict[str, object]
) -> None:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    with hub.admin() as admin:
        response = admin.member_usage("hk-use-a", yesterday, yesterday)
        now = admin.member_usage("hk-use-a")
    (row,) = response.usage
    assert (row.signals_submitted, row.batches, row.queries) == (0, 0, 0)
    # what is not counted per day is the same whatever the period
    assert (row.live_submissions, row.last_seen) == (now.usage[0].live_submissions,
                                                     now.usage[0].last_seen)  # fmt: skip


def test_the_cli_prints_usage_as_a_table_or_json_lines(
    hub: HubProcess, scripted_usage: dict[str, object]
) -> None:
    env = operator_env(hub)
    today = datetime.now(UTC).date().isoformat()
    (line,) = json_lines(run_cli("admin", "usage", "--member", "hk-use-b", "--from", today,
                                 "--to", today, "--json", env=env, check=True).stdout)  # fmt: skip
    seen = line.pop("last_seen")
    assert line == {"member_id": "hk-use-b", "first_day": today, "last_day": today,
                    "signals_submitted": 1, "batches": 1, "queries": 3, "queries_with_match": 1,
                    "live_submissions": 1, "queries_today": 3, "match_budget_per_day": 1_000_000,
                    "sweeping": False, "misses_last_hour": 0}  # fmt: skip
    assert isinstance(seen, str) and seen.startswith(today) and seen.endswith("Z")
    every = json_lines(run_cli("admin", "usage", "--json", env=env, check=True).stdout)
    assert {"hk-use-a", "hk-use-b", "hk-use-idle"} <= {r["member_id"] for r in every}
    text = run_cli("admin", "usage", env=env, check=True).stdout.splitlines()
    assert text[1].split() == ["member", "signals", "batches", "queries", "matched", "live",
                               "today", "last", "seen"]  # fmt: skip
    (idle,) = [x for x in text if x.startswith("hk-use-idle ")]
    assert idle.split() == ["hk-use-idle", "0", "0", "0", "0", "0", "0", "never"]


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [("2026-13-01", "", "first_day"), ("2026-02-01", "2026-01-01", "last_day"),
     ("2024-01-01", "2026-01-01", "last_day"), ("", "yesterday", "last_day")],
)  # fmt: skip
def test_a_bad_usage_period_is_refused_naming_the_field(
    hub: HubProcess, first: str, last: str, field: str
) -> None:
    with hub.admin() as admin:
        error = refused(hub, lambda: admin.member_usage("", first, last),
                        grpc.StatusCode.INVALID_ARGUMENT)  # fmt: skip
    assert [f for f, _ in error.violations] == [field]


def test_the_cli_refuses_a_bad_usage_date_before_calling(hub: HubProcess) -> None:
    before = store_fingerprint(hub.data_dir)
    result = run_cli("admin", "usage", "--from", "01/01/2026", env=operator_env(hub))
    assert result.returncode == 1 and "--from" in result.stderr
    assert store_fingerprint(hub.data_dir) == before
