"""Single-byte corruptions of a real hub's data.mdb (issue 19): `signalhub admin check` reports
them, and a restarted hub either refuses to start, naming what to do, or answers DATA_LOSS
about what is damaged while it goes on serving the rest. Nothing corrupt is served silently."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import lmdb
import pytest
from hubtools import HubProcess, cursor_at, feed_sequence, free_port, run_cli

from client_sdk import Signal
from client_sdk.errors import DataLoss, SignalhubError
from exchange.backup import backup_data_dir
from exchange.commands import init_data_dir
from exchange.server import lmdb_path
from signalhub import domain

PDQ = [f"{i:064x}" for i in range(1, 6)] + ["f" * 64]
SHARED = "a5" * 32
"""Submitted by acme for everyone and by beta for the group `pair` only."""
PRIVATE = "3c" * 32
"""Submitted by beta for `pair` only."""
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
URL = "https://example.com/a"
QUERIES = [("pdq", v) for v in (*PDQ, SHARED, PRIVATE)] + [("md5", MD5), ("url", URL)]
IDS = [domain.signal_id(t, domain.canonical_value(t, v)) for t, v in QUERIES]
TARGET = domain.signal_id("pdq", PDQ[4])
"""The signal whose records the tests damage."""
ADVICE = ("signalhub admin check --data-dir", "signalhub audit verify --data-dir",
          "signalhub admin restore BACKUP --data-dir")  # fmt: skip


@dataclass
class Built:
    backup: Path
    """A compacted backup of the hub's data directory (only live pages: each flip counts)."""
    keys: dict[str, Path]
    served: dict[str, str]
    """What the intact hub answers (see served_by)."""


def served_by(hub: HubProcess, keys: dict[str, Path]) -> dict[str, str]:
    """Every answer of match, get and fetch, for each member: its repr, or its error's code."""
    out: dict[str, str] = {}
    for member, key in keys.items():
        with hub.client(member, key) as client:
            calls: dict[str, Callable[[], object]] = {}
            for (type_name, value), sid in zip(QUERIES, IDS, strict=True):
                calls[f"{member} match {sid}"] = lambda t=type_name, v=value: client.match([(t, v)])
                calls[f"{member} get {sid}"] = lambda s=sid: client.get_signal(s)
            calls[f"{member} feed"] = lambda: list(client.fetch())
            for name, call in calls.items():
                try:
                    out[name] = repr(call())
                except SignalhubError as e:
                    out[name] = f"{e.code.name}: {e.message}"
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("corruption")
    data_dir = root / "data"
    init_data_dir(data_dir)
    hub = HubProcess(data_dir).start()
    try:
        keys = {"acme": hub.add_member("acme", root), "beta": hub.add_member("beta", root)}
        with hub.admin() as admin:
            admin.add_group_members("pair", ["acme", "beta"])
        with hub.client("acme", keys["acme"]) as client:
            client.submit([Signal("pdq", v, labels=["csam"]) for v in (*PDQ, SHARED)])
            client.submit([Signal("md5", MD5, labels=["ncii"]), Signal("url", URL)])
        with hub.client("beta", keys["beta"]) as client:
            client.submit([Signal("pdq", SHARED), Signal("pdq", PRIVATE)], audience=["pair"])
        served = served_by(hub, keys)
    finally:
        assert hub.stop() == 0
    backup_data_dir(data_dir, root / "backup")
    assert not any(answer.startswith(("DATA_LOSS", "INTERNAL")) for answer in served.values())
    return Built(root / "backup", keys, served)


@pytest.fixture
def data_dir(built: Built, tmp_path: Path) -> Path:
    """A fresh copy of the intact data directory."""
    target = tmp_path / "data"
    shutil.copytree(built.backup, target)
    return target


def stored(data_dir: Path, db: str, key: bytes) -> bytes:
    env = lmdb.open(str(lmdb_path(data_dir)), readonly=True, max_dbs=32, lock=False)
    try:
        with env.begin(db=env.open_db(db.encode(), create=False)) as txn:
            value = txn.get(key)
            assert value is not None, (db, key)
            return bytes(value)
    finally:
        env.close()


def offset_of(data_dir: Path, db: str, key: bytes, needle: bytes = b"") -> int:
    """Where in data.mdb the stored value of `key` holds `needle` (its start when empty)."""
    raw = stored(data_dir, db, key)
    data = (lmdb_path(data_dir) / "data.mdb").read_bytes()
    at = data.find(raw)
    assert at >= 0 and data.find(raw, at + 1) < 0, "the value is not in the file exactly once"
    return at + (raw.index(needle) if needle else 0)


def flip(data_dir: Path, offset: int) -> None:
    path = lmdb_path(data_dir) / "data.mdb"
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def first_submission_key(data_dir: Path, sid: str) -> bytes:
    env = lmdb.open(str(lmdb_path(data_dir)), readonly=True, max_dbs=32, lock=False)
    try:
        with env.begin(db=env.open_db(b"submissions", create=False)) as txn:
            cur = txn.cursor()
            assert cur.set_range(bytes.fromhex(sid))
            return bytes(cur.key())
    finally:
        env.close()


def admin_check(data_dir: Path) -> tuple[int, str]:
    result = run_cli("admin", "check", "--data-dir", str(data_dir))
    return result.returncode, result.stdout + result.stderr


def start(data_dir: Path, metrics: bool = False) -> HubProcess | str:
    """A hub serving `data_dir`, or what it said when it refused to start."""
    hub = HubProcess(data_dir, metrics_port=free_port() if metrics else 0)
    try:
        return hub.start()
    except AssertionError as e:
        return str(e)


@pytest.fixture
def serving() -> Iterator[list[HubProcess]]:
    hubs: list[HubProcess] = []
    yield hubs
    for hub in hubs:
        if hub.proc is not None:
            hub.stop()


def assert_data_loss(
    answer: str, about: str, hub: HubProcess | None = None, detail: str = ""
) -> None:
    """A member is told that a record of a table is corrupt and what the operator should run,
    never which record (an id would tell it that a signal it may not see exists); the hub's
    log names the record for the operator."""
    assert answer.startswith(f"{grpc.StatusCode.DATA_LOSS.name}: "), answer
    assert about in answer, answer
    for advice in ADVICE:
        assert advice in answer, answer
    if hub is not None and detail:
        assert detail not in answer, answer
        assert detail in hub.log_path.read_text(errors="replace")


def test_an_intact_store_checks_clean_stopped_and_while_a_hub_serves(
    data_dir: Path, serving: list[HubProcess]
) -> None:
    code, out = admin_check(data_dir)
    assert code == 0 and "check OK:" in out and "LMDB structure ok" in out, out
    hub = start(data_dir)
    assert isinstance(hub, HubProcess), hub
    serving.append(hub)
    code, out = admin_check(data_dir)
    assert code == 0 and "structure skipped: a hub is serving this directory" in out, out


def test_a_flipped_byte_in_a_signal_value_is_reported_and_refused_the_rest_still_served(
    built: Built, data_dir: Path, serving: list[HubProcess]
) -> None:
    flip(data_dir, offset_of(data_dir, "signals", bytes.fromhex(TARGET), PDQ[4].encode()) + 9)
    code, out = admin_check(data_dir)
    assert code == 1, out
    assert f"signals {TARGET}: its checksum does not match" in out
    assert "check FAILED: 1 problems in 1 tables" in out
    hub = start(data_dir, metrics=True)
    assert isinstance(hub, HubProcess), hub  # nothing start reads is damaged
    serving.append(hub)
    answers = served_by(hub, built.keys)
    about = "a stored record of the signals table is corrupt"
    detail = f"signal {TARGET}"
    for member in built.keys:
        assert_data_loss(answers[f"{member} get {TARGET}"], about, hub, detail)
        assert_data_loss(answers[f"{member} feed"], about, hub, detail)
        # an exact query of its value, and the near PDQ queries whose candidates include it
        assert_data_loss(answers[f"{member} match {TARGET}"], about, hub, detail)
    intact = domain.signal_id("md5", MD5)
    for name in (f"acme get {intact}", f"acme match {intact}", f"beta get {intact}"):
        assert answers[name] == built.served[name]
    assert hub.metric('signalhub_store_corrupt_records_total{table="signals"}') >= 7
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "acme",
           "SIGNALHUB_KEY": str(built.keys["acme"])}  # fmt: skip
    with hub.client("acme", built.keys["acme"]) as client, pytest.raises(DataLoss) as e:
        client.get_signal(TARGET)  # the SDK's own class for it (never retried)
    assert TARGET not in str(e.value) and "admin restore" in str(e.value)
    result = run_cli("get", TARGET, env=env)
    assert result.returncode != 0 and "DATA_LOSS" not in result.stdout
    assert "is corrupt" in result.stderr and "admin restore" in result.stderr


def test_a_flipped_byte_in_a_submissions_audience_is_refused_for_every_member(
    built: Built, data_dir: Path, serving: list[HubProcess]
) -> None:
    sid = domain.signal_id("pdq", PRIVATE)
    key = first_submission_key(data_dir, sid)
    flip(data_dir, offset_of(data_dir, "submissions", key, b"pair") + 1)
    code, out = admin_check(data_dir)
    assert code == 1 and f"submissions {sid}/" in out, out
    hub = start(data_dir)
    assert isinstance(hub, HubProcess), hub
    serving.append(hub)
    answers = served_by(hub, built.keys)
    about, detail = "a stored record of the submissions table is corrupt", f"signal {sid}"
    for member in built.keys:  # never shown to the wrong members, nor hidden silently
        assert_data_loss(answers[f"{member} get {sid}"], about, hub, detail)
        assert_data_loss(answers[f"{member} match {sid}"], about, hub, detail)


def test_a_flipped_byte_in_a_feed_record_stops_the_feed_there_and_nothing_else(
    built: Built, data_dir: Path, serving: list[HubProcess]
) -> None:
    flip(data_dir, offset_of(data_dir, "feed", struct.pack(">Q", 3)) + 12)
    code, out = admin_check(data_dir)
    assert code == 1 and "feed 3: its checksum does not match" in out, out
    hub = start(data_dir)
    assert isinstance(hub, HubProcess), hub
    serving.append(hub)
    answers = served_by(hub, built.keys)
    for name, answer in answers.items():
        if name.endswith("feed"):
            assert_data_loss(answer, "a stored record of the feed table is corrupt", hub,
                             "feed record 3")  # fmt: skip
        else:
            assert answer == built.served[name], name
    with hub.client("acme", built.keys["acme"]) as client:  # after it, the feed goes on
        after = [e.cursor for e in client.fetch(after=cursor_at(data_dir, 3))][:1]
        assert [feed_sequence(data_dir, c) for c in after] == [4]


def test_a_flipped_byte_in_the_pdq_table_stops_the_hub_from_starting(data_dir: Path) -> None:
    row = stored(data_dir, "pdq", struct.pack(">Q", 5))
    assert row[32:] == bytes.fromhex(TARGET)  # row 5 is the target's
    flip(data_dir, offset_of(data_dir, "pdq", struct.pack(">Q", 5)) + 3)
    code, out = admin_check(data_dir)
    assert code == 1 and f"pdq 5: its hash is not that of signal {TARGET}" in out, out
    refusal = start(data_dir)
    assert isinstance(refusal, str)
    assert "its store is corrupt" in refusal and "PDQ table" in refusal, refusal
    assert f"signalhub admin check --data-dir {data_dir}" in refusal
    assert "Traceback" not in refusal, refusal


def test_a_flipped_byte_in_a_counter_stops_the_hub_from_starting(data_dir: Path) -> None:
    data = (lmdb_path(data_dir) / "data.mdb").read_bytes()
    at = data.find(b"feed_seq")
    assert at >= 0 and data.find(b"feed_seq", at + 1) < 0
    flip(data_dir, at + len("feed_seq") + 4)  # past the node's key, into its 8-byte value
    code, out = admin_check(data_dir)
    assert code == 1 and "feed -: it ends at" in out, out
    refusal = start(data_dir)
    assert isinstance(refusal, str) and "the feed table holds" in refusal, refusal
    assert "signalhub admin check --data-dir" in refusal


def test_single_byte_corruptions_are_never_served_silently(
    built: Built, data_dir: Path, tmp_path: Path
) -> None:
    """The issue's experiment, at the places that hold a signal, its records and their
    pages: each flip is harmless to what is served, refused at start, or answered DATA_LOSS;
    and `admin check` reports every one that is not harmless."""
    target = bytes.fromhex(TARGET)
    shared = bytes.fromhex(domain.signal_id("pdq", SHARED))
    signal_at = offset_of(data_dir, "signals", target)
    positions = {
        "signal value": offset_of(data_dir, "signals", target, PDQ[4].encode()) + 9,
        "signal label": offset_of(data_dir, "signals", target, b"csam") + 1,
        "signal members": offset_of(data_dir, "signals", shared, b"beta") + 2,
        "signal seal": signal_at + len(stored(data_dir, "signals", target)) - 1,
        "submission": offset_of(data_dir, "submissions", first_submission_key(data_dir, TARGET))
        + 4,
        "feed record": offset_of(data_dir, "feed", struct.pack(">Q", 5)) + 20,
        "log entry": offset_of(data_dir, "log", struct.pack(">Q", 4)) + 60,
        "pdq row id": offset_of(data_dir, "pdq", struct.pack(">Q", 5)) + 40,
        "signal key": signal_at - 2,  # the last bytes of its LMDB key, before the value
        "signals page flags": signal_at // 4096 * 4096 + 10,
    }
    outcomes: dict[str, str] = {}
    for name, offset in positions.items():
        copy = tmp_path / name.replace(" ", "-")
        shutil.copytree(built.backup, copy)
        flip(copy, offset)
        code, report = admin_check(copy)
        hub = start(copy)
        if isinstance(hub, str):
            assert "its store is corrupt" in hub and "admin check" in hub, (name, hub)
            outcomes[name] = "refused at start"
        else:
            try:
                answers = served_by(hub, built.keys)
            finally:
                assert hub.stop() == 0, name
            changed = {k: v for k, v in answers.items() if v != built.served[k]}
            for answer in changed.values():
                assert_data_loss(answer, "is corrupt")
            outcomes[name] = "DATA_LOSS" if changed else "harmless"
        if outcomes[name] != "harmless":
            assert code == 1, (name, report)
    assert outcomes["signal value"] == "DATA_LOSS" and outcomes["pdq row id"] == (
        "refused at start"
    ), outcomes
    assert set(outcomes.values()) <= {"DATA_LOSS", "refused at start", "harmless"}
