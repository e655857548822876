"""The signalhub-tlsh plug-in (examples/plugins/signalhub-tlsh): its wire form, its vectorised
TLSH distance against py-tlsh's `tlsh.diff`, its index against brute force, and its discovery
through the entry point. The suite installs the plug-in, so a missing plug-in fails here."""

from __future__ import annotations

import random
from importlib import metadata
from typing import Any

import numpy as np
import pytest
import tlsh
from hypothesis import given
from hypothesis import strategies as st
from signalhub_tlsh import TLSH, canonical_tlsh, tlsh_distance, tlsh_from_bytes
from signalhub_tlsh.index import CHUNK_ROWS, TLSHIndex, decode_tlsh, tlsh_distances

from signalhub.signal_types import SIGNAL_TYPES, InvalidValue, MatchKind

THRESHOLDS = [0, 1, 12, 30, 60, 100, 300, 3000]


def _documents(seed: int, count: int) -> list[bytes]:
    """Text-like documents (Zipf-distributed words) of 100 bytes to 16 KB, and for each an
    edited copy (a few bytes changed, a span deleted or text appended), so that small distances
    occur as well as unrelated ones."""
    rng = random.Random(seed)
    letters = b"abcdefghijklmnopqrstuvwxyz"
    words = [bytes(rng.choices(letters, k=rng.randint(1, 9))) for _ in range(2000)]
    weights = [1 / (i + 1) for i in range(len(words))]
    out = []
    for _ in range(count):
        size = int(2 ** rng.uniform(6.7, 14))
        doc = bytearray(b" ".join(rng.choices(words, weights, k=size // 5 + 1))[:size])
        out.append(bytes(doc))
        edit = rng.randrange(3)
        if edit == 0:
            for _ in range(rng.randint(1, 8)):
                doc[rng.randrange(len(doc))] = rng.randrange(256)
        elif edit == 1:
            start = rng.randrange(len(doc))
            del doc[start : start + rng.randint(1, max(1, len(doc) // 20))]
        else:
            doc += b" ".join(rng.choices(words, weights, k=rng.randint(1, 40)))
        out.append(bytes(doc))
    return out


def _hashes(documents: list[bytes]) -> list[str]:
    return [h for h in (tlsh.hash(d) for d in documents) if h != "TNULL"]


DOC_HASHES = _hashes(_documents(seed=7, count=300))


def _random_hash(rng: random.Random) -> str:
    return "T1" + rng.randbytes(35).hex().upper()


# --- wire form ---------------------------------------------------------------------------------


def test_canonical_form_is_t1_and_70_uppercase_hex_digits_as_pytx_writes_it() -> None:
    value = DOC_HASHES[0]
    assert canonical_tlsh(value) == value
    assert canonical_tlsh(f"  {value.lower()}\n") == value
    assert canonical_tlsh("t1" + value[2:].lower()) == value


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("TNULL", "too short or too uniform"),
        ("tnull", "too short or too uniform"),
        ("T1" + "A" * 69, "72 characters), got 71"),
        ("T1" + "A" * 71, "got 73"),
        ("", "version prefix T1"),
        ("A" * 70, "version prefix T1"),  # the 3.x form without its version
        ("T2" + "A" * 70, "version prefix T1"),
        ("T1" + "G" * 70, "hex digits (0-9, A-F)"),
        ("T1" + "A" * 34 + " " + "A" * 35, "hex digits (0-9, A-F)"),
    ],
)
def test_values_not_in_wire_form_are_refused_with_the_reason(value: str, says: str) -> None:
    with pytest.raises(InvalidValue, match=says.replace("(", r"\(").replace(")", r"\)")):
        canonical_tlsh(value)


@given(st.sampled_from(DOC_HASHES), st.lists(st.booleans(), min_size=72, max_size=72))
def test_normalisation_is_idempotent_and_ignores_case(value: str, lower: list[bool]) -> None:
    mixed = "".join(c.lower() if low else c for c, low in zip(value, lower, strict=True))
    once = TLSH.normalize(mixed)
    assert once == value
    assert TLSH.canonical(once) == once
    assert TLSH.normalize(once) == once


def test_hashing_a_document_gives_py_tlsh_s_hash_and_refuses_what_tlsh_cannot_hash() -> None:
    doc = _documents(seed=1, count=1)[0]
    assert TLSH.hash_content is not None
    assert TLSH.hash_content(doc) == tlsh.hash(doc)
    for unhashable in (b"", b"short text", b"a" * 4096):
        with pytest.raises(InvalidValue, match="TLSH gives no hash"):
            tlsh_from_bytes(unhashable)


def test_values_are_the_ones_python_threatexchange_reads_and_writes() -> None:
    text_tlsh = pytest.importorskip("threatexchange.extensions.tlsh.text_tlsh")
    signal = text_tlsh.TextTLSHSignal
    assert TLSH.pytx_name == signal.get_name()
    text = _documents(seed=2, count=1)[0].decode()
    assert signal.hash_from_str(text) == tlsh_from_bytes(text.encode())
    for value in DOC_HASHES[:20]:
        assert signal.validate_signal_str(canonical_tlsh(value.lower())) == value


# --- the distance ------------------------------------------------------------------------------


def test_distance_is_tlsh_diff_with_the_length_term() -> None:
    a, b = DOC_HASHES[0], DOC_HASHES[2]
    assert TLSH.distance is tlsh_distance
    assert tlsh_distance(a, b) == tlsh.diff(a, b) >= tlsh.diffxlen(a, b)
    assert tlsh_distance(a, a) == 0


def test_every_pair_of_body_bytes_scores_as_tlsh_diff_scores_it() -> None:
    """All 65,536 pairs of a body byte, at each end of the body and in the middle (the bit-pair
    table, and the SWAR arithmetic that replaces it, lane by lane)."""
    rng = random.Random(3)
    header = rng.randbytes(3).hex().upper()
    rest = rng.randbytes(32)
    for position in (0, 15, 31):

        def with_byte(b: int, position: int = position) -> str:
            body = rest[:position] + bytes([b]) + rest[position + 1 :]
            return "T1" + header + body.hex().upper()

        stored = [with_byte(b) for b in range(256)]
        arrays = decode_tlsh(stored)
        for a in range(256):
            query = with_byte(a)
            expected = [tlsh.diff(query, s) for s in stored]
            assert tlsh_distances(query, arrays).tolist() == expected, (position, a)


def test_every_pair_of_l_values_q_ratios_and_checksums_scores_as_tlsh_diff_scores_it() -> None:
    """The header bytes, whose nibbles the hex form swaps, and whose differences wrap around."""
    rng = random.Random(4)
    body = rng.randbytes(32).hex().upper()
    for column in range(3):  # checksum, l-value, q-ratios

        def with_header_byte(b: int, column: int = column) -> str:
            header = bytearray(b"\x5a\x3c\x96")
            header[column] = b
            return "T1" + header.hex().upper() + body

        stored = [with_header_byte(b) for b in range(256)]
        arrays = decode_tlsh(stored)
        for a in range(256):
            query = with_header_byte(a)
            expected = [tlsh.diff(query, s) for s in stored]
            assert tlsh_distances(query, arrays).tolist() == expected, (column, a)


def test_distances_of_documents_and_their_near_duplicates_equal_tlsh_diff() -> None:
    rng = random.Random(5)
    stored = DOC_HASHES + [_random_hash(rng) for _ in range(200)]
    arrays = decode_tlsh(stored)
    small = 0
    for query in DOC_HASHES[:150] + stored[-20:]:
        got = tlsh_distances(query, arrays).tolist()
        assert got == [tlsh.diff(query, s) for s in stored]
        small += sum(0 < d <= 30 for d in got)
    assert small >= 50  # the edited copies are near: small distances were compared


@given(st.lists(st.binary(min_size=35, max_size=35), min_size=1, max_size=40), st.data())
def test_vectorised_distance_equals_tlsh_diff_on_any_hashes(
    raw: list[bytes], data: st.DataObject
) -> None:
    stored = ["T1" + r.hex().upper() for r in raw]
    query = data.draw(st.sampled_from(stored) | st.binary(min_size=35, max_size=35).map(
        lambda r: "T1" + r.hex().upper()
    ))  # fmt: skip
    got = tlsh_distances(query, decode_tlsh(stored))
    assert got.tolist() == [tlsh.diff(query, s) for s in stored]


# --- the index ---------------------------------------------------------------------------------


def _brute_force(held: dict[str, str], value: str, max_distance: int) -> list[tuple[str, int]]:
    """Every held value within `max_distance` by `tlsh.diff`, sorted (the index's answer is in
    no particular order, so the tests sort it too)."""
    found = [(sid, tlsh.diff(value, v)) for sid, v in held.items()]
    return sorted((sid, d) for sid, d in found if d <= max_distance)


def test_index_search_equals_brute_force_at_every_threshold() -> None:
    rng = random.Random(6)
    held = {f"sig-{i}": v for i, v in enumerate(DOC_HASHES)}
    index = TLSHIndex()
    index.add(list(held.items()))
    assert len(index) == len(held)
    queries = rng.sample(DOC_HASHES, 40) + [_random_hash(rng) for _ in range(5)]
    for query in queries:
        for threshold in THRESHOLDS:
            assert sorted(index.search(query, threshold)) == _brute_force(held, query, threshold)
    assert any(0 < d <= 30 for q in queries for _, d in index.search(q, 30))


def test_index_search_equals_brute_force_after_removing_and_replacing_ids() -> None:
    rng = random.Random(7)
    held = {f"sig-{i}": v for i, v in enumerate(DOC_HASHES)}
    index = TLSHIndex()
    index.add(list(held.items()))
    gone = rng.sample(sorted(held), 150)
    index.remove([*gone, "never-held"])
    for sid in gone:
        del held[sid]
    replaced = rng.sample(sorted(held), 80)
    new_values = [rng.choice(DOC_HASHES) if rng.random() < 0.5 else _random_hash(rng)
                  for _ in replaced]  # fmt: skip
    index.add(list(zip(replaced, new_values, strict=True)))
    held.update(zip(replaced, new_values, strict=True))
    index.add([("twice", DOC_HASHES[0]), ("twice", DOC_HASHES[1])])  # the last counts
    held["twice"] = DOC_HASHES[1]
    assert len(index) == len(held)
    for query in rng.sample(DOC_HASHES, 30):
        for threshold in THRESHOLDS:
            assert sorted(index.search(query, threshold)) == _brute_force(held, query, threshold)
    index.remove(list(held))
    assert len(index) == 0
    assert index.search(DOC_HASHES[0], 3000) == []


def test_index_accepts_queries_in_any_case_and_refuses_values_not_in_wire_form() -> None:
    index = TLSHIndex()
    index.add([("a", DOC_HASHES[0])])
    assert index.search(f" {DOC_HASHES[0].lower()} ", 0) == [("a", 0)]
    assert index.search(DOC_HASHES[0], -1) == []
    with pytest.raises(InvalidValue):
        index.search("TNULL", 30)
    with pytest.raises(InvalidValue):
        index.add([("b", "T1ABC")])
    assert len(index) == 1


_HASHES = st.sampled_from(DOC_HASHES) | st.binary(min_size=35, max_size=35).map(
    lambda r: "T1" + r.hex().upper()
)
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.lists(st.tuples(st.sampled_from("abcdefghij"), _HASHES))),
        st.tuples(st.just("remove"), st.lists(st.sampled_from("abcdefghijk"))),
    ),
    max_size=12,
)


@given(_OPS, _HASHES, st.sampled_from(THRESHOLDS))
def test_index_after_any_adds_and_removes_answers_as_brute_force(
    ops: list[tuple[str, list[Any]]], query: str, threshold: int
) -> None:
    index = TLSHIndex()
    held: dict[str, str] = {}
    for op, args in ops:
        if op == "add":
            pairs = [(str(sid), str(v)) for sid, v in args]
            index.add(pairs)
            held.update(pairs)
        else:
            ids = [str(sid) for sid in args]
            index.remove(ids)
            for sid in ids:
                held.pop(sid, None)
        assert len(index) == len(held)
    assert sorted(index.search(query, threshold)) == _brute_force(held, query, threshold)


def test_large_buckets_are_searched_in_chunks_exactly() -> None:
    """More hashes of one l-value than one pass compares (CHUNK_ROWS)."""
    rng = np.random.default_rng(8)
    raw = rng.integers(0, 256, (10_000, 35), dtype=np.uint8)
    raw[:, 1] = 0x3A  # every hash has one l-value
    values = ["T1" + r.tobytes().hex().upper() for r in raw]
    held = {f"s{i}": v for i, v in enumerate(values)}
    index = TLSHIndex()
    index.add(list(held.items()))
    for query in values[:3]:
        found = sorted(index.search(query, 260))
        assert found == _brute_force(held, query, 260)
        assert max(int(sid[1:]) for sid, _ in found) >= CHUNK_ROWS  # hits beyond one pass


# --- the plug-in -------------------------------------------------------------------------------


def test_the_entry_point_registers_the_type_with_its_distribution_as_origin() -> None:
    points = metadata.entry_points(group="signalhub.signal_types", name="tlsh")
    assert [ep.value for ep in points] == ["signalhub_tlsh:TLSH"]
    t = SIGNAL_TYPES["tlsh"]
    assert t.origin == f"signalhub-tlsh {metadata.version('signalhub-tlsh')}"
    assert (t.match, t.canonical, t.distance) == (MatchKind.DISTANCE, canonical_tlsh, tlsh_distance)
    assert t.indexed
    assert 0 < t.default_threshold <= t.max_threshold
    assert t.index is TLSHIndex
