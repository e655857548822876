"""A member's contact details: which values the hub accepts, and that each bad one is named."""

from __future__ import annotations

import pytest

from exchange.contact import contact_violations
from signalhub.v1 import admin_pb2

Contact = admin_pb2.MemberContact


@pytest.mark.parametrize(
    "contact",
    [Contact(), Contact(name="Trust & Safety, EU", email="tns+hub@mail.example.co.uk",
                        phone="+44 (20) 7946-0958", notes="on call:\n\tweekdays 9-17 CET"),
     Contact(email="a@b.io", phone="112"), Contact(notes="n" * 1000), Contact(name="x" * 200)],
)  # fmt: skip
def test_valid_contacts_have_no_violation(contact: admin_pb2.MemberContact) -> None:
    assert contact_violations(contact) == []


@pytest.mark.parametrize(
    ("contact", "field"),
    [(Contact(email="not-an-email"), "contact.email"), (Contact(email="a@b"), "contact.email"),
     (Contact(email="two@@example.org"), "contact.email"),
     (Contact(email="sp ace@example.org"), "contact.email"),
     (Contact(email="x" * 250 + "@example.org"), "contact.email"),
     (Contact(name="x" * 201), "contact.name"), (Contact(name="Bob\nSmith"), "contact.name"),
     (Contact(phone="call me"), "contact.phone"), (Contact(phone="+1"), "contact.phone"),
     (Contact(phone="1" * 33), "contact.phone"), (Contact(phone="1+2345"), "contact.phone"),
     (Contact(notes="n" * 1001), "contact.notes"), (Contact(notes="bell\x07"), "contact.notes")],
)  # fmt: skip
def test_each_bad_value_is_named(contact: admin_pb2.MemberContact, field: str) -> None:
    assert [f for f, _ in contact_violations(contact)] == [field]


def test_every_bad_field_is_named_with_the_prefix_asked_for() -> None:
    bad = Contact(name="\x00", email="@", phone="x", notes="n" * 1001)
    assert [f for f, _ in contact_violations(bad, "c")] == ["c.name", "c.email", "c.phone",
                                                             "c.notes"]  # fmt: skip
