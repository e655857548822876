"""Signal types against real hubs: the hub says which types it accepts; an unknown type and a
PhotoDNA value of the wrong length are refused with nothing stored; PhotoDNA is carried and
exact-matched without a licence, and matched by distance once a licensee's matcher plug-in is
installed (here an L1 stand-in, discovered through a real entry point); classifier verdicts
round-trip through submit, match, fetch and a local replica, and --min-score filters them."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hubtools import HubProcess, plugin_site, run_cli, store_fingerprint

from client_sdk import Signal
from client_sdk.errors import AlreadyExists, InvalidArgument
from client_sdk.local import LocalReplica
from exchange.commands import init_data_dir
from signalhub import domain

RNG = random.Random(11)
PHOTODNA = [bytes(RNG.getrandbits(8) for _ in range(144)) for _ in range(4)]

MATCHER_MODULE = '''
"""A stand-in for a licensed PhotoDNA matcher: byte-wise L1 distance, brute force."""
from signalhub.signal_types import TypeMatcher


def l1(a, b):
    return sum(abs(x - y) for x, y in zip(bytes.fromhex(a), bytes.fromhex(b)))


class L1Index:
    def __init__(self):
        self.values = {}

    def add(self, items):
        self.values.update(items)

    def remove(self, signal_ids):
        for sid in signal_ids:
            self.values.pop(sid, None)

    def search(self, value, max_distance):
        hits = [(sid, l1(value, v)) for sid, v in self.values.items()]
        return [(sid, d) for sid, d in hits if d <= max_distance]

    def __len__(self):
        return len(self.values)


MATCHER = TypeMatcher("photodna", l1, L1Index, default_threshold=300, max_threshold=20000)
'''


def _member_env(hub: HubProcess, keys: Path, name: str, extra: dict[str, str]) -> dict[str, str]:
    key = hub.add_member(name, keys)
    return {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": name,
            "SIGNALHUB_KEY": str(key), **extra}  # fmt: skip


@pytest.fixture(scope="module")
def licensed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[HubProcess, dict[str, str]]]:
    """A hub with the PhotoDNA matcher plug-in, and a member's CLI environment that has it too."""
    root = tmp_path_factory.mktemp("licensed")
    site = plugin_site(root, "pdna-l1-matcher", "pdna_l1_matcher", MATCHER_MODULE,
                       "pdna = pdna_l1_matcher:MATCHER", version="0.1")  # fmt: skip
    env = {"PYTHONPATH": str(site)}
    init_data_dir(root / "data")
    hub = HubProcess(root / "data", env=env).start()
    member = _member_env(hub, root, "acme", env)
    yield hub, member
    hub.stop()


def _types(env: dict[str, str], *extra: str) -> dict[str, dict[str, object]]:
    out = run_cli("types", "--json", *extra, env=env, check=True).stdout
    return {t["name"]: t for t in map(json.loads, out.splitlines())}


def test_hub_lists_builtins_and_says_photodna_is_exact_without_a_matcher(
    hub: HubProcess, keys_dir: Path
) -> None:
    env = _member_env(hub, keys_dir, "typer", {})
    types = _types(env)
    assert {t.name for t in domain.SIGNAL_TYPES.values() if t.origin == "signalhub"} <= set(types)
    assert types["photodna"]["match"] == "exact"
    assert types["pdq"] == {**types["pdq"], "match": "hamming", "bits": 256, "origin": "signalhub"}
    assert types == _types(env, "--local")  # this installation and the hub agree
    text = run_cli("types", env=env, check=True).stdout
    assert "photodna" in text and "not installed here" not in text


def test_unknown_type_is_refused_naming_it_and_nothing_is_stored(
    hub: HubProcess, keys_dir: Path
) -> None:
    key = hub.add_member("unknowns", keys_dir)
    before = store_fingerprint(hub.data_dir)
    with hub.client("unknowns", key) as client:
        with pytest.raises(InvalidArgument) as e:
            client.submit([Signal("md5", "ab" * 16), Signal("simhash", "0f" * 8)])
        assert "simhash" in str(e.value)
        assert any(v[0] == "signals[1].type" for v in e.value.violations)
        with pytest.raises(InvalidArgument, match="simhash"):
            client.match([("simhash", "0f" * 8)])
    assert store_fingerprint(hub.data_dir) == before


def test_photodna_wrong_length_refused_with_nothing_stored_and_forms_are_one_signal(
    hub: HubProcess, keys_dir: Path
) -> None:
    key = hub.add_member("pdna", keys_dir)
    raw = PHOTODNA[0]
    with hub.client("pdna", key) as client:
        before = store_fingerprint(hub.data_dir)
        for bad in (raw[:143].hex(), raw.hex() + "ff", "QUJD"):
            with pytest.raises(InvalidArgument, match="144 bytes") as e:
                client.submit([Signal("photodna", bad)])
            assert [v[0] for v in e.value.violations] == ["signals[0].value"]
        assert store_fingerprint(hub.data_dir) == before
        forms = [raw.hex(), base64.b64encode(raw).decode(), ",".join(map(str, raw))]
        results = [client.submit([Signal("photodna", f, labels=("csam",))]) for f in forms]
        sids = {r.items[0].signal_id for r in results}
        assert sids == {domain.signal_id("photodna", raw.hex())}
        assert [r.items[0].status for r in results] == ["new", "duplicate", "duplicate"]
        (exact,) = client.match([("photodna", base64.b64encode(raw).decode())])
        assert [m.signal.value for m in exact.matches] == [raw.hex()]
        near = bytes([raw[0] ^ 1]) + raw[1:]
        (miss,) = client.match([("photodna", near.hex())])
        assert miss.matches == ()  # exact only, without a licensed matcher


def test_licensed_matcher_plugin_matches_photodna_by_distance_on_hub_and_replica(
    licensed: tuple[HubProcess, dict[str, str]], tmp_path: Path
) -> None:
    _, env = licensed
    types = _types(env)
    assert types["photodna"]["match"] == "distance"
    assert "pdna-l1-matcher 0.1" in str(types["photodna"]["origin"])
    assert types["photodna"]["default_threshold"] == 300
    records = "".join(json.dumps({"type": "photodna", "value": v.hex()}) + "\n" for v in PHOTODNA)
    run_cli("submit", "-", "--format", "jsonl", env=env, stdin=records, check=True)
    near = bytes(min(255, b + 1) for b in PHOTODNA[1])  # L1 distance <= 144 from PHOTODNA[1]
    expected_d = sum(abs(a - b) for a, b in zip(near, PHOTODNA[1], strict=True))

    def matched(*flags: str) -> list[tuple[str, int]]:
        out = run_cli("match", "--query", f"photodna:{near.hex()}", "--json", *flags, env=env,
                      check=True).stdout  # fmt: skip
        return [(m["value"], m["distance"]) for m in json.loads(out)["matches"]]

    assert matched() == [(PHOTODNA[1].hex(), expected_d)]
    assert matched("--distance", "photodna=0") == []
    # The same answer from a local replica, matched with the same plug-in.
    replica = tmp_path / "replica"
    run_cli("sync", "--local", str(replica), env=env, check=True)
    assert matched("--local", str(replica)) == [(PHOTODNA[1].hex(), expected_d)]
    # A threshold above the type's maximum is refused by the hub.
    bad = run_cli("match", "--query", f"photodna:{near.hex()}", "--distance", "photodna=99999",
                  env=env)  # fmt: skip
    assert bad.returncode != 0 and "max_distance" in bad.stderr


def test_hub_refuses_to_serve_a_store_whose_plugin_type_is_gone(
    licensed: tuple[HubProcess, dict[str, str]], tmp_path: Path
) -> None:
    hub, _ = licensed
    from exchange.server import lmdb_path
    from exchange.store import Store

    served = Store(lmdb_path(hub.data_dir), readonly=True)
    with served.read() as view:
        recorded = json.loads(view.meta("signal_types") or b"{}")
    served.close()
    assert "pdna-l1-matcher 0.1" in recorded["photodna"]
    # A store records the types it was served with (the licensed hub's did, at its start);
    # one that names a plug-in type nobody provides now must not be served.
    data = tmp_path / "data"
    init_data_dir(data)
    store = Store(lmdb_path(data))
    store.write(lambda tx: tx.set_meta("signal_types", json.dumps(
        {"pdq": "signalhub", "tlsh9": "signalhub-tlsh9 1.0"}).encode()))  # fmt: skip
    store.close()
    other = HubProcess(data)
    with pytest.raises(AssertionError, match=r"tlsh9 \(from signalhub-tlsh9 1.0\)"):
        other.start()


def test_classifier_verdicts_round_trip_and_min_score_filters(
    hub: HubProcess, keys_dir: Path, tmp_path: Path
) -> None:
    env = _member_env(hub, keys_dir, "classy", {})
    high, low, none = "c1" * 32, "c2" * 32, "c3" * 32
    records = [
        {"type": "pdq", "value": high, "labels": ["csam"],
         "classifier": {"classifier": "acme-csam-v3", "score": 0.97, "human_reviewed": True}},
        {"type": "pdq", "value": low, "classifier": "acme-csam-v3", "score": 0.4},
        {"type": "pdq", "value": none},
    ]  # fmt: skip
    lines = "".join(json.dumps(r) + "\n" for r in records)
    run_cli("submit", "-", "--format", "jsonl", env=env, stdin=lines, check=True)
    # A second member's verdict from another classifier on the same signal is merged.
    other = _member_env(hub, keys_dir, "classy2", {})
    run_cli("submit", "-", "--format", "jsonl", "--classifier", "safer-2", "--score", "0.5",
            env=other, stdin=json.dumps({"type": "pdq", "value": high}) + "\n",
            check=True)  # fmt: skip
    expected_high = [
        {"classifier": "acme-csam-v3", "score": 0.97, "human_reviewed": True},
        {"classifier": "safer-2", "score": 0.5, "human_reviewed": False},
    ]

    def match(*flags: str) -> dict[str, list[dict[str, object]]]:
        args = ["match", "--pdq", high, "--pdq", low, "--pdq", none, "--max-distance", "0"]
        out = run_cli(*args, "--json", *flags, env=env, check=True).stdout
        return {q["value"]: [m["classifiers"] for m in q["matches"]]
                for q in map(json.loads, out.splitlines())}  # fmt: skip

    assert match() == {high: [expected_high],
                       low: [[{"classifier": "acme-csam-v3", "score": 0.4,
                               "human_reviewed": False}]],
                       none: [[]]}  # fmt: skip
    assert match("--min-score", "0.9") == {high: [expected_high], low: [], none: []}
    assert match("--min-score", "0.4") == {high: [expected_high], low: [match()[low][0]],
                                           none: []}  # fmt: skip

    def fetched(*flags: str) -> dict[str, list[dict[str, object]]]:
        out = run_cli("fetch", "--json", *flags, env=env, check=True).stdout
        events = [json.loads(line) for line in out.splitlines()]
        return {e["value"]: e["classifiers"] for e in events if e["value"] in (high, low, none)}

    assert fetched()[high] == expected_high and fetched()[none] == []
    assert set(fetched("--min-score", "0.9")) == {high}
    replica = tmp_path / "replica"
    run_cli("sync", "--local", str(replica), env=env, check=True)
    with LocalReplica(replica) as local:
        got = {s.value: [v.__dict__ for v in s.classifiers] for s in local.signals()}
        assert got[high] == expected_high
        (r,) = local.match([("pdq", low)], 0, min_score=0.5)
        assert r.matches == ()
    assert match("--local", str(replica), "--min-score", "0.9") == {high: [expected_high],
                                                                     low: [], none: []}  # fmt: skip


def test_bad_classifier_verdicts_are_refused_and_nothing_is_stored(
    hub: HubProcess, keys_dir: Path
) -> None:
    key = hub.add_member("badclass", keys_dir)
    before = store_fingerprint(hub.data_dir)
    with hub.client("badclass", key) as client:
        for classifier, score, field in [
            ("Acme CSAM", 0.5, "signals[0].classifier.classifier"),
            ("acme", 1.5, "signals[0].classifier.score"),
            ("acme", float("nan"), "signals[0].classifier.score"),
            ("", 0.5, "signals[0].classifier.classifier"),
        ]:
            bad = Signal("pdq", "d4" * 32, classifier=domain.Verdict(classifier, score))
            with pytest.raises(InvalidArgument) as e:
                client.submit([bad])
            assert [v[0] for v in e.value.violations] == [field]
        # A batch id reused with a different verdict is a different batch.
        client.submit([Signal("pdq", "d5" * 32, classifier=domain.Verdict("acme", 0.5))],
                      batch_id="same-batch")  # fmt: skip
        after_first = store_fingerprint(hub.data_dir)
        with pytest.raises(AlreadyExists):
            client.submit([Signal("pdq", "d5" * 32, classifier=domain.Verdict("acme", 0.6))],
                          batch_id="same-batch")  # fmt: skip
        assert store_fingerprint(hub.data_dir) == after_first
    assert before != after_first
    bad = run_cli("submit", "-", "--format", "jsonl", "--classifier", "acme",
                  env={"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "badclass",
                       "SIGNALHUB_KEY": str(key)},
                  stdin=json.dumps({"type": "pdq", "value": "d6" * 32}) + "\n")  # fmt: skip
    assert bad.returncode == 1 and "--classifier and --score go together" in bad.stderr
    assert store_fingerprint(hub.data_dir) == after_first
