"""Normalisation rules of the signal types: the documented test vectors, idempotence, and
refusals."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalhub import domain
from signalhub.normalisation import (
    _ipv6_text,
    normalize_domain,
    normalize_email,
    normalize_ip,
    normalize_url,
    old_rule_changes,
    remove_dot_segments,
)
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


@pytest.mark.parametrize("vector", DOC["refused"], ids=lambda v: f"{v['type']}:{v['raw']}")
def test_documented_refusals(vector: dict[str, str]) -> None:
    with pytest.raises(InvalidValue):
        wire_value(vector["type"], vector["raw"], KEY)


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


# --- hosts and paths (issue 19: IDNA 2008, WHATWG hosts, dot segments) ----------------------
def sid(type_name: str, raw: str) -> str:
    return domain.signal_id(type_name, wire_value(type_name, raw, KEY))


def test_sharp_s_and_final_sigma_are_names_of_their_own() -> None:
    assert normalize_domain("faß.de") == "xn--fa-hia.de"
    assert normalize_domain("fass.de") == "fass.de"
    assert sid("domain", "faß.de") != sid("domain", "fass.de")
    assert normalize_domain("βόλος.gr") == "xn--nxasmm1c.gr"
    assert normalize_domain("βόλοσ.gr") == "xn--nxasmq6b.gr"
    assert sid("domain", "βόλος.gr") != sid("domain", "βόλοσ.gr")
    # UTS #46 maps a capital sigma to sigma wherever it stands (str.lower() would not)
    assert normalize_domain("ΒΌΛΟΣ.GR") == "xn--nxasmq6b.gr"
    assert normalize_email("A@ΒΌΛΟΣ.GR") == "a@xn--nxasmq6b.gr"


@pytest.mark.parametrize("raw", ["faß.de", "xn--fa-hia.de", "XN--FA-HIA.DE", "Faß.DE.", "faß。de"])
def test_a_name_and_its_punycode_are_one_domain(raw: str) -> None:
    assert normalize_domain(raw) == "xn--fa-hia.de"
    assert sid("domain", raw) == sid("domain", "faß.de")
    assert normalize_url(f"https://{raw}/x") == "https://xn--fa-hia.de/x"
    assert normalize_email(f"User@{raw}") == "user@xn--fa-hia.de"


@pytest.mark.parametrize(
    "raw",
    ["example.com", "_dmarc.example.com", "r3---sn-4g5e6nzz.googlevideo.com", "a-.b_c.example",
     "xn--bcher-kva.example", "x.y.z.example.museum"],
)  # fmt: skip
def test_ascii_names_keep_the_form_of_the_old_rule(raw: str) -> None:
    assert normalize_domain(raw.upper() + ".") == raw
    assert old_rule_changes("domain", raw) is None
    assert old_rule_changes("url", f"http://{raw}/") is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("☃.net", r"U\+2603"),  # a symbol: valid in IDNA 2003, not in IDNA 2008
        ("xn--n3h.net", r"U\+2603"),  # its punycode is decoded and refused alike
        ("xn---bbk.jp", "canonical"),  # a fake A-label: not what encoding its U-label gives
        ("xn--.de", "Punycode"),
        ("xn--a.de", "not allowed"),
        ("a\u200db.com", "Joiner"),  # a ZWJ outside the context IDNA 2008 allows it in
        ("ab--ü.de", "hyphens"),
        ("a\ufffdb.com", "not allowed"),
        ("a..b", "a label is 1-63"),
        ("exa!mple.com", "a label is 1-63"),
        ("x" * 64 + ".com", "a label is 1-63"),
        (("a" * 60 + ".") * 5 + "com", "at most 253"),
        ("ü" * 70 + ".de", "too long"),
        ("localhost", "at least two labels"),
        ("127.1", "ends in a number"),
        ("192.0.2.1", "ends in a number"),
        ("example.0x10", "ends in a number"),
    ],
)
def test_bad_domain_names_are_refused_with_the_reason(raw: str, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        normalize_domain(raw)
    with pytest.raises(InvalidValue):
        domain.canonical_value("domain", raw)


@pytest.mark.parametrize(
    "host",
    ["127.1", "0x7f.0.0.1", "0177.0.0.1", "2130706433", "0x7F000001", "127.0.1", "0x7f.1",
     "127.0.0.1.", "017700000001", "127.%30.0.1",
     "\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11"],  # fullwidth
)  # fmt: skip
def test_numeric_url_hosts_are_the_ipv4_address_a_browser_reads(host: str) -> None:
    assert normalize_url(f"http://{host}/x") == "http://127.0.0.1/x"
    assert sid("url", f"http://{host}/x") == sid("url", "http://127.0.0.1/x")


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("256.0.0.1", "out of range"), ("1.256.0.1", "out of range"),
        ("1.2.65536", "out of range"), ("4294967296", "out of range"),
        ("0x100000000", "out of range"), ("1.2.3.4.5", "not an IPv4 address"),
        ("09.1.1.1", "not an IPv4 address"), ("example.123", "not an IPv4 address"),
    ],
)  # fmt: skip
def test_numeric_url_hosts_out_of_range_are_refused(host: str, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        normalize_url(f"http://{host}/")


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("http://[2001:0DB8:0:0:0:0:0:1]/", "http://[2001:db8::1]/"),
        ("http://[::FFFF:192.0.2.1]:80/", "http://[::ffff:c000:201]/"),
        ("http://[0:0:0:0:0:0:0:0]:8080/", "http://[::]:8080/"),
        ("http://[1:0:0:2:0:0:0:3]/", "http://[1:0:0:2::3]/"),
        ("http://u:p@[::1]/", "http://[::1]/"),
        ("http://ex%61mple.COM/", "http://example.com/"),  # hosts are percent-decoded
        ("http://b%C3%BCcher.example/", "http://xn--bcher-kva.example/"),
        ("https://example.com:0443/", "https://example.com/"),
    ],
)
def test_url_hosts_take_one_form(url: str, canonical: str) -> None:
    assert normalize_url(url) == canonical


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://[fe80::1%25eth0]/", "zone"), ("http://[::1]x/", "in brackets"),
        ("http://[1.2.3.4]/", "IPv4"), ("http://[::1/", "valid url"),
        ("http://ex%2Fample.com/", "not a valid host"), ("http://%C3%28.com/", "UTF-8"),
        ("http://example.com:65536/", "0-65535"), ("http://example.com:8o/", "0-65535"),
    ],
)  # fmt: skip
def test_bad_url_hosts_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        normalize_url(url)


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("/a/b/../c/./d", "/a/c/d"), ("/a/..", "/"), ("/a/b/..", "/a/"), ("/..", "/"),
        ("/../../x", "/x"), ("/a/.", "/a/"), ("/./a", "/a"), ("/a//../b", "/a/b"),
        ("/a/%2e%2E/b", "/b"), ("/a/.%2e/b", "/b"), ("/a/%2E./b/%2e", "/b/"),
        ("/a/..b/.c", "/a/..b/.c"),  # only whole segments are dot segments
        ("/a/%2F../b", "/a/%2F../b"),  # an escaped slash does not end a segment
        ("/a/b?x=/../y", "/a/b?x=/../y"),  # the query is not a path
    ],
)  # fmt: skip
def test_dot_segments_are_removed_from_url_paths(path: str, canonical: str) -> None:
    assert normalize_url("http://example.com" + path) == "http://example.com" + canonical
    assert remove_dot_segments(canonical.partition("?")[0]) == canonical.partition("?")[0]


def test_the_ip_type_refuses_browser_shorthand_with_a_reason() -> None:
    # A log's 010.000.000.001 is zero-padded decimal more often than octal: refuse, not guess.
    for raw in ("127.1", "0x7f.0.0.1", "0177.0.0.1", "2130706433", "010.000.000.001"):
        with pytest.raises(InvalidValue, match="standard form"):
            wire_value("ip", raw, KEY)
    assert normalize_ip("[::FFFF:192.0.2.1]") == "192.0.2.1"


@given(st.integers(0, 2**128 - 1), st.integers(0, 255))
def test_ipv6_text_is_rfc_5952(n: int, zeros: int) -> None:
    n &= ~sum(0xFFFF << (16 * i) for i in range(8) if zeros >> i & 1)  # runs of zero pieces
    address = ipaddress.IPv6Address(n)
    text = _ipv6_text(address)
    assert ipaddress.IPv6Address(text) == address
    if address.ipv4_mapped is None:  # str() of those differs between Python releases
        assert text == str(address)
    assert normalize_url(f"http://[{text}]/") == f"http://[{text}]/"


HOST_PARTS = st.sampled_from(
    ["a", "ß", "ς", "Σ", "ü", "xn--", "fa-hia", "0", "1", "7f", "0x", "08", "%2e", "%41", "_",
     "-", "\u200d", "。", "\uff0e", "255", "256", "4294967295", "\uff42"]
)  # fmt: skip
HOSTS = st.lists(st.lists(HOST_PARTS, min_size=1, max_size=3).map("".join), min_size=1,
                 max_size=5).map(".".join)  # fmt: skip
PATHS = st.lists(st.sampled_from(["a", ".", "..", "%2e", "%2E.", "", "%2F", "b;c"]),
                 max_size=6).map(lambda segments: "/" + "/".join(segments))  # fmt: skip


@given(HOSTS, PATHS, st.sampled_from(["", ":80", ":8080", ":0"]))
def test_host_and_path_normalisation_is_idempotent(host: str, path: str, port: str) -> None:
    for name, raw in (("domain", host), ("url", f"http://{host}{port}{path}")):
        t = SIGNAL_TYPES[name]
        try:
            once = t.normalize(raw)
        except InvalidValue as e:
            assert str(e)
            continue
        assert t.normalize(once) == once, (name, raw, once)
        assert domain.canonical_value(name, once) == once


def test_old_rule_changes_names_the_values_that_moved() -> None:
    change = old_rule_changes("domain", "faß.de")
    assert change is not None and (change.old, change.new) == ("fass.de", "xn--fa-hia.de")
    assert old_rule_changes("domain", "fass.de") is None
    change = old_rule_changes("url", "http://0x7f.0.0.1/a/../b")
    assert change is not None
    assert (change.old, change.new) == ("http://0x7f.0.0.1/a/../b", "http://127.0.0.1/b")
    change = old_rule_changes("domain", "☃.net")
    assert change is not None and change.old == "xn--n3h.net" and change.new is None
    assert "U+2603" in change.reason
    change = old_rule_changes("email", "x@faß.de")  # the keyed wire value changes with it
    assert change is not None and change.new == "x@xn--fa-hia.de"
    assert old_rule_changes("pdq", "ab" * 32) is None
