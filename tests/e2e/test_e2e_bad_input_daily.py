"""Bad input to what issues 13 and 14 added, against a real hub: each is refused with the
canonical code (or the CLI's one-line usage error) naming what is wrong, and the store is
unchanged afterwards."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hubtools import HubProcess, run_cli, store_fingerprint

from client_sdk.errors import InvalidArgument
from signalhub import domain

PDQ = "9a" * 32


@pytest.fixture(scope="module")
def member(hub: HubProcess, keys_dir: Path) -> dict[str, str]:
    key = hub.add_member("daily-bad", keys_dir)
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "daily-bad",
           "SIGNALHUB_KEY": str(key)}  # fmt: skip
    lines = json.dumps({"type": "pdq", "value": PDQ}) + "\n"
    run_cli("submit", "-", "--format", "jsonl", env=env, stdin=lines, check=True)
    return env


def test_a_distance_for_a_type_without_one_is_refused(hub: HubProcess, member: dict) -> None:
    before = store_fingerprint(hub.data_dir)
    with hub.client("daily-bad", Path(member["SIGNALHUB_KEY"])) as client:
        with pytest.raises(InvalidArgument) as e:
            client.match([("pdq", PDQ)], thresholds={"pdq": 5})
        assert [v[0] for v in e.value.violations] == ["queries[0].max_distance"]
        assert "not matched by a distance of its own" in str(e.value)
        with pytest.raises(InvalidArgument) as e:
            client.match([("pdq", PDQ)], max_distance=65)
        assert [v[0] for v in e.value.violations] == ["max_distance"]
    assert store_fingerprint(hub.data_dir) == before


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("match", "--pdq", PDQ, "--distance", "pdq=5"), "not matched by a distance of its own"),
        (("match", "--pdq", PDQ, "--distance", "tlsh"), "TYPE=N"),
        (("match", "--pdq", PDQ, "--distance", "nosuch=5"), "TYPE=N"),
        (("match", "--pdq", PDQ, "--min-score", "1.5"), "--min-score is 0-1"),
        (("fetch", "--min-score", "-0.1"), "--min-score is 0-1"),
        (("hash", "--type", "md5", "README.md"), "not a type that hashes files"),
        (("submit", "-", "--format", "jsonl", "--score", "0.5"), "--classifier and --score go"),
    ],
)
def test_the_cli_refuses_bad_flags_in_one_line(
    hub: HubProcess, member: dict, args: tuple[str, ...], says: str
) -> None:
    before = store_fingerprint(hub.data_dir)
    stdin = json.dumps({"type": "pdq", "value": "9b" * 32}) + "\n"
    result = run_cli(*args, env=member, stdin=stdin)
    assert result.returncode == 1 and says in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert store_fingerprint(hub.data_dir) == before


def test_bad_offboarding_erasure_and_compromise_requests_store_nothing(
    hub: HubProcess, member: dict
) -> None:
    sid = domain.signal_id("pdq", PDQ)
    key_id = domain.key_id(domain.read_public_key(Path(member["SIGNALHUB_KEY"] + ".pub")))
    before = store_fingerprint(hub.data_dir)
    with hub.admin() as admin:
        for call, field in [
            (lambda: admin.remove_member("daily-bad", "unspecified"), "submissions"),
            (lambda: admin.remove_member("daily-bad", "keep", "x" * 1001), "reason"),
            (lambda: admin.erase_signal(sid, "x" * 1001), "reason"),
            (lambda: admin.erase_signal(sid, ""), "reason"),
            (lambda: admin.revoke_compromised_key(
                "daily-bad", key_id, datetime(1960, 1, 1, tzinfo=UTC)), "compromised_since"),
        ]:  # fmt: skip
            with pytest.raises(InvalidArgument) as e:
                call()
            assert [v[0] for v in e.value.violations] == [field]
    assert store_fingerprint(hub.data_dir) == before
    with hub.client("daily-bad", Path(member["SIGNALHUB_KEY"])) as client:
        (r,) = client.match([("pdq", PDQ)], 0)
        assert len(r.matches) == 1  # the member and its signal are untouched
