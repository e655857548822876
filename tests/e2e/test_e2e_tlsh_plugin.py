"""A type added from outside: the TLSH plug-in in examples/plugins (installed by `make dev`),
driven through a real hub. Submit, match (equal to a brute-force TLSH distance over the same
data), sync and match locally, export to pytx, retract, and restart (the index is reloaded
from the store)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import tlsh
from hubtools import HubProcess, run_cli

from signalhub import domain

WORDS = ("account", "image", "report", "platform", "abuse", "signal", "member", "hash",
         "video", "review", "policy", "safety", "trust", "child", "content", "share", "match",
         "case")  # fmt: skip


def _documents(n: int, seed: int) -> list[bytes]:
    """Random texts plus edited copies of some, so that small distances occur."""
    rng = random.Random(seed)
    docs = [" ".join(rng.choice(WORDS) + str(rng.randrange(1000)) for _ in range(300)).encode()
            for _ in range(n)]  # fmt: skip
    edited = []
    for doc in docs[: n // 2]:
        b = bytearray(doc)
        for _ in range(rng.randrange(1, 40)):
            b[rng.randrange(len(b))] = rng.randrange(97, 123)
        edited.append(bytes(b))
    return docs + edited


@pytest.fixture(scope="module")
def stocked(hub: HubProcess, keys_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    key = hub.add_member("docs", keys_dir)
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "docs",
           "SIGNALHUB_KEY": str(key)}  # fmt: skip
    root = tmp_path_factory.mktemp("tlsh")
    docs = _documents(60, seed=5)
    paths = []
    for i, doc in enumerate(docs[:3]):
        paths.append(root / f"doc{i}.txt")
        paths[-1].write_bytes(doc)
    # The CLI hashes files with the plug-in's hash_content ...
    out = run_cli("hash", "--type", "tlsh", "--json", *map(str, paths), env=env, check=True)
    from_cli = [json.loads(line)["value"] for line in out.stdout.splitlines()]
    assert from_cli == [str(tlsh.hash(d)) for d in docs[:3]]
    stored = [str(tlsh.hash(d)) for d in docs[:40]]
    lines = "".join(json.dumps({"type": "tlsh", "value": v, "labels": ["csam"]}) + "\n"
                    for v in stored)  # fmt: skip
    run_cli("submit", "-", "--format", "jsonl", env=env, stdin=lines, check=True)
    queries = [str(tlsh.hash(d)) for d in docs[40:]] + stored[:5]
    return {"env": env, "stored": stored, "queries": queries, "root": root}


def _brute(stored: list[str], query: str, radius: int) -> list[tuple[str, int]]:
    hits = {(v, tlsh.diff(query, v)) for v in stored}
    return sorted((v, d) for v, d in hits if d <= radius)


def _hub_matches(
    env: dict[str, str], queries: list[str], *flags: str
) -> list[list[tuple[str, int]]]:
    args = [a for q in queries for a in ("--query", f"tlsh:{q}")]
    out = run_cli("match", *args, "--json", *flags, env=env, check=True).stdout
    return [sorted((m["value"], m["distance"]) for m in json.loads(line)["matches"])
            for line in out.splitlines()]  # fmt: skip


def test_hub_lists_the_plugin_type_with_its_origin(stocked: dict) -> None:
    out = run_cli("types", "--json", env=stocked["env"], check=True).stdout
    types = {t["name"]: t for t in map(json.loads, out.splitlines())}
    assert types["tlsh"]["match"] == "distance"
    assert types["tlsh"]["origin"].startswith("signalhub-tlsh ")
    assert types["tlsh"]["pytx_name"] == domain.SIGNAL_TYPES["tlsh"].pytx_name


def test_hub_matches_equal_brute_force_tlsh_distance(stocked: dict) -> None:
    env, stored, queries = stocked["env"], stocked["stored"], stocked["queries"]
    default = domain.SIGNAL_TYPES["tlsh"].default_threshold
    assert _hub_matches(env, queries) == [_brute(stored, q, default) for q in queries]
    for radius in (0, 60, 150):
        got = _hub_matches(env, queries, "--distance", f"tlsh={radius}")
        assert got == [_brute(stored, q, radius) for q in queries]
    # Some queries must match and some not, or the comparison proves little.
    found = [len(r) for r in _hub_matches(env, queries, "--distance", "tlsh=60")]
    assert any(found) and not all(found)


def test_local_replica_matches_as_the_hub_and_pytx_export_carries_tlsh(stocked: dict) -> None:
    env, queries = stocked["env"], stocked["queries"]
    replica = stocked["root"] / "replica"
    run_cli("sync", "--local", str(replica), env=env, check=True)
    for radius in ("40", "120"):
        hub = _hub_matches(env, queries, "--distance", f"tlsh={radius}")
        local = _hub_matches(env, queries, "--distance", f"tlsh={radius}", "--local", str(replica))
        assert local == hub
    out = stocked["root"] / "list.pytx"
    run_cli("export", "--local", str(replica), "--out", str(out), "--type", "tlsh", env=env,
            check=True)  # fmt: skip
    name = domain.SIGNAL_TYPES["tlsh"].pytx_name
    lines = out.read_text().splitlines()
    assert sorted(lines) == sorted(f"{name} {v}" for v in stocked["stored"])


def test_bad_tlsh_values_are_refused_and_distance_out_of_range_too(
    stocked: dict, hub: HubProcess
) -> None:
    from hubtools import store_fingerprint

    env = stocked["env"]
    before = store_fingerprint(hub.data_dir)
    bad = run_cli("submit", "-", "--format", "jsonl", env=env,
                  stdin=json.dumps({"type": "tlsh", "value": "T1" + "Z" * 70}) + "\n")  # fmt: skip
    assert bad.returncode == 1 and "tlsh" in bad.stderr.lower()
    too_far = run_cli("match", "--query", f"tlsh:{stocked['stored'][0]}", "--distance",
                      "tlsh=100000", env=env)  # fmt: skip
    assert too_far.returncode == 1 and "max_distance" in too_far.stderr
    assert store_fingerprint(hub.data_dir) == before


def test_retracted_signal_leaves_the_index_and_a_restart_reloads_it(
    stocked: dict, hub: HubProcess
) -> None:
    env, stored = stocked["env"], stocked["stored"]
    gone = stored[1]
    run_cli("retract", domain.signal_id("tlsh", gone), env=env, check=True)
    left = [v for v in stored if v != gone]
    queries = stocked["queries"]
    assert _hub_matches(env, queries, "--distance", "tlsh=100") == [
        _brute(left, q, 100) for q in queries
    ]
    hub.restart()
    assert _hub_matches(env, queries, "--distance", "tlsh=100") == [
        _brute(left, q, 100) for q in queries
    ]
