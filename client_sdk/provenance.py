"""Offline checks of who submitted what: every submission the hub returns carries the envelope
exactly as the member signed it, so its signature can be re-checked without trusting the hub."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf.message import DecodeError

from signalhub import domain
from signalhub.v1 import common_pb2

from .models import Provenance, SignalDetail


@dataclass(frozen=True)
class ProvenanceCheck:
    """The verdict on one submission."""

    submission: Provenance
    ok: bool
    reason: str


def check_submission(
    signal_type: str,
    value: str,
    sub: Provenance,
    trusted_keys: Mapping[str, bytes] | None = None,
) -> ProvenanceCheck:
    """Checks that the envelope's signature verifies under the key, that the key id is that
    key's, that the signed batch names the member and holds this signal at its index, and —
    when `trusted_keys` (key id -> raw public key, from a source other than the hub) is
    given — that the key is one of them."""
    problem = (
        _key_problem(sub, trusted_keys)
        or _signature_problem(sub)
        or _signed_content_problem(signal_type, value, sub)
    )
    if problem:
        return ProvenanceCheck(sub, False, problem)
    return ProvenanceCheck(sub, True, "signature valid")


def _key_problem(sub: Provenance, trusted_keys: Mapping[str, bytes] | None) -> str | None:
    """Why the submission's key cannot vouch for it (or its envelope cannot be checked)."""
    envelope = sub.envelope
    if sub.envelope_withheld:
        return (
            "the envelope is withheld (a match-only submission by another member: its payload "
            "carries the value); the hub's operator and audit chain can check it"
        )
    if domain.key_id(sub.public_key) != envelope.key_id or envelope.key_id != sub.key_id:
        return "the key id does not belong to the public key"
    if trusted_keys is not None and trusted_keys.get(envelope.key_id) != sub.public_key:
        return f"key {envelope.key_id} is not among the trusted keys"
    if sub.envelope_redacted:
        return (
            "the envelope was redacted (a legal erasure of another signal of its batch), so "
            "its signature cannot be checked; the hub's audit chain covers the original"
        )
    return None


def _signature_problem(sub: Provenance) -> str | None:
    """Why the envelope's signature does not verify under the submission's public key."""
    envelope = sub.envelope
    try:
        Ed25519PublicKey.from_public_bytes(sub.public_key).verify(
            envelope.signature, domain.submission_signing_bytes(envelope.payload)
        )
    except (InvalidSignature, ValueError):
        return "the signature does not verify"
    return None


def _signed_content_problem(signal_type: str, value: str, sub: Provenance) -> str | None:
    """Where the signed batch disagrees with what the hub shows of the submission."""
    try:
        batch = common_pb2.SubmissionBatch.FromString(sub.envelope.payload)
    except DecodeError:
        return "the signed payload is not a batch"
    if batch.member_id != sub.member_id or batch.batch_id != sub.batch_id:
        return "the signed batch names another member or batch"
    if not 0 <= sub.index < len(batch.signals):
        return "the signed batch has no signal at that index"
    signed = batch.signals[sub.index]
    try:
        canonical = domain.canonical_value(signed.type, signed.value)
    except domain.InvalidValue:
        return "the signed value is not valid"
    if (signed.type, canonical) != (signal_type, value):
        return "the signed batch holds another signal at that index"
    # What the hub says was submitted must be what was signed.
    if tuple(sorted(set(signed.labels))) != tuple(sorted(sub.labels)):
        return "the labels shown differ from the signed ones"
    if tuple(sorted({t.strip() for t in signed.tags})) != tuple(sorted(sub.tags)):
        return "the tags shown differ from the signed ones"
    if tuple(sorted(set(batch.audience))) != tuple(sorted(sub.audience)):
        return "the audience shown differs from the signed one"
    return None


def check_provenance(
    detail: SignalDetail, trusted_keys: Mapping[str, bytes] | None = None
) -> list[ProvenanceCheck]:
    """Checks every submission of a signal."""
    s = detail.signal
    return [check_submission(s.type, s.value, sub, trusted_keys) for sub in detail.submissions]
