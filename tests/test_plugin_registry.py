"""The signal-type registry built from entry points: built-ins are registered the same way as a
plug-in, a plug-in adds a type (Hamming over N bits served by the matcher, or a distance with its
own index), a licensee's matcher turns photodna into a distance type, and every bad plug-in is
refused naming itself. PhotoDNA values: the three forms agree, wrong lengths are refused."""

from __future__ import annotations

import base64
import random
from collections.abc import Sequence
from importlib import metadata

import pytest

from signalhub.signal_types import (
    BUILTIN_TYPES,
    SIGNAL_TYPES,
    InvalidValue,
    MatchKind,
    PluginError,
    SignalType,
    TypeMatcher,
    canonical_photodna,
    load_types,
)

GROUP = "signalhub.signal_types"
OWN = metadata.EntryPoint("builtin", "signalhub.signal_types:BUILTIN_TYPES", GROUP)


def _hex(bits: int) -> SignalType:
    def canonical(value: str) -> str:
        text = value.strip().lower()
        if len(text) != bits // 4 or any(c not in "0123456789abcdef" for c in text):
            raise InvalidValue(f"{bits // 4} hex digits")
        return text

    return SignalType("hash64", MatchKind.HAMMING, "a 64-bit hash", canonical, canonical,
                      bits=bits, default_threshold=8)  # fmt: skip


HASH64 = _hex(64)
NOT_A_TYPE = {"name": "dict"}


class L1Index:
    """Brute force over byte-wise L1 distance: a stand-in for a licensed PhotoDNA matcher."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}

    def add(self, items: Sequence[tuple[str, str]]) -> None:
        self.values.update((sid, bytes.fromhex(v)) for sid, v in items)

    def remove(self, signal_ids: Sequence[str]) -> None:
        for sid in signal_ids:
            self.values.pop(sid, None)

    def search(self, value: str, max_distance: int) -> list[tuple[str, int]]:
        found = []
        for sid, held in self.values.items():
            d = l1(value, held.hex())
            if d <= max_distance:
                found.append((sid, d))
        return found

    def __len__(self) -> int:
        return len(self.values)


def l1(a: str, b: str) -> int:
    return sum(abs(x - y) for x, y in zip(bytes.fromhex(a), bytes.fromhex(b), strict=True))


PHOTODNA_MATCHER = TypeMatcher("photodna", l1, L1Index, default_threshold=500,
                               max_threshold=10_000)  # fmt: skip
MD5_MATCHER = TypeMatcher("md5", l1, L1Index, default_threshold=1, max_threshold=2)


def _ep(name: str, attr: str) -> metadata.EntryPoint:
    return metadata.EntryPoint(name, f"test_plugin_registry:{attr}", GROUP)


def test_installed_registry_has_every_builtin_through_the_package_entry_point() -> None:
    names = {ep.value for ep in metadata.entry_points(group=GROUP)}
    assert "signalhub.signal_types:BUILTIN_TYPES" in names
    for t in BUILTIN_TYPES:
        assert SIGNAL_TYPES[t.name] is t
        assert t.origin == "signalhub"


def test_builtins_without_installed_metadata_still_load() -> None:
    # A source tree that is not installed has no entry points: the built-ins are still there.
    assert set(load_types([])) == {t.name for t in BUILTIN_TYPES}


def test_plugin_hamming_type_is_added_with_its_origin_and_matcher_index() -> None:
    types = load_types([OWN, _ep("hash64", "HASH64")])
    t = types["hash64"]
    assert t.match is MatchKind.HAMMING and t.indexed
    assert t.max_threshold == 64
    index = t.index() if t.index else None
    assert index is not None and t.distance is not None
    rng = random.Random(7)
    values = {f"{i:032x}": f"{rng.getrandbits(64):016x}" for i in range(300)}
    index.add(list(values.items()))
    query = f"{rng.getrandbits(64):016x}"
    for radius in (0, 20, 28, 33, 64):
        expected = sorted((sid, t.distance(query, v)) for sid, v in values.items()
                          if t.distance(query, v) <= radius)  # fmt: skip
        assert sorted(index.search(query, radius)) == expected
    gone = sorted(values)[:100]
    index.remove(gone)
    assert len(index) == 200
    assert not {sid for sid, _ in index.search(query, 64)} & set(gone)


def test_a_type_registered_twice_is_refused_naming_the_clash() -> None:
    with pytest.raises(PluginError, match="'pdq' is already registered by signalhub"):
        load_types([OWN, _ep("again", "BUILTIN_TYPES")])


def test_an_entry_point_that_is_not_a_type_is_refused_naming_it() -> None:
    with pytest.raises(PluginError, match=r"bad.*not a SignalType"):
        load_types([OWN, _ep("bad", "NOT_A_TYPE")])


def test_an_entry_point_that_cannot_load_is_refused_naming_it() -> None:
    broken = metadata.EntryPoint("gone", "no_such_module_here:X", GROUP)
    with pytest.raises(PluginError, match=r"gone.*cannot load no_such_module_here:X"):
        load_types([OWN, broken])


def test_a_licensed_matcher_makes_photodna_a_distance_type_keeping_its_wire_form() -> None:
    types = load_types([OWN, _ep("pdna", "PHOTODNA_MATCHER")])
    t = types["photodna"]
    assert t.match is MatchKind.DISTANCE and t.indexed
    assert t.default_threshold == 500 and t.max_threshold == 10_000
    assert t.canonical is canonical_photodna
    assert "matcher" in t.origin
    assert load_types([OWN])["photodna"].match is MatchKind.EXACT


def test_a_matcher_for_a_type_that_does_not_allow_one_is_refused() -> None:
    with pytest.raises(PluginError, match=r"'md5'.*not a type whose matching"):
        load_types([OWN, _ep("md5m", "MD5_MATCHER")])


def test_a_second_photodna_matcher_is_refused() -> None:
    with pytest.raises(PluginError, match="already has a matcher"):
        load_types([OWN, _ep("a", "PHOTODNA_MATCHER"), _ep("b", "PHOTODNA_MATCHER")])


def test_a_bad_type_declaration_is_refused_when_made() -> None:
    with pytest.raises(ValueError, match="needs `distance` and `index`"):
        SignalType("lonely", MatchKind.DISTANCE, "x", str, str, default_threshold=1)
    with pytest.raises(ValueError, match="4-256 bits"):
        SignalType("wide", MatchKind.HAMMING, "x", str, str, bits=512)
    with pytest.raises(ValueError, match="name"):
        SignalType("Bad-Name", MatchKind.EXACT, "x", str, str)


def test_photodna_forms_agree_and_wrong_lengths_are_refused() -> None:
    raw = bytes(random.Random(3).getrandbits(8) for _ in range(144))
    forms = [raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode(),
             ",".join(str(b) for b in raw), f"  {raw.hex()}\n"]  # fmt: skip
    assert {canonical_photodna(f) for f in forms} == {raw.hex()}
    for bad, why in [
        (raw[:143].hex(), "144 bytes, got 143"),
        (raw.hex() + "00", "144 bytes, got 145"),
        (raw.hex()[:-1] + "g", "288 hex digits"),
        (base64.b64encode(raw[:100]).decode(), "144 bytes, got 100"),
        (",".join(str(b) for b in raw[:10]), "144 bytes, got 10"),
        (",".join(["300"] * 144), "0-255"),
        ("not a hash at all!", "288 hex digits"),
        ("", "144 bytes, got 0"),
    ]:
        with pytest.raises(InvalidValue, match=why):
            canonical_photodna(bad)


def test_pdq_says_the_thresholds_the_hub_applies() -> None:
    from signalhub import domain

    for name in ("pdq", "vpdq"):
        t = SIGNAL_TYPES[name]
        assert t.default_threshold == domain.DEFAULT_PDQ_MAX_DISTANCE
        assert t.max_threshold == 64  # MatchHashes refuses max_distance above 64
