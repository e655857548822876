"""docs/signing-vectors.json must agree with our code, so that the documented bytes are the
bytes the hub verifies."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_sdk.signing import Signer
from exchange.auth import verify_signature
from signalhub import domain
from signalhub.v1 import common_pb2

VECTORS = json.loads((Path(__file__).parent.parent / "docs/signing-vectors.json").read_text())


def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTORS["key"]["private_seed_hex"]))


def test_key_and_signal_ids() -> None:
    public = domain.raw_public_key(key())
    assert public.hex() == VECTORS["key"]["public_key_hex"]
    assert domain.key_id(public) == VECTORS["key"]["key_id"]
    for v in VECTORS["signal_ids"]:
        assert domain.signal_id(v["type"], v["value"]) == v["signal_id"]


def test_envelope_bytes_and_signature() -> None:
    env = VECTORS["envelope"]
    payload = bytes.fromhex(env["payload_hex"])
    signed = domain.submission_signing_bytes(payload)
    assert signed.hex() == env["signed_bytes_hex"]
    assert key().sign(signed).hex() == env["signature_hex"]
    public = bytes.fromhex(VECTORS["key"]["public_key_hex"])
    assert verify_signature(public, bytes.fromhex(env["signature_hex"]), signed)
    batch = common_pb2.SubmissionBatch.FromString(payload)
    assert batch.member_id == VECTORS["call"]["member_id"] and len(batch.signals) == 2
    # The SDK produces the same signature for the same batch.
    envelope = Signer(batch.member_id, key()).envelope(
        batch.batch_id, list(batch.signals), created_at=batch.created_at.ToDatetime()
    )
    assert envelope.payload == payload and envelope.signature.hex() == env["signature_hex"]


def test_call_bytes_and_signature() -> None:
    call = VECTORS["call"]
    signed = domain.call_signing_bytes(
        call["method"],
        call["member_id"],
        call["key_id"],
        call["timestamp_ms"],
        call["nonce"],
        bytes.fromhex(call["request_hex"]),
    )
    assert signed.hex() == call["signed_bytes_hex"]
    assert key().sign(signed).hex() == call["signature_hex"]


def test_snapshot_digest_and_signature() -> None:
    snap = VECTORS["snapshot"]
    header = bytes.fromhex(snap["header_hex"])
    chunks = [bytes.fromhex(c) for c in snap["chunk_hexes"]]
    digest = domain.snapshot_digest(header, chunks)
    assert digest.hex() == snap["digest_hex"]
    assert key().sign(digest).hex() == snap["signature_hex"]
    public = bytes.fromhex(VECTORS["key"]["public_key_hex"])
    assert verify_signature(public, bytes.fromhex(snap["signature_hex"]), digest)
