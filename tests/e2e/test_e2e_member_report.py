"""`signalhub report`: a member's own contribution and use, over the real hub; it counts what
other members' matches and opinions did with the member's signals without naming them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from hubtools import HubProcess, run_cli, store_fingerprint

from client_sdk import Signal
from client_sdk.errors import SignalhubError

A1, A2, A3 = "a1" * 32, "a2" * 32, "a3" * 32


@pytest.fixture(scope="module")
def keys(hub: HubProcess, keys_dir: Path) -> dict[str, Path]:
    keys = {name: hub.add_member(name, keys_dir) for name in ("rep-owner", "rep-other")}
    with hub.client("rep-owner", keys["rep-owner"]) as owner:
        owner.submit([Signal("pdq", A1, labels=("csam",)), Signal("pdq", A2, labels=("ncii",)),
                      Signal("url", "https://example.com/rep")])  # fmt: skip
    with hub.client("rep-other", keys["rep-other"]) as other:
        other.match_pdq([A1, A2, A3])  # two of the owner's signals matched, one query missed
        other.match_pdq([A1])
        other.set_opinion(other.match_pdq([A2])[0].matches[0].signal.signal_id, "false_positive")
    hub.restart()  # usage counts are written at shutdown (and every 5 s)
    return keys


def test_the_report_counts_matches_and_opinions_of_others_without_naming_them(
    hub: HubProcess, keys: dict[str, Path]
) -> None:
    today = datetime.now(UTC).date().isoformat()
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "rep-owner",
           "SIGNALHUB_KEY": str(keys["rep-owner"])}  # fmt: skip
    result = run_cli("report", "--from", today, "--to", today, "--json", env=env, check=True)
    body = json.loads(result.stdout)
    assert "rep-other" not in result.stdout
    assert body["member_id"] == "rep-owner" and body["period"]["days"] == 1
    assert body["contributions"]["signals"] == 3 and body["contributions"]["by_type"] == {
        "pdq": 2, "url": 1}  # fmt: skip
    matched = body["matches_of_your_signals_by_others"]
    assert (matched["matches"], matched["signals_matched"]) == (4, 2)  # A1 twice, A2 twice
    assert matched["by_label"]["csam"] == {"matches": 2, "signals_matched": 1}
    assert matched["by_label"]["ncii"] == {"matches": 2, "signals_matched": 1}
    opinions = body["opinions_of_your_signals_by_others"]
    assert (opinions["false_positive"], opinions["true_positive"]) == (1, 0)
    assert body["your_queries"]["queries"] == 0
    human = run_cli("report", "--from", today, "--to", today, env=env, check=True)
    assert "matched 4 times at other members" in human.stdout and "rep-other" not in human.stdout

    other_env = {**env, "SIGNALHUB_MEMBER": "rep-other", "SIGNALHUB_KEY": str(keys["rep-other"])}
    theirs = json.loads(run_cli("report", "--from", today, "--to", today, "--json",
                                env=other_env, check=True).stdout)  # fmt: skip
    assert (
        theirs["your_queries"]["queries"] == 5 and theirs["your_queries"]["queries_with_match"] == 4
    )
    assert theirs["contributions"]["signals"] == 0 and "rep-owner" not in json.dumps(theirs)


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [("2026-13-01", "2026-12-01", "first_day"), ("2026-02-01", "2026-01-01", "last_day"),
     ("2024-01-01", "2026-01-01", "last_day"), ("", "2026-01-01", "first_day")],
)  # fmt: skip
def test_a_bad_period_is_refused_naming_the_field(
    hub: HubProcess, keys: dict[str, Path], first: str, last: str, field: str
) -> None:
    before = store_fingerprint(hub.data_dir)
    with (
        hub.client("rep-owner", keys["rep-owner"]) as client,
        pytest.raises(SignalhubError) as info,
    ):
        client.member_report(first, last)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in info.value.violations] == [field]
    assert store_fingerprint(hub.data_dir) == before
