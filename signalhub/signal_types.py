"""The signal-type registry: each type's wire form, how a member normalises a raw value, how
the hub validates and canonicalises what arrives, and how it is matched.

Two kinds of values travel:
- **plain** types (`pdq`, digests, `url`, `domain`): the canonical value itself;
- **personal** types (`email`, `phone`, `username`, `account_id`, `ip`): only a keyed hash,
  ``k<version>:<64 hex>`` = HMAC-SHA256 under the consortium key (which members hold and the
  hub never sees) of ``type 0x00 normalised-value``. The version names the key, so the key can
  be rotated. The hub can check the form but never learns the value.

Normalisation rules (`signalhub/normalisation.py`; docs/normalisation.md, with test vectors
checked by the tests) are applied by the member before keying; `canonical` is what the hub
applies to the wire value. Both are idempotent. The vPDQ text format is `vpdq_format.py`.

**Plug-ins** (docs/plugins.md): a package declares more types under the `signalhub.signal_types`
entry point, each a `SignalType` (or a list of them), or a `TypeMatcher` that gives an existing
type (`photodna`) a distance matcher. The built-in types are registered the same way (this
package's own entry point), and the hub, SDK, CLI and local matching all read `SIGNAL_TYPES`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import Protocol

from .normalisation import MAX_VALUE_CHARS as MAX_VALUE_CHARS
from .normalisation import InvalidValue as InvalidValue
from .normalisation import (
    canonical_by_rule,
    normalize_account_id,
    normalize_domain,
    normalize_email,
    normalize_ip,
    normalize_phone,
    normalize_url,
    normalize_username,
)
from .vpdq_format import MAX_VPDQ_CHARS, canonical_vpdq


class MatchKind(Enum):
    """How signals of a type are matched."""

    HAMMING = "hamming"
    EXACT = "exact"
    VIDEO = "video"
    """Frames of PDQ, matched frame by frame (vPDQ): see `vpdq_frames`."""
    DISTANCE = "distance"
    """A distance function with its own index class (`SignalType.index`)."""


class DistanceIndex(Protocol):
    """What a plug-in's index does: holds (signal id, canonical value) pairs and finds those
    within a distance of a value. It must be exact (every stored value within `max_distance`,
    as its type's `distance` computes it): the hub's tests compare it to brute force. The hub
    serialises calls (one lock), so an index needs no locking of its own."""

    def add(self, items: Sequence[tuple[str, str]]) -> None:
        """Adds (signal_id, canonical value) pairs; a signal id already held is replaced (the
        last wins when a batch names one twice)."""

    def remove(self, signal_ids: Sequence[str]) -> None:
        """Drops these signal ids (ids not held are ignored)."""

    def search(self, value: str, max_distance: int) -> list[tuple[str, int]]:
        """(signal_id, distance) of every held value within `max_distance` of `value`, in any
        order (the hub sorts)."""

    def __len__(self) -> int:
        """How many values it holds."""


_HEX = re.compile(r"[0-9a-f]*")
_KEYED = re.compile(r"k([1-9][0-9]{0,5}):([0-9a-f]{64})")


def _hex(name: str, digits: int) -> Callable[[str], str]:
    def canonical(value: str) -> str:
        text = value.strip().lower()
        if len(text) != digits:
            raise InvalidValue(f"a {name} value is {digits} hex digits, got {len(text)} characters")
        if not _HEX.fullmatch(text):
            raise InvalidValue(f"a {name} value is hex digits only (0-9, a-f)")
        return text

    return canonical


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


def _photodna_bytes(value: str) -> bytes:
    text = value.strip()
    if len(text) > 2048:
        raise InvalidValue("a photodna hash is 144 bytes; the value is far too long")
    if "," in text:  # 144 decimal byte values, as several tools print them
        try:
            numbers = [int(part) for part in text.split(",")]
        except ValueError:
            raise InvalidValue("comma-separated photodna bytes are numbers 0-255") from None
        if any(not 0 <= n <= 255 for n in numbers):
            raise InvalidValue("comma-separated photodna bytes are numbers 0-255")
        raw = bytes(numbers)
    elif len(text) == 2 * PHOTODNA_BYTES or (_HEX.fullmatch(text.lower()) and len(text) != 192):
        if not _HEX.fullmatch(text.lower()) or len(text) % 2:
            raise InvalidValue("a hex photodna hash is 288 hex digits (0-9, a-f)")
        raw = bytes.fromhex(text)
    else:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidValue(
                "a photodna hash is 288 hex digits, base64 (192 characters) or 144 "
                "comma-separated byte values"
            ) from None
    if len(raw) != PHOTODNA_BYTES:
        raise InvalidValue(f"a photodna hash is {PHOTODNA_BYTES} bytes, got {len(raw)}")
    return raw


PHOTODNA_BYTES = 144


def canonical_photodna(value: str) -> str:
    """A PhotoDNA hash (144 bytes) as 288 lowercase hex digits. Accepts hex, base64 or 144
    comma-separated byte values, the forms hash lists carry it in."""
    return _photodna_bytes(value).hex()


def _hamming_hex(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


@dataclass(frozen=True)
class SignalType:
    """One signal type: its name, wire form and validation, normalisation and matching.

    A plug-in makes one of these. Matching is one of: EXACT (nothing more to say); HAMMING over
    `bits` bits of hex with `default_threshold` (served by the matcher package's multi-index
    search); DISTANCE with a `distance` function and an `index` class (`DistanceIndex`).
    """

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
    default_threshold: int = 0
    """HAMMING and DISTANCE: the largest distance that matches when a query gives none."""
    max_threshold: int = 0
    """HAMMING and DISTANCE: the largest threshold a query may ask for (0 = `bits` for
    HAMMING)."""
    distance: Callable[[str, str], int] | None = None
    """DISTANCE (and HAMMING, filled in): distance between two canonical values."""
    index: Callable[[], DistanceIndex] | None = None
    """DISTANCE: makes an empty index (HAMMING types other than pdq get the matcher's)."""
    pytx_name: str | None = None
    """The python-threatexchange signal type of the same values, when there is one."""
    origin: str = "signalhub"
    """The distribution that registered it (set by the registry)."""
    hash_content: Callable[[bytes], str] | None = None
    """Computes the wire value from a file's bytes (`signalhub hash --type NAME FILE`);
    None when the type is not a hash of content, or the CLI hashes it itself (pdq, vpdq)."""
    replaceable_matching: bool = False
    """A `TypeMatcher` from a plug-in may give this type a distance matcher (photodna)."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", self.name):
            raise ValueError(f"signal type name {self.name!r}: lowercase a-z, 0-9, _ (<= 32)")
        if self.match is MatchKind.HAMMING and self.name != "pdq":
            if not 0 < self.bits <= 256 or self.bits % 4:
                raise ValueError(f"{self.name}: a Hamming type has 4-256 bits, a multiple of 4")
            if self.distance is None:
                object.__setattr__(self, "distance", _hamming_hex)
            if self.index is None:
                object.__setattr__(self, "index", _hamming_index(self.bits))
        if self.match in (MatchKind.HAMMING, MatchKind.DISTANCE, MatchKind.VIDEO):
            if self.max_threshold == 0:
                object.__setattr__(self, "max_threshold", self.bits or self.default_threshold)
            if not 0 <= self.default_threshold <= self.max_threshold:
                raise ValueError(f"{self.name}: default_threshold is 0-max_threshold")
        if self.match is MatchKind.DISTANCE and (self.distance is None or self.index is None):
            raise ValueError(f"{self.name}: a DISTANCE type needs `distance` and `index`")

    @property
    def indexed(self) -> bool:
        """Matched by a per-type `DistanceIndex` (not the shared PDQ table, not exact)."""
        return self.index is not None and self.name not in ("pdq", "vpdq")


@dataclass(frozen=True)
class TypeMatcher:
    """A plug-in's distance matcher for an existing type whose built-in matching is exact
    (photodna): a licensee registers this, and the hub matches by distance with no code
    change. The type's wire form and validation stay the built-in's."""

    type_name: str
    distance: Callable[[str, str], int]
    index: Callable[[], DistanceIndex]
    default_threshold: int
    max_threshold: int


def _hamming_index(bits: int) -> Callable[[], DistanceIndex]:
    def make() -> DistanceIndex:
        from matcher.hamming_index import HammingIndex  # numpy only where it is used

        return HammingIndex(bits)

    return make


def _digest(name: str, description: str, digits: int) -> SignalType:
    """A file digest of `digits` hex digits, matched exactly."""
    return SignalType(name, MatchKind.EXACT, description, _hex(name, digits), _hex(name, digits))


def _by_rule(name: str, description: str, normalize: Callable[[str], str]) -> SignalType:
    """An exactly matched value whose canonical form is that of the normalisation rule applying
    (url, domain: see `normalisation_rule`)."""
    return SignalType(name, MatchKind.EXACT, description, canonical_by_rule(name), normalize)


def _personal(name: str, description: str, normalize: Callable[[str], str]) -> SignalType:
    """A personal value, matched exactly and sent only keyed with the consortium key."""
    return SignalType(name, MatchKind.EXACT, description, _keyed(name), normalize, personal=True)


_TYPES = [
    SignalType(
        "pdq",
        MatchKind.HAMMING,
        "PDQ perceptual hash of an image, 256 bits",
        _hex("pdq", 64),
        _hex("pdq", 64),
        bits=256,
        default_threshold=31,
        max_threshold=64,
    ),
    SignalType(
        "vpdq",
        MatchKind.VIDEO,
        "vPDQ of a video: PDQ, quality and time of sampled frames",
        canonical_vpdq,
        canonical_vpdq,
        bits=256,
        max_chars=MAX_VPDQ_CHARS,
        default_threshold=31,
        max_threshold=64,
    ),
    _digest("md5", "MD5 file digest", 32),
    _digest("sha1", "SHA-1 file digest", 40),
    _digest("sha256", "SHA-256 file digest", 64),
    _by_rule("url", "URL, canonical form", normalize_url),
    _by_rule("domain", "domain name, IDNA lowercase", normalize_domain),
    _personal("email", "email address (keyed)", normalize_email),
    _personal("phone", "phone number, E.164 (keyed)", normalize_phone),
    _personal("username", "platform:username (keyed)", normalize_username),
    _personal("account_id", "platform:account id (keyed)", normalize_account_id),
    _personal("ip", "IP address (keyed)", normalize_ip),
    SignalType(
        "photodna",
        MatchKind.EXACT,
        "PhotoDNA hash, 144 bytes (exact without a licensed matcher plug-in)",
        canonical_photodna,
        canonical_photodna,
        max_chars=2048,
        replaceable_matching=True,
    ),
]
BUILTIN_TYPES: tuple[SignalType, ...] = tuple(_TYPES)
"""The built-in types; this package's own `signalhub.signal_types` entry point names them."""

ENTRY_POINT_GROUP = "signalhub.signal_types"


class PluginError(RuntimeError):
    """A plug-in that cannot be registered (bad object, a name clash); says which."""


@dataclass
class Registry(Mapping[str, SignalType]):
    """The signal types by name, loaded from the entry points on first use."""

    _types: dict[str, SignalType] | None = None
    errors: list[str] = field(default_factory=list)

    def _loaded(self) -> dict[str, SignalType]:
        if self._types is None:
            self._types = load_types(metadata.entry_points(group=ENTRY_POINT_GROUP))
        return self._types

    def __getitem__(self, name: str) -> SignalType:
        return self._loaded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())

    def reload(self) -> None:
        """Reads the entry points again (tests; a long-lived process after installing)."""
        self._types = None

    def fingerprint(self, origins: bool = True) -> str:
        """Names, match kinds, bits and (unless `origins` is False) origins: two processes with
        equal fingerprints validate and match alike. Without origins, a plug-in's new version
        that keeps its types' shape gives the same fingerprint (cluster nodes compare that)."""
        return hashlib.sha256(self.describe(origins).encode()).hexdigest()[:32]

    def describe(self, origins: bool = True) -> str:
        """What `fingerprint` hashes: one "name:match:bits[:origin]" a line, by name."""
        return "\n".join(
            f"{t.name}:{t.match.value}:{t.bits}" + (f":{t.origin}" if origins else "")
            for t in sorted(self._loaded().values(), key=lambda t: t.name)
        )


def load_types(
    entry_points: Sequence[metadata.EntryPoint] | metadata.EntryPoints,
) -> dict[str, SignalType]:
    """The registry built from entry points: built-ins first (this package's own entry point,
    or `BUILTIN_TYPES` when running from a source tree that is not installed), then plug-ins
    in name order. Raises PluginError on an object that is not a type or matcher, or on two
    registrations of one name."""
    points = sorted(entry_points, key=lambda ep: (ep.dist.name if ep.dist else "", ep.name))
    own = [ep for ep in points if ep.value.startswith("signalhub.signal_types:")]
    types: dict[str, SignalType] = {}
    if not own:
        types = {t.name: t for t in BUILTIN_TYPES}
    matchers: list[tuple[str, TypeMatcher]] = []
    for ep in own + [ep for ep in points if ep not in own]:
        origin = f"{ep.dist.name} {ep.dist.version}" if ep.dist else ep.value
        is_builtin = ep in own
        try:
            loaded = ep.load()
        except Exception as e:  # a broken plug-in must say which it is
            raise PluginError(f"plug-in {ep.name} ({origin}): cannot load {ep.value}: {e}") from e
        items = loaded if isinstance(loaded, list | tuple) else [loaded]
        for item in items:
            if isinstance(item, TypeMatcher):
                matchers.append((origin, item))
                continue
            if not isinstance(item, SignalType):
                raise PluginError(
                    f"plug-in {ep.name} ({origin}): {ep.value} is not a SignalType or "
                    "TypeMatcher (nor a list of them)"
                )
            if item.name in types:
                raise PluginError(
                    f"plug-in {ep.name} ({origin}): signal type {item.name!r} is already "
                    f"registered by {types[item.name].origin}"
                )
            types[item.name] = item if is_builtin else replace(item, origin=origin)
    for origin, m in matchers:
        base = types.get(m.type_name)
        if base is None or not base.replaceable_matching:
            raise PluginError(
                f"{origin}: a matcher for {m.type_name!r}, which is not a type whose matching "
                "a plug-in may replace"
            )
        if base.match is MatchKind.DISTANCE:
            raise PluginError(f"{origin}: {m.type_name!r} already has a matcher ({base.origin})")
        types[m.type_name] = replace(
            base,
            match=MatchKind.DISTANCE,
            distance=m.distance,
            index=m.index,
            default_threshold=m.default_threshold,
            max_threshold=m.max_threshold,
            origin=f"{base.origin}; matcher {origin}",
        )
    return types


SIGNAL_TYPES: Registry = Registry()
"""The registry of signal types, by lowercase name (built-ins plus installed plug-ins)."""


# --- the consortium key ---------------------------------------------------------------------
@dataclass(frozen=True)
class ConsortiumKey:
    """The members' shared secret for keying personal values. Never sent to the hub."""

    version: int
    secret: bytes

    def keyed(self, type_name: str, normalised: str) -> str:
        """The wire value of a personal signal: k<version>:HMAC-SHA256(secret, type 0x00 value)."""
        mac = hmac.new(
            self.secret, type_name.encode() + b"\x00" + normalised.encode(), hashlib.sha256
        )
        return f"k{self.version}:{mac.hexdigest()}"

    @classmethod
    def generate(cls, version: int = 1) -> ConsortiumKey:
        """A new key of 32 random bytes; `version` goes into every keyed value it makes."""
        return cls(version, os.urandom(32))

    def write(self, path: Path) -> None:
        """Writes the key as JSON, readable by its owner only (0600)."""
        data = json.dumps({"version": self.version, "key": self.secret.hex()}).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data + b"\n")

    @classmethod
    def read(cls, path: Path) -> ConsortiumKey:
        """Reads a key file of `write`; InvalidValue when it is unreadable or malformed, its
        version is below 1 or its key under 16 bytes."""
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
