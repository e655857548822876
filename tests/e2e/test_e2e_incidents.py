"""Incidents against a real hub: a member's signals submitted with one case reference are
linked, a match on one shows the others — only those the caller may see, through submissions
it may see — the reference is scoped to its member and shown to nobody else, a retraction
unlinks, and bad references are refused with nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hubtools import HubProcess, run_cli, store_fingerprint

from client_sdk import Signal
from client_sdk.errors import AlreadyExists, InvalidArgument
from signalhub import domain

X, W, V = "1a" * 32, "2b" * 32, "3c" * 32
Y = "https://example.com/offender/profile"
Z = "ab" * 16


@pytest.fixture(scope="module")
def case(hub: HubProcess, keys_dir: Path) -> dict[str, Path]:
    names = ("inc-acme", "inc-beta", "inc-carol", "inc-dave")
    keys = {name: hub.add_member(name, keys_dir) for name in names}
    with hub.admin() as admin:
        admin.add_group_members("inc-g1", ["inc-acme", "inc-beta"])
    with hub.client("inc-acme", keys["inc-acme"]) as acme:
        acme.submit([Signal("pdq", X, labels=("csam",), incident="case-7"),
                     Signal("md5", Z, incident="case-7"),
                     Signal("pdq", V, incident="case-8")])  # fmt: skip
        acme.submit([Signal("url", Y, incident="case-7")], audience=["inc-g1"])
    with hub.client("inc-dave", keys["inc-dave"]) as dave:
        dave.submit([Signal("pdq", W, incident="case-7")])  # the same words, another member
    return keys


def _linked(hub: HubProcess, keys: dict[str, Path], member: str, query: tuple[str, str]) -> list:
    with hub.client(member, keys[member]) as client:
        (result,) = client.match([query], 0)
    return [sorted(s.value for s in m.linked) for m in result.matches]


def test_a_match_shows_the_linked_signals_the_caller_may_see(
    hub: HubProcess, case: dict[str, Path]
) -> None:
    assert _linked(hub, case, "inc-carol", ("pdq", X)) == [[Z]]  # Y is for inc-g1 only
    assert _linked(hub, case, "inc-beta", ("pdq", X)) == [[Z, Y]]
    assert _linked(hub, case, "inc-acme", ("md5", Z)) == [[X, Y]]
    assert _linked(hub, case, "inc-carol", ("url", Y)) == []  # invisible: no match at all
    assert _linked(hub, case, "inc-beta", ("url", Y)) == [[X, Z]]
    # Incidents are member-scoped: dave's "case-7" is another case, case-8 another again.
    assert _linked(hub, case, "inc-carol", ("pdq", W)) == [[]]
    assert _linked(hub, case, "inc-carol", ("pdq", V)) == [[]]


def test_the_reference_is_shown_to_its_submitter_only(
    hub: HubProcess, case: dict[str, Path]
) -> None:
    sid = domain.signal_id("pdq", X)
    with hub.client("inc-acme", case["inc-acme"]) as acme:
        assert [s.incident for s in acme.get_signal(sid).submissions] == ["case-7"]
    with hub.client("inc-carol", case["inc-carol"]) as carol:
        detail = carol.get_signal(sid)
        assert [s.incident for s in detail.submissions] == [""]
        assert "case-7" not in json.dumps(detail.to_json())
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "inc-carol",
           "SIGNALHUB_KEY": str(case["inc-carol"])}  # fmt: skip
    out = run_cli("match", "--pdq", X, "--json", env=env, check=True).stdout
    assert "case-7" not in out and json.loads(out)["matches"][0]["linked"][0]["value"] == Z


def test_cli_submits_incidents_and_a_retraction_unlinks(
    hub: HubProcess, case: dict[str, Path], tmp_path: Path
) -> None:
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "inc-dave",
           "SIGNALHUB_KEY": str(case["inc-dave"])}  # fmt: skip
    lines = json.dumps({"type": "pdq", "value": "4d" * 32}) + "\n"
    run_cli("submit", "-", "--format", "jsonl", "--incident", "case-7", env=env, stdin=lines,
            check=True)  # fmt: skip
    assert _linked(hub, case, "inc-carol", ("pdq", W)) == [["4d" * 32]]
    run_cli("retract", domain.signal_id("pdq", "4d" * 32), env=env, check=True)
    assert _linked(hub, case, "inc-carol", ("pdq", W)) == [[]]


def test_bad_incident_references_are_refused_with_nothing_stored(
    hub: HubProcess, case: dict[str, Path]
) -> None:
    before = store_fingerprint(hub.data_dir)
    with hub.client("inc-dave", case["inc-dave"]) as dave:
        for bad in ("x" * 129, " padded", "tab\there"):
            with pytest.raises(InvalidArgument) as e:
                dave.submit([Signal("pdq", "5e" * 32, incident=bad)])
            assert [v[0] for v in e.value.violations] == ["signals[0].incident"]
        assert store_fingerprint(hub.data_dir) == before
        dave.submit([Signal("pdq", "5e" * 32, incident="a")], batch_id="inc-batch")
        after = store_fingerprint(hub.data_dir)
        with pytest.raises(AlreadyExists):  # the reference is part of what was submitted
            dave.submit([Signal("pdq", "5e" * 32, incident="b")], batch_id="inc-batch")
        assert store_fingerprint(hub.data_dir) == after
