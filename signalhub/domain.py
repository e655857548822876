"""Rules both the hub and its members must agree on, written once.

Signal types (validation and canonical form), identifiers (`signal_id`, `key_id`, member ids),
the exact bytes that are signed (submission envelopes and per-call metadata) and the limits of a
batch. Pure functions over plain values: no gRPC, no LMDB, no files.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

# --- limits ---------------------------------------------------------------------------------
REPLAY_WINDOW_SECONDS = 300
"""A submission's created_at (and a call's timestamp) must be within this of the hub's clock."""
MAX_BATCH_SIGNALS = 10_000
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""gRPC message limit on both sides; larger requests get RESOURCE_EXHAUSTED from gRPC itself."""
MAX_MATCH_QUERIES = 10_000
MAX_TAGS = 32
MAX_TAG_CHARS = 64
MAX_BATCH_ID_CHARS = 128
DEFAULT_PDQ_MAX_DISTANCE = 31

LABELS: frozenset[str] = frozenset({"csam", "sextortion", "grooming", "ncii", "terrorism", "other"})
"""The label taxonomy. Free-form words go in tags."""


class MatchKind(Enum):
    """How signals of a type are matched."""

    HAMMING = "hamming"
    EXACT = "exact"


class InvalidValue(ValueError):
    """A value that is not in its type's wire form; the message says why."""


@dataclass(frozen=True)
class SignalType:
    """One signal type: its registry name, how it is matched and how a value is validated and
    made canonical."""

    name: str
    match: MatchKind
    description: str
    hex_digits: int
    """Values are exactly this many hex digits (all built-in types so far are hex)."""
    max_distance: int = 0
    """Largest meaningful distance (bits) for Hamming types."""

    def canonical(self, value: str) -> str:
        """Returns the canonical form of `value` or raises InvalidValue."""
        text = value.strip().lower()
        if len(text) != self.hex_digits:
            raise InvalidValue(
                f"a {self.name} value is {self.hex_digits} hex digits, got {len(text)} characters"
            )
        if not _HEX.fullmatch(text):
            raise InvalidValue(f"a {self.name} value is hex digits only (0-9, a-f)")
        return text


_HEX = re.compile(r"[0-9a-f]*")

SIGNAL_TYPES: dict[str, SignalType] = {
    t.name: t
    for t in (
        SignalType("pdq", MatchKind.HAMMING, "PDQ perceptual hash, 256 bits", 64, 256),
        SignalType("md5", MatchKind.EXACT, "MD5 file digest", 32),
        SignalType("sha1", MatchKind.EXACT, "SHA-1 file digest", 40),
        SignalType("sha256", MatchKind.EXACT, "SHA-256 file digest", 64),
    )
}
"""The registry of signal types the hub accepts, by lowercase name."""


def signal_type(name: str) -> SignalType:
    """Returns the registered type called `name` or raises InvalidValue listing the known ones."""
    found = SIGNAL_TYPES.get(name)
    if found is None:
        known = ", ".join(sorted(SIGNAL_TYPES))
        raise InvalidValue(f"unknown signal type {name!r}; known types: {known}")
    return found


def canonical_value(type_name: str, value: str) -> str:
    """Validates `value` as a `type_name` value and returns its canonical form."""
    return signal_type(type_name).canonical(value)


def signal_id(type_name: str, canonical: str) -> str:
    """The id of a signal: first 32 hex digits of SHA-256(type, 0x00, canonical value)."""
    digest = hashlib.sha256(type_name.encode() + b"\x00" + canonical.encode()).hexdigest()
    return digest[:32]


_SIGNAL_ID = re.compile(r"[0-9a-f]{32}")


def is_signal_id(text: str) -> bool:
    """True when `text` has the shape of a signal id (32 lowercase hex digits)."""
    return bool(_SIGNAL_ID.fullmatch(text))


def validate_labels(labels: Sequence[str]) -> None:
    """Raises InvalidValue when a label is not in the taxonomy."""
    for label in labels:
        if label not in LABELS:
            known = ", ".join(sorted(LABELS))
            raise InvalidValue(f"unknown label {label!r}; labels are: {known}")


def validate_tags(tags: Sequence[str]) -> None:
    """Raises InvalidValue when there are too many tags or one is empty or too long."""
    if len(tags) > MAX_TAGS:
        raise InvalidValue(f"at most {MAX_TAGS} tags, got {len(tags)}")
    for tag in tags:
        if not tag.strip() or len(tag) > MAX_TAG_CHARS:
            raise InvalidValue(f"a tag is 1-{MAX_TAG_CHARS} characters, not blank")


# --- identities -------------------------------------------------------------------------------
_MEMBER_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
OPERATOR_ID = "operator"
"""Reserved identity of the hub's operator in per-call metadata; no member may take it."""


def validate_member_id(member_id: str) -> None:
    """Raises InvalidValue unless `member_id` is a slug of 2-63 lowercase letters, digits and '-'
    (starting with a letter or digit) other than the reserved operator id."""
    if not _MEMBER_ID.fullmatch(member_id):
        raise InvalidValue(
            "a member id is 2-63 lowercase letters, digits and '-', starting with a letter or digit"
        )
    if member_id == OPERATOR_ID:
        raise InvalidValue(f"{OPERATOR_ID!r} is reserved for the hub's operator")


def key_id(public_key: bytes) -> str:
    """The id of a public key: first 32 hex digits of SHA-256 of the raw 32-byte key."""
    return hashlib.sha256(public_key).hexdigest()[:32]


# --- what is signed ---------------------------------------------------------------------------
SUBMISSION_SIGNING_PREFIX = b"signalhub.v1.SubmissionBatch\x00"
CALL_SIGNING_PREFIX = b"signalhub.v1.Call\x00"
AUDIT_HEAD_SIGNING_PREFIX = b"signalhub.v1.AuditHead\x00"


def audit_head_signing_bytes(sequence: int, chain_hash: bytes, signed_at_ms: int) -> bytes:
    """The bytes the hub signs for an audit head: the last sequence covered, the chain hash
    after it and when it was signed."""
    return (
        AUDIT_HEAD_SIGNING_PREFIX
        + struct.pack(">QQ", sequence, signed_at_ms)
        + _length_prefixed(chain_hash)
    )


def submission_signing_bytes(payload: bytes) -> bytes:
    """The bytes an envelope's signature covers: a domain-separation prefix plus the exact
    serialised batch, so verification never depends on re-serialising protobuf."""
    return SUBMISSION_SIGNING_PREFIX + payload


# Per-call metadata keys (gRPC metadata keys are lowercase ASCII).
META_MEMBER = "x-signalhub-member"
META_KEY_ID = "x-signalhub-key-id"
META_TIMESTAMP = "x-signalhub-timestamp"
META_NONCE = "x-signalhub-nonce"
META_SIGNATURE = "x-signalhub-signature-bin"


def call_signing_bytes(
    method: str, member_id: str, key: str, timestamp_ms: int, nonce: str, request: bytes
) -> bytes:
    """The bytes a per-call signature covers: the full method name, who calls with which key,
    when, a single-use nonce and the SHA-256 of the exact serialised request."""
    fields = (method, member_id, key, str(timestamp_ms), nonce)
    body = b"".join(_length_prefixed(f.encode()) for f in fields)
    return CALL_SIGNING_PREFIX + body + hashlib.sha256(request).digest()


def _length_prefixed(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


@dataclass(frozen=True)
class CanonicalSignal:
    """A validated signal of a batch, in canonical form."""

    type: str
    value: str
    labels: tuple[str, ...]
    tags: tuple[str, ...]

    @property
    def signal_id(self) -> str:
        return signal_id(self.type, self.value)


def batch_content_digest(signals: Iterable[CanonicalSignal], audience: Sequence[str] = ()) -> bytes:
    """SHA-256 over the canonical signals of a batch, in order, and its audience. Two
    submissions of one batch_id are the same batch exactly when their digests are equal,
    however they were serialised."""
    h = hashlib.sha256()
    h.update(_length_prefixed("\x00".join(sorted(set(audience))).encode()))
    for s in signals:
        h.update(_length_prefixed(s.type.encode()))
        h.update(_length_prefixed(s.value.encode()))
        h.update(_length_prefixed("\x00".join(s.labels).encode()))
        h.update(_length_prefixed("\x00".join(s.tags).encode()))
    return h.digest()


def canonical_signal(
    type_name: str, value: str, labels: Sequence[str], tags: Sequence[str]
) -> CanonicalSignal:
    """Validates one submitted signal and returns its canonical form (labels and tags sorted
    and de-duplicated). Raises InvalidValue naming what is wrong."""
    canonical = canonical_value(type_name, value)
    validate_labels(labels)
    validate_tags(tags)
    return CanonicalSignal(
        type_name, canonical, tuple(sorted(set(labels))), tuple(sorted({t.strip() for t in tags}))
    )


# --- key files ----------------------------------------------------------------------------------
# Private keys are PKCS#8 PEM files readable only by their owner (0600); public keys are
# SubjectPublicKeyInfo PEM beside them as FILE.pub. Both are what `openssl pkey` reads.


def new_private_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def raw_public_key(private_key: Ed25519PrivateKey) -> bytes:
    """The raw 32 bytes of a private key's public half."""
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def write_key_pair(private_key: Ed25519PrivateKey, path: Path) -> str:
    """Writes PATH (private, 0600, refusing to overwrite) and PATH.pub; returns the key id."""
    pem = private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public_pem = private_key.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    Path(f"{path}.pub").write_bytes(public_pem)
    return key_id(raw_public_key(private_key))


def read_private_key(path: Path) -> Ed25519PrivateKey:
    """Reads an Ed25519 private key file; raises InvalidValue when it is not one."""
    try:
        key = load_pem_private_key(Path(path).read_bytes(), password=None)
    except (ValueError, TypeError) as e:
        raise InvalidValue(f"{path} is not a PEM private key: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidValue(f"{path} is not an Ed25519 private key")
    return key


def read_public_key(path: Path) -> bytes:
    """Reads an Ed25519 public key file (PEM, or 32 raw bytes / 64 hex digits) and returns the
    raw 32 bytes; raises InvalidValue otherwise."""
    data = Path(path).read_bytes()
    if data.startswith(b"-----BEGIN"):
        try:
            key = load_pem_public_key(data)
        except ValueError as e:
            raise InvalidValue(f"{path} is not a PEM public key: {e}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidValue(f"{path} is not an Ed25519 public key")
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    text = data.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text.decode())
        except ValueError:
            pass
    if len(data) == 32:
        return data
    raise InvalidValue(f"{path} is not an Ed25519 public key (PEM, 64 hex digits or 32 bytes)")
