"""Signal lifecycle against a real hub: opinions, retraction, expiry, behavioural signals,
local replicas, rotations and flips, and the feed as the source of truth."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from hubtools import HubProcess, new_hub, run_cli, store_fingerprint
from imagetools import save_edited_copy, save_photo
from PIL import Image

from client_sdk import Client, NotFound, Signal, SignalhubError, pdq_from_image
from client_sdk.local import LocalReplica
from signalhub import domain
from signalhub.signal_types import ConsortiumKey


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("lifecycle")
    process = new_hub(tmp, extra=("--expiry-interval", "0.3"))
    yield process
    if process.proc is not None:
        process.stop()


@pytest.fixture(scope="module")
def keys(hub: HubProcess, keys_dir: Path) -> dict[str, Path]:
    return {name: hub.add_member(name, keys_dir) for name in ("acme", "beta", "gamma")}


def client(hub: HubProcess, keys: dict[str, Path], name: str) -> Client:
    return hub.client(name, keys[name])


def test_false_positive_opinion_shows_on_another_members_match(
    hub: HubProcess, keys: dict[str, Path]
) -> None:
    value = "a1" * 32
    with client(hub, keys, "acme") as a, client(hub, keys, "beta") as b:
        sid = a.submit([Signal("pdq", value, labels=("csam",))]).items[0].signal_id
        seen = b.set_opinion(sid, "false_positive", "a stock photo", request_id="op-1")
        assert seen.opinions == {"true_positive": 0, "false_positive": 1, "disputed": 0}
        [match] = a.match_pdq([value], max_distance=0)[0].matches
        assert match.signal.opinions["false_positive"] == 1
        assert a.get_signal(sid).signal.opinions["false_positive"] == 1
        # one opinion per member, changeable; a retried request changes nothing
        before = store_fingerprint(hub.data_dir)
        assert b.set_opinion(sid, "false_positive", "a stock photo", request_id="op-1").opinions[
            "false_positive"] == 1  # fmt: skip
        assert store_fingerprint(hub.data_dir) == before
        b.set_opinion(sid, "disputed")
        a.set_opinion(sid, "true-positive")
        counts = a.get_signal(sid).signal.opinions
        assert counts == {"true_positive": 1, "false_positive": 0, "disputed": 1}
        b.set_opinion(sid, "none")
        assert a.get_signal(sid).signal.opinions["disputed"] == 0
        events = [e for e in a.fetch() if e.signal.signal_id == sid]
        assert len(events) == 5 and events[-1].signal.opinions["disputed"] == 0


def test_opinion_on_an_invisible_or_missing_signal_is_not_found(
    hub: HubProcess, keys: dict[str, Path]
) -> None:
    with hub.admin() as admin:
        admin.add_group_members("ab", ["acme", "beta"])
    with client(hub, keys, "acme") as a, client(hub, keys, "gamma") as g:
        sid = a.submit([Signal("pdq", "a2" * 32)], audience=["ab"]).items[0].signal_id
        before = store_fingerprint(hub.data_dir)
        with pytest.raises(NotFound) as hidden:
            g.set_opinion(sid, "false_positive")
        with pytest.raises(NotFound) as missing:
            g.set_opinion("f" * 32, "false_positive")
        assert str(hidden.value).replace(sid, "X") == str(missing.value).replace("f" * 32, "X")
        assert store_fingerprint(hub.data_dir) == before


def test_retraction_removes_the_signal_when_no_submission_is_left(
    hub: HubProcess, keys: dict[str, Path]
) -> None:
    value = "b3" * 32
    with client(hub, keys, "acme") as a, client(hub, keys, "beta") as b:
        sid = a.submit([Signal("pdq", value, labels=("csam",))]).items[0].signal_id
        b.submit([Signal("pdq", value, labels=("ncii",))])
        assert a.retract([sid]) == [(sid, False)]
        left = b.get_signal(sid)
        assert left.signal.labels == ("ncii",) and left.signal.corroboration == 1
        assert [s.member_id for s in left.submissions] == ["beta"]
        assert b.retract([sid]) == [(sid, True)]
        assert a.match_pdq([value], max_distance=0)[0].matches == ()
        with pytest.raises(NotFound):
            a.get_signal(sid)
        kinds = [e.event for e in a.fetch() if e.signal.signal_id == sid]
        assert kinds[-1] == "signal_removed"


def test_retracting_what_you_did_not_submit_is_refused_and_stores_nothing(
    hub: HubProcess, keys: dict[str, Path]
) -> None:
    with client(hub, keys, "acme") as a, client(hub, keys, "beta") as b:
        sid = a.submit([Signal("pdq", "b4" * 32)]).items[0].signal_id
        before = store_fingerprint(hub.data_dir)
        with pytest.raises(SignalhubError) as info:
            b.retract([sid])
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.violations[0][0] == "signal_ids[0]"
        with pytest.raises(SignalhubError) as bad:
            b.retract(["not-an-id"])
        assert bad.value.violations[0][0] == "signal_ids[0]"
        assert store_fingerprint(hub.data_dir) == before


def test_expired_signal_stops_matching(hub: HubProcess, keys: dict[str, Path]) -> None:
    value = "c5" * 32
    soon = datetime.now(UTC) + timedelta(seconds=1.5)
    with client(hub, keys, "acme") as a:
        sid = a.submit([Signal("pdq", value, expires_at=soon)]).items[0].signal_id
        assert a.match_pdq([value], max_distance=0)[0].matches
        deadline = time.monotonic() + 30
        while a.match_pdq([value], max_distance=0)[0].matches and time.monotonic() < deadline:
            time.sleep(0.2)
        assert a.match_pdq([value], max_distance=0)[0].matches == ()
        assert [e.event for e in a.fetch() if e.signal.signal_id == sid][-1] == "signal_removed"
        with pytest.raises(SignalhubError) as info:
            a.submit([Signal("pdq", "c6" * 32, expires_at=datetime.now(UTC) - timedelta(days=1))])
        assert info.value.violations[0][0] == "signals[0].expires_at"


def test_behavioural_signals_travel_keyed_and_match_exactly(
    hub: HubProcess, keys: dict[str, Path], tmp_path: Path
) -> None:
    consortium = tmp_path / "consortium.json"
    run_cli("consortium-key", "--out", str(consortium), check=True)
    key = ConsortiumKey.read(consortium)
    records = [
        {"type": "email", "value": " Offender@Example.COM "},
        {"type": "url", "value": "HTTP://Bad.Example.com:80/a%7Eb#frag"},
        {"type": "domain", "value": "Bad.Example.com."},
        {"type": "phone", "value": "+44 (20) 7946-0958"},
        {"type": "username", "value": "chat:@Offender"},
        {"type": "ip", "value": "::ffff:192.0.2.1"},
    ]
    path = tmp_path / "behavioural.jsonl"
    path.write_text("".join(json.dumps({**r, "labels": ["grooming"]}) + "\n" for r in records))
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "acme",
           "SIGNALHUB_KEY": str(keys["acme"])}  # fmt: skip
    no_key = run_cli("submit", str(path), env=env)
    assert no_key.returncode == 1 and "consortium key" in no_key.stderr
    run_cli("submit", str(path), "--consortium-key", str(consortium), env=env, check=True)
    with client(hub, keys, "beta") as b:
        events = {e.signal.type: e.signal.value for e in b.fetch() if e.signal.type != "pdq"}
    assert events["url"] == "http://bad.example.com/a~b"
    assert events["domain"] == "bad.example.com"
    assert events["email"] == key.keyed("email", "offender@example.com")
    assert "offender" not in json.dumps(events).lower()  # the hub never saw the values
    queries = ["email:offender@example.com", "phone:0044 20 7946 0958", "ip:192.0.2.1",
               "url:http://bad.example.com/a~b", "username:CHAT:offender"]  # fmt: skip
    args = [a for q in queries for a in ("--query", q)]
    found = run_cli("match", *args, "--json", "--consortium-key", str(consortium), env=env,
                    check=True)  # fmt: skip
    results = [json.loads(line) for line in found.stdout.splitlines()]
    assert [len(r["matches"]) for r in results] == [1, 1, 1, 1, 1]
    assert all(r["matches"][0]["labels"] == ["grooming"] for r in results)


@pytest.mark.parametrize(
    ("type_name", "value"),
    [("email", "plain@example.com"), ("url", "ftp://example.com/x"), ("ip", "k1:zz"),
     ("domain", "not a domain"), ("phone", "k0:" + "ab" * 32)],
)  # fmt: skip
def test_invalid_behavioural_values_are_refused_with_field_violations(
    hub: HubProcess, keys: dict[str, Path], type_name: str, value: str
) -> None:
    before = store_fingerprint(hub.data_dir)
    with client(hub, keys, "acme") as a, pytest.raises(SignalhubError) as info:
        a.submit([Signal("pdq", "d7" * 32), Signal(type_name, value)])
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.violations == [("signals[1].value", info.value.violations[0][1])]
    assert store_fingerprint(hub.data_dir) == before


def test_local_replica_syncs_incrementally_and_matches_offline(
    hub: HubProcess, keys: dict[str, Path], tmp_path: Path
) -> None:
    original = pdq_from_image(save_photo(tmp_path / "o.png", seed=501))
    edited = save_edited_copy(tmp_path / "e.jpg", seed=501)
    replica_dir = tmp_path / "replica"
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "gamma",
           "SIGNALHUB_KEY": str(keys["gamma"])}  # fmt: skip
    with client(hub, keys, "acme") as a:
        sid = a.submit([Signal("pdq", original.hex, labels=("csam",))]).items[0].signal_id
    first = json.loads(run_cli("sync", "--local", str(replica_dir), "--json", env=env,
                               check=True).stdout)  # fmt: skip
    assert first["applied"] > 0
    again = json.loads(run_cli("sync", "--local", str(replica_dir), "--json", env=env,
                               check=True).stdout)  # fmt: skip
    assert again == {**first, "applied": 0}
    offline = run_cli("match", str(edited), "--local", str(replica_dir), "--json",
                      env={"SIGNALHUB_ENDPOINT": "127.0.0.1:1"}, check=True)  # fmt: skip
    assert [m["signal_id"] for m in json.loads(offline.stdout)["matches"]] == [sid]
    with client(hub, keys, "acme") as a:
        a.retract([sid])
    run_cli("sync", "--local", str(replica_dir), env=env, check=True)
    with LocalReplica(replica_dir) as replica:
        assert replica.get(sid) is None  # the tombstone reached the replica
    offline = run_cli("match", str(edited), "--local", str(replica_dir), "--json", check=True)
    assert json.loads(offline.stdout)["matches"] == []


def test_rotated_image_is_found_with_dihedral_and_not_without(
    hub: HubProcess, keys: dict[str, Path], tmp_path: Path
) -> None:
    original = save_photo(tmp_path / "r.png", seed=777)
    with client(hub, keys, "acme") as a:
        a.submit([Signal("pdq", pdq_from_image(original).hex, labels=("csam",))])
    rotated = tmp_path / "rotated.png"
    Image.open(original).rotate(90, expand=True).save(rotated)  # counter-clockwise
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "acme",
           "SIGNALHUB_KEY": str(keys["acme"])}  # fmt: skip
    plain = json.loads(run_cli("match", str(rotated), "--json", env=env, check=True).stdout)
    assert plain["matches"] == []
    found = json.loads(
        run_cli("match", str(rotated), "--dihedral", "--json", env=env, check=True).stdout
    )
    assert [(m["distance"], m["transform"]) for m in found["matches"]] == [(0, "rotate90")]


def test_replaying_each_members_feed_reproduces_what_it_may_see(
    hub: HubProcess, keys: dict[str, Path], tmp_path: Path
) -> None:
    """Random submissions (with audiences), opinions, retractions and group changes; then a
    fresh replica of each member's feed must equal the hub's own answers to that member."""
    rng = random.Random(11)
    names = ["acme", "beta", "gamma"]
    clients = {n: client(hub, keys, n) for n in names}
    values = [f"{0xE000 + i:064x}" for i in range(12)]
    try:
        with hub.admin() as admin:
            admin.add_group_members("rnd", ["acme"])
        for _ in range(60):
            who = rng.choice(names)
            c = clients[who]
            roll = rng.random()
            if roll < 0.5:
                with hub.admin() as admin:
                    groups = [g.group_id for g in admin.list_groups() if who in g.member_ids]
                audience = [g for g in groups if g == "rnd"] if rng.random() < 0.4 else []
                label = rng.choice(["csam", "ncii"])
                c.submit([Signal("pdq", rng.choice(values), labels=(label,))], audience=audience)
            elif roll < 0.65:
                mine = {e.signal.signal_id for e in c.fetch() if e.member_id == who}
                hub_view = [s for s in mine if _visible(c, s)]
                own = [
                    s for s in hub_view if who in {p.member_id for p in c.get_signal(s).submissions}
                ]
                if own:
                    c.retract([rng.choice(own)])
            elif roll < 0.85:
                visible = [domain.signal_id("pdq", v) for v in values]
                visible = [s for s in visible if _visible(c, s)]
                if visible:
                    c.set_opinion(
                        rng.choice(visible),
                        rng.choice(["true_positive", "false_positive", "disputed", "none"]),
                    )
            else:
                with hub.admin() as admin:
                    if rng.random() < 0.5:
                        admin.add_group_members("rnd", [rng.choice(names)])
                    else:
                        admin.remove_group_members("rnd", [rng.choice(names)])
        all_ids = [domain.signal_id("pdq", v) for v in values]
        for name in names:
            with LocalReplica(tmp_path / f"replica-{name}") as replica:
                replica.sync(clients[name])
                for sid in all_ids:
                    local = replica.get(sid)
                    try:
                        remote = clients[name].get_signal(sid).signal
                    except NotFound:
                        remote = None
                    assert local == remote, (name, sid)
                    if remote is not None:
                        assert local is not None and local.opinions == remote.opinions
    finally:
        for c in clients.values():
            c.close()


def _visible(c: Client, sid: str) -> bool:
    try:
        c.get_signal(sid)
    except NotFound:
        return False
    return True
