"""signalhub.warnings on plain values: entry and list validation, the flagging index (exact and
within a list's distance, batched), the signed digest, and the starter list being what
scripts/build_starter_warning_list.py makes."""

from __future__ import annotations

import numpy as np
import pytest

from signalhub import warnings as wl
from signalhub.v1 import coalition_pb2 as c


def _list(name: str, distance: int, *values: str) -> c.WarningList:
    return c.WarningList(
        name=name,
        max_distance=distance,
        entries=[c.WarningEntry(type="pdq", value=v) for v in values],
    )


def test_flags_exact_values_and_values_within_the_lists_distance() -> None:
    index = wl.WarningIndex([_list("near", 8, "0" * 64), _list("exact", 0, "f" * 64)], 3)
    four_bits = "0" * 63 + "f"
    nine_bits = "0" * 61 + "1ff"
    got = index.flags([("pdq", four_bits), ("pdq", nine_bits), ("pdq", "f" * 64),
                       ("pdq", "f" * 63 + "e"), ("md5", "0" * 32)])  # fmt: skip
    assert got == [("near",), (), ("exact",), (), ()]
    assert index.version == 3 and index.entries == 2 and index


def test_a_value_on_two_lists_names_both_sorted() -> None:
    index = wl.WarningIndex([_list("b-list", 0, "0" * 64), _list("a-list", 2, "0" * 64)])
    assert index.flags([("pdq", "0" * 64)]) == [("a-list", "b-list")]
    assert not wl.WarningIndex([])


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        (c.WarningEntry(type="pdq", value="zz"), "entries[0].value"),
        (c.WarningEntry(type="nope", value="0" * 64), "entries[0].type"),
        (c.WarningEntry(type="pdq", value="0" * 64, note="n" * 201), "entries[0].note"),
    ],
)
def test_bad_entries_name_their_field(entry: c.WarningEntry, field: str) -> None:
    with pytest.raises(wl.InvalidWarning) as refused:
        wl.canonical_entries([entry], 10)
    assert refused.value.field == field


def test_entries_are_canonicalised_deduplicated_and_bounded() -> None:
    upper = c.WarningEntry(type="pdq", value="AB" * 32)
    got = wl.canonical_entries([upper, c.WarningEntry(type="pdq", value="ab" * 32)], 10)
    assert [e.value for e in got] == ["ab" * 32]
    with pytest.raises(wl.InvalidWarning, match="at most 1 entries"):
        wl.canonical_entries([upper, upper], 1)
    with pytest.raises(wl.InvalidWarning, match="at least one"):
        wl.canonical_entries([], 10)


@pytest.mark.parametrize(
    ("args", "field"),
    [(("A", "", 0, 0), "name"), (("ok", "d" * 501, 0, 0), "description"),
     (("ok", "", 65, 0), "max_distance"), (("ok", "", 0, 101), "endorsements_required")],
)  # fmt: skip
def test_bad_list_settings_name_their_field(args: tuple[str, str, int, int], field: str) -> None:
    with pytest.raises(wl.InvalidWarning) as refused:
        wl.validate_list_settings(*args)
    assert refused.value.field == field


def test_the_digest_covers_the_version_and_every_byte() -> None:
    lists = [_list("a", 0, "0" * 64)]
    digest = wl.lists_digest(1, lists)
    assert wl.lists_digest(2, lists) != digest
    lists[0].entries[0].note = "x"
    assert wl.lists_digest(1, lists) != digest


def test_brute_force_and_the_multi_index_answer_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    values = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(300)]
    listing = _list("big", 100, *values)
    queries = [
        ("pdq", rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()) for _ in range(300)
    ]
    brute = wl.WarningIndex([listing]).flags(queries)
    monkeypatch.setattr(wl, "BRUTE_FORCE_ENTRIES", 10)
    assert wl.WarningIndex([listing]).flags(queries) == brute
    assert 0 < sum(bool(f) for f in brute) < len(queries)  # some near, some not
