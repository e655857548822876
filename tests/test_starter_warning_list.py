"""The starter warning list (signalhub/data/starter_warning_list.json) is what its script
generates, flags its own images, and leaves a photo-like image and its edited copy matching."""

from __future__ import annotations

import importlib.util
import json
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from client_sdk.hashing import pdq_from_image, pdq_from_pixels
from signalhub.signal_types import SIGNAL_TYPES
from signalhub.v1 import coalition_pb2
from signalhub.warnings import WarningIndex, canonical_entry, validate_list_settings
from tests.imagetools import photo, save_edited_copy

ROOT = Path(__file__).resolve().parent.parent
LIST_FILE = ROOT / "signalhub" / "data" / "starter_warning_list.json"


@cache
def _script() -> ModuleType:
    path = ROOT / "scripts" / "build_starter_warning_list.py"
    spec = importlib.util.spec_from_file_location("build_starter_warning_list", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _committed() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(LIST_FILE.read_text(encoding="utf-8"))
    return loaded


def _index() -> WarningIndex:
    data = _committed()
    entries = [coalition_pb2.WarningEntry(**e) for e in data["entries"]]
    message = coalition_pb2.WarningList(
        name=data["name"], description=data["description"], max_distance=data["max_distance"]
    )
    message.entries.extend(entries)
    return WarningIndex([message], version=1)


def test_committed_list_is_what_the_script_generates() -> None:
    script = _script()
    warning_list, counts = script.build_list()
    assert LIST_FILE.read_text(encoding="utf-8") == script.render(warning_list)
    assert script.main(["--check"]) == 0
    assert counts["kept"] == len(warning_list["entries"]) > 0


def test_check_mode_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "list.json"
    stale.write_text(LIST_FILE.read_text(encoding="utf-8").replace('"max_distance"', '"x"'))
    assert _script().main(["--check", "--out", str(stale)]) == 1


def test_list_settings_are_valid_and_entries_canonical_sorted_and_distinct() -> None:
    data = _committed()
    validate_list_settings(str(data["name"]), str(data["description"]), data["max_distance"], 0)
    entries = data["entries"]
    assert isinstance(entries, list)
    values = [e["value"] for e in entries]
    assert values == sorted(set(values))
    for e in entries:
        assert e["type"] == "pdq"
        assert SIGNAL_TYPES["pdq"].canonical(e["value"]) == e["value"]
        assert canonical_entry(coalition_pb2.WarningEntry(**e)).value == e["value"]
        assert e["note"]


def test_each_listed_image_is_flagged_by_its_own_hash() -> None:
    script = _script()
    notes = {e["note"]: e["value"] for e in _committed()["entries"]}
    hashed = {
        note: pdq_from_pixels(pixels) for note, pixels in script.degenerate_images(script.LIST)
    }
    queries = [("pdq", hashed[note].hex) for note in notes]
    assert all(hashed[note].quality >= script.MIN_QUALITY for note in notes)
    assert _index().flags(queries) == [("degenerate-images",)] * len(queries)


def test_a_photo_is_not_flagged_and_its_edited_copy_still_matches_it(tmp_path: Path) -> None:
    index = _index()
    for seed in (0, 1, 2):
        original = pdq_from_pixels(np.asarray(photo(seed)))
        edited = pdq_from_image(save_edited_copy(tmp_path / f"{seed}.jpg", seed))
        assert index.flags([("pdq", original.hex), ("pdq", edited.hex)]) == [(), ()]
        distance = (int(original.hex, 16) ^ int(edited.hex, 16)).bit_count()
        assert distance <= 31


def test_a_listed_text_frame_with_noise_added_is_still_flagged() -> None:
    # Text frames and fine checkerboards keep their hash under slight noise; stripes and bars do
    # not (their DCT has many coefficients near the median): see benchmarks/RESULTS.md.
    image = _script().degenerate_images(_script().LIST)
    note, pixels = next((n, p) for n, p in image if n == "text 'SAMPLE' 32 px black on white")
    rng = np.random.default_rng(5)
    noisy = np.clip(pixels.astype(np.int16) + rng.integers(-6, 7, pixels.shape), 0, 255)
    assert _index().flags([("pdq", pdq_from_pixels(noisy.astype(np.uint8)).hex)]) == [
        ("degenerate-images",)
    ], note
