"""Match-only sharing and extraction limits (issue 21.4, docs/match-only.md), against real hubs:
a member may match against another member's match-only signals, and gets their ids, labels,
distances and source records, but never their values, from any read (match, get, the feed, a
snapshot, a local replica, an export, the CLI); a member over its match budget, or sweeping
with the throttle on, is refused RESOURCE_EXHAUSTED and nothing changes."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from hubtools import HubProcess, new_hub, run_cli, store_fingerprint

from client_sdk import Client, Signal
from client_sdk.errors import InvalidArgument, ResourceExhausted
from client_sdk.local import LocalReplica
from signalhub import domain
from signalhub.v1 import common_pb2, exchange_pb2

rng = random.Random(214)
PDQ = rng.randbytes(32).hex()
PDQ_NEAR = f"{int(PDQ, 16) ^ 0b10110:064x}"  # 3 bits away
MD5 = rng.randbytes(16).hex()
REVEALED = rng.randbytes(16).hex()
"""Shared match-only by the owner, then in full by another member to a group with the viewer."""
SECRETS = (PDQ, MD5)


def forms(value: str) -> tuple[bytes, ...]:
    """Every form that carries a hex value: its text either case, and its raw bytes."""
    return value.encode(), value.upper().encode(), bytes.fromhex(value)


def assert_carries_none(data: bytes, values: tuple[str, ...] = SECRETS) -> None:
    for value in values:
        for form in forms(value):
            assert form not in data, f"{form!r} of {value} leaked"


def member(hub: HubProcess, keys: Path, name: str) -> dict[str, str]:
    """A member added through the CLI; its environment for CLI calls."""
    key = keys / f"{name}.key"
    run_cli("keygen", "--out", str(key), check=True)
    operator = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_OPERATOR_KEY": str(hub.operator_key)}
    run_cli("admin", "add-member", name, "--public-key", f"{key}.pub", env=operator, check=True)
    return {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": name, "SIGNALHUB_KEY": str(key)}


def client(hub: HubProcess, env: dict[str, str]) -> Client:
    return hub.client(env["SIGNALHUB_MEMBER"], Path(env["SIGNALHUB_KEY"]))


@pytest.fixture(scope="module")
def shared(hub: HubProcess, keys_dir: Path) -> dict[str, dict[str, str]]:
    """`mo-owner` shares PDQ and MD5 match-only with everyone (CLI, with a source record), and
    REVEALED match-only too; `mo-full` then shares REVEALED in full with a group `mo-viewer`
    is in."""
    envs = {name: member(hub, keys_dir, name) for name in ("mo-owner", "mo-viewer", "mo-full")}
    records = [
        {"type": "pdq", "value": PDQ, "labels": ["csam"], "source_ref": "case-1"},
        {"type": "md5", "value": MD5, "labels": ["ncii"], "confidence": 90},
        {"type": "md5", "value": REVEALED},
    ]
    lines = "".join(json.dumps(r) + "\n" for r in records)
    run_cli("submit", "-", "--format", "jsonl", "--sharing", "match-only", env=envs["mo-owner"],
            stdin=lines, check=True)  # fmt: skip
    with hub.admin() as admin:
        admin.add_group_members("mo-group", ["mo-full", "mo-viewer"])
    with client(hub, envs["mo-full"]) as full:
        full.submit([Signal("md5", REVEALED)], audience=["mo-group"])
    return envs


def test_a_member_matches_match_only_signals_without_their_values(
    hub: HubProcess, shared: dict[str, dict[str, str]]
) -> None:
    with client(hub, shared["mo-viewer"]) as viewer:
        exact, near, md5 = viewer.match([("pdq", PDQ), ("pdq", PDQ_NEAR), ("md5", MD5)])
    (m,) = near.matches
    assert (m.signal.signal_id, m.distance, m.signal.labels) == (
        domain.signal_id("pdq", PDQ), 3, ("csam",))  # fmt: skip
    assert m.signal.value == "" and m.signal.value_withheld
    assert [(s.member_id, s.source_ref) for s in m.signal.sources] == [("mo-owner", "case-1")]
    assert exact.matches[0].distance == 0 and md5.matches[0].signal.labels == ("ncii",)
    # (a MatchResult repeats its own query: only the matches are the hub's)
    assert_carries_none(repr([r.matches for r in (exact, near, md5)]).encode())
    # the CLI's JSON lines and text, byte for byte
    out = run_cli("match", "--pdq", PDQ_NEAR, "--json", env=shared["mo-viewer"], check=True)
    (line,) = [json.loads(x) for x in out.stdout.splitlines()]
    assert line["matches"][0]["value_withheld"] is True and line["matches"][0]["value"] == ""
    assert_carries_none(out.stdout.encode())
    text = run_cli("match", "--pdq", PDQ_NEAR, env=shared["mo-viewer"], check=True).stdout
    assert "value=(withheld)" in text
    assert_carries_none(text.encode())


def test_get_the_feed_and_a_snapshot_never_carry_a_match_only_value(
    hub: HubProcess, shared: dict[str, dict[str, str]]
) -> None:
    with client(hub, shared["mo-viewer"]) as viewer:
        detail = viewer.get_signal(domain.signal_id("md5", MD5))
        events = list(viewer.fetch_wire())
        snapshot = viewer.snapshot()
    assert detail.signal.value_withheld and detail.signal.value == ""
    (sub,) = detail.submissions
    assert sub.sharing == "match-only" and sub.envelope_withheld
    assert not sub.envelope.payload  # the signed payload carries every value of its batch
    assert_carries_none(repr(detail).encode() + json.dumps(detail.to_json()).encode())
    assert {e.signal.signal_id for e in events} >= {domain.signal_id("pdq", PDQ)}
    assert_carries_none(b"".join(e.SerializeToString() for e in events))
    assert domain.signal_id("md5", MD5) in {s.signal_id for s in snapshot.signals}
    assert_carries_none(repr(snapshot.signals).encode())
    got = run_cli("get", domain.signal_id("pdq", PDQ), env=shared["mo-viewer"], check=True)
    assert "value: (withheld)" in got.stdout and "envelope=(withheld)" in got.stdout
    raw = run_cli("get", domain.signal_id("pdq", PDQ), "--json", env=shared["mo-viewer"])
    assert_carries_none(raw.stdout.encode())


def test_a_local_replica_and_exports_hold_no_match_only_value(
    hub: HubProcess, shared: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    replica_dir = tmp_path / "replica"
    with client(hub, shared["mo-viewer"]) as viewer:
        viewer.sync(replica_dir)
    with LocalReplica(replica_dir) as replica:
        held = replica.get(domain.signal_id("pdq", PDQ))
        assert held is not None and held.value_withheld
        # not matchable here: only the hub may say a match-only signal matched
        assert [r.matches for r in replica.match([("pdq", PDQ), ("md5", MD5)])] == [(), ()]
    assert_carries_none(b"".join(f.read_bytes() for f in replica_dir.rglob("*") if f.is_file()))
    for fmt in ("jsonl", "csv", "pytx"):
        done = run_cli("export", "--format", fmt, env=shared["mo-viewer"], check=True)
        assert_carries_none(done.stdout.encode())
        assert "shared with you match-only" in done.stderr


def test_the_submitter_sees_its_own_values_and_a_full_submission_reveals_one(
    hub: HubProcess, shared: dict[str, dict[str, str]]
) -> None:
    with client(hub, shared["mo-owner"]) as owner:
        (mine,) = owner.match([("pdq", PDQ_NEAR)])
        detail = owner.get_signal(domain.signal_id("md5", MD5))
    assert mine.matches[0].signal.value == PDQ and not mine.matches[0].signal.value_withheld
    assert detail.signal.value == MD5 and detail.submissions[0].envelope.payload
    with client(hub, shared["mo-viewer"]) as viewer:
        revealed = viewer.get_signal(domain.signal_id("md5", REVEALED))
    # mo-full's submission to a group the viewer is in shares the value, as full sharing does
    assert revealed.signal.value == REVEALED and not revealed.signal.value_withheld
    by_member = {s.member_id: s for s in revealed.submissions}
    assert by_member["mo-owner"].envelope_withheld and not by_member["mo-full"].envelope_withheld


def test_a_bad_sharing_level_is_refused_and_stores_nothing(
    hub: HubProcess, shared: dict[str, dict[str, str]]
) -> None:
    before = store_fingerprint(hub.data_dir)
    line = json.dumps({"type": "md5", "value": "0f" * 16}) + "\n"
    bad = run_cli("submit", "-", "--format", "jsonl", "--sharing", "secret",
                  env=shared["mo-owner"], stdin=line)  # fmt: skip
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == [
        "signalhub: error: --sharing: unknown sharing level 'secret': full or match-only"
    ]
    # a level the wire does not know
    with client(hub, shared["mo-owner"]) as owner, pytest.raises(InvalidArgument) as refused:
        owner._conn.signed_command(
            "/signalhub.v1.Exchange/SubmitSignals",
            domain.SUBMISSION_SIGNING_PREFIX,
            common_pb2.SubmissionBatch(
                batch_id="bad-sharing",
                signals=[common_pb2.SignalSubmission(type="md5", value="0f" * 16)],
                sharing=7,  # type: ignore[arg-type]
            ),
            exchange_pb2.SubmitSignalsRequest,
            exchange_pb2.SubmitSignalsResponse,
        )
    assert [field for field, _ in refused.value.violations] == ["sharing"]
    assert store_fingerprint(hub.data_dir) == before


def test_the_audit_replay_of_match_only_submissions_matches_the_store(
    hub: HubProcess, shared: dict[str, dict[str, str]]
) -> None:
    hub.stop()
    try:
        verified = run_cli("audit", "verify", "--data-dir", str(hub.data_dir))
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        hub.start()


# --- extraction limits --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A hub with a budget of 30 queries a day, and a sweep detector that trips at 20 misses
    (95 % of the queries) and throttles."""
    process = new_hub(
        tmp_path_factory.mktemp("limited"),
        metrics=True,
        extra=(
            "--match-budget-per-day",
            "30",
            "--sweep-misses-per-hour",
            "20",
            "--sweep-min-miss-fraction",
            "0.95",
            "--sweep-throttle",
            "on",
        ),
    )
    yield process
    process.stop()


def test_a_member_over_its_budget_is_refused_and_nothing_changes(
    limited: HubProcess, tmp_path: Path
) -> None:
    key = limited.add_member("budgeted", tmp_path)
    with limited.client("budgeted", key) as budgeted:
        budgeted.submit([Signal("md5", "1a" * 16)])
        stored = [("md5", "1a" * 16)] * 10
        budgeted.match(stored)  # 10 queries, all matching: no sweep
        budgeted.match(stored[:5])
        budgeted.get_signal(domain.signal_id("md5", "1a" * 16))  # a lookup is a query: 16
        budgeted.match(stored * 1 + stored[:4])  # 30
        before = store_fingerprint(limited.data_dir)
        with pytest.raises(ResourceExhausted) as refused:
            budgeted.match(stored[:1])
    assert "match budget: 30 queries a UTC day per member; 0 left" in refused.value.message
    assert refused.value.retry_after_seconds and refused.value.retry_after_seconds > 0
    assert store_fingerprint(limited.data_dir) == before
    assert limited.metric('signalhub_match_refusals_total{reason="budget"}') == 1
    with limited.admin() as admin:
        (usage,) = admin.member_usage("budgeted").usage
    assert (usage.queries_today, usage.match_budget_per_day, usage.sweeping) == (30, 30, False)


def test_a_sweeping_member_trips_the_metric_and_is_throttled(
    limited: HubProcess, tmp_path: Path
) -> None:
    key = limited.add_member("sweeper", tmp_path)
    guesses = [("md5", rng.randbytes(16).hex()) for _ in range(20)]
    with limited.client("sweeper", key) as sweeper:
        results = sweeper.match(guesses)  # answered: the 20 misses make it sweeping
        assert not any(r.matches for r in results)
        assert limited.metric("signalhub_match_sweeps_detected_total") == 1
        assert limited.metric("signalhub_match_members_sweeping") == 1
        refusals: list[str] = []
        for query in (guesses[0], ("md5", "1a" * 16)):  # a miss, and a stored value
            with pytest.raises(ResourceExhausted) as refused:
                sweeper.match([query])
            assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            refusals.append(refused.value.message)
    # the refusal says nothing about what is stored: the same answer whatever was asked
    assert refusals[0].split("retry")[0] == refusals[1].split("retry")[0]
    assert "sweep detector" in refusals[0]
    assert limited.metric('signalhub_match_refusals_total{reason="sweep"}') == 2
    with limited.admin() as admin:
        (usage,) = admin.member_usage("sweeper").usage
    assert usage.sweeping and usage.misses_last_hour == 20
    text = run_cli("admin", "usage", "--member", "sweeper", check=True,
                   env={"SIGNALHUB_ENDPOINT": limited.endpoint,
                        "SIGNALHUB_OPERATOR_KEY": str(limited.operator_key)}).stdout  # fmt: skip
    assert "SWEEPING" in text
