"""The warning lists as the match path reads them: `WarningCache` keeps the approved entries of
every list as one `signalhub.warnings.WarningIndex`, rebuilt when the lists' version changes."""

from __future__ import annotations

import threading

from signalhub import warnings as wl
from signalhub.v1 import coalition_pb2

from ..store import StoreView


class WarningCache:
    """The approved entries of every list as a `WarningIndex`, for the version of the lists a
    read transaction sees; rebuilt (once, under a lock) when that version is newer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index = wl.WarningIndex([], 0)

    def index(self, view: StoreView) -> wl.WarningIndex:
        """The index of the lists as `view` sees them."""
        version = view.warning_version()
        current = self._index
        if current.version == version:
            return current
        with self._lock:
            if self._index.version != version:
                self._index = wl.WarningIndex(full_lists(view), version)
            return self._index


def full_lists(view: StoreView, names: list[str] | None = None) -> list[coalition_pb2.WarningList]:
    """Each list (or the named ones) with its approved entries, by name."""
    out = []
    for settings in view.warning_lists():
        if names and settings.name not in names:
            continue
        full = coalition_pb2.WarningList()
        full.CopyFrom(settings)
        full.entries.extend(view.warning_entries(settings.name))
        out.append(full)
    return out
