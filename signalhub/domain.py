"""Rules both the hub and its members must agree on, written once.

Signal types (validation and canonical form), identifiers (`signal_id`, `key_id`, member ids),
the exact bytes that are signed (submission envelopes and per-call metadata) and the limits of a
batch. Pure functions over plain values: no gRPC, no LMDB, no files.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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

from signalhub.signal_types import MAX_VALUE_CHARS as MAX_VALUE_CHARS
from signalhub.signal_types import SIGNAL_TYPES as SIGNAL_TYPES
from signalhub.signal_types import ConsortiumKey as ConsortiumKey
from signalhub.signal_types import InvalidValue as InvalidValue
from signalhub.signal_types import MatchKind as MatchKind
from signalhub.signal_types import SignalType as SignalType
from signalhub.signal_types import wire_value as wire_value
from signalhub.source_records import MAX_METADATA_CHARS as MAX_METADATA_CHARS
from signalhub.source_records import MAX_METADATA_KEYS as MAX_METADATA_KEYS
from signalhub.source_records import MAX_METADATA_VALUE_CHARS as MAX_METADATA_VALUE_CHARS
from signalhub.source_records import MAX_SOURCE_REF_CHARS as MAX_SOURCE_REF_CHARS
from signalhub.source_records import MAX_SOURCES as MAX_SOURCES
from signalhub.source_records import InvalidFieldValue as InvalidFieldValue
from signalhub.source_records import Metadata as Metadata
from signalhub.source_records import source_digest_part
from signalhub.source_records import validate_metadata as validate_metadata
from signalhub.source_records import validate_source_ref as validate_source_ref

# --- limits ---------------------------------------------------------------------------------
REPLAY_WINDOW_SECONDS = 300
"""A submission's created_at (and a call's timestamp) must be within this of the hub's clock."""
MAX_BATCH_SIGNALS = 10_000
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""gRPC message limit on both sides; larger requests get RESOURCE_EXHAUSTED from gRPC itself."""
MAX_MATCH_QUERIES = 10_000
MAX_MATCH_FRAMES = 100_000
"""Video frames one MatchHashes call may carry (its vpdq queries together)."""
VPDQ_QUERY_MATCH_PERCENT = 80.0
"""A stored video matches a query video when at least this share of the query's retained
frames match (python-threatexchange's VPDQ_QUERY_MATCH_THRESHOLD_PERCENT)."""
MAX_TAGS = 32
MAX_TAG_CHARS = 64
MAX_BATCH_ID_CHARS = 128
DEFAULT_PDQ_MAX_DISTANCE = 31

LABELS: frozenset[str] = frozenset({"csam", "sextortion", "grooming", "ncii", "terrorism", "other"})
"""The label taxonomy. Free-form words go in tags."""


def signal_type(name: str) -> SignalType:
    """Returns the registered type called `name` or raises InvalidValue listing the known ones."""
    found = SIGNAL_TYPES.get(name)
    if found is None:
        known = ", ".join(sorted(SIGNAL_TYPES))
        raise InvalidFieldValue("type", f"unknown signal type {name!r}; known types: {known}")
    return found


def canonical_value(type_name: str, value: str) -> str:
    """Validates `value` as a `type_name` wire value and returns its canonical form."""
    found = signal_type(type_name)
    if len(value) > found.max_chars:
        raise InvalidValue(f"at most {found.max_chars} characters")
    return found.canonical(value)


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
            raise InvalidFieldValue("labels", f"unknown label {label!r}; labels are: {known}")


def validate_tags(tags: Sequence[str]) -> None:
    """Raises InvalidValue when there are too many tags or one is empty or too long."""
    if len(tags) > MAX_TAGS:
        raise InvalidFieldValue("tags", f"at most {MAX_TAGS} tags, got {len(tags)}")
    for tag in tags:
        if not tag.strip() or len(tag) > MAX_TAG_CHARS or not tag.isprintable():
            raise InvalidFieldValue(
                "tags", f"a tag is 1-{MAX_TAG_CHARS} printable characters, not blank"
            )


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


SNAPSHOT_SIGNING_PREFIX = b"signalhub.v1.Snapshot\x00"


class SnapshotDigest:
    """The running digest of a snapshot (GetSnapshot), which the hub signs: SHA-256 over
    SNAPSHOT_SIGNING_PREFIX, then the serialised SnapshotHeader and every serialised
    SnapshotChunk in the order sent, each of them preceded by its length as 4 big-endian bytes.
    Both sides hash the exact bytes that travelled, never a re-serialisation."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256(SNAPSHOT_SIGNING_PREFIX)

    def update(self, part: bytes | memoryview) -> None:
        """Adds the next part: the header first, then each chunk."""
        self._sha.update(struct.pack(">I", len(part)))
        self._sha.update(part)

    def digest(self) -> bytes:
        """The SHA-256 of the parts added so far: the 32 bytes the trailer's signature covers."""
        return self._sha.digest()


def snapshot_digest(header: bytes, chunks: Iterable[bytes]) -> bytes:
    """The digest of a whole snapshot (see SnapshotDigest); the hub's Ed25519 signature in the
    trailer covers exactly these 32 bytes."""
    running = SnapshotDigest()
    running.update(header)
    for chunk in chunks:
        running.update(chunk)
    return running.digest()


OPINION_SIGNING_PREFIX = b"signalhub.v1.OpinionChange\x00"
RETRACTION_SIGNING_PREFIX = b"signalhub.v1.Retraction\x00"
MAX_NOTE_CHARS = 1000
MAX_REQUEST_ID_CHARS = 128


def submission_signing_bytes(payload: bytes) -> bytes:
    """The bytes an envelope's signature covers: a domain-separation prefix plus the exact
    serialised batch, so verification never depends on re-serialising protobuf."""
    return SUBMISSION_SIGNING_PREFIX + payload


def signing_bytes(prefix: bytes, payload: bytes) -> bytes:
    """The bytes an envelope of any kind covers: its kind's prefix plus the exact payload. The
    prefixes differ, so a signature over one kind can never pass as another."""
    return prefix + payload


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


_CLASSIFIER = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Verdict:
    """A classifier's verdict on a signal's content: which classifier, its score (0-1) and
    whether a human confirmed it."""

    classifier: str
    score: float
    human_reviewed: bool = False


def validate_verdict(classifier: str, score: float, human_reviewed: bool) -> Verdict:
    """A checked Verdict, or InvalidFieldValue naming `classifier.classifier` or `.score`."""
    if not _CLASSIFIER.fullmatch(classifier):
        raise InvalidFieldValue(
            "classifier.classifier",
            "a classifier is named by a lowercase slug (a-z, 0-9, '.', '_', '-'; at most 64)",
        )
    if not (math.isfinite(score) and 0.0 <= score <= 1.0):
        raise InvalidFieldValue("classifier.score", f"a score is 0-1, got {score}")
    return Verdict(classifier, float(score), bool(human_reviewed))


@dataclass(frozen=True)
class CanonicalSignal:
    """A validated signal of a batch, in canonical form."""

    type: str
    value: str
    labels: tuple[str, ...]
    tags: tuple[str, ...]
    industry: str = ""
    confidence: int = 0
    """1-100, 0 = not said."""
    expires_at_ms: int = 0
    """0 = never."""
    verdict: Verdict | None = None
    """The classifier that flagged it, when one did."""
    incident: str = ""
    """The submitter's case reference (member-scoped, opaque); "" = none."""
    source_ref: str = ""
    """The submitter's own opaque reference, returned to whoever sees the submission."""
    metadata: Metadata = ()
    """The submitter's metadata map, sorted by key (`source_records.validate_metadata`)."""

    signal_id: str = field(init=False, repr=False, compare=False)
    """Computed once, here: ingest reads it several times a signal."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "signal_id", signal_id(self.type, self.value))


SHARING_LEVELS = {"full": 0, "match-only": 1}
"""Sharing levels by name (the CLI's and SDK's words) and wire number (signalhub.v1.Sharing):
"match-only" lets the audience match against a value without ever receiving it."""
SHARING_NAMES = {number: name for name, number in SHARING_LEVELS.items()}


def sharing_level(name: str) -> int:
    """The wire number of a sharing level's name ("full", "match-only"); ValueError naming
    the choices for anything else."""
    try:
        return SHARING_LEVELS[name]
    except KeyError:
        choices = " or ".join(SHARING_LEVELS)
        raise ValueError(f"unknown sharing level {name!r}: {choices}") from None


def batch_content_digest(
    signals: Iterable[CanonicalSignal],
    audience: Sequence[str] = (),
    urgent: bool = False,
    sharing: int = 0,
) -> bytes:
    """SHA-256 over the canonical signals of a batch, in order, its audience and (only when
    set, so that earlier digests stay valid) its urgent flag and sharing level. Two
    submissions of one batch_id are the same batch exactly when their digests are equal,
    however they were serialised."""
    pack = struct.Struct(">I").pack

    def chunk(data: bytes) -> bytes:
        return pack(len(data)) + data

    empty = pack(0)

    def items(xs: Sequence[str]) -> bytes:
        return chunk(b"".join([chunk(x.encode()) for x in xs])) if xs else empty

    parts = [items(sorted(set(audience)))]
    for s in signals:
        parts.append(chunk(s.type.encode()))
        parts.append(chunk(s.value.encode()))
        parts.append(items(s.labels))
        parts.append(items(s.tags))
        parts.append(chunk(f"{s.industry}\x00{s.confidence}\x00{s.expires_at_ms}".encode()))
        if s.verdict is not None:  # only when present, so that earlier digests stay valid
            v = s.verdict
            parts.append(
                chunk(f"verdict\x00{v.classifier}\x00{v.score!r}\x00{v.human_reviewed:d}".encode())
            )
        if s.incident:  # likewise
            parts.append(chunk(b"incident\x00" + s.incident.encode()))
        if s.source_ref or s.metadata:  # likewise
            parts.append(chunk(source_digest_part(s.source_ref, s.metadata)))
    if urgent:
        parts.append(chunk(b"urgent"))
    if sharing:  # likewise
        parts.append(chunk(f"sharing\x00{sharing}".encode()))
    h = hashlib.sha256(b"".join(parts))
    return h.digest()


_INDUSTRY = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def canonical_signal(
    type_name: str,
    value: str,
    labels: Sequence[str],
    tags: Sequence[str],
    *,
    industry: str = "",
    confidence: int = 0,
    expires_at_ms: int = 0,
    verdict: Verdict | None = None,
    incident: str = "",
    source_ref: str = "",
    metadata: Mapping[str, str] | None = None,
) -> CanonicalSignal:
    """Validates one submitted signal and returns its canonical form (labels and tags sorted
    and de-duplicated). Raises InvalidValue naming what is wrong."""
    canonical = canonical_value(type_name, value)
    if labels:
        validate_labels(labels)
    if tags:
        validate_tags(tags)
    if industry and not _INDUSTRY.fullmatch(industry):
        raise InvalidFieldValue("industry", "an industry is a lowercase slug, e.g. social")
    if not 0 <= confidence <= 100:
        raise InvalidFieldValue("confidence", "confidence is 1-100 (0 = not said)")
    if expires_at_ms < 0:
        raise InvalidFieldValue("expires_at", "expires_at is after 1970")
    if incident:
        validate_incident(incident)
    if source_ref:
        validate_source_ref(source_ref)
    return CanonicalSignal(
        type_name,
        canonical,
        tuple(sorted(set(labels))) if labels else (),
        tuple(sorted({t.strip() for t in tags})) if tags else (),
        industry,
        confidence,
        expires_at_ms,
        verdict,
        incident,
        source_ref,
        validate_metadata(metadata) if metadata else (),
    )


MAX_INCIDENT_CHARS = 128


def validate_incident(incident: str) -> None:
    """An incident reference: 1-128 printable characters, no surrounding spaces."""
    if (
        len(incident) > MAX_INCIDENT_CHARS
        or incident != incident.strip()
        or not incident.isprintable()
    ):
        raise InvalidFieldValue(
            "incident",
            f"an incident reference is 1-{MAX_INCIDENT_CHARS} printable characters without "
            "surrounding spaces",
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
