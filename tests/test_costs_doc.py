"""docs/costs.md names the caps that bound what one call, one member or one stranger may cost
the hub: each `module.NAME = value` it states is the value in the code, so the page cannot
drift from what the hub enforces."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "costs.md"
CAP = re.compile(r"`((?:signalhub|exchange)\.[a-z_.]+)\.([A-Z_]+) = (\d+)`")


def test_every_cap_the_cost_page_states_is_the_codes() -> None:
    found = CAP.findall(DOC.read_text())
    assert len(found) >= 15
    for module, name, value in found:
        assert getattr(importlib.import_module(module), name) == int(value), f"{module}.{name}"


def test_the_settings_the_cost_page_names_exist_with_those_defaults() -> None:
    from exchange.config import SETTINGS

    defaults = {s.name: s.default for s in SETTINGS}
    text = DOC.read_text()
    for name, default in (
        ("max_follows_per_member", 16),
        ("max_snapshots_per_member", 2),
        ("max_reports_per_member", 1),
        ("follow_stall_seconds", 30),
        ("max_concurrent_rpcs", 1000),
    ):
        assert f"`{name}` ({default})" in text
        assert defaults[name] == default
