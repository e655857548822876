"""`signalhub admin rule-changes`: which signals stored under the old normalisation rule (IDNA
2003, hosts and paths as written) the current rule gives another id, read from the log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hubtools import run_cli

from client_sdk.signing import Signer
from exchange.commands import init_data_dir
from exchange.ledger import append_and_apply
from exchange.rule_changes import stored_rule_changes
from exchange.server import lmdb_path
from exchange.store import Store
from signalhub import domain
from signalhub.normalisation import _rule1_domain, _rule1_url
from signalhub.signal_types import SIGNAL_TYPES
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2

NOW = datetime.now(UTC)


def stamp() -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(NOW)
    return ts


@contextmanager
def rule_1() -> Iterator[None]:
    """The hub as it was before the rule changed: url and domain values by rule 1."""
    with pytest.MonkeyPatch.context() as m:
        types = SIGNAL_TYPES._loaded()
        for name, rule in (("url", _rule1_url), ("domain", _rule1_domain)):
            m.setitem(types, name, replace(types[name], canonical=rule, normalize=rule))
        yield


def write_old_store(lmdb_dir: Path, batches: list[tuple[str, list[tuple[str, str]]]]) -> None:
    """Applies one submit entry per (member, signals) to a store, as a rule-1 hub did."""
    store = Store(lmdb_dir)
    signers: dict[str, Signer] = {}
    try:
        with rule_1():
            for n, (member, signals) in enumerate(batches):
                if member not in signers:
                    key = domain.new_private_key()
                    signers[member] = Signer(member, key)
                    command = rec.AddMemberCommand(
                        member_id=member, public_key=domain.raw_public_key(key)
                    )
                    add = rec.LogEntry(received_at=stamp(), add_member=command)
                    store.write(lambda tx, e=add: append_and_apply(tx, e))
                wire = [common_pb2.SignalSubmission(type=t, value=v) for t, v in signals]
                envelope = signers[member].envelope(f"b{n}", wire, created_at=NOW)
                entry = rec.LogEntry(
                    received_at=stamp(), submit=rec.SubmitCommand(envelope=envelope)
                )
                assert store.write(lambda tx, e=entry: append_and_apply(tx, e)).stored
    finally:
        store.close()


OLD_BATCHES = [
    ("acme", [("domain", "faß.de"), ("domain", "example.com"), ("url", "http://127.1/"),
              ("url", "http://x.example/a/../b"), ("domain", "xn--n3h.net"), ("pdq", "ab" * 32)]),
    ("beta", [("domain", "fass.de"), ("domain", "FAß.DE"), ("url", "https://example.com/a")]),
]  # fmt: skip


def test_stored_signals_whose_canonical_form_moved_are_listed_from_the_log(
    tmp_path: Path,
) -> None:
    write_old_store(tmp_path / "lmdb", OLD_BATCHES)
    store = Store(tmp_path / "lmdb", readonly=True)
    try:
        with store.read() as view:  # the store holds rule 1's values
            assert view.signal(domain.signal_id("domain", "fass.de")) is not None
        changes = stored_rule_changes(store)
    finally:
        store.close()
    by_value = {c.value: c for c in changes}
    assert {(c.type_name, c.value, c.new_value) for c in changes} == {
        ("domain", "fass.de", "xn--fa-hia.de"),
        ("url", "http://127.1/", "http://127.0.0.1/"),
        ("url", "http://x.example/a/../b", "http://x.example/b"),
        ("domain", "xn--n3h.net", None),
    }
    sharp = by_value["fass.de"]
    # beta's own `fass.de` was sent as written and keeps its id; the two `faß.de`s moved
    assert sharp.sent_as == ["faß.de", "FAß.DE"] and sharp.members == ["acme", "beta"]
    assert sharp.signal_id == domain.signal_id("domain", "fass.de")
    assert sharp.new_signal_id == domain.signal_id("domain", "xn--fa-hia.de")
    assert sharp.stored and len(sharp.log_sequences) == 2
    snowman = by_value["xn--n3h.net"]
    assert snowman.new_signal_id is None and "U+2603" in snowman.reason


def test_the_command_prints_one_json_line_per_moved_signal(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    write_old_store(lmdb_path(data_dir), OLD_BATCHES)
    result = run_cli("admin", "rule-changes", "--data-dir", str(data_dir), check=True)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(line["value"] for line in lines) == [
        "fass.de", "http://127.1/", "http://x.example/a/../b", "xn--n3h.net"]  # fmt: skip
    assert {"signal_id", "new_signal_id", "new_value", "refused", "members"} <= set(lines[0])
    assert "4 stored signals normalise otherwise under rule 2 (1 of them refused" in result.stderr


def test_a_store_without_moved_values_lists_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    unchanged = [("domain", "example.com"), ("url", "https://Example.com:443/a?b")]
    write_old_store(lmdb_path(data_dir), [("acme", unchanged)])
    result = run_cli("admin", "rule-changes", "--data-dir", str(data_dir), check=True)
    assert result.stdout == "" and "0 stored signals" in result.stderr


def test_the_command_refuses_a_directory_that_is_not_a_hub(tmp_path: Path) -> None:
    result = run_cli("admin", "rule-changes", "--data-dir", str(tmp_path))
    assert result.returncode == 1 and "not a signalhub data directory" in result.stderr


def test_entries_logged_under_rule_1_replay_as_rule_1_decided_them(tmp_path: Path) -> None:
    """A store written before rule 2 still passes `audit verify`: apply normalises an entry
    by the rule recorded in it (none recorded: rule 1), not by today's."""
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    write_old_store(lmdb_path(data_dir), OLD_BATCHES)
    result = run_cli("audit", "verify", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr + result.stdout
    # A rule-2 entry of the same raw value gets rule 2's id, in the same store.
    store = Store(lmdb_path(data_dir))
    try:
        key = domain.new_private_key()
        add = rec.LogEntry(received_at=stamp(), add_member=rec.AddMemberCommand(
            member_id="gamma", public_key=domain.raw_public_key(key)))  # fmt: skip
        store.write(lambda tx: append_and_apply(tx, add))
        wire = [common_pb2.SignalSubmission(type="domain", value="faß.de")]
        envelope = Signer("gamma", key).envelope("g1", wire, created_at=NOW)
        entry = rec.LogEntry(received_at=stamp(), normalisation_rule=2,
                             submit=rec.SubmitCommand(envelope=envelope))  # fmt: skip
        applied = store.write(lambda tx: append_and_apply(tx, entry))
        assert applied.response.results[0].signal_id == domain.signal_id("domain", "xn--fa-hia.de")
    finally:
        store.close()
    assert run_cli("audit", "verify", "--data-dir", str(data_dir)).returncode == 0
