"""Signing on the member's side: envelopes for submissions and metadata for every other call.
The bytes signed are defined once in signalhub.domain; docs/signing.md describes them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp

from signalhub import domain
from signalhub.v1 import common_pb2


class Signer:
    """A member (or the operator) and its private key."""

    def __init__(self, member_id: str, private_key: Ed25519PrivateKey) -> None:
        self.member_id = member_id
        self.private_key = private_key
        self.key_id = domain.key_id(domain.raw_public_key(private_key))

    def envelope(
        self,
        batch_id: str,
        signals: Sequence[common_pb2.SignalSubmission],
        created_at: datetime | None = None,
        audience: Sequence[str] = (),
    ) -> common_pb2.SignedEnvelope:
        """Serialises a SubmissionBatch and signs the exact bytes."""
        stamp = Timestamp()
        stamp.FromDatetime(created_at or datetime.now(UTC))
        batch = common_pb2.SubmissionBatch(
            member_id=self.member_id,
            batch_id=batch_id,
            created_at=stamp,
            signals=signals,
            audience=audience,
        )
        return self.sign_payload(domain.SUBMISSION_SIGNING_PREFIX, batch.SerializeToString())

    def sign_payload(self, prefix: bytes, payload: bytes) -> common_pb2.SignedEnvelope:
        """An envelope over any payload kind (opinion, retraction), signed with its prefix."""
        signature = self.private_key.sign(domain.signing_bytes(prefix, payload))
        return common_pb2.SignedEnvelope(payload=payload, key_id=self.key_id, signature=signature)

    def now(self) -> Timestamp:
        """The current time as a protobuf Timestamp (a payload's created_at)."""
        stamp = Timestamp()
        stamp.FromDatetime(datetime.now(UTC))
        return stamp

    def call_metadata(
        self, method: str, request: bytes, now_ms: int | None = None
    ) -> tuple[tuple[str, str | bytes], ...]:
        """Signed metadata for one call of `method` with the exact serialised `request`."""
        stamp = int(time.time() * 1000) if now_ms is None else now_ms
        nonce = secrets.token_urlsafe(18)
        signed = domain.call_signing_bytes(
            method, self.member_id, self.key_id, stamp, nonce, request
        )
        return (
            (domain.META_MEMBER, self.member_id),
            (domain.META_KEY_ID, self.key_id),
            (domain.META_TIMESTAMP, str(stamp)),
            (domain.META_NONCE, nonce),
            (domain.META_SIGNATURE, self.private_key.sign(signed)),
        )
