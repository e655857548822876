"""Per-call authentication without a server: CallVerifier over a real store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from client_sdk.signing import Signer
from exchange.auth import CERTIFICATE_MEMBER, CallVerifier
from exchange.errors import HubError
from exchange.store import Store, StoreTxn
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2

METHOD = "/signalhub.v1.Exchange/MatchHashes"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Store, Signer, Signer]]:
    store = Store(tmp_path / "lmdb")
    member_key, operator_key = domain.new_private_key(), domain.new_private_key()
    public = domain.raw_public_key(member_key)

    def write(tx: StoreTxn) -> None:
        tx.put_member(admin_pb2.Member(member_id="acme", key_ids=[domain.key_id(public)]))
        tx.put_key(rec.KeyRecord(key_id=domain.key_id(public), member_id="acme", public_key=public))
        tx.set_meta("operator_public_key", domain.raw_public_key(operator_key))

    store.write(write)
    yield store, Signer("acme", member_key), Signer(domain.OPERATOR_ID, operator_key)
    store.close()


def verify(store: Store, verifier: CallVerifier, metadata: object, request: bytes) -> str:
    with store.read() as view:
        return verifier.verify(view, METHOD, dict(metadata), request).member_id  # type: ignore[call-overload]


def reason(store: Store, verifier: CallVerifier, metadata: object, request: bytes) -> str | None:
    with pytest.raises(HubError) as info:
        verify(store, verifier, metadata, request)
    return info.value.auth_reason


def test_member_and_operator_calls_verify(setup: tuple[Store, Signer, Signer]) -> None:
    store, member, operator = setup
    verifier = CallVerifier()
    assert verify(store, verifier, member.call_metadata(METHOD, b"req"), b"req") == "acme"
    assert verify(store, verifier, operator.call_metadata(METHOD, b"req"), b"req") == "operator"


def test_each_forgery_is_refused_with_its_reason(setup: tuple[Store, Signer, Signer]) -> None:
    store, member, _ = setup
    verifier = CallVerifier()
    good = member.call_metadata(METHOD, b"req")
    assert reason(store, verifier, good, b"other request") == "bad_signature"
    assert reason(store, verifier, (), b"req") == "missing_credentials"
    stranger = Signer("acme", domain.new_private_key())
    assert reason(store, verifier, stranger.call_metadata(METHOD, b"r"), b"r") == "unknown_key"
    ghost = Signer("ghost", member.private_key)
    assert reason(store, verifier, ghost.call_metadata(METHOD, b"r"), b"r") == "unknown_member"
    fake_operator = Signer(domain.OPERATOR_ID, member.private_key)
    assert reason(store, verifier, fake_operator.call_metadata(METHOD, b"r"), b"r") == "unknown_key"
    other_method = member.call_metadata("/signalhub.v1.Exchange/GetSignal", b"r")
    assert reason(store, verifier, other_method, b"r") == "bad_signature"


def test_mtls_call_must_be_signed_as_the_certificate_member(
    setup: tuple[Store, Signer, Signer],
) -> None:
    store, member, operator = setup
    verifier = CallVerifier()

    def certified(signer: Signer, name: str) -> object:
        return (*signer.call_metadata(METHOD, b"r"), (CERTIFICATE_MEMBER, name))

    assert verify(store, verifier, certified(member, "acme"), b"r") == "acme"
    assert verify(store, verifier, certified(operator, domain.OPERATOR_ID), b"r") == "operator"
    assert reason(store, verifier, certified(member, "other"), b"r") == "certificate_mismatch"
    assert reason(store, verifier, certified(member, ""), b"r") == "certificate_mismatch"
    assert reason(store, verifier, certified(operator, "acme"), b"r") == "certificate_mismatch"
    # An unsigned probe learns nothing from its certificate: the signature is checked first.
    assert reason(store, verifier, certified(member, "other"), b"x") == "bad_signature"


def test_nonce_is_single_use(setup: tuple[Store, Signer, Signer]) -> None:
    store, member, _ = setup
    verifier = CallVerifier()
    metadata = member.call_metadata(METHOD, b"req")
    verify(store, verifier, metadata, b"req")
    assert reason(store, verifier, metadata, b"req") == "replayed_nonce"


def test_timestamps_outside_the_window_or_before_start_are_stale(
    setup: tuple[Store, Signer, Signer],
) -> None:
    store, member, _ = setup
    verifier = CallVerifier(window_seconds=60)
    now = int(time.time() * 1000)
    future = member.call_metadata(METHOD, b"r", now_ms=now + 61_000)
    assert reason(store, verifier, future, b"r") == "stale"
    before_start = member.call_metadata(METHOD, b"r", now_ms=verifier.started_ms - 30_000)
    assert reason(store, verifier, before_start, b"r") == "stale"
