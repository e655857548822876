"""The `signalhub` command as a trust-and-safety engineer uses it, against a real hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hubtools import HubProcess, run_cli, store_fingerprint
from imagetools import save_edited_copy, save_photo


@pytest.fixture(scope="module")
def env(hub: HubProcess, keys_dir: Path) -> dict[str, str]:
    key = keys_dir / "cli.key"
    result = run_cli("keygen", "--out", str(key), check=True)
    key_id = result.stdout.strip()
    assert len(key_id) == 32 and (key.stat().st_mode & 0o777) == 0o600
    added = run_cli(
        "admin", "add-member", "cli-member", "--public-key", f"{key}.pub",
        env={"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_OPERATOR_KEY": str(hub.operator_key)},
        check=True,
    )  # fmt: skip
    assert key_id in added.stdout
    return {
        "SIGNALHUB_ENDPOINT": hub.endpoint,
        "SIGNALHUB_MEMBER": "cli-member",
        "SIGNALHUB_KEY": str(key),
    }


def test_hash_submit_match_fetch_get_round_trip(
    hub: HubProcess, env: dict[str, str], tmp_path: Path
) -> None:
    images = [save_photo(tmp_path / f"p{i}.png", seed=100 + i) for i in range(3)]
    edited = save_edited_copy(tmp_path / "p0-edited.jpg", seed=100)

    hashed = run_cli("hash", "--json", *map(str, images), check=True)
    lines = [json.loads(line) for line in hashed.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(p) for p in images]
    assert all(len(line["pdq"]) == 64 and 0 <= line["quality"] <= 100 for line in lines)
    hashes = tmp_path / "hashes.jsonl"
    hashes.write_text(hashed.stdout)

    submitted = run_cli("submit", str(hashes), "--label", "csam", "--json", env=env, check=True)
    summary = json.loads(submitted.stdout)
    assert (summary["signals"], summary["new"], summary["batches"]) == (3, 3, 1)

    matched = run_cli("match", str(edited), "--pdq", lines[1]["pdq"], "--json", env=env, check=True)
    # --pdq queries come first, then images, each in the order given
    second, first = (json.loads(line) for line in matched.stdout.splitlines())
    assert first["query"] == str(edited)
    assert [m["value"] for m in first["matches"]] == [lines[0]["pdq"]]
    assert 0 < first["matches"][0]["distance"] <= 31 and first["matches"][0]["labels"] == ["csam"]
    assert second["pdq"] == lines[1]["pdq"] and second["matches"][0]["distance"] == 0

    fetched = run_cli("fetch", "--json", env=env, check=True)
    events = [json.loads(line) for line in fetched.stdout.splitlines()]
    ours = [e for e in events if e["member_id"] == "cli-member"]
    assert [e["value"] for e in ours] == [line["pdq"] for line in lines]
    assert all(e["event"] == "signal_added" and len(e["cursor"]) == 32 for e in ours)
    after = run_cli("fetch", "--json", "--after", ours[0]["cursor"], env=env, check=True)
    assert [json.loads(x)["value"] for x in after.stdout.splitlines()][-2:] == [
        lines[1]["pdq"], lines[2]["pdq"]]  # fmt: skip

    got = run_cli("get", ours[0]["signal_id"], "--json", env=env, check=True)
    detail = json.loads(got.stdout)
    assert detail["value"] == lines[0]["pdq"]
    assert [s["member_id"] for s in detail["submissions"]] == ["cli-member"]
    human = run_cli("get", ours[0]["signal_id"], env=env, check=True)
    assert "cli-member" in human.stdout and lines[0]["pdq"] in human.stdout


def test_submit_csv_with_per_record_overrides_and_dry_run(
    hub: HubProcess, env: dict[str, str], tmp_path: Path
) -> None:
    csv_file = tmp_path / "list.csv"
    csv_file.write_text(
        "value,type,labels\n"
        + "aa" * 32 + ",,csam\n"
        + "bb" * 16 + ",md5,ncii;grooming\n"
    )  # fmt: skip
    before = store_fingerprint(hub.data_dir)
    dry = run_cli("submit", str(csv_file), "--type", "pdq", "--dry-run", env=env, check=True)
    assert "dry run" in dry.stdout
    assert store_fingerprint(hub.data_dir) == before
    run_cli("submit", str(csv_file), "--type", "pdq", env=env, check=True)
    found = run_cli("match", "--pdq", "aa" * 32, "--json", env=env, check=True)
    assert json.loads(found.stdout)["matches"][0]["labels"] == ["csam"]
    fetched = run_cli("fetch", "--json", env=env, check=True).stdout.splitlines()
    md5 = [json.loads(x) for x in fetched if json.loads(x)["type"] == "md5"]
    assert md5[-1]["value"] == "bb" * 16 and md5[-1]["labels"] == ["grooming", "ncii"]


def test_submit_from_stdin_needs_format(env: dict[str, str]) -> None:
    line = json.dumps({"value": "cc" * 32}) + "\n"
    refused = run_cli("submit", "-", "--type", "pdq", env=env, stdin=line)
    assert refused.returncode != 0 and "--format" in refused.stderr
    ok = run_cli("submit", "-", "--type", "pdq", "--format", "jsonl", env=env, stdin=line)
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"value": "aa"}\n', "64 hex digits"),
        ('{"value": "' + "dd" * 32 + '"}\nnot json\n', "line 2"),
        ('{"value": "' + "dd" * 32 + '", "type": "photo"}\n', "unknown signal type"),
        ('{"value": "' + "dd" * 32 + '", "labels": ["bogus"]}\n', "unknown label"),
    ],
)
def test_bad_file_is_refused_before_anything_is_sent(
    hub: HubProcess, env: dict[str, str], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    before = store_fingerprint(hub.data_dir)
    result = run_cli("submit", str(path), "--type", "pdq", env=env)
    assert result.returncode == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert store_fingerprint(hub.data_dir) == before


def test_errors_are_one_line_and_non_zero(env: dict[str, str], tmp_path: Path) -> None:
    not_found = run_cli("get", "0" * 32, env=env)
    assert not_found.returncode == 1 and not_found.stderr.startswith("signalhub: error:")
    bad_id = run_cli("get", "xyz", env=env)
    assert bad_id.returncode == 1 and "signal id" in bad_id.stderr
    no_key = run_cli("match", "--pdq", "aa" * 32, env={**env, "SIGNALHUB_KEY": str(tmp_path / "x")})
    assert no_key.returncode == 1 and "no key file" in no_key.stderr
    not_image = tmp_path / "notes.txt"
    not_image.write_text("hello")
    hashed = run_cli("hash", str(not_image))
    assert hashed.returncode == 1 and "not an image" in hashed.stderr
    down = run_cli("fetch", env={**env, "SIGNALHUB_ENDPOINT": "127.0.0.1:1"}, timeout=120)
    assert down.returncode == 1 and down.stderr.count("\n") == 1


def test_bulk_submit_is_quiet_on_stderr_when_piped(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text("".join(json.dumps({"value": f"{i:064x}"}) + "\n" for i in range(2500)))
    result = run_cli("submit", str(path), "--type", "pdq", "--json", env=env, check=True)
    assert result.stderr == ""
    assert json.loads(result.stdout)["batches"] == 3


def test_fetch_with_a_negative_limit_is_refused(hub: HubProcess, env: dict[str, str]) -> None:
    before = store_fingerprint(hub.data_dir)
    result = run_cli("fetch", "--limit", "-1", env=env)
    assert result.returncode == 1 and "--limit is 0 (all) or more" in result.stderr
    assert store_fingerprint(hub.data_dir) == before
