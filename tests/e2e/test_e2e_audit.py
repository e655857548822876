"""The tamper-evident audit log: offline `audit verify`, online `audit head`, provenance."""

from __future__ import annotations

import json
from pathlib import Path

import lmdb
import pytest
from hubtools import HubProcess, run_cli

from client_sdk import Signal
from exchange.commands import init_data_dir
from exchange.server import lmdb_path
from exchange.store import GENESIS_HASH, audit_link, u64
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec


@pytest.fixture
def stopped_hub(tmp_path: Path) -> tuple[HubProcess, dict[str, str]]:
    """A hub with some history (members, a key rotation, a group, submissions), stopped."""
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    hub = HubProcess(data_dir).start()
    acme = hub.add_member("acme", tmp_path)
    beta = hub.add_member("beta", tmp_path)
    with hub.admin() as admin:
        admin.add_group_members("pair", ["acme", "beta"])
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "acme",
           "SIGNALHUB_KEY": str(acme)}  # fmt: skip
    lines = "".join(
        json.dumps({"value": f"{i:064x}", "labels": ["csam"]}) + "\n" for i in range(20)
    )
    (tmp_path / "list.jsonl").write_text(lines)
    run_cli("submit", str(tmp_path / "list.jsonl"), "--type", "pdq", env=env, check=True)
    with hub.client("beta", beta) as client:
        client.submit([Signal("pdq", f"{3:064x}")], audience=["pair"])
    head = run_cli("audit", "head", "--json", "--hub-key", str(data_dir / "hub.key.pub"),
                   env=env)  # fmt: skip
    assert head.returncode != 0  # nothing signed yet: the first head comes periodically or now
    signed = run_cli("admin", "sign-audit-head", "--endpoint", hub.endpoint,
                     "--operator-key", str(hub.operator_key), check=True)  # fmt: skip
    assert "signed head: entry" in signed.stdout
    head = run_cli("audit", "head", "--json", "--hub-key", str(data_dir / "hub.key.pub"),
                   env=env, check=True)  # fmt: skip
    assert json.loads(head.stdout)["signature"] == "valid"
    assert json.loads(head.stdout)["sequence"] == 5  # 2 members, a group, 2 batches
    sid = domain.signal_id("pdq", f"{3:064x}")
    verified = run_cli("verify", sid, "--json", env=env, check=True)
    checks = [json.loads(line) for line in verified.stdout.splitlines()]
    assert [(c["member_id"], c["ok"]) for c in checks] == [("acme", True), ("beta", True)]
    assert hub.stop() == 0  # signs a final head
    return hub, env


def audit_verify(hub: HubProcess) -> tuple[int, str]:
    result = run_cli("audit", "verify", "--data-dir", str(hub.data_dir))
    return result.returncode, result.stdout + result.stderr


def edit(hub: HubProcess, db: str, key: bytes, change: object) -> None:
    env = lmdb.open(str(lmdb_path(hub.data_dir)), max_dbs=16)
    handle = env.open_db(db.encode(), create=False)
    with env.begin(write=True, db=handle) as txn:
        value = txn.get(key)
        assert value is not None
        txn.put(key, change(bytes(value)))  # type: ignore[operator]
    env.close()


def test_untouched_store_verifies(stopped_hub: tuple[HubProcess, dict[str, str]]) -> None:
    code, out = audit_verify(stopped_hub[0])
    assert code == 0, out
    assert "audit OK: 5 log entries" in out and "covers entry 5" in out


def test_edited_audit_entry_is_named(stopped_hub: tuple[HubProcess, dict[str, str]]) -> None:
    hub = stopped_hub[0]
    edit(hub, "audit", u64(3), lambda v: v[:-1] + bytes([v[-1] ^ 1]))
    code, out = audit_verify(hub)
    assert code == 1 and "audit entry 3" in out, out


def test_edited_log_entry_is_named(stopped_hub: tuple[HubProcess, dict[str, str]]) -> None:
    hub = stopped_hub[0]
    edit(hub, "log", u64(4), lambda v: v.replace(b"csam", b"ncii", 1))
    code, out = audit_verify(hub)
    assert code == 1 and "log entry 4" in out, out


def test_edited_signal_is_named_with_the_entry_that_wrote_it(
    stopped_hub: tuple[HubProcess, dict[str, str]],
) -> None:
    hub = stopped_hub[0]
    sid = domain.signal_id("pdq", f"{7:064x}")

    def relabel(raw: bytes) -> bytes:
        record = rec.SignalRecord.FromString(raw)
        del record.signal.labels[:]
        record.signal.labels.append("other")
        return record.SerializeToString()

    edit(hub, "signals", bytes.fromhex(sid), relabel)
    code, out = audit_verify(hub)
    assert code == 1 and f"signal {sid}" in out and "log entry 4" in out, out


def test_rewritten_and_rechained_history_is_caught_by_the_signed_head(
    stopped_hub: tuple[HubProcess, dict[str, str]],
) -> None:
    """An operator who edits an entry and recomputes the whole chain still cannot forge the
    hub's signature over the old chain hash."""
    hub = stopped_hub[0]
    env = lmdb.open(str(lmdb_path(hub.data_dir)), max_dbs=16)
    log_db = env.open_db(b"log", create=False)
    audit_db = env.open_db(b"audit", create=False)
    with env.begin(write=True) as txn:
        raw = bytes(txn.get(u64(4), db=log_db))
        txn.put(u64(4), raw.replace(b"csam", b"ncii", 1), db=log_db)
        previous = GENESIS_HASH
        for sequence in range(1, 6):
            link = audit_link(previous, sequence, bytes(txn.get(u64(sequence), db=log_db)))
            txn.put(u64(sequence), link.SerializeToString(), db=audit_db)
            previous = link.chain_hash
    env.close()
    code, out = audit_verify(hub)
    assert code == 1 and "signed head 5" in out and "rewritten" in out, out


def test_verify_with_other_trusted_keys_fails(
    stopped_hub: tuple[HubProcess, dict[str, str]], tmp_path: Path
) -> None:
    hub, env = stopped_hub
    hub.start()
    try:
        stranger = tmp_path / "stranger.key"
        domain.write_key_pair(domain.new_private_key(), stranger)
        sid = domain.signal_id("pdq", f"{3:064x}")
        result = run_cli(
            "verify",
            sid,
            "--keys",
            f"{stranger}.pub",
            env={**env, "SIGNALHUB_ENDPOINT": hub.endpoint},
        )
        assert result.returncode == 1 and "FAIL" in result.stdout
        assert "not among the trusted keys" in result.stdout
        mine = run_cli("verify", sid, "--keys", str(tmp_path / "acme.key.pub"),
                       "--keys", str(tmp_path / "beta.key.pub"),
                       env={**env, "SIGNALHUB_ENDPOINT": hub.endpoint})  # fmt: skip
        assert mine.returncode == 0 and mine.stdout.count("OK") == 2
    finally:
        hub.stop()
