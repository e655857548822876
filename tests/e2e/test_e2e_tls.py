"""TLS and mTLS with real certificates on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hubtools import HubProcess, free_port, run_cli, store_fingerprint

from client_sdk import (
    AdminClient,
    Client,
    PermissionDenied,
    RetryPolicy,
    Signal,
    SignalhubError,
    TlsConfig,
)
from exchange.auth import CERTIFICATE_MEMBER
from exchange.tls import TlsFiles, create_ca, issue_cert
from signalhub import domain

ONCE = RetryPolicy(attempts=1)


@pytest.fixture(scope="module")
def tls_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, Path]]:
    tmp = tmp_path_factory.mktemp("tls")
    data_dir = tmp / "data"
    init = run_cli("init", "--data-dir", str(data_dir), "--tls", check=True)
    assert "--tls-client-ca" in init.stdout
    t = data_dir / "tls"
    hub = HubProcess(data_dir, metrics_port=free_port()).start(extra=(
        "--tls-cert", str(t / "server.pem"), "--tls-key", str(t / "server.key"),
        "--tls-client-ca", str(t / "ca.pem"),
    ))  # fmt: skip
    assert "(mTLS;" in hub.log_lines[-1]
    yield hub, tmp
    hub.stop()


def operator_tls(data_dir: Path) -> TlsConfig:
    t = data_dir / "tls"
    return TlsConfig(t / "ca.pem", t / "operator.pem", t / "operator.key")


def assert_refused(hub: HubProcess, tls: TlsConfig | None) -> None:
    """The connection itself is refused (the SDK reports UNAVAILABLE, tried once)."""
    admin = AdminClient(hub.endpoint, hub.operator_key, tls=tls, retry=ONCE, timeout_seconds=10)
    with admin, pytest.raises(SignalhubError) as info:
        admin.list_members()
    assert info.value.code.name == "UNAVAILABLE"


def test_member_with_a_certificate_from_the_hub_ca_gets_in(
    tls_hub: tuple[HubProcess, Path],
) -> None:
    hub, tmp = tls_hub
    key = tmp / "acme.key"
    run_cli("keygen", "--out", str(key), check=True)
    issued = run_cli("admin", "issue-cert", "acme", "--data-dir", str(hub.data_dir),
                     "--out", str(tmp / "acme-client"), check=True)  # fmt: skip
    assert "acme-client.pem" in issued.stdout
    with AdminClient(hub.endpoint, hub.operator_key, tls=operator_tls(hub.data_dir)) as admin:
        admin.add_member("acme", domain.read_public_key(Path(f"{key}.pub")))
    tls = TlsConfig(hub.data_dir / "tls/ca.pem", tmp / "acme-client.pem", tmp / "acme-client.key")
    with Client(hub.endpoint, "acme", key, tls=tls) as client:
        client.submit([Signal("pdq", "ab" * 32)])
        assert client.match_pdq(["ab" * 32])[0].matches
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "acme",
           "SIGNALHUB_KEY": str(key)}  # fmt: skip
    fetched = run_cli("fetch", "--json", "--tls-ca", str(hub.data_dir / "tls/ca.pem"),
                      "--tls-cert", str(tmp / "acme-client.pem"),
                      "--tls-key", str(tmp / "acme-client.key"), env=env)  # fmt: skip
    assert fetched.returncode == 0 and "ab" * 32 in fetched.stdout, fetched.stderr


def test_client_without_a_certificate_is_refused(tls_hub: tuple[HubProcess, Path]) -> None:
    hub, _ = tls_hub
    assert_refused(hub, TlsConfig(hub.data_dir / "tls/ca.pem"))


def test_client_certificate_from_another_ca_is_refused(
    tls_hub: tuple[HubProcess, Path],
) -> None:
    hub, tmp = tls_hub
    rogue = create_ca(tmp / "rogue-ca", "rogue CA")
    cert = issue_cert(rogue, tmp / "rogue-client", "operator")
    assert_refused(hub, TlsConfig(hub.data_dir / "tls/ca.pem", cert.cert, cert.key))


def test_plaintext_client_is_refused(tls_hub: tuple[HubProcess, Path]) -> None:
    hub, _ = tls_hub
    assert_refused(hub, None)


def test_server_certificate_from_another_ca_is_refused(
    tls_hub: tuple[HubProcess, Path],
) -> None:
    hub, tmp = tls_hub
    other = create_ca(tmp / "other-ca", "other CA")
    t = hub.data_dir / "tls"
    assert_refused(hub, TlsConfig(other.cert, t / "operator.pem", t / "operator.key"))


# mTLS binds identity: a call must be signed as the member its client certificate names.

MISMATCH = 'signalhub_auth_failures_total{reason="certificate_mismatch"}'


@pytest.fixture(scope="module")
def alice_and_bob(
    tls_hub: tuple[HubProcess, Path],
) -> dict[str, tuple[Ed25519PrivateKey, TlsConfig]]:
    """Members alice and bob, each with a signing key and a client certificate naming them,
    and a certificate naming mallory, whom the hub does not know."""
    hub, tmp = tls_hub
    t = hub.data_dir / "tls"
    ca = TlsFiles(t / "ca.pem", t / "ca.key")
    out: dict[str, tuple[Ed25519PrivateKey, TlsConfig]] = {}
    with AdminClient(hub.endpoint, hub.operator_key, tls=operator_tls(hub.data_dir)) as admin:
        for name in ("alice", "bob", "mallory"):
            key = Ed25519PrivateKey.generate()
            if name != "mallory":
                admin.add_member(name, domain.raw_public_key(key))
            cert = issue_cert(ca, tmp / f"{name}-client", name)
            out[name] = (key, TlsConfig(t / "ca.pem", cert.cert, cert.key))
    return out


def assert_denied(call: Callable[[], object], certified: str, signed: str) -> None:
    with pytest.raises(PermissionDenied) as info:
        call()
    assert f"the client certificate names {certified}; the call is signed as {signed}" in str(
        info.value
    )


def test_call_signed_as_the_member_of_the_certificate_is_served(
    tls_hub: tuple[HubProcess, Path],
    alice_and_bob: dict[str, tuple[Ed25519PrivateKey, TlsConfig]],
) -> None:
    hub, _ = tls_hub
    key, tls = alice_and_bob["alice"]
    with Client(hub.endpoint, "alice", key, tls=tls, retry=ONCE) as alice:
        alice.submit([Signal("pdq", "cd" * 32)])
        assert alice.match_pdq(["cd" * 32])[0].matches
        assert any(e.signal is not None for e in alice.fetch())


def test_certificate_of_alice_with_bob_signing_is_denied_and_stores_nothing(
    tls_hub: tuple[HubProcess, Path],
    alice_and_bob: dict[str, tuple[Ed25519PrivateKey, TlsConfig]],
) -> None:
    hub, _ = tls_hub
    bob_key, _ = alice_and_bob["bob"]
    _, alice_tls = alice_and_bob["alice"]
    failures = hub.metric(MISMATCH)
    before = store_fingerprint(hub.data_dir)
    with Client(hub.endpoint, "bob", bob_key, tls=alice_tls, retry=ONCE) as bob:
        assert_denied(lambda: bob.match_pdq(["cd" * 32]), "alice", "bob")
        assert_denied(lambda: bob.submit([Signal("pdq", "ef" * 32)]), "alice", "bob")
        assert_denied(lambda: list(bob.fetch()), "alice", "bob")
        # A client cannot claim the certificate's member itself: the hub drops that key.
        sign = bob._conn.signer.call_metadata
        bob._conn.signer.call_metadata = lambda m, r, now_ms=None: (  # type: ignore[method-assign]
            *sign(m, r, now_ms),
            (CERTIFICATE_MEMBER, "bob"),
        )
        assert_denied(lambda: bob.submit([Signal("pdq", "ef" * 32)]), "alice", "bob")
    assert store_fingerprint(hub.data_dir) == before
    assert hub.metric(MISMATCH) == failures + 4


def test_admin_calls_need_the_operator_certificate(
    tls_hub: tuple[HubProcess, Path],
    alice_and_bob: dict[str, tuple[Ed25519PrivateKey, TlsConfig]],
) -> None:
    hub, _ = tls_hub
    _, alice_tls = alice_and_bob["alice"]
    with AdminClient(hub.endpoint, hub.operator_key, tls=operator_tls(hub.data_dir)) as admin:
        assert "alice" in {m.member_id for m in admin.list_members()}
    with AdminClient(hub.endpoint, hub.operator_key, tls=alice_tls, retry=ONCE) as admin:
        assert_denied(admin.list_members, "alice", domain.OPERATOR_ID)


def test_certificate_naming_an_unknown_member_is_denied(
    tls_hub: tuple[HubProcess, Path],
    alice_and_bob: dict[str, tuple[Ed25519PrivateKey, TlsConfig]],
) -> None:
    hub, _ = tls_hub
    alice_key, _ = alice_and_bob["alice"]
    _, mallory_tls = alice_and_bob["mallory"]
    with Client(hub.endpoint, "alice", alice_key, tls=mallory_tls, retry=ONCE) as alice:
        assert_denied(lambda: alice.match_pdq(["cd" * 32]), "mallory", "alice")
