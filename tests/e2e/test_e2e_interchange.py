"""`signalhub export` and `signalhub submit` in the interchange formats (csv, jsonl, pytx),
against real hubs: what a member may see goes out with its labels and comes back in unchanged."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hubtools import HubProcess, new_hub, run_cli, store_fingerprint

from signalhub import domain

PDQ_A, PDQ_B = "a1" * 32, "b2" * 32
MD5 = "0123456789abcdef" * 2
SHA1 = "ab" * 20
URL = "https://example.com/a?b=1"


def _member(hub: HubProcess, keys: Path, name: str) -> dict[str, str]:
    key = keys / f"{name}.key"
    run_cli("keygen", "--out", str(key), check=True)
    operator = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_OPERATOR_KEY": str(hub.operator_key)}
    run_cli("admin", "add-member", name, "--public-key", f"{key}.pub", env=operator, check=True)
    return {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": name, "SIGNALHUB_KEY": str(key)}


@pytest.fixture(scope="module")
def source(hub: HubProcess, keys_dir: Path) -> dict[str, dict[str, str]]:
    """A hub where `alice` may see PDQ_A (labelled), PDQ_B, an MD5, a SHA-1 and a URL (tagged),
    but neither a signal she retracted nor one `bob` shared only with his privacy group."""
    alice, bob = _member(hub, keys_dir, "alice"), _member(hub, keys_dir, "bob")
    operator = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_OPERATOR_KEY": str(hub.operator_key)}
    run_cli("admin", "add-group", "bobs", "--member", "bob", env=operator, check=True)
    records = [
        {"type": "pdq", "value": PDQ_A, "labels": ["csam", "sextortion"]},
        {"type": "pdq", "value": PDQ_B},
        {"type": "md5", "value": MD5, "labels": ["csam"]},
        {"type": "sha1", "value": SHA1},
        {"type": "url", "value": URL, "tags": ["case-7"]},
        {"type": "pdq", "value": "cc" * 32},  # retracted below
    ]
    lines = "\n".join(json.dumps(r) for r in records) + "\n"
    run_cli("submit", "-", "--format", "jsonl", env=alice, stdin=lines, check=True)
    run_cli("retract", domain.signal_id("pdq", "cc" * 32), env=alice, check=True)
    private = json.dumps({"type": "pdq", "value": "dd" * 32}) + "\n"
    run_cli("submit", "-", "--format", "jsonl", "--audience", "bobs", env=bob, stdin=private,
            check=True)  # fmt: skip
    return {"alice": alice, "bob": bob}


VISIBLE = {
    ("pdq", PDQ_A, ("csam", "sextortion"), ()),
    ("pdq", PDQ_B, (), ()),
    ("md5", MD5, ("csam",), ()),
    ("sha1", SHA1, (), ()),
    ("url", URL, (), ("case-7",)),
}


def _rows(path: Path, fmt: str) -> set[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    """(type, value, labels, tags) of every signal in an export file."""
    text = path.read_text()
    if fmt == "jsonl":
        return {
            (r["type"], r["value"], tuple(r["labels"]), tuple(r["tags"]))
            for r in map(json.loads, text.splitlines())
        }
    return {
        (r["type"], r["value"], tuple(filter(None, r["labels"].split(";"))),
         tuple(filter(None, r["tags"].split(";"))))
        for r in csv.DictReader(text.splitlines())
    }  # fmt: skip


@pytest.fixture
def target(tmp_path: Path) -> Iterator[HubProcess]:
    hub = new_hub(tmp_path / "target")
    yield hub
    hub.stop()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_carries_what_the_member_may_see_and_submit_reads_it_back(
    fmt: str,
    source: dict[str, dict[str, str]],
    target: HubProcess,
    tmp_path: Path,
    keys_dir: Path,
) -> None:
    out = tmp_path / f"list.{fmt}"
    done = run_cli("export", "--out", str(out), "--json", env=source["alice"], check=True)
    summary = json.loads(done.stderr.strip().splitlines()[-1])
    assert (summary["format"], summary["written"], summary["skipped"]) == (fmt, 5, 0)
    assert _rows(out, fmt) == VISIBLE  # no retracted signal, nothing of bob's private group
    if fmt == "csv":
        row = next(r for r in csv.DictReader(out.read_text().splitlines()) if r["value"] == PDQ_A)
        assert row["signal_id"] == domain.signal_id("pdq", PDQ_A) and row["corroboration"] == "1"

    carol = _member(target, tmp_path, "carol")
    back = run_cli("submit", str(out), "--json", env=carol, check=True)
    assert json.loads(back.stdout)["new"] == 5
    again = tmp_path / f"again.{fmt}"
    run_cli("export", "--out", str(again), "--format", fmt, env=carol, check=True)
    assert _rows(again, fmt) == VISIBLE


def test_pytx_list_round_trips_the_types_pytx_knows(
    source: dict[str, dict[str, str]], target: HubProcess, tmp_path: Path
) -> None:
    done = run_cli("export", "--format", "pytx", env=source["alice"], check=True)
    lines = sorted(done.stdout.splitlines())
    # pytx knows no SHA-1 type; MD5 digests are its video_md5, and labels have no place here.
    assert lines == sorted([f"pdq {PDQ_A}", f"pdq {PDQ_B}", f"video_md5 {MD5}", f"url {URL}"])
    assert "1 skipped: of types pytx cannot carry" in done.stderr

    listing = tmp_path / "hub.pytx"
    listing.write_text(done.stdout)
    dave = _member(target, tmp_path, "dave")
    run_cli("submit", str(listing), "--label", "csam", env=dave, check=True)
    again = run_cli("export", "--format", "jsonl", env=dave, check=True)
    got = {
        (r["type"], r["value"], tuple(r["labels"]))
        for r in map(json.loads, again.stdout.split("\n")[:-1])
    }
    assert got == {("pdq", PDQ_A, ("csam",)), ("pdq", PDQ_B, ("csam",)), ("md5", MD5, ("csam",)),
                   ("url", URL, ("csam",))}  # fmt: skip


def test_filters_by_type_and_label(source: dict[str, dict[str, str]]) -> None:
    done = run_cli("export", "--type", "pdq", "--type", "md5", "--label", "csam",
                   env=source["alice"], check=True)  # fmt: skip
    assert {json.loads(x)["value"] for x in done.stdout.splitlines()} == {PDQ_A, MD5}


def test_a_local_replica_is_kept_and_reused(
    source: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    replica = tmp_path / "replica"
    first = run_cli("export", "--local", str(replica), "--json", env=source["alice"], check=True)
    second = run_cli("export", "--local", str(replica), "--json", env=source["alice"], check=True)
    assert first.stdout == second.stdout and len(first.stdout.splitlines()) == 5
    assert json.loads(first.stderr.splitlines()[-1])["cursor"] == json.loads(
        second.stderr.splitlines()[-1])["cursor"]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (
            f"pdq {PDQ_A}\nphotodna {'00' * 144}\n",
            "line 2: pytx signal type 'photodna' has no hub type",
        ),
        (f"pdq {PDQ_A}\nurl\n", 'line 2: a pytx line is "<signal type> <value>"'),
        (f"pdq {PDQ_A}\npdq zz\n", ":2: a pdq value is 64 hex digits"),
    ],
)
def test_bad_pytx_lists_are_refused_before_anything_is_sent(
    content: str, error: str, hub: HubProcess, source: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    listing = tmp_path / "bad.pytx"
    listing.write_text(content)
    before = store_fingerprint(hub.data_dir)
    result = run_cli("submit", str(listing), env=source["alice"])
    assert result.returncode == 1 and error in result.stderr, result.stderr
    assert store_fingerprint(hub.data_dir) == before


def test_bad_export_arguments_and_an_unwritable_file(
    hub: HubProcess, source: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    before = store_fingerprint(hub.data_dir)
    bad_type = run_cli("export", "--type", "photo", env=source["alice"])
    assert bad_type.returncode == 1 and "--type 'photo': unknown signal type" in bad_type.stderr
    bad_label = run_cli("export", "--label", "cats", env=source["alice"])
    assert bad_label.returncode == 1 and "unknown label 'cats'" in bad_label.stderr
    nowhere = tmp_path / "missing-dir" / "list.csv"
    failed = run_cli("export", "--out", str(nowhere), env=source["alice"])
    assert failed.returncode == 1 and str(nowhere) in failed.stderr
    assert not nowhere.parent.exists()
    # An export over an existing file that fails leaves the old file as it was.
    kept = tmp_path / "kept.csv"
    kept.write_text("old\n")
    stopped = run_cli("export", "--out", str(kept), "--endpoint", "127.0.0.1:1",
                      env=source["alice"])  # fmt: skip
    assert stopped.returncode == 1 and kept.read_text() == "old\n"
    assert store_fingerprint(hub.data_dir) == before
