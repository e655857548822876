"""Hash lists in the formats other tools read and write: `signalhub export` writes them and
`signalhub submit` reads them back.

- **csv**: a header, then one signal a row: type, value, labels and tags (each `;`-separated),
  then what the hub says of it (signal_id, corroboration, first/last seen, opinion counts).
  `submit` reads the type, value, labels and tags columns and ignores the rest.
- **jsonl**: one JSON object a line, the fields of `SignalInfo` (those of `fetch --json`).
- **pytx**: python-threatexchange's plain signal list, one `<pytx type> <value>` a line: what
  `threatexchange dataset -P -S` prints and its `local_file` collaboration reads. It has no room
  for labels, and only types pytx knows are written (the others are counted and skipped).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from signalhub.signal_types import SIGNAL_TYPES

from .models import SignalInfo

FORMATS = ("csv", "jsonl", "pytx")

HUB_TO_PYTX = {"pdq": "pdq", "md5": "video_md5", "sha256": "video_sha256", "url": "url"}
"""Hub signal types and the python-threatexchange signal type of the same values. pytx knows
MD5 and SHA-256 digests only as video digests; a digest of any file is the same value, so the
hub's content digests map onto them (a pytx user matching photos by digest will not look there).
"""


def hub_to_pytx() -> dict[str, str]:
    """HUB_TO_PYTX plus every registered type (plug-ins) that names its pytx signal type."""
    out = dict(HUB_TO_PYTX)
    for t in SIGNAL_TYPES.values():
        if t.pytx_name and t.name not in out:
            out[t.name] = t.pytx_name
    return out


def pytx_to_hub() -> dict[str, str]:
    """The pytx signal type names the hub takes, and the hub type of each."""
    return {v: k for k, v in hub_to_pytx().items()}


CSV_FIELDS = (
    "type", "value", "labels", "tags", "signal_id", "corroboration", "first_seen", "last_seen",
    "true_positive", "false_positive", "disputed",
)  # fmt: skip


@dataclass
class ExportCounts:
    written: int = 0
    skipped: int = 0
    """Signals the format cannot carry (pytx: types it does not know)."""


def write(signals: Iterable[SignalInfo], fmt: str, out: TextIO) -> ExportCounts:
    """Writes `signals` to `out` in `fmt`; returns how many were written and skipped."""
    counts = ExportCounts()
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for s in signals:
            writer.writerow(_csv_row(s))
            counts.written += 1
    elif fmt == "jsonl":
        for s in signals:
            out.write(json.dumps(s.to_json(), sort_keys=True) + "\n")
            counts.written += 1
    elif fmt == "pytx":
        names = hub_to_pytx()
        for s in signals:
            name = names.get(s.type)
            if name is None:
                counts.skipped += 1
                continue
            out.write(f"{name} {s.value}\n")
            counts.written += 1
    else:
        raise ValueError(f"unknown format {fmt!r}; formats are {', '.join(FORMATS)}")
    return counts


def _csv_row(s: SignalInfo) -> dict[str, Any]:
    return {
        "type": s.type,
        "value": s.value,
        "labels": ";".join(s.labels),
        "tags": ";".join(s.tags),
        "signal_id": s.signal_id,
        "corroboration": s.corroboration,
        "first_seen": s.first_seen or "",
        "last_seen": s.last_seen or "",
        "true_positive": s.opinions.get("true_positive", 0),
        "false_positive": s.opinions.get("false_positive", 0),
        "disputed": s.opinions.get("disputed", 0),
    }


class FormatError(ValueError):
    """A line of an input file that is not in its format."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def pytx_records(stream: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
    """Records of a pytx signal list (`<pytx type> <value>` a line; blank lines skipped)."""
    to_hub = pytx_to_hub()
    for line, text in enumerate(stream, 1):
        text = text.strip()
        if not text:
            continue
        name, _, value = text.partition(" ")
        value = value.strip()
        if not value:
            raise FormatError(line, 'a pytx line is "<signal type> <value>"')
        hub_type = to_hub.get(name)
        if hub_type is None:
            known = ", ".join(sorted(to_hub))
            raise FormatError(line, f"pytx signal type {name!r} has no hub type; known: {known}")
        yield line, {"type": hub_type, "value": value}
