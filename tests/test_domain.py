"""The shared domain rules: types, identifiers, signed bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalhub import domain


def test_signal_id_is_first_32_hex_of_sha256_of_type_nul_value() -> None:
    value = "ab" * 32
    expected = hashlib.sha256(b"pdq\x00" + value.encode()).hexdigest()[:32]
    assert domain.signal_id("pdq", value) == expected
    assert domain.signal_id("sha256", value) != expected  # the type is part of the id


def test_canonical_pdq_is_lowercase_stripped_hex() -> None:
    assert domain.canonical_value("pdq", "  " + "AB" * 32 + "\n") == "ab" * 32


@pytest.mark.parametrize(
    ("type_name", "value", "message"),
    [
        ("pdq", "ab" * 31, "64 hex digits"),
        ("pdq", "g" * 64, "hex digits only"),
        ("md5", "ab" * 20, "32 hex digits"),
        ("sha1", "", "40 hex digits"),
        ("png", "ab", "unknown signal type"),
    ],
)
def test_bad_values_are_refused_with_a_reason(type_name: str, value: str, message: str) -> None:
    with pytest.raises(domain.InvalidValue, match=message):
        domain.canonical_value(type_name, value)


@given(st.binary(min_size=32, max_size=32), st.sampled_from(["", " ", "\t"]), st.booleans())
def test_canonical_form_is_idempotent(raw: bytes, pad: str, upper: bool) -> None:
    text = raw.hex().upper() if upper else raw.hex()
    once = domain.canonical_value("pdq", pad + text + pad)
    assert domain.canonical_value("pdq", once) == once == raw.hex()


def test_labels_come_from_the_taxonomy_and_tags_are_bounded() -> None:
    signal = domain.canonical_signal("pdq", "ab" * 32, ["ncii", "csam", "csam"], ["b", "a "])
    assert signal.labels == ("csam", "ncii") and signal.tags == ("a", "b")
    with pytest.raises(domain.InvalidValue, match="unknown label"):
        domain.canonical_signal("pdq", "ab" * 32, ["CSAM"], [])
    with pytest.raises(domain.InvalidValue, match="tags"):
        domain.canonical_signal("pdq", "ab" * 32, [], ["t"] * (domain.MAX_TAGS + 1))


@pytest.mark.parametrize("name", ["ab", "acme-social", "x1", "a" * 63])
def test_member_slugs_accepted(name: str) -> None:
    domain.validate_member_id(name)


@pytest.mark.parametrize("name", ["a", "Acme", "-acme", "acme_social", "a" * 64, "operator", ""])
def test_member_slugs_refused(name: str) -> None:
    with pytest.raises(domain.InvalidValue):
        domain.validate_member_id(name)


def test_batch_digest_depends_on_content_and_order_not_serialisation() -> None:
    a = domain.canonical_signal("pdq", "AB" * 32, ["csam"], [])
    b = domain.canonical_signal("md5", "cd" * 16, [], ["t"])
    a_again = domain.canonical_signal("pdq", "ab" * 32, ["csam", "csam"], [])
    assert domain.batch_content_digest([a, b]) == domain.batch_content_digest([a_again, b])
    assert domain.batch_content_digest([a, b]) != domain.batch_content_digest([b, a])
    relabelled = domain.canonical_signal("pdq", "ab" * 32, ["ncii"], [])
    assert domain.batch_content_digest([a]) != domain.batch_content_digest([relabelled])


def test_call_signing_bytes_are_length_prefixed_so_fields_cannot_shift() -> None:
    one = domain.call_signing_bytes("/m", "ab", "k", 1, "nonce", b"req")
    two = domain.call_signing_bytes("/m", "a", "bk", 1, "nonce", b"req")
    assert one != two
    assert one.startswith(domain.CALL_SIGNING_PREFIX)
    assert one.endswith(hashlib.sha256(b"req").digest())


def test_key_files_round_trip_and_private_key_is_owner_only(tmp_path: Path) -> None:
    key = domain.new_private_key()
    path = tmp_path / "k.key"
    kid = domain.write_key_pair(key, path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert domain.read_public_key(Path(f"{path}.pub")) == domain.raw_public_key(key)
    assert domain.key_id(domain.raw_public_key(domain.read_private_key(path))) == kid
    with pytest.raises(FileExistsError):
        domain.write_key_pair(key, path)
    (tmp_path / "junk").write_text("not a key")
    with pytest.raises(domain.InvalidValue):
        domain.read_private_key(tmp_path / "junk")
    with pytest.raises(domain.InvalidValue):
        domain.read_public_key(tmp_path / "junk")
