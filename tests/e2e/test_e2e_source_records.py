"""Source records against a real hub: a submission's source_ref and metadata come back in
match answers, the feed, GetSignal and a local replica — only to members who may see that
submission — the CLI reads them from CSV and JSONL, bad ones are refused with nothing
stored, and `audit verify` replays them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hubtools import HubProcess, run_cli, store_fingerprint

from client_sdk import Signal
from client_sdk.errors import InvalidArgument
from client_sdk.local import LocalReplica
from signalhub import domain

P, Q = "5a" * 32, "6b" * 32


def _sources(info: object) -> list[tuple[str, str, dict[str, str]]]:
    return [(s.member_id, s.source_ref, dict(s.metadata)) for s in info.sources]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def case(hub: HubProcess, keys_dir: Path) -> dict[str, Path]:
    names = ("src-acme", "src-beta", "src-carol")
    keys = {name: hub.add_member(name, keys_dir) for name in names}
    with hub.admin() as admin:
        admin.add_group_members("src-g1", ["src-acme", "src-beta"])
    with hub.client("src-acme", keys["src-acme"]) as acme:
        acme.submit([Signal("pdq", P, source_ref="ACME-1", metadata={"queue": "csam"})])
        acme.submit([Signal("pdq", P, source_ref="ACME-secret")], audience=["src-g1"])
    return keys


PUBLIC = ("src-acme", "ACME-1", {"queue": "csam"})
SECRET = ("src-acme", "ACME-secret", {})


def test_match_get_and_feed_carry_the_sources_the_caller_may_see(
    hub: HubProcess, case: dict[str, Path]
) -> None:
    sid = domain.signal_id("pdq", P)
    for member, expected in (("src-carol", [PUBLIC]), ("src-beta", [PUBLIC, SECRET])):
        with hub.client(member, case[member]) as client:
            (result,) = client.match([("pdq", P)], 0)
            assert _sources(result.matches[0].signal) == expected
            detail = client.get_signal(sid)
            assert _sources(detail.signal) == expected
            assert [s.source_ref for s in detail.submissions] == [e[1] for e in expected]
            events = [e for e in client.fetch() if e.signal.signal_id == sid]
            assert _sources(events[-1].signal) == expected
            text = json.dumps(detail.to_json())
            assert ("ACME-secret" in text) == (member == "src-beta")


@pytest.mark.parametrize("backlog", [None, 0], ids=["feed", "snapshot"])
def test_a_local_replica_carries_them_as_the_view_does(
    hub: HubProcess, case: dict[str, Path], tmp_path: Path, backlog: int | None
) -> None:
    for member, expected in (("src-carol", [PUBLIC]), ("src-beta", [PUBLIC, SECRET])):
        with hub.client(member, case[member]) as client, LocalReplica(tmp_path / member) as local:
            local.sync(client, snapshot_min_backlog=backlog)
            (result,) = local.match([("pdq", P)], 0)
            assert _sources(result.matches[0].signal) == expected


def test_cli_reads_them_from_csv_and_jsonl_and_shows_them(
    hub: HubProcess, case: dict[str, Path], tmp_path: Path
) -> None:
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "src-beta",
           "SIGNALHUB_KEY": str(case["src-beta"])}  # fmt: skip
    csv_file = tmp_path / "in.csv"
    csv_file.write_text(f"value,type,source_ref,meta.queue\n{Q},pdq,BETA-9,ncii\n")
    run_cli("submit", str(csv_file), env=env, check=True)
    line = json.dumps({"type": "md5", "value": "cd" * 16, "source_ref": "BETA-10",
                       "metadata": {"site": "example"}})  # fmt: skip
    run_cli("submit", "-", "--format", "jsonl", "--meta", "batch=7", env=env, stdin=line,
            check=True)  # fmt: skip
    out = json.loads(run_cli("match", "--pdq", Q, "--json", env=env, check=True).stdout)
    assert out["matches"][0]["sources"] == [
        {"member_id": "src-beta", "source_ref": "BETA-9", "metadata": {"queue": "ncii"}}
    ]
    text = run_cli("match", "--pdq", Q, env=env, check=True).stdout
    assert "sources=src-beta:BETA-9" in text
    got = run_cli("get", domain.signal_id("md5", "cd" * 16), env=env, check=True).stdout
    assert "source_ref=BETA-10" in got and "batch=7,site=example" in got


def test_bad_source_records_are_refused_with_nothing_stored(
    hub: HubProcess, case: dict[str, Path]
) -> None:
    before = store_fingerprint(hub.data_dir)
    with hub.client("src-carol", case["src-carol"]) as carol:
        for bad, field in (
            (Signal("pdq", "7c" * 32, source_ref="x" * 129), "source_ref"),
            (Signal("pdq", "7c" * 32, metadata={"BAD": "v"}), "metadata"),
            (Signal("pdq", "7c" * 32, metadata={f"k{i}": "v" for i in range(17)}), "metadata"),
        ):
            with pytest.raises(InvalidArgument) as e:
                carol.submit([Signal("pdq", "7d" * 32), bad])
            assert [v[0] for v in e.value.violations] == [f"signals[1].{field}"]
    assert store_fingerprint(hub.data_dir) == before


def test_audit_verify_replays_them(hub: HubProcess, case: dict[str, Path]) -> None:
    verified = run_cli("audit", "verify", "--data-dir", str(hub.data_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr
