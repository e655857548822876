"""Who is calling, and may they.

Two mechanisms, both Ed25519:
- a submission is a SignedEnvelope: `verify_envelope` checks its shape, its key and its
  signature over the exact payload bytes, and parses the batch;
- every other call carries signed per-call metadata (member, key id, timestamp, nonce and a
  signature over those plus the SHA-256 of the exact request bytes): `CallVerifier`. Nonces are
  remembered for the window so a captured call cannot be replayed; calls stamped before this
  process started are refused, so a restart does not reopen the window.
"""

from __future__ import annotations

import heapq
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf.message import DecodeError, Message

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2

from .errors import invalid, permission_denied, unauthenticated
from .store import StoreView

_KEY_ID = re.compile(r"[0-9a-f]{32}")
_NONCE = re.compile(r"[0-9A-Za-z_-]{16,64}")
SIGNATURE_BYTES = 64
CERTIFICATE_MEMBER = "x-signalhub-certificate-member"
"""Under this key the server adds, to the metadata it hands the services, the member the
connection's client certificate names when the hub requires one (mTLS); a value a client sent
under it is always dropped first."""
P = TypeVar("P", bound=Message)


def parse_batch(payload: bytes) -> common_pb2.SubmissionBatch:
    """Parses an envelope's payload or raises INVALID_ARGUMENT naming `envelope.payload`."""
    try:
        return common_pb2.SubmissionBatch.FromString(payload)
    except DecodeError:
        raise invalid(
            "the envelope's payload is not a SubmissionBatch",
            [("envelope.payload", "not a serialised signalhub.v1.SubmissionBatch")],
        ) from None


def check_key(view: StoreView, member_id: str, key_id: str) -> rec.KeyRecord:
    """The key must exist, be valid, and belong to `member_id`, who must be active."""
    key = view.key(key_id)
    if key is None:
        raise unauthenticated(f"unknown key {key_id!r}", "unknown_key")
    member = view.member(member_id)
    if member is None:
        raise unauthenticated(f"unknown member {member_id!r}", "unknown_member")
    if key.member_id != member_id:
        raise permission_denied(
            f"key {key_id} does not belong to member {member_id!r}", "key_of_other_member"
        )
    if key.HasField("revoked_at"):
        raise unauthenticated(f"key {key_id} was revoked", "revoked_key")
    if member.HasField("removed_at"):
        raise permission_denied(f"member {member_id!r} was removed", "removed_member")
    if member.suspended:
        raise permission_denied(f"member {member_id!r} is suspended", "suspended_member")
    return key


def check_signer(
    view: StoreView, envelope: common_pb2.SignedEnvelope, batch: common_pb2.SubmissionBatch
) -> rec.KeyRecord:
    """The envelope's key must be valid and belong to the (active) member the batch names."""
    return check_key(view, batch.member_id, envelope.key_id)


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """True when `signature` is a valid Ed25519 signature of `message` under `public_key`."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def check_envelope_shape(envelope: common_pb2.SignedEnvelope) -> None:
    """INVALID_ARGUMENT for an envelope that cannot be a signed batch at all."""
    violations: list[tuple[str, str]] = []
    if not envelope.payload:
        violations.append(("envelope.payload", "required"))
    elif len(envelope.payload) > domain.MAX_PAYLOAD_BYTES:
        violations.append(
            (
                "envelope.payload",
                f"at most {domain.MAX_PAYLOAD_BYTES} bytes, got {len(envelope.payload)}",
            )
        )
    if not _KEY_ID.fullmatch(envelope.key_id):
        violations.append(("envelope.key_id", "32 lowercase hex digits required"))
    if len(envelope.signature) != SIGNATURE_BYTES:
        violations.append(
            (
                "envelope.signature",
                f"an Ed25519 signature is {SIGNATURE_BYTES} bytes, got {len(envelope.signature)}",
            )
        )
    if violations:
        raise invalid(f"malformed envelope: {violations[0][0]}: {violations[0][1]}", violations)


def verify_envelope(
    view: StoreView, envelope: common_pb2.SignedEnvelope
) -> tuple[common_pb2.SubmissionBatch, rec.KeyRecord]:
    """Checks a submission envelope end to end (shape, key, signature, payload, signer) and
    returns the parsed batch and the key that signed it. Raises HubError otherwise."""
    _check_signature(view, envelope, domain.SUBMISSION_SIGNING_PREFIX)
    batch = parse_batch(envelope.payload)
    return batch, check_signer(view, envelope, batch)


def parse_signed_payload(envelope: common_pb2.SignedEnvelope, payload_cls: type[P]) -> P:
    """An opinion or retraction envelope's payload, or INVALID_ARGUMENT naming
    `envelope.payload`."""
    try:
        return payload_cls.FromString(envelope.payload)
    except DecodeError:
        raise invalid(
            "the envelope's payload cannot be parsed",
            [("envelope.payload", f"not a serialised {payload_cls.DESCRIPTOR.full_name}")],
        ) from None


def verify_signed_payload(
    view: StoreView, envelope: common_pb2.SignedEnvelope, prefix: bytes, payload_cls: type[P]
) -> P:
    """The same for an opinion or retraction envelope: returns the parsed payload, whose
    member_id the key must belong to."""
    _check_signature(view, envelope, prefix)
    payload = parse_signed_payload(envelope, payload_cls)
    check_key(view, getattr(payload, "member_id"), envelope.key_id)  # noqa: B009
    return payload


def _check_signature(view: StoreView, envelope: common_pb2.SignedEnvelope, prefix: bytes) -> None:
    check_envelope_shape(envelope)
    key = view.key(envelope.key_id)
    if key is None:
        raise unauthenticated(f"unknown key {envelope.key_id}", "unknown_key")
    signed = domain.signing_bytes(prefix, envelope.payload)
    if not verify_signature(key.public_key, envelope.signature, signed):
        raise unauthenticated("the envelope's signature does not verify", "bad_signature")


@dataclass(frozen=True)
class Caller:
    """An authenticated caller of a metadata-signed RPC."""

    member_id: str
    key_id: str

    @property
    def is_operator(self) -> bool:
        """Whether the caller is the hub's operator."""
        return self.member_id == domain.OPERATOR_ID


def check_certificate_member(caller: Caller, metadata: Mapping[str, str | bytes]) -> None:
    """With mTLS, PERMISSION_DENIED unless the call is signed as the member the client
    certificate names: a connection holding alice's certificate cannot act as bob even with
    bob's key. Checked after the signature, so it tells nothing to an unsigned probe."""
    named = metadata.get(CERTIFICATE_MEMBER)
    if named is None:  # no client certificate required
        return
    member = _text(named)
    if member != caller.member_id:
        raise permission_denied(
            f"the client certificate names {member or 'no member'}; "
            f"the call is signed as {caller.member_id}",
            "certificate_mismatch",
        )


class CallVerifier:
    """Verifies per-call metadata signatures and remembers nonces for the window."""

    def __init__(self, window_seconds: int = domain.REPLAY_WINDOW_SECONDS) -> None:
        self.window_ms = window_seconds * 1000
        self.started_ms = int(time.time() * 1000)
        self._nonces: dict[tuple[str, str], int] = {}
        self._expiries: list[tuple[int, tuple[str, str]]] = []  # a heap of (until, nonce)
        self._lock = threading.Lock()

    def verify(
        self,
        view: StoreView,
        method: str,
        metadata: Mapping[str, str | bytes],
        request: bytes,
        now_ms: int | None = None,
    ) -> Caller:
        """Returns the caller or raises UNAUTHENTICATED (with the failure reason), or
        PERMISSION_DENIED when mTLS names another member (`check_certificate_member`)."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        member = _text(metadata.get(domain.META_MEMBER))
        kid = _text(metadata.get(domain.META_KEY_ID))
        stamp = _text(metadata.get(domain.META_TIMESTAMP))
        nonce = _text(metadata.get(domain.META_NONCE))
        signature = metadata.get(domain.META_SIGNATURE)
        if not (member and kid and stamp and nonce) or not isinstance(signature, bytes):
            raise unauthenticated(
                "this call must carry signed metadata (x-signalhub-member, -key-id, -timestamp, "
                "-nonce, -signature-bin); use the signalhub SDK or see docs/signing.md",
                "missing_credentials",
            )
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 16) or not _NONCE.fullmatch(
            nonce
        ):
            raise unauthenticated("malformed call metadata (timestamp or nonce)", "malformed")
        stamp_ms = int(stamp)
        if abs(now - stamp_ms) > self.window_ms or stamp_ms < self.started_ms - 1000:
            raise unauthenticated("the call's timestamp is outside the hub's window", "stale")
        # The signature is checked before anything about the member or the key is said, so
        # an unsigned probe learns nothing about who owns which key or who is suspended.
        public_key = self._public_key(view, member, kid)
        signed = domain.call_signing_bytes(method, member, kid, stamp_ms, nonce, request)
        if not verify_signature(public_key, signature, signed):
            raise unauthenticated("the call's signature does not verify", "bad_signature")
        if member != domain.OPERATOR_ID:
            check_key(view, member, kid)
        with self._lock:
            self._expire(now)
            if (member, nonce) in self._nonces:
                raise unauthenticated("this call's nonce was already used", "replayed_nonce")
            until = stamp_ms + self.window_ms
            self._nonces[(member, nonce)] = until
            heapq.heappush(self._expiries, (until, (member, nonce)))
        caller = Caller(member, kid)
        check_certificate_member(caller, metadata)
        return caller

    def _public_key(self, view: StoreView, member: str, kid: str) -> bytes:
        if member == domain.OPERATOR_ID:
            operator_key = view.meta("operator_public_key")
            if operator_key is None or domain.key_id(operator_key) != kid:
                raise unauthenticated("that is not the operator's key", "unknown_key")
            return operator_key
        key = view.key(kid)
        if key is None:
            raise unauthenticated(f"unknown key {kid}", "unknown_key")
        return key.public_key

    def _expire(self, now_ms: int) -> None:
        """Forgets nonces whose calls are outside the window anyway: O(log n) per nonce."""
        heap = self._expiries
        while heap and heap[0][0] < now_ms:
            _, key = heapq.heappop(heap)
            self._nonces.pop(key, None)


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value
