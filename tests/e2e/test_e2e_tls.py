"""TLS and mTLS with real certificates on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hubtools import HubProcess, run_cli

from client_sdk import AdminClient, Client, RetryPolicy, Signal, SignalhubError, TlsConfig
from exchange.tls import create_ca, issue_cert
from signalhub import domain

ONCE = RetryPolicy(attempts=1)


@pytest.fixture(scope="module")
def tls_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, Path]]:
    tmp = tmp_path_factory.mktemp("tls")
    data_dir = tmp / "data"
    init = run_cli("init", "--data-dir", str(data_dir), "--tls", check=True)
    assert "--tls-client-ca" in init.stdout
    t = data_dir / "tls"
    hub = HubProcess(data_dir).start(extra=(
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
