"""How a member normalises a raw value before it is sent (and keyed, for personal types):
host names, URLs, email addresses, phone numbers, IP addresses and platform-qualified names,
by rule 2 (docs/normalisation.md, with the test vectors the tests check), and rule 1 kept to
tell which stored values the change of rule moved. `signal_types` names which rule each type
uses; every function here is idempotent."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import idna


class InvalidValue(ValueError):
    """A value that is not in its type's wire form; the message says why."""


_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
MAX_VALUE_CHARS = 4096


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


def canonical_by_rule(name: str) -> Callable[[str], str]:
    """The hub's canonical form of a `url`, `domain` or `email` value under the rule applying
    (`normalisation_rule`)."""
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
