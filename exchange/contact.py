"""A member's contact details (who the operator calls about it): what the hub accepts.

Pure checks on plain values, used by apply (exchange.ledger) for AddMember and SetMemberContact,
so that a bad value is refused with the field named and nothing is stored.
"""

from __future__ import annotations

import re

from signalhub.v1 import admin_pb2

MAX_NAME_CHARS = 200
MAX_EMAIL_CHARS = 254
"""RFC 5321's limit on a forward path."""
MAX_PHONE_CHARS = 32
MIN_PHONE_DIGITS = 3
MAX_PHONE_DIGITS = 20
MAX_NOTES_CHARS = 1000

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"[^@\s\x00-\x1f\x7f]{{1,64}}@{_LABEL}(?:\.{_LABEL})+")
"""local-part@domain.tld: no spaces, one '@', a dotted DNS name (ASCII; IDNs as punycode)."""
_PHONE = re.compile(r"\+?[0-9 ().-]+")
_PHONE_FORM = (
    f"digits (at least {MIN_PHONE_DIGITS}) with an optional leading '+', spaces, '(', ')', '-' "
    "or '.'"
)
"""What a refused phone number should look like."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def contact_violations(
    contact: admin_pb2.MemberContact, field: str = "contact"
) -> list[tuple[str, str]]:
    """(field, reason) of each value of `contact` the hub refuses; empty when it is valid.
    Every field is optional (empty); notes may span lines, the others may not."""
    out: list[tuple[str, str]] = []
    name, email, phone, notes = contact.name, contact.email, contact.phone, contact.notes
    if len(name) > MAX_NAME_CHARS:
        out.append((f"{field}.name", f"at most {MAX_NAME_CHARS} characters, got {len(name)}"))
    elif _CONTROL.search(name):
        out.append((f"{field}.name", "control characters are not allowed"))
    if len(email) > MAX_EMAIL_CHARS:
        out.append((f"{field}.email", f"at most {MAX_EMAIL_CHARS} characters, got {len(email)}"))
    elif email and not _EMAIL.fullmatch(email):
        out.append((f"{field}.email", "an email address, like name@example.org"))
    digits = sum(c.isdigit() for c in phone)
    if len(phone) > MAX_PHONE_CHARS:
        out.append((f"{field}.phone", f"at most {MAX_PHONE_CHARS} characters, got {len(phone)}"))
    elif phone and not (_PHONE.fullmatch(phone) and MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS):
        out.append((f"{field}.phone", _PHONE_FORM))
    if len(notes) > MAX_NOTES_CHARS:
        out.append((f"{field}.notes", f"at most {MAX_NOTES_CHARS} characters, got {len(notes)}"))
    elif _CONTROL_BUT_LINES.search(notes):
        out.append((f"{field}.notes", "control characters other than tab and newline"))
    return out


def is_empty(contact: admin_pb2.MemberContact) -> bool:
    """True when no contact detail is given (every field empty)."""
    return not (contact.name or contact.email or contact.phone or contact.notes)
