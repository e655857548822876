"""Fixtures shared by the matcher's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from matcher import pdq_index as pdq_mod


@pytest.fixture(params=["compiled", "numpy"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run each test with the C core (if built) and with the numpy fallback."""
    if request.param == "numpy":
        monkeypatch.setattr(pdq_mod, "_core", None)
    elif pdq_mod._core is None:
        pytest.skip("compiled core not built")
    yield str(request.param)
