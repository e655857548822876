"""Hosts and paths through a real hub, values sent as members wrote them (the hub canonicalises
them itself): a name and its punycode are one signal, names IDNA 2003 merged are two, browser
forms of one URL are one, and a value the rules refuse is INVALID_ARGUMENT with nothing
stored."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
import pytest
from hubtools import HubProcess, store_fingerprint

from client_sdk import Signal, SignalhubError
from signalhub import domain

PDQ = "e1" * 32


@pytest.fixture(scope="module")
def acme(hub: HubProcess, keys_dir: Path) -> Path:
    return hub.add_member("acme", keys_dir)


def test_a_name_and_its_punycode_get_one_signal_id_and_fass_de_another(
    hub: HubProcess, acme: Path
) -> None:
    with hub.client("acme", acme) as client:
        first = client.submit([Signal("domain", "faß.de")])
        again = client.submit([Signal("domain", "XN--FA-HIA.de"), Signal("domain", "fass.de")])
        sharp = first.items[0].signal_id
        assert sharp == domain.signal_id("domain", "xn--fa-hia.de")
        assert client.get_signal(sharp).signal.value == "xn--fa-hia.de"
    assert (again.items[0].signal_id, again.items[0].status) == (sharp, "duplicate")
    assert again.items[1].signal_id == domain.signal_id("domain", "fass.de") != sharp
    assert again.items[1].status == "new"


def test_browser_forms_of_one_url_get_one_signal_id(hub: HubProcess, acme: Path) -> None:
    forms = ["http://127.1/a/b/../c", "http://0x7f.0.0.1/a/./c", "HTTP://0177.0.0.1:80/a/%2e/c",
             "2130706433/a/c"]  # fmt: skip
    with hub.client("acme", acme) as client:
        result = client.submit([Signal("url", form) for form in forms])
    expected = domain.signal_id("url", "http://127.0.0.1/a/c")
    assert [item.signal_id for item in result.items] == [expected] * len(forms)
    assert [item.status for item in result.items] == ["new"] + ["duplicate"] * 3


@pytest.mark.parametrize(
    ("type_name", "value", "message"),
    [
        ("domain", "☃.net", r"U\+2603"),  # IDNA 2003 took it; IDNA 2008 does not
        ("domain", "xn--n3h.net", r"U\+2603"),  # nor its punycode
        ("domain", "xn---bbk.jp", "canonical"),
        ("url", "http://a\u200db.example/", "Joiner"),
        ("url", "http://256.0.0.1/", "out of range"),
        ("domain", "127.1", "ends in a number"),
    ],
)
def test_a_value_the_rules_refuse_is_invalid_argument_and_nothing_is_stored(
    hub: HubProcess, acme: Path, type_name: str, value: str, message: str
) -> None:
    before = store_fingerprint(hub.data_dir)
    with hub.client("acme", acme) as client, pytest.raises(SignalhubError) as info:
        client.submit([Signal("pdq", PDQ), Signal(type_name, value)])
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in info.value.violations] == ["signals[1].value"]
    assert re.search(message, info.value.violations[0][1])
    assert store_fingerprint(hub.data_dir) == before
