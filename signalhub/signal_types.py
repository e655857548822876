"""The signal-type registry: each type's wire form, how a member normalises a raw value, how
the hub validates and canonicalises what arrives, and how it is matched.

Two kinds of values travel:
- **plain** types (`pdq`, digests, `url`, `domain`): the canonical value itself;
- **personal** types (`email`, `phone`, `username`, `account_id`, `ip`): only a keyed hash,
  ``k<version>:<64 hex>`` = HMAC-SHA256 under the consortium key (which members hold and the
  hub never sees) of ``type 0x00 normalised-value``. The version names the key, so the key can
  be rotated. The hub can check the form but never learns the value.

Normalisation rules (docs/normalisation.md, with test vectors checked by the tests) are applied
by the member before keying; `canonical` is what the hub applies to the wire value. Both are
idempotent.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit


class InvalidValue(ValueError):
    """A value that is not in its type's wire form; the message says why."""


class MatchKind(Enum):
    """How signals of a type are matched."""

    HAMMING = "hamming"
    EXACT = "exact"
    VIDEO = "video"
    """Frames of PDQ, matched frame by frame (vPDQ): see `vpdq_frames`."""


_HEX = re.compile(r"[0-9a-f]*")
_KEYED = re.compile(r"k([1-9][0-9]{0,5}):([0-9a-f]{64})")
_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
MAX_VALUE_CHARS = 4096
MAX_VPDQ_CHARS = 1 << 20
"""A vPDQ value carries every frame: ~80 characters a frame, so about 13,000 frames (3.6 hours
at one frame a second)."""


def _hex(name: str, digits: int) -> Callable[[str], str]:
    def canonical(value: str) -> str:
        text = value.strip().lower()
        if len(text) != digits:
            raise InvalidValue(f"a {name} value is {digits} hex digits, got {len(text)} characters")
        if not _HEX.fullmatch(text):
            raise InvalidValue(f"a {name} value is hex digits only (0-9, a-f)")
        return text

    return canonical


def _nfkc(value: str) -> str:
    if len(value) > MAX_VALUE_CHARS:
        raise InvalidValue(f"at most {MAX_VALUE_CHARS} characters")
    return unicodedata.normalize("NFKC", value).strip()


def normalize_domain(value: str) -> str:
    """Lowercase IDNA (punycode) host name without a trailing dot: 'Bücher.Example.' ->
    'xn--bcher-kva.example'."""
    text = _nfkc(value).rstrip(".").lower()
    if not text or " " in text or "/" in text or "@" in text:
        raise InvalidValue("a domain is a host name such as example.com")
    try:
        ascii_name = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidValue(f"not a valid domain name: {text[:80]!r}") from None
    labels = ascii_name.split(".")
    if len(labels) < 2 or any(not label or len(label) > 63 for label in labels):
        raise InvalidValue(f"not a valid domain name: {text[:80]!r}")
    if not all(re.fullmatch(r"[a-z0-9_-]+", label) for label in labels):
        raise InvalidValue(f"not a valid domain name: {text[:80]!r}")
    return ascii_name


_UNRESERVED = "-._~"
_SAFE_PATH = "/:@!$&'()*+,;=" + _UNRESERVED
_SAFE_QUERY = _SAFE_PATH + "?"


def _normalize_escapes(part: str, safe: str) -> str:
    """Decodes escapes of unreserved characters, uppercases the other escapes and escapes what
    must be (spaces, non-ASCII), without decoding reserved characters such as %2F."""

    def fix(m: re.Match[str]) -> str:
        ch = chr(int(m.group(1), 16))
        if ch.isascii() and (ch.isalnum() or ch in _UNRESERVED):
            return ch
        return "%" + m.group(1).upper()

    return quote(re.sub(r"%([0-9A-Fa-f]{2})", fix, part), safe=safe + "%")


def normalize_url(value: str) -> str:
    """Canonical URL: http(s) scheme (http:// assumed when missing), lowercase IDNA host,
    default port dropped, empty path '/', fragment dropped, percent-encoding normalised,
    query kept in order."""
    try:
        return _normalize_url(value)
    except InvalidValue:
        raise
    except ValueError as e:  # urllib's own complaints (e.g. an unbalanced '[')
        raise InvalidValue(f"not a valid url: {e}") from None


def _normalize_url(value: str) -> str:
    text = _nfkc(value)
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidValue(f"a url is http or https, not {scheme!r}")
    if parts.hostname is None:
        raise InvalidValue("a url needs a host")
    host = parts.hostname
    try:
        host = str(ipaddress.ip_address(host.strip("[]")))
        host = f"[{host}]" if ":" in host else host
    except ValueError:
        host = normalize_domain(host)
    try:
        port = parts.port
    except ValueError:
        raise InvalidValue("a url's port is a number 0-65535") from None
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    path = _normalize_escapes(parts.path, _SAFE_PATH) or "/"
    query = _normalize_escapes(parts.query, _SAFE_QUERY)
    return urlunsplit((scheme, host, path, query, ""))


def normalize_email(value: str) -> str:
    """NFKC, trimmed, lowercase; the domain in IDNA form. No provider-specific rules (dots and
    '+tags' are kept): two platforms must agree without knowing each provider's policy."""
    text = _nfkc(value).lower()
    local, at, host = text.rpartition("@")
    if not at or not local or " " in local:
        raise InvalidValue("an email address is local-part@domain")
    return f"{local}@{normalize_domain(host)}"


def normalize_phone(value: str) -> str:
    """E.164: '+' and 8-15 digits. Spaces, dots, dashes and parentheses are dropped and a
    leading '00' becomes '+'; a number without its country code is refused, not guessed."""
    text = re.sub(r"[\s().\-]", "", _nfkc(value))
    if text.startswith("00"):
        text = "+" + text[2:]
    if not re.fullmatch(r"\+[1-9][0-9]{7,14}", text):
        raise InvalidValue("a phone number is in international form, e.g. +44 20 7946 0958")
    return text


def normalize_ip(value: str) -> str:
    """The address in its shortest standard form (RFC 5952 for IPv6); IPv4-mapped IPv6
    addresses become IPv4."""
    text = _nfkc(value).strip("[]")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidValue(f"not an IP address: {text[:60]!r}") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _platform_qualified(value: str, fold: bool) -> str:
    text = _nfkc(value)
    platform, colon, ident = text.partition(":")
    platform = platform.strip().lower()
    ident = ident.strip()
    if not colon or not _SLUG.fullmatch(platform) or not ident:
        raise InvalidValue("qualify it with the platform: platform:identifier")
    if fold:
        ident = ident.removeprefix("@").casefold()
    return f"{platform}:{ident}"


def normalize_username(value: str) -> str:
    """'platform:name': the platform slug lowercase; the name NFKC, trimmed, without a leading
    '@', case-folded."""
    return _platform_qualified(value, fold=True)


def normalize_account_id(value: str) -> str:
    """'platform:id': the platform slug lowercase; the id NFKC and trimmed (ids are
    case-sensitive on some platforms, so case is kept)."""
    return _platform_qualified(value, fold=False)


def _keyed(name: str) -> Callable[[str], str]:
    def canonical(value: str) -> str:
        text = value.strip().lower()
        if not _KEYED.fullmatch(text):
            raise InvalidValue(
                f"a {name} value is sent only keyed: k<version>:<64 hex> "
                "(HMAC-SHA256 under the consortium key; the SDK does it)"
            )
        return text

    return canonical


# --- vPDQ (video) ------------------------------------------------------------------------------
# The text python-threatexchange's `vpdq` signal type reads and writes: a JSON list of strings
# "<pdq hex>,<quality>,<timestamp>", the timestamp written as pytx writes it (`f"{t:.3}"`: three
# significant digits, so 1234.5 s is written 1.23e+03). Canonical form: exactly that text with
# pytx's separators, lowercase hex, and integer qualities, so that a video hashed by pytx and by
# us has one signal id.
VPDQ_MIN_QUALITY = 50
"""Frames of lower quality are not matched (pytx's VPDQ_QUALITY_THRESHOLD)."""
_PDQ_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class VpdqFrame:
    """One hashed frame of a video: its PDQ (64 lowercase hex digits), PDQ quality (0-100;
    below 50 is unreliable) and time from the start in seconds. Checked when made."""

    pdq: str
    quality: int
    timestamp: float

    def __post_init__(self) -> None:
        if not isinstance(self.pdq, str) or not _PDQ_HEX.fullmatch(self.pdq):
            raise ValueError(f"pdq {self.pdq!r} is not 64 lowercase hex digits")
        if isinstance(self.quality, bool) or not isinstance(self.quality, int):
            raise ValueError(f"quality {self.quality!r} is not an integer")
        if not 0 <= self.quality <= 100:
            raise ValueError(f"quality {self.quality} is outside 0-100")
        if isinstance(self.timestamp, bool) or not isinstance(self.timestamp, int | float):
            raise ValueError(f"timestamp {self.timestamp!r} is not a number")
        if not (math.isfinite(self.timestamp) and self.timestamp >= 0):
            raise ValueError(f"timestamp {self.timestamp!r} is not a finite number >= 0")

    def __str__(self) -> str:
        """The frame as pytx writes it: "<pdq>,<quality>,<timestamp to 3 significant digits>"."""
        return f"{self.pdq},{self.quality},{self.timestamp:.3}"


def vpdq_frames(text: str) -> list[VpdqFrame]:
    """Parses and validates a vPDQ value; raises InvalidValue naming the bad frame."""
    if len(text) > MAX_VPDQ_CHARS:
        raise InvalidValue(f"a vpdq value is at most {MAX_VPDQ_CHARS} characters")
    try:
        items = json.loads(text)
    except ValueError:
        raise InvalidValue(
            'a vpdq value is a JSON list of "<pdq hex>,<quality>,<timestamp>" strings'
        ) from None
    if not isinstance(items, list) or not items:
        raise InvalidValue("a vpdq value lists at least one frame")
    frames: list[VpdqFrame] = []
    for i, item in enumerate(items):
        parts = item.split(",") if isinstance(item, str) else []
        if len(parts) != 3:
            raise InvalidValue(f'frame {i}: "<pdq hex>,<quality>,<timestamp>" required')
        pdq = parts[0].strip().lower()
        if not _PDQ_HEX.fullmatch(pdq):
            raise InvalidValue(f"frame {i}: the PDQ hash is 64 hex digits")
        try:
            quality = int(parts[1])
            timestamp = float(parts[2])
        except ValueError:
            raise InvalidValue(f"frame {i}: quality is an integer, timestamp a number") from None
        if not 0 <= quality <= 100:
            raise InvalidValue(f"frame {i}: quality is 0-100, got {quality}")
        if not (math.isfinite(timestamp) and timestamp >= 0):
            raise InvalidValue(f"frame {i}: the timestamp is seconds from the start, >= 0")
        if frames and timestamp < frames[-1].timestamp:
            raise InvalidValue(f"frame {i}: timestamps must not decrease")
        frames.append(VpdqFrame(pdq, quality, timestamp))
    return frames


def vpdq_text(frames: list[VpdqFrame]) -> str:
    """The canonical text of `frames` (what pytx's `vpdq_to_json` writes)."""
    return json.dumps([str(f) for f in frames])


def vpdq_retained(frames: list[VpdqFrame], min_quality: int = VPDQ_MIN_QUALITY) -> list[VpdqFrame]:
    """The frames matching uses: quality at least `min_quality`, the first of each exact hash
    (pytx's quality_filter then dedupe)."""
    seen: set[str] = set()
    out = []
    for f in frames:
        if f.quality >= min_quality and f.pdq not in seen:
            seen.add(f.pdq)
            out.append(f)
    return out


def _canonical_vpdq(value: str) -> str:
    return vpdq_text(vpdq_frames(value))


@dataclass(frozen=True)
class SignalType:
    """One signal type."""

    name: str
    match: MatchKind
    description: str
    canonical: Callable[[str], str]
    """Validates a wire value and returns its canonical form (raises InvalidValue)."""
    normalize: Callable[[str], str]
    """What a member applies to a raw value before sending (and keying, if personal)."""
    personal: bool = False
    """Sent only as a keyed hash under the consortium key."""
    bits: int = 0
    """Hash length in bits (Hamming types)."""
    max_chars: int = MAX_VALUE_CHARS
    """Longest wire value accepted."""


_TYPES = [
    SignalType("pdq", MatchKind.HAMMING, "PDQ perceptual hash of an image, 256 bits",
               _hex("pdq", 64), _hex("pdq", 64), bits=256),
    SignalType("vpdq", MatchKind.VIDEO, "vPDQ of a video: PDQ, quality and time of sampled frames",
               _canonical_vpdq, _canonical_vpdq, bits=256, max_chars=MAX_VPDQ_CHARS),
    SignalType("md5", MatchKind.EXACT, "MD5 file digest", _hex("md5", 32), _hex("md5", 32)),
    SignalType("sha1", MatchKind.EXACT, "SHA-1 file digest", _hex("sha1", 40), _hex("sha1", 40)),
    SignalType("sha256", MatchKind.EXACT, "SHA-256 file digest",
               _hex("sha256", 64), _hex("sha256", 64)),
    SignalType("url", MatchKind.EXACT, "URL, canonical form", normalize_url, normalize_url),
    SignalType("domain", MatchKind.EXACT, "domain name, IDNA lowercase",
               normalize_domain, normalize_domain),
    SignalType("email", MatchKind.EXACT, "email address (keyed)", _keyed("email"),
               normalize_email, personal=True),
    SignalType("phone", MatchKind.EXACT, "phone number, E.164 (keyed)", _keyed("phone"),
               normalize_phone, personal=True),
    SignalType("username", MatchKind.EXACT, "platform:username (keyed)", _keyed("username"),
               normalize_username, personal=True),
    SignalType("account_id", MatchKind.EXACT, "platform:account id (keyed)",
               _keyed("account_id"), normalize_account_id, personal=True),
    SignalType("ip", MatchKind.EXACT, "IP address (keyed)", _keyed("ip"), normalize_ip,
               personal=True),
]  # fmt: skip

SIGNAL_TYPES: dict[str, SignalType] = {t.name: t for t in _TYPES}
"""The registry of signal types, by lowercase name."""


# --- the consortium key ---------------------------------------------------------------------
@dataclass(frozen=True)
class ConsortiumKey:
    """The members' shared secret for keying personal values. Never sent to the hub."""

    version: int
    secret: bytes

    def keyed(self, type_name: str, normalised: str) -> str:
        """The wire value of a personal signal: k<version>:HMAC-SHA256(secret, type 0x00 value)."""
        mac = hmac.new(self.secret, type_name.encode() + b"\x00" + normalised.encode(),
                       hashlib.sha256)  # fmt: skip
        return f"k{self.version}:{mac.hexdigest()}"

    @classmethod
    def generate(cls, version: int = 1) -> ConsortiumKey:
        return cls(version, os.urandom(32))

    def write(self, path: Path) -> None:
        """Writes the key as JSON, readable by its owner only (0600)."""
        data = json.dumps({"version": self.version, "key": self.secret.hex()}).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data + b"\n")

    @classmethod
    def read(cls, path: Path) -> ConsortiumKey:
        try:
            data = json.loads(Path(path).read_text())
            version, secret = int(data["version"]), bytes.fromhex(data["key"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InvalidValue(f"{path} is not a consortium key file: {e}") from None
        if version < 1 or len(secret) < 16:
            raise InvalidValue(f"{path}: version must be >= 1 and the key at least 16 bytes")
        return cls(version, secret)


def wire_value(type_name: str, raw: str, key: ConsortiumKey | None) -> str:
    """What a member sends for a raw value: normalised, and keyed when the type is personal.
    A value already in keyed form is passed through (after validation)."""
    t = SIGNAL_TYPES.get(type_name)
    if t is None:
        known = ", ".join(sorted(SIGNAL_TYPES))
        raise InvalidValue(f"unknown signal type {type_name!r}; known types: {known}")
    if not t.personal:
        return t.canonical(t.normalize(raw))
    if _KEYED.fullmatch(raw.strip().lower()):
        return t.canonical(raw)
    if key is None:
        raise InvalidValue(
            f"{type_name} values are personal data: give the consortium key (--consortium-key) "
            "so they are sent keyed"
        )
    return key.keyed(type_name, t.normalize(raw))
