"""`signalhub stats --mine` over a real hub: a member sees how often its own signals matched at
other members (by label and by week) and which of them others disputed, exactly as scripted,
and nothing in its output names another member."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hubtools import HubProcess, run_cli, store_fingerprint

from client_sdk import Signal

OWNER = "alpha-platform"
OTHERS = ("beta-platform", "gamma-platform", "delta-platform")
B, C, D = OTHERS
S1 = Signal("pdq", "c1" * 32, labels=("csam",))
S2 = Signal("md5", "5e" * 16, labels=("ncii", "sextortion"))
S3 = Signal("url", "https://example.net/impact", labels=("grooming",))
S4 = Signal("pdq", "c4" * 32)  # no label: counted under "(none)"
NOT_MINE = Signal("md5", "0f" * 16, labels=("csam",))


def query(s: Signal) -> tuple[str, str]:
    return (s.type, s.value)


@pytest.fixture(scope="module")
def scripted(hub: HubProcess, keys_dir: Path) -> dict[str, Any]:
    """The script: who matched and judged which of the owner's signals. Returns the ids and
    the environments to run the CLI as each member."""
    keys = {m: hub.add_member(m, keys_dir) for m in (OWNER, *OTHERS)}
    clients = {m: hub.client(m, keys[m]) for m in keys}
    try:
        owner, b, c, d = (clients[m] for m in (OWNER, B, C, D))
        result = owner.submit([S1, S2, S3, S4])
        sid = dict(zip(("S1", "S2", "S3", "S4"), (i.signal_id for i in result.items), strict=True))
        b.submit([NOT_MINE])  # matched by others too, but not the owner's
        # matches: B 3x S1 and 1x S2; C 2x S1, 4x S2, 1x S3; D 1x S4 and 2x B's signal
        b.match([query(S1)] * 3 + [query(S2)])
        c.match([query(S1), query(S1)])
        c.match([query(S2)] * 4 + [query(S3)])
        d.match([query(S4), query(NOT_MINE), query(NOT_MINE)])
        owner.match([query(S1), query(S2)])  # its own queries: not matches "by others"
        # opinions: the latest of each member counts
        b.set_opinion(sid["S1"], "false_positive")
        c.set_opinion(sid["S1"], "disputed")
        d.set_opinion(sid["S1"], "true_positive")
        c.set_opinion(sid["S2"], "true_positive")
        d.set_opinion(sid["S3"], "false_positive")
        d.set_opinion(sid["S3"], "true_positive")  # changed its mind
        b.set_opinion(sid["S4"], "disputed")
        c.set_opinion(sid["S4"], "false_positive")
        c.set_opinion(sid["S4"], "none")  # cleared: counts nothing
        owner.set_opinion(sid["S2"], "false_positive")  # its own: not counted
    finally:
        for client in clients.values():
            client.close()
    hub.restart()  # usage counts are written at shutdown (and every 5 s)
    env = {
        m: {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": m, "SIGNALHUB_KEY": str(k)}
        for m, k in keys.items()
    }
    return {"sid": sid, "env": env, "keys": keys}


def expected(sid: dict[str, str], weeks: int) -> dict[str, Any]:
    """What the script did, as `stats --mine --json` must say it."""
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday())
    first = monday - timedelta(weeks=weeks - 1)
    by_label = {"(none)": 1, "csam": 5, "grooming": 1, "ncii": 5, "sextortion": 5}
    empty_week: dict[str, Any] = {"matches": 0, "signals_matched": 0, "matches_by_label": {}}
    by_week = [{"week_start": (first + timedelta(weeks=n)).isoformat(), **empty_week}
               for n in range(weeks - 1)]  # fmt: skip
    by_week.append({"week_start": monday.isoformat(), "matches": 12, "signals_matched": 4,
                    "matches_by_label": by_label})  # fmt: skip
    disputed = [
        {"signal_id": sid["S1"], "type": "pdq", "value": S1.value, "labels": ["csam"],
         "true_positive": 1, "false_positive": 1, "disputed": 1},
        {"signal_id": sid["S4"], "type": "pdq", "value": S4.value, "labels": [],
         "true_positive": 0, "false_positive": 0, "disputed": 1},
    ]  # fmt: skip
    return {
        "member_id": OWNER,
        "period": {"from": first.isoformat(), "to": today.isoformat(), "weeks": weeks},
        "matches_by_others": {
            "matches": 12,
            "signals_matched": 4,
            "by_label": {k: {"matches": n, "signals_matched": 1} for k, n in by_label.items()},
            "by_week": by_week,
        },
        "opinions_by_others": {"true_positive": 3, "false_positive": 1, "disputed": 2},
        "disputed_signals": disputed,
    }


def assert_names_nobody(text: str, *others: str) -> None:
    for member in others:
        assert member not in text


def test_stats_mine_equals_the_script_and_names_nobody(
    hub: HubProcess, scripted: dict[str, Any]
) -> None:
    env = scripted["env"][OWNER]
    result = run_cli("stats", "--mine", "--json", env=env, check=True)
    assert json.loads(result.stdout) == expected(scripted["sid"], 12)
    assert_names_nobody(result.stdout + result.stderr, *OTHERS)

    text = run_cli("stats", "--mine", "--weeks", "2", env=env, check=True)
    assert_names_nobody(text.stdout + text.stderr, *OTHERS)
    lines = text.stdout.splitlines()
    assert "your signals matched 12 times at other members (4 distinct signals)" in lines
    assert any(x.split()[:3] == ["csam", "5", "matches"] for x in (y.strip() for y in lines))
    assert "opinions of your signals by others: 3 true positive, 1 false positive, 2 disputed" in (
        lines
    )
    assert "disputed signals: 2" in lines
    (s1,) = [x for x in lines if scripted["sid"]["S1"] in x]
    assert "false_positive=1 disputed=1 true_positive=1" in s1 and "labels=csam" in s1


def test_the_sdk_gives_the_same_view_for_any_number_of_weeks(
    hub: HubProcess, scripted: dict[str, Any]
) -> None:
    with hub.client(OWNER, scripted["keys"][OWNER]) as owner:
        for weeks in (1, 3, 52):
            assert owner.impact(weeks) == expected(scripted["sid"], weeks)


def test_a_member_whose_signals_nobody_matched_sees_zeros_and_not_the_others(
    hub: HubProcess, scripted: dict[str, Any]
) -> None:
    result = run_cli("stats", "--mine", "--weeks", "1", "--json", env=scripted["env"][D],
                     check=True)  # fmt: skip
    view = json.loads(result.stdout)
    assert view["matches_by_others"]["matches"] == 0 and view["disputed_signals"] == []
    assert_names_nobody(result.stdout, OWNER, B, C)
    # B's own signal was matched twice by D: B sees the count, not who
    theirs = run_cli("stats", "--mine", "--weeks", "1", "--json", env=scripted["env"][B],
                     check=True)  # fmt: skip
    view = json.loads(theirs.stdout)
    assert view["matches_by_others"]["matches"] == 2
    assert view["matches_by_others"]["by_label"] == {"csam": {"matches": 2, "signals_matched": 1}}
    assert_names_nobody(theirs.stdout, OWNER, C, D)


@pytest.mark.parametrize("weeks", ["0", "53", "-1"])
def test_a_bad_number_of_weeks_is_refused_and_nothing_is_stored(
    hub: HubProcess, scripted: dict[str, Any], weeks: str
) -> None:
    before = store_fingerprint(hub.data_dir)
    result = run_cli("stats", "--mine", "--weeks", weeks, env=scripted["env"][OWNER])
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("signalhub: error: --weeks is 1 to 52")
    assert store_fingerprint(hub.data_dir) == before


def test_stats_needs_mine(hub: HubProcess, scripted: dict[str, Any]) -> None:
    result = run_cli("stats", env=scripted["env"][OWNER])
    assert result.returncode == 2 and "--mine" in result.stderr and result.stdout == ""
