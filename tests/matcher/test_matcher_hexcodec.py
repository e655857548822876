"""Hex <-> uint8 (n, 32) conversion helpers."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher import hashes_from_hex, hex_from_hashes


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=20))
def test_round_trip(raw: list[bytes]) -> None:
    arr = np.frombuffer(b"".join(raw), dtype=np.uint8).reshape(-1, 32)
    hexes = hex_from_hashes(arr)
    assert hexes == [r.hex() for r in raw]
    back = hashes_from_hex(hexes)
    assert back.dtype == np.uint8 and back.shape == (len(raw), 32)
    np.testing.assert_array_equal(back, arr)


def test_uppercase_accepted_output_lowercase() -> None:
    h = "AB" * 32
    arr = hashes_from_hex([h])
    assert arr.tolist() == [[0xAB] * 32]
    assert hex_from_hashes(arr) == ["ab" * 32]


def test_empty() -> None:
    assert hashes_from_hex([]).shape == (0, 32)
    assert hex_from_hashes(np.zeros((0, 32), dtype=np.uint8)) == []


@pytest.mark.parametrize(
    "bad",
    [
        "0" * 63,
        "0" * 65,
        "g" + "0" * 63,
        " " + "0" * 63,
        "0x" + "0" * 62,
        "é" + "0" * 63,
        "",
    ],
)
def test_bad_hex_raises(bad: str) -> None:
    with pytest.raises(ValueError):
        hashes_from_hex(["0" * 64, bad])


def test_non_string_raises() -> None:
    with pytest.raises(ValueError):
        hashes_from_hex([b"0" * 64])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "bad",
    [np.zeros((1, 31), np.uint8), np.zeros(32, np.uint8), np.zeros((1, 32), np.uint16)],
)
def test_bad_array_raises(bad: npt.NDArray[np.generic]) -> None:
    with pytest.raises(ValueError):
        hex_from_hashes(bad)
