"""Which member a client certificate names (mTLS identity), without a server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from exchange.tls import certificate_member, create_ca, issue_cert


def self_signed(*common_names: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn) for cn in common_names])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_issued_client_certificate_names_its_member(tmp_path: Path) -> None:
    ca = create_ca(tmp_path / "ca")
    issued = issue_cert(ca, tmp_path / "acme", "acme")
    assert certificate_member(issued.cert.read_bytes()) == "acme"


def test_certificate_with_no_or_several_common_names_names_nobody() -> None:
    assert certificate_member(self_signed()) is None
    assert certificate_member(self_signed("acme", "operator")) is None
    assert certificate_member(b"not a certificate") is None
    assert certificate_member(b"") is None
