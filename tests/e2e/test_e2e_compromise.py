"""A compromised key, against a real hub: `admin revoke-key --compromised-since` revokes it and
retracts what it signed since then. The later submissions vanish from the hub, from a synced
replica and from a pytx subscriber; the earlier ones, and other members' submissions of the
same signals, stay; the member re-submits what was genuine under a new key. Bad requests are
refused with nothing stored, and the audit log still replays to the stored state."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hubtools import HubProcess, run_cli, store_fingerprint
from threatexchange.signal_type.pdq.signal import PdqSignal

from client_sdk import Signal
from client_sdk.errors import Unauthenticated
from client_sdk.local import LocalReplica
from client_sdk.pytx import SignalhubCollabConfig, SignalhubSignalExchangeAPI
from exchange.audit import verify_data_dir
from exchange.commands import init_data_dir
from signalhub import domain

A1, A2, A3 = "a1" * 32, "a2" * 32, "a3" * 32
B1, B2 = "b1" * 32, "b2" * 32


def _pytx_state(hub: HubProcess, member: str, key: Path, state: dict, checkpoint: object) -> object:
    config = SignalhubCollabConfig(name="hub", endpoint=hub.endpoint, member=member,
                                   key_file=str(key))  # fmt: skip
    with SignalhubSignalExchangeAPI.for_collab(config) as api:
        for delta in api.fetch_iter([PdqSignal], checkpoint):  # type: ignore[arg-type]
            api.naive_fetch_merge(state, delta.updates)
            checkpoint = delta.checkpoint
    return checkpoint


def test_compromised_key_submissions_vanish_everywhere_and_earlier_ones_stay(
    tmp_path: Path,
) -> None:
    init_data_dir(tmp_path / "data")
    hub = HubProcess(tmp_path / "data").start()
    try:
        _scenario(hub, tmp_path)
    finally:
        hub.stop()
    report = verify_data_dir(tmp_path / "data")
    assert report.ok, report.problems


def _scenario(hub: HubProcess, tmp_path: Path) -> None:
    acme_key, alice_key = hub.add_member("acme", tmp_path), hub.add_member("alice", tmp_path)
    operator = {"SIGNALHUB_ENDPOINT": hub.endpoint,
                "SIGNALHUB_OPERATOR_KEY": str(hub.operator_key)}  # fmt: skip
    key_id = domain.key_id(domain.read_public_key(Path(f"{acme_key}.pub")))
    with hub.client("acme", acme_key) as acme, hub.client("alice", alice_key) as alice:
        acme.submit([Signal("pdq", v, labels=("csam",)) for v in (A1, A2, A3)])
        time.sleep(1.1)
        since = datetime.now(UTC)
        time.sleep(0.1)
        # What the thief signed with acme's key: two new signals and a repeat of A3.
        acme.submit([Signal("pdq", B1, labels=("csam",)), Signal("pdq", B2, labels=("ncii",)),
                     Signal("pdq", A3, labels=("sextortion",))])  # fmt: skip
        alice.submit([Signal("pdq", B2, labels=("grooming",))])

        replica = tmp_path / "replica"
        with LocalReplica(replica) as local:
            local.sync(acme)
            assert {s.value for s in local.signals()} == {A1, A2, A3, B1, B2}
        state: dict = {}
        checkpoint = _pytx_state(hub, "alice", alice_key, state, None)
        assert {value for _, value in state} == {A1, A2, A3, B1, B2}

        # Bad requests first: each refused, nothing stored.
        before = store_fingerprint(hub.data_dir)
        bad_time = run_cli("admin", "revoke-key", "acme", key_id, "--compromised-since",
                           "yesterday-ish", env=operator)  # fmt: skip
        assert bad_time.returncode == 1 and "yesterday-ish" in bad_time.stderr
        assert bad_time.stderr.startswith("signalhub: error: --compromised-since")
        assert "Traceback" not in bad_time.stderr
        unknown = run_cli("admin", "revoke-key", "acme", "0" * 32, "--compromised-since",
                          since.isoformat(), env=operator)  # fmt: skip
        assert unknown.returncode == 1 and "has no key" in unknown.stderr
        other = run_cli("admin", "revoke-key", "alice", key_id, "--compromised-since",
                        since.isoformat(), env=operator)  # fmt: skip
        assert other.returncode == 1 and "has no key" in other.stderr
        assert store_fingerprint(hub.data_dir) == before

        out = run_cli("admin", "revoke-key", "acme", key_id, "--compromised-since",
                      since.isoformat(), "--json", env=operator, check=True)  # fmt: skip
        summary = json.loads(out.stdout)
        assert summary["retracted_submissions"] == 3  # B1, B2 and the repeat of A3
        assert summary["removed_signals"] == 1  # B1: B2 keeps alice's, A3 its first

        answers = alice.match([("pdq", v) for v in (A1, A2, A3, B1, B2)], 0)
        results = {r.value: r.matches for r in answers}
        assert results[B1] == ()
        (b2,) = results[B2]
        assert b2.signal.labels == ("grooming",) and b2.signal.corroboration == 1
        (a3,) = results[A3]
        assert a3.signal.labels == ("csam",)  # the thief's label went with its submission
        assert all(len(results[v]) == 1 for v in (A1, A2))

        # The key is dead: calls signed with it are refused.
        with pytest.raises(Unauthenticated):
            acme.submit([Signal("pdq", "c1" * 32)])

    # The replica and the pytx subscriber drop what vanished, keep the rest.
    new_key = tmp_path / "acme-2.key"
    domain.write_key_pair(domain.new_private_key(), new_key)
    with hub.admin() as admin:
        admin.add_key("acme", domain.read_public_key(Path(f"{new_key}.pub")))
    with hub.client("acme", new_key) as acme:
        with LocalReplica(replica) as local:
            local.sync(acme)
            shown = {s.value: s for s in local.signals()}
        assert set(shown) == {A1, A2, A3, B2}
        assert shown[B2].labels == ("grooming",) and shown[A3].labels == ("csam",)
        _pytx_state(hub, "alice", alice_key, state, checkpoint)
        assert {value for _, value in state} == {A1, A2, A3, B2}
        # The member re-submits what was genuine, under its new key.
        result = acme.submit([Signal("pdq", B1, labels=("csam",))])
        assert [i.status for i in result.items] == ["new"]

    # Already revoked: a plain revoke is refused; a later-found compromise still retracts.
    before = store_fingerprint(hub.data_dir)
    again = run_cli("admin", "revoke-key", "acme", key_id, env=operator)
    assert again.returncode == 1 and "already revoked" in again.stderr
    assert store_fingerprint(hub.data_dir) == before
    late = run_cli("admin", "revoke-key", "acme", key_id, "--compromised-since",
                   datetime(2000, 1, 1, tzinfo=UTC).isoformat(), "--json", env=operator,
                   check=True)  # fmt: skip
    assert json.loads(late.stdout)["retracted_submissions"] == 3  # A1, A2 and A3's first
    with hub.client("alice", alice_key) as alice:
        answers = alice.match([("pdq", v) for v in (A1, A2, A3, B1, B2)], 0)
        left = {r.value: len(r.matches) for r in answers}
    assert left == {A1: 0, A2: 0, A3: 0, B1: 1, B2: 1}  # B1 came back under the new key
