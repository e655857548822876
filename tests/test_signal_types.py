"""Normalisation rules of the signal types: the documented test vectors, idempotence, and
refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalhub import domain
from signalhub.signal_types import SIGNAL_TYPES, ConsortiumKey, InvalidValue, wire_value

DOC = json.loads((Path(__file__).parent.parent / "docs/normalisation-vectors.json").read_text())
KEY = ConsortiumKey(DOC["consortium_key"]["version"], bytes.fromhex(DOC["consortium_key"]["key"]))


@pytest.mark.parametrize("vector", DOC["vectors"], ids=lambda v: f"{v['type']}:{v['raw']}")
def test_documented_vectors(vector: dict[str, str]) -> None:
    t = SIGNAL_TYPES[vector["type"]]
    assert t.normalize(vector["raw"]) == vector["normalised"]
    assert t.normalize(vector["normalised"]) == vector["normalised"]  # idempotent
    assert wire_value(vector["type"], vector["raw"], KEY) == vector["wire"]
    assert domain.canonical_value(vector["type"], vector["wire"]) == vector["wire"]


@pytest.mark.parametrize(
    ("type_name", "raw"),
    [
        ("url", "ftp://example.com/"), ("url", "http://"), ("url", "http://exa mple.com/"),
        ("url", "http://example.com:99999/"), ("domain", "localhost"), ("domain", "a..b"),
        ("email", "no-at-sign"), ("email", "@example.com"), ("phone", "020 7946 0958"),
        ("phone", "+1 23"), ("username", "no-platform"), ("account_id", ":123"),
        ("ip", "300.1.1.1"), ("ip", "example.com"),
    ],
)  # fmt: skip
def test_values_that_cannot_be_normalised_are_refused(type_name: str, raw: str) -> None:
    with pytest.raises(InvalidValue):
        wire_value(type_name, raw, KEY)


def test_personal_values_need_the_consortium_key_and_differ_by_type() -> None:
    with pytest.raises(InvalidValue, match="consortium key"):
        wire_value("email", "a@example.com", None)
    assert KEY.keyed("username", "x:y") != KEY.keyed("account_id", "x:y")
    other = ConsortiumKey(2, b"\x01" * 32)
    assert other.keyed("email", "a@example.com").startswith("k2:")
    # a value keyed already passes through unchanged (e.g. from another member's export)
    keyed = KEY.keyed("email", "a@example.com")
    assert wire_value("email", keyed.upper(), None) == keyed


def test_hub_refuses_personal_values_in_clear() -> None:
    with pytest.raises(InvalidValue, match="keyed"):
        domain.canonical_value("email", "a@example.com")


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
               min_size=1, max_size=30))  # fmt: skip
def test_normalisation_is_idempotent(text: str) -> None:
    for name in ("url", "domain", "email", "phone", "username", "account_id", "ip"):
        t = SIGNAL_TYPES[name]
        try:
            once = t.normalize(text)
        except InvalidValue:
            continue
        assert t.normalize(once) == once, (name, text, once)


def test_consortium_key_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    key = ConsortiumKey.generate(3)
    key.write(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert ConsortiumKey.read(path) == key
    (tmp_path / "bad.json").write_text('{"version": 0, "key": "00"}')
    with pytest.raises(InvalidValue):
        ConsortiumKey.read(tmp_path / "bad.json")
