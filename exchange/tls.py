"""A small local certificate authority for the hub's TLS and mTLS: `signalhub init --tls`
creates it in the data directory with a server certificate, and `signalhub admin issue-cert`
issues client certificates to members. Operators with their own PKI pass their files to
`serve` instead."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_DAYS = 825
CA_DAYS = 3650


@dataclass(frozen=True)
class TlsFiles:
    """Paths of a certificate and its key."""

    cert: Path
    key: Path


@lru_cache(maxsize=4096)
def certificate_member(pem: bytes) -> str | None:
    """The member a client certificate names: its subject's one common name (CN), as
    `issue_cert` writes it; None when it has none, several, or does not parse.

    Only the CN, no SAN: one place to look, no precedence between fields. Cached, since a
    connection presents the same certificate on every call."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        return None
    value = names[0].value
    return value if isinstance(value, str) else None


def tls_dir(data_dir: Path) -> Path:
    """Where a data directory keeps its CA, certificates and keys (`signalhub init --tls`)."""
    return Path(data_dir) / "tls"


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "signalhub"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def create_ca(directory: Path, hub_name: str = "signalhub local CA") -> TlsFiles:
    """Creates ca.pem and ca.key (0600) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hub_name))
        .issuer_name(_name(hub_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "ca.key")
    _write_key(files.key, key)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def issue_cert(
    ca: TlsFiles, out_prefix: Path, common_name: str, *, server_names: list[str] | None = None
) -> TlsFiles:
    """Issues OUT.pem and OUT.key: a server certificate when `server_names` (DNS names or IP
    addresses) are given, else a client certificate whose common name is `common_name`."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server_names else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if server_names:
        alt: list[x509.GeneralName] = []
        for name in server_names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    files = TlsFiles(Path(f"{out_prefix}.pem"), Path(f"{out_prefix}.key"))
    _write_key(files.key, key)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def init_tls(data_dir: Path, server_names: list[str]) -> dict[str, TlsFiles]:
    """The CA, the server certificate and the operator's client certificate of a data dir."""
    directory = tls_dir(data_dir)
    ca = create_ca(directory)
    server = issue_cert(ca, directory / "server", "signalhub", server_names=server_names)
    operator = issue_cert(ca, directory / "operator", "operator")
    return {"ca": ca, "server": server, "operator": operator}
