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
import ipaddress
import json
import math
import os
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import idna


class InvalidValue(ValueError):
    """A value that is not in its type's wire form; the message says why."""


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
    """A host name in lowercase ASCII (A-label) form without a trailing dot: 'Bücher.Example.'
    -> 'xn--bcher-kva.example', 'faß.de' -> 'xn--fa-hia.de' (IDNA 2008 with UTS #46 mapping,
    as browsers resolve it). A name that ends in a number is an IPv4 address to a browser
    ('127.1' is 127.0.0.1), so it is refused here: send it as a url or an ip."""
    text = _nfkc(value)
    if not text or any(c in text for c in " /@"):
        raise InvalidValue("a domain is a host name such as example.com")
    labels = _domain_labels(text)
    if _ends_in_number(labels):
        raise InvalidValue(
            f"{text[:80]!r} ends in a number, so it is an IPv4 address, not a domain name "
            "(browsers read 127.1 as 127.0.0.1): send it as a url or an ip"
        )
    return _host_name(labels, text)


MAX_DOMAIN_CHARS = 253
"""The longest name DNS can carry (RFC 1035), in its ASCII form."""


def _host_name(labels: list[str], text: str) -> str:
    name = ".".join(labels)
    if len(labels) < 2:
        raise InvalidValue(f"not a valid domain name: {text[:80]!r} (at least two labels)")
    if len(name) > MAX_DOMAIN_CHARS:
        raise InvalidValue(
            f"not a valid domain name: {text[:80]!r} (DNS names are at most "
            f"{MAX_DOMAIN_CHARS} characters in ASCII form, this is {len(name)})"
        )
    return name


_ASCII_LABEL = re.compile(r"[a-z0-9_-]{1,63}")


def _domain_labels(text: str) -> list[str]:
    """The labels of a host name in ASCII, by UTS #46 (non-transitional: ß, ς and joiners are
    kept, so 'faß' is not 'fass') and IDNA 2008, from the `idna` package.

    As WHATWG's host parser does (UTS #46 with CheckHyphens and UseSTD3ASCIIRules off), an
    ASCII label that is not an A-label is only lowercased and checked for letters, digits, '-'
    and '_': real host names such as 'r3---sn-x.googlevideo.com' and '_dmarc.example.com' fail
    IDNA 2008's stricter label rules, and such names read the same under the old rule. An
    A-label ('xn--...') is decoded and must be the canonical encoding of a valid U-label, so
    'xn--fa-hia.de' and 'faß.de' are one name. A trailing dot is dropped."""
    shown = text[:80]
    try:
        mapped = idna.uts46_remap(text, std3_rules=False)
    except ValueError as e:  # IDNAError and the punycode codec's UnicodeError
        raise InvalidValue(f"not a valid domain name: {shown!r}: {e}") from None
    out: list[str] = []
    for label in mapped.rstrip(".").split("."):
        if label.isascii() and not label.startswith("xn--"):
            if not _ASCII_LABEL.fullmatch(label):
                raise InvalidValue(
                    f"not a valid domain name: {shown!r} (a label is 1-63 letters, digits, "
                    "'-' or '_')"
                )
            out.append(label)
            continue
        try:
            if label.isascii():
                a_label = idna.alabel(idna.ulabel(label)).decode("ascii")
                if a_label != label:  # RFC 5891 5.3; older idna releases skip it
                    raise idna.IDNAError("not the canonical encoding of its U-label")
            else:
                a_label = idna.alabel(label).decode("ascii")
        except ValueError as e:  # IDNAError and the punycode codec's UnicodeError
            raise InvalidValue(
                f"not a valid domain name: {shown!r}: label {label[:63]!r}: {e}"
            ) from None
        out.append(a_label)
    return out


def _ipv4_number(part: str) -> int | None:
    """WHATWG's IPv4 number parser: decimal, 0x-prefixed hex or 0-prefixed octal ('' after a
    prefix is 0); None when `part` is not a number."""
    if not part:
        return None
    radix = 10
    if part[:2] in ("0x", "0X"):
        part, radix = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        part, radix = part[1:], 8
    if not part:
        return 0
    digits = {10: "0123456789", 8: "01234567", 16: "0123456789abcdefABCDEF"}[radix]
    if any(c not in digits for c in part):
        return None
    return int(part, radix)


def _ends_in_number(labels: list[str]) -> bool:
    """WHATWG's ends-in-a-number checker: such a host is parsed as an IPv4 address."""
    last = labels[-1]
    all_digits = last.isascii() and last.isdigit()  # '09' too: the IPv4 parser refuses it
    return bool(last) and (all_digits or _ipv4_number(last) is not None)


def _ipv4_address(labels: list[str], shown: str) -> str:
    """WHATWG's IPv4 parser: 1-4 numbers, each of the first at most 255, the last filling the
    bytes left ('127.1' and '2130706433' are 127.0.0.1, '0x7f.0.0.1' and '0177.0.0.1' too)."""
    numbers = [_ipv4_number(label) for label in labels]
    if len(numbers) > 4 or any(n is None for n in numbers):
        raise InvalidValue(
            f"{shown!r} ends in a number but is not an IPv4 address (1-4 decimal, 0x hex or "
            "0-prefixed octal numbers)"
        )
    parts = [n for n in numbers if n is not None]
    if any(n > 255 for n in parts[:-1]) or parts[-1] >= 256 ** (5 - len(parts)):
        raise InvalidValue(f"{shown!r} is an IPv4 address out of range")
    value = parts[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(parts[:-1]))
    return str(ipaddress.IPv4Address(value))


def _ipv6_text(address: ipaddress.IPv6Address) -> str:
    """RFC 5952 text of an IPv6 address, as WHATWG serialises it: lowercase hex, the first
    longest run of two or more zero pieces as '::', never a dotted IPv4 tail. Written out here
    rather than taken from `str()`, whose form of IPv4-mapped addresses differs between Python
    releases (gh-87799): a signal id must not depend on the Python version."""
    pieces = [int.from_bytes(address.packed[i : i + 2], "big") for i in range(0, 16, 2)]
    start, length = -1, 1
    i = 0
    while i < 8:
        j = i
        while j < 8 and pieces[j] == 0:
            j += 1
        if j - i > length:
            start, length = i, j - i
        i = max(j, i + 1)
    if start < 0:
        return ":".join(f"{p:x}" for p in pieces)
    head = ":".join(f"{p:x}" for p in pieces[:start])
    tail = ":".join(f"{p:x}" for p in pieces[start + length :])
    return f"{head}::{tail}"


def _url_host(host: str) -> str:
    """The canonical form of a URL's host as written (no userinfo, no port), by WHATWG's host
    parser for special schemes: a bracketed IPv6 literal in RFC 5952 form; otherwise the
    percent-decoded name in A-label form or, when it ends in a number, the IPv4 address it
    stands for."""
    if host.startswith("["):
        inner = host[1:-1]
        try:
            address = ipaddress.IPv6Address(inner)
        except ValueError:
            raise InvalidValue(f"not an IPv6 address: [{inner[:60]}]") from None
        if address.scope_id is not None:
            raise InvalidValue("a url's IPv6 address has no zone (%...)")
        return f"[{_ipv6_text(address)}]"
    try:
        text = unquote(host, errors="strict")
    except UnicodeDecodeError:
        raise InvalidValue("a url's host is percent-encoded UTF-8") from None
    text = unicodedata.normalize("NFKC", text)
    if not text or any(c in text for c in " /@[]%\\"):
        raise InvalidValue(f"not a valid host name: {text[:80]!r}")
    labels = _domain_labels(text)
    if _ends_in_number(labels):
        return _ipv4_address(labels, text[:80])
    return _host_name(labels, text)


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
    """Canonical URL: http(s) scheme (http:// assumed when missing), host as browsers parse it
    (IDNA A-labels; numeric hosts such as 127.1 or 0x7f.0.0.1 as their IPv4 address; IPv6 in
    RFC 5952 form), default port dropped, empty path '/', dot segments removed, fragment and
    userinfo dropped, percent-encoding normalised, query kept in order."""
    try:
        return _normalize_url(value)
    except InvalidValue:
        raise
    except ValueError as e:  # urllib's own complaints (e.g. an unbalanced '[')
        raise InvalidValue(f"not a valid url: {e}") from None


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _normalize_url(value: str) -> str:
    text = _nfkc(value)
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidValue(f"a url is http or https, not {scheme!r}")
    hostinfo = parts.netloc.rpartition("@")[2]
    if hostinfo.startswith("["):
        inner, bracket, port_text = hostinfo.partition("]")
        raw_host = inner + bracket
        if not bracket or port_text[:1] not in ("", ":"):
            raise InvalidValue("a url's IPv6 address is in brackets, a port after them")
        port_text = port_text[1:]
    else:
        raw_host, _, port_text = hostinfo.partition(":")
    if not raw_host:
        raise InvalidValue("a url needs a host")
    host = _url_host(raw_host)
    if port_text:
        if not (port_text.isdigit() and port_text.isascii()) or int(port_text) > 65535:
            raise InvalidValue("a url's port is a number 0-65535")
        if int(port_text) != _DEFAULT_PORTS[scheme]:
            host = f"{host}:{int(port_text)}"
    path = remove_dot_segments(_normalize_escapes(parts.path, _SAFE_PATH)) or "/"
    query = _normalize_escapes(parts.query, _SAFE_QUERY)
    return urlunsplit((scheme, host, path, query, ""))


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 on an absolute path: '.' segments dropped, each '..' drops the
    segment before it ('/a/b/../c/./d' -> '/a/c/d'; '/a/..' -> '/'). Run after escapes are
    normalised, so '%2e' and '%2E' count as dots, as WHATWG's URL parser counts them."""
    if not path.startswith("/"):
        return path
    segments = path[1:].split("/")
    out: list[str] = []
    for i, segment in enumerate(segments):
        if segment in (".", ".."):
            if segment == ".." and out:
                out.pop()
            if i == len(segments) - 1:  # a path ending in a dot segment ends in '/'
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)


def normalize_email(value: str) -> str:
    """NFKC, trimmed, lowercase; the domain as `normalize_domain` gives it. No provider-specific
    rules (dots and '+tags' are kept): two platforms must agree without knowing each provider's
    policy."""
    local, at, host = _nfkc(value).rpartition("@")
    if not at or not local or " " in local:
        raise InvalidValue("an email address is local-part@domain")
    # The domain is not lowercased here: UTS #46 maps case itself, and str.lower() would turn
    # a capital sigma at the end of a word into a final sigma where the mapping gives sigma.
    return f"{local.lower()}@{normalize_domain(host)}"


def normalize_phone(value: str) -> str:
    """E.164: '+' and 8-15 digits. Spaces, dots, dashes and parentheses are dropped and a
    leading '00' becomes '+'; a number without its country code is refused, not guessed."""
    text = re.sub(r"[\s().\-]", "", _nfkc(value))
    if text.startswith("00"):
        text = "+" + text[2:]
    if not re.fullmatch(r"\+[1-9][0-9]{7,14}", text):
        raise InvalidValue("a phone number is in international form, e.g. +44 20 7946 0958")
    return text


_NUMERIC_HOST = re.compile(r"(0[xX][0-9a-fA-F]*|[0-9]+)(\.(0[xX][0-9a-fA-F]*|[0-9]+)){0,3}\.?")


def normalize_ip(value: str) -> str:
    """The address in its shortest standard form (RFC 5952 for IPv6); IPv4-mapped IPv6
    addresses become IPv4.

    Unlike a url's host, an IPv4 address is four decimal numbers only: '127.1', '0x7f.0.0.1'
    and '0177.0.0.1' are refused, not read as browsers read them. An address in a log or a
    report comes from a program that writes dotted decimal, and a leading zero there is more
    often zero-padding (010.000.000.001 for 10.0.0.1) than octal: guessing either way would
    key the wrong address without a word."""
    text = _nfkc(value).strip("[]")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        if _NUMERIC_HOST.fullmatch(text):
            raise InvalidValue(
                f"not an IP address in standard form: {text[:60]!r} (an IPv4 address is four "
                "decimal numbers 0-255 without leading zeros; shorthand, hex and octal are "
                "ambiguous)"
            ) from None
        raise InvalidValue(f"not an IP address: {text[:60]!r}") from None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return _ipv6_text(address) + (f"%{address.scope_id}" if address.scope_id else "")
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


# --- the rule before issue 19 -------------------------------------------------------------------
NORMALISATION_RULE = 2
"""Which rule `url`, `domain` and `email` values are normalised by. 1 (signalhub 0.1.0):
Python's built-in `idna` codec (IDNA 2003, so 'faß.de' was 'fass.de'), hosts and paths as
written. 2: IDNA 2008 with UTS #46, WHATWG's IPv4 hosts, dot segments removed. The other
types did not change. docs/normalisation.md says what became of signals stored under rule 1."""


def _rule1_domain(value: str) -> str:
    """`normalize_domain` of rule 1, kept unchanged to tell which values moved."""
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


def _rule1_url(value: str) -> str:
    """`normalize_url` of rule 1, kept unchanged to tell which values moved."""
    try:
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
            host = _rule1_domain(host)
        try:
            port = parts.port
        except ValueError:
            raise InvalidValue("a url's port is a number 0-65535") from None
        if port is not None and port != {"http": 80, "https": 443}[scheme]:
            host = f"{host}:{port}"
        path = _normalize_escapes(parts.path, _SAFE_PATH) or "/"
        query = _normalize_escapes(parts.query, _SAFE_QUERY)
        return urlunsplit((scheme, host, path, query, ""))
    except InvalidValue:
        raise
    except ValueError as e:
        raise InvalidValue(f"not a valid url: {e}") from None


def _rule1_email(value: str) -> str:
    """`normalize_email` of rule 1, kept unchanged to tell which values moved."""
    text = _nfkc(value).lower()
    local, at, host = text.rpartition("@")
    if not at or not local or " " in local:
        raise InvalidValue("an email address is local-part@domain")
    return f"{local}@{_rule1_domain(host)}"


_RULE1 = {"url": _rule1_url, "domain": _rule1_domain, "email": _rule1_email}
_RULE2 = {"url": normalize_url, "domain": normalize_domain, "email": normalize_email}
_APPLYING_RULE: ContextVar[int] = ContextVar(
    "signalhub_normalisation_rule", default=NORMALISATION_RULE
)


@contextmanager
def normalisation_rule(rule: int) -> Iterator[None]:
    """Within the block, the hub's canonical forms of `url` and `domain` values are those of
    rule `rule`: the hub replays a log entry written under rule 1 as rule 1 decided it, so
    `audit verify` and a cluster node catching up rebuild the same store."""
    token = _APPLYING_RULE.set(rule)
    try:
        yield
    finally:
        _APPLYING_RULE.reset(token)


def _canonical_by_rule(name: str) -> Callable[[str], str]:
    old, current = _RULE1[name], _RULE2[name]

    def canonical(value: str) -> str:
        return old(value) if _APPLYING_RULE.get() == 1 else current(value)

    return canonical


@dataclass(frozen=True)
class RuleChange:
    """A value that rule 2 normalises otherwise than rule 1 did. `old` or `new` is None where
    that rule refuses the value; `reason` then says why rule 2 does."""

    type_name: str
    value: str
    old: str | None
    new: str | None
    reason: str = ""


def old_rule_changes(type_name: str, value: str) -> RuleChange | None:
    """How normalising `value` (raw, or a wire value of a plain type) changed from rule 1 to
    rule 2; None when both give the same (or both refuse it). For a personal type (email) the
    keyed wire value changes exactly when the normalised value does."""
    old_rule = _RULE1.get(type_name)
    if old_rule is None:
        return None
    try:
        old: str | None = old_rule(value)
    except InvalidValue:
        old = None
    reason = ""
    try:
        new: str | None = _RULE2[type_name](value)
    except InvalidValue as e:
        new, reason = None, str(e)
    return None if old == new else RuleChange(type_name, value, old, new, reason)


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
    return SignalType(name, MatchKind.EXACT, description, _canonical_by_rule(name), normalize)


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
        _canonical_vpdq,
        _canonical_vpdq,
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
