"""Flood quarantine against a real hub (issue 21.2): the hub logs members' match counts every
0.2 s here; a signal whose matches at members other than its submitters jump above its
baseline is quarantined (decided in apply, replayed by `audit verify`); its matches come back
flagged `quarantined` and are left out where the caller asks (the SDK's default); followers get
`signal_quarantined`; the operator lists, releases (the same rate then does not trip it again)
or retracts it (members that matched it are asked to review); bad decisions are refused with
nothing stored."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hubtools import HubProcess, new_hub, run_cli, store_fingerprint

from client_sdk import Signal
from client_sdk.errors import InvalidArgument, NotFound, PermissionDenied
from client_sdk.local import LocalReplica
from signalhub.v1 import admin_pb2, exchange_pb2

FLOOD = "3c" * 32
CALM = "c3" * 32
DOOMED = "a5" * 32
SETTINGS = ("--match-count-interval", "0.2", "--quarantine-min-matches-per-hour", "5")
# 6 matches at other members in an hour, against a baseline of 0, trip it (> 5, > 20 x 0).


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = new_hub(tmp_path_factory.mktemp("quarantine"), metrics=True, extra=SETTINGS)
    yield process
    if process.proc is not None:
        process.stop()


@pytest.fixture(scope="module")
def members(hub: HubProcess, keys_dir: Path) -> dict[str, Path]:
    keys = {name: hub.add_member(name, keys_dir) for name in ("q-sub", "q-a", "q-b")}
    with hub.client("q-sub", keys["q-sub"]) as sub:
        sub.submit([Signal("pdq", v, labels=("csam",)) for v in (FLOOD, CALM, DOOMED)])
    return keys


def _match(hub: HubProcess, keys: dict[str, Path], member: str, value: str, times: int) -> None:
    with hub.client(member, keys[member]) as client:
        for _ in range(times):
            client.match([("pdq", value)], 0, exclude_quarantined=False)


def _quarantined(hub: HubProcess) -> set[str]:
    with hub.admin() as admin:
        return {q.signal_id for q in admin.quarantined()}


def _until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("not within the time allowed")


def _settled(hub: HubProcess) -> None:
    """Waits until the counts of the matches made so far are logged (two flushes)."""
    time.sleep(0.6)


def _signal_id(hub: HubProcess, keys: dict[str, Path], value: str) -> str:
    with hub.client("q-a", keys["q-a"]) as client:
        (result,) = client.match([("pdq", value)], 0, exclude_quarantined=False)
    return result.matches[0].signal.signal_id


def test_a_submitters_own_matches_never_trip_it(hub: HubProcess, members: dict[str, Path]) -> None:
    _match(hub, members, "q-sub", FLOOD, 12)
    _settled(hub)
    assert _quarantined(hub) == set()


def test_a_surge_at_other_members_quarantines_the_signal_and_flags_its_matches(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    _match(hub, members, "q-a", FLOOD, 2)  # one more than this, with _signal_id's, below
    _match(hub, members, "q-b", FLOOD, 3)
    _match(hub, members, "q-a", CALM, 2)
    flood = _signal_id(hub, members, FLOOD)
    _until(lambda: _quarantined(hub) == {flood})
    with hub.client("q-b", members["q-b"]) as b:
        (dropped,) = b.match([("pdq", FLOOD)], 0)  # the SDK's default leaves it out
        assert (dropped.matches, dropped.excluded_quarantined) == ((), 1)
        (flagged,) = b.match([("pdq", FLOOD)], 0, exclude_quarantined=False)
        assert flagged.matches[0].quarantined and flagged.matches[0].signal.quarantined
        (calm,) = b.match([("pdq", CALM)], 0)
        assert len(calm.matches) == 1 and not calm.matches[0].quarantined
        events = [e for e in b.fetch() if e.event == "signal_quarantined"]
        assert [e.signal.signal_id for e in events] == [flood]
        assert events[0].signal.quarantined and events[0].signal.value == FLOOD
    with hub.admin() as admin:
        (held,) = admin.quarantined()
    assert held.matches_per_hour == 6 and held.baseline_per_hour == 0.0
    assert hub.metric("signalhub_signals_quarantined") == 1


def test_a_local_replica_flags_it_alike(
    hub: HubProcess, members: dict[str, Path], tmp_path: Path
) -> None:
    with hub.client("q-a", members["q-a"]) as client, LocalReplica(tmp_path / "r") as local:
        local.sync(client)
        (dropped,) = local.match([("pdq", FLOOD)], 0)
        (flagged,) = local.match([("pdq", FLOOD)], 0, exclude_quarantined=False)
    assert (dropped.matches, dropped.excluded_quarantined) == ((), 1)
    assert flagged.matches[0].quarantined


def test_bad_decisions_are_refused_with_nothing_stored(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    calm = _signal_id(hub, members, CALM)
    _settled(hub)  # the lookup's own match, logged before the fingerprint
    before = store_fingerprint(hub.data_dir)
    with hub.admin() as admin:
        with pytest.raises(NotFound):  # not in quarantine
            admin.resolve_quarantine(calm, "release")
        with pytest.raises(NotFound):
            admin.resolve_quarantine("0" * 32, "retract")
        for request, field in (
            (admin_pb2.ResolveQuarantineRequest(signal_id=calm), "action"),
            (admin_pb2.ResolveQuarantineRequest(signal_id="xyz", action=1), "signal_id"),
            (admin_pb2.ResolveQuarantineRequest(signal_id=calm, action=1, note="n" * 1001), "note"),
        ):
            with pytest.raises(InvalidArgument) as refused:
                admin._call("ResolveQuarantine", request, admin_pb2.ResolveQuarantineResponse)
            assert field in str(refused.value)
    with hub.client("q-a", members["q-a"]) as a, pytest.raises(PermissionDenied):
        a._conn.signed_unary(
            "/signalhub.v1.Admin/ResolveQuarantine",
            admin_pb2.ResolveQuarantineRequest(signal_id=calm, action=1),
            admin_pb2.ResolveQuarantineResponse,
        )
    assert store_fingerprint(hub.data_dir) == before


def test_a_released_signal_is_not_tripped_again_by_the_same_rate(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    flood = _signal_id(hub, members, FLOOD)
    released = run_cli(
        "admin", "quarantine", "release", flood, "--note", "a popular meme, not a flood",
        "--endpoint", hub.endpoint, "--operator-key", str(hub.operator_key),
    )  # fmt: skip
    assert released.returncode == 0, released.stderr
    assert f"released {flood}" in released.stdout
    assert _quarantined(hub) == set()
    with hub.client("q-b", members["q-b"]) as b:
        (result,) = b.match([("pdq", FLOOD)], 0)
        assert len(result.matches) == 1 and not result.matches[0].quarantined
        assert "signal_released" in [e.event for e in b.fetch()]
    _match(hub, members, "q-a", FLOOD, 6)  # the same rate again: under 20 x its floor
    _settled(hub)
    assert _quarantined(hub) == set()


def test_retracting_it_removes_the_signal_and_asks_those_who_matched_to_review(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    _match(hub, members, "q-b", DOOMED, 6)
    _match(hub, members, "q-sub", DOOMED, 2)
    doomed = _signal_id(hub, members, DOOMED)  # q-a's one match
    _until(lambda: doomed in _quarantined(hub))
    _settled(hub)  # q-a's match logged too
    listed = run_cli(
        "admin", "quarantine", "list", "--json",
        "--endpoint", hub.endpoint, "--operator-key", str(hub.operator_key),
    )  # fmt: skip
    assert [json.loads(line)["signal_id"] for line in listed.stdout.splitlines()] == [doomed]
    with hub.admin() as admin:
        done = admin.resolve_quarantine(doomed, "retract", "poisoned hash")
    assert (done.retracted_submissions, done.removed) == (1, True)
    assert _quarantined(hub) == set()
    counts = {}
    for member in ("q-a", "q-b", "q-sub"):
        with hub.client(member, members[member]) as client:
            reviews = client._conn.signed_unary(
                "/signalhub.v1.Exchange/ListReviews",
                exchange_pb2.ListReviewsRequest(),
                exchange_pb2.ListReviewsResponse,
            ).reviews
            counts[member] = [(r.signal_id, r.matches) for r in reviews]
            (gone,) = client.match([("pdq", DOOMED)], 0, exclude_quarantined=False)
            assert gone.matches == ()
    # The operator retracted it: every member that matched it is asked, with its own count.
    assert counts == {"q-a": [(doomed, 1)], "q-b": [(doomed, 6)], "q-sub": [(doomed, 2)]}


def test_replaying_the_log_decides_the_same_quarantines(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    verified = run_cli("audit", "verify", "--data-dir", str(hub.data_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    checked = run_cli("admin", "check", "--data-dir", str(hub.data_dir), "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tables = json.loads(checked.stdout.splitlines()[-1])["records"]
    assert tables["match_days"] >= 4 and tables["reviews"] == 3
