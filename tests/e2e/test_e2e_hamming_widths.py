"""Plug-in Hamming types of every width the registry accepts are matched by the hub and by a
local replica alike: member input never reaches INTERNAL (issue 19: a 64-bit simhash made
MatchHashes fail with "cannot reshape", and at 256 bits the hub found nothing)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hubtools import HubProcess, plugin_site, run_cli, store_fingerprint

from exchange.commands import init_data_dir

WIDTHS = (4, 8, 64, 128, 252, 256)
PLUGIN = '''
"""Hamming types of several widths, as a simhash plug-in would declare them."""
import re

from signalhub.signal_types import InvalidValue, MatchKind, SignalType


def _hex(bits):
    def canonical(value):
        text = value.strip().lower()
        if not re.fullmatch(f"[0-9a-f]{{{bits // 4}}}", text):
            raise InvalidValue("value", f"{bits // 4} hex digits required")
        return text
    return canonical


TYPES = [
    SignalType(f"ham{bits}", MatchKind.HAMMING, f"a {bits}-bit hash", canonical=_hex(bits),
               normalize=_hex(bits), bits=bits, default_threshold=min(bits, 3))
    for bits in WIDTHS
]
'''.replace("WIDTHS", repr(WIDTHS))


@pytest.fixture(scope="module")
def widths_hub(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[HubProcess, dict[str, str]]]:
    root = tmp_path_factory.mktemp("widths")
    site = plugin_site(root, "ham-widths", "ham_widths", PLUGIN, "ham = ham_widths:TYPES")
    env = {"PYTHONPATH": str(site)}
    init_data_dir(root / "data")
    hub = HubProcess(root / "data", env=env).start()
    key = hub.add_member("hammer", root)
    yield hub, {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "hammer",
                "SIGNALHUB_KEY": str(key), **env}  # fmt: skip
    hub.stop()


def _flip(value: str, bits: int, flips: int) -> str:
    n = int(value, 16)
    for b in range(flips):
        n ^= 1 << (b * 3 % bits)
    return f"{n:0{bits // 4}x}"


@pytest.mark.parametrize("bits", WIDTHS)
def test_every_hamming_width_matches_on_hub_and_replica_alike(
    widths_hub: tuple[HubProcess, dict[str, str]], tmp_path: Path, bits: int
) -> None:
    _, env = widths_hub
    rng = random.Random(bits)
    name = f"ham{bits}"
    stored = [f"{rng.getrandbits(bits):0{bits // 4}x}" for _ in range(3)]
    records = "".join(json.dumps({"type": name, "value": v}) + "\n" for v in stored)
    run_cli("submit", "-", "--format", "jsonl", env=env, stdin=records, check=True)
    replica = tmp_path / "replica"
    run_cli("sync", "--local", str(replica), env=env, check=True)
    near = _flip(stored[0], bits, 1)

    def matched(value: str, *flags: str) -> list[tuple[str, int]]:
        out = run_cli("match", "--query", f"{name}:{value}", "--json", *flags, env=env)
        assert out.returncode == 0, out.stderr
        return sorted((m["value"], m["distance"]) for m in json.loads(out.stdout)["matches"])

    for value, want in ((stored[0], 0), (near, 1)):
        hub_answer = matched(value)
        assert (stored[0], want) in hub_answer  # the exact value too, at 256 bits as at 4
        assert all(d <= min(bits, 3) for _, d in hub_answer)
        assert matched(value, "--local", str(replica)) == hub_answer
    assert matched(near, "--distance", f"{name}=0") == []


def test_a_hamming_value_of_the_wrong_width_is_invalid_not_internal(
    widths_hub: tuple[HubProcess, dict[str, str]],
) -> None:
    hub, env = widths_hub
    before = store_fingerprint(hub.data_dir)
    bad = run_cli("match", "--query", "ham64:" + "ab" * 32, "--json", env=env)
    assert bad.returncode != 0
    assert "16 hex digits" in bad.stderr and "INTERNAL" not in bad.stderr
    assert store_fingerprint(hub.data_dir) == before
