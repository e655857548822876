"""Hash lists in the formats other tools read and write: `signalhub export` writes them and
`signalhub submit` reads them back.

- **csv**: a header, then one signal a row: type, value, labels and tags (each `;`-separated),
  then what the hub says of it (signal_id, corroboration, first/last seen, opinion counts).
  `submit` reads the type, value, labels and tags columns and ignores the rest.
- **jsonl**: one JSON object a line, the fields of `SignalInfo` (those of `fetch --json`).
- **pytx**: python-threatexchange's plain signal list, one `<pytx type> <value>` a line: what
  `threatexchange dataset -P -S` prints and its `local_file` collaboration reads. It has no room
  for labels, and only types pytx knows are written (the others are counted and skipped).

Reading (`read_signals`) validates every record and turns it into a `Signal` before anything
is sent: a record's own fields override the `RecordDefaults` (the flags of `submit`), and
personal values are keyed with the consortium key here, on the member's machine.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from signalhub import domain
from signalhub.signal_types import SIGNAL_TYPES, ConsortiumKey

from .models import Signal, SignalInfo

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
    *("type", "value", "labels", "tags", "signal_id", "corroboration"),
    *("first_seen", "last_seen", "true_positive", "false_positive", "disputed"),
)


@dataclass
class ExportCounts:
    """How many signals an export wrote, and skipped."""

    written: int = 0
    skipped: int = 0
    """Signals the format cannot carry (pytx: types it does not know) and signals shared with
    the caller match-only (no value to write)."""


def write(signals: Iterable[SignalInfo], fmt: str, out: TextIO) -> ExportCounts:
    """Writes `signals` to `out` in `fmt`; returns how many were written and skipped. Signals
    shared with the caller match-only have no value to export: skipped, in every format."""
    counts = ExportCounts()
    signals = _with_values(signals, counts)
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


def _with_values(signals: Iterable[SignalInfo], counts: ExportCounts) -> Iterator[SignalInfo]:
    """The signals that carry their value, counting the others (match-only) as skipped."""
    for s in signals:
        if s.value_withheld:
            counts.skipped += 1
        else:
            yield s


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


# --- reading ----------------------------------------------------------------------------------
class InputError(ValueError):
    """Input that cannot be read as signals (a file that cannot be opened, a record without a
    value or with a bad one); the message says where."""


class FormatError(InputError):
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


def jsonl_records(stream: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
    """Records of a JSONL file (one JSON object a line; blank lines skipped)."""
    for line, text in enumerate(stream, 1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"line {line}: not JSON ({e.msg})") from None
        if not isinstance(record, dict):
            raise InputError(f'line {line}: a record is a JSON object with a "value"')
        yield line, record


CSV_TEXT_COLUMNS = ("classifier", "score", "human_reviewed", "incident", "source_ref")
"""CSV columns read as they are (when not empty)."""
CSV_METADATA_PREFIX = "meta."
"""A CSV column `meta.KEY` is the metadata value of KEY (when not empty)."""
CSV_LIST_COLUMNS = ("labels", "tags")
"""CSV columns holding lists, separated by `;` (or `|`)."""


def _csv_list(text: str) -> list[str]:
    return [x.strip() for x in text.replace("|", ";").split(";") if x.strip()]


def csv_records(stream: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
    """Records of a CSV file with a header naming at least a "value" column (other columns:
    type, labels, tags, classifier, score, human_reviewed, incident, source_ref and `meta.KEY`
    for metadata; the rest are ignored)."""
    reader = csv.DictReader(io.StringIO(stream.read()))
    if not reader.fieldnames or "value" not in reader.fieldnames:
        raise InputError('a CSV file needs a header with a "value" column')
    for row in reader:
        record: dict[str, Any] = {"value": row.get("value")}
        for column in CSV_TEXT_COLUMNS:
            if row.get(column):
                record[column] = row[column]
        if row.get("type"):
            record["type"] = row["type"]
        for column in CSV_LIST_COLUMNS:
            if row.get(column):
                record[column] = _csv_list(row[column] or "")
        metadata = {
            column.removeprefix(CSV_METADATA_PREFIX): text
            for column, text in row.items()
            if column and column.startswith(CSV_METADATA_PREFIX) and text
        }
        if metadata:
            record["metadata"] = metadata
        yield reader.line_num, record


RECORD_READERS: dict[str, Callable[[TextIO], Iterator[tuple[int, dict[str, Any]]]]] = {
    "csv": csv_records,
    "jsonl": jsonl_records,
    "pytx": pytx_records,
}
"""Each input format's reader: (line number, record) pairs from a text stream."""

_FORMAT_OF_SUFFIX = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".pytx": "pytx",
}


def format_from_name(name: str, default: str | None = None) -> str:
    """The format a file's extension says (`-`, stdin: `default`); else `default`, or an
    InputError when there is none."""
    if name == "-":
        if default:
            return default
        raise InputError("reading stdin: say --format csv, jsonl or pytx")
    fmt = _FORMAT_OF_SUFFIX.get(Path(name).suffix.lower()) or default
    if not fmt:
        raise InputError(f"{name}: cannot tell the format from the extension; say --format")
    return fmt


@dataclass(frozen=True)
class RecordDefaults:
    """What every record that does not say otherwise gets (the flags of `submit`)."""

    type: str | None = None
    labels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    industry: str = ""
    confidence: int = 0
    expires_at: str | None = None
    consortium_key: ConsortiumKey | None = None
    classifier: str | None = None
    score: float | None = None
    human_reviewed: bool = False
    incident: str = ""
    source_ref: str = ""
    metadata: tuple[tuple[str, str], ...] = ()
    """Metadata every record gets; a record's own keys override these keys."""


def read_signals(name: str, fmt: str, defaults: RecordDefaults) -> list[Signal]:
    """Reads and validates every record of file `name` (`-`: stdin) in `fmt`, so that a bad
    line stops the run before anything is sent. A record's own fields override `defaults`.
    Behavioural values are normalised and personal ones keyed with the consortium key here,
    before anything leaves the machine."""
    try:
        stream: TextIO = sys.stdin if name == "-" else open(name, encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as e:
        raise InputError(f"{name}: {e.strerror}") from None
    with stream:
        out: list[Signal] = []
        try:
            for line, record in RECORD_READERS[fmt](stream):
                out.append(signal_from_record(f"{name}:{line}", record, defaults))
        except FormatError as e:
            raise InputError(f"{name}:{e}") from None
    return out


def _record_value(where: str, record: dict[str, Any], d: RecordDefaults) -> tuple[Any, Any]:
    """A record's value and type name: its "value" and "type", else a line of `hash --json`
    (an image's "pdq", a video's "frames")."""
    value = record.get("value")
    type_name = record.get("type") or d.type
    if value is None and isinstance(record.get("pdq"), str):  # a line of `hash --json`
        value, type_name = record["pdq"], record.get("type") or "pdq"
    if value is None and "frames" in record:  # a video's line of `hash --json`
        from .video import VpdqFormatError, frames_from_json, frames_to_text

        try:
            value = frames_to_text(frames_from_json(record["frames"]))
        except VpdqFormatError as e:
            raise InputError(f"{where}: {e}") from None
        type_name = record.get("type") or "vpdq"
    return value, type_name


def _as_list(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def signal_from_record(where: str, record: dict[str, Any], d: RecordDefaults) -> Signal:
    """The signal of one record (a dict of a JSONL line, CSV row or pytx line), validated and
    in canonical form; `where` (FILE:LINE) starts the message of an InputError."""
    value, type_name = _record_value(where, record, d)
    if not isinstance(value, str) or not value:
        raise InputError(f'{where}: a record needs a "value"')
    if not isinstance(type_name, str):
        raise InputError(f'{where}: no signal type; give --type or a "type" field')
    labels = _as_list(record.get("labels", d.labels))
    tags = _as_list(record.get("tags", d.tags))
    expires = record.get("expires_at", d.expires_at)
    try:
        confidence = int(record.get("confidence", d.confidence))
        expires_at = parse_time(expires) if expires else None
        wire = domain.wire_value(type_name, value, d.consortium_key)
        canonical = domain.canonical_signal(
            type_name,
            wire,
            labels,
            tags,
            industry=str(record.get("industry", d.industry)),
            confidence=confidence,
            expires_at_ms=int(expires_at.timestamp() * 1000) if expires_at else 0,
            verdict=record_verdict(record, d),
            incident=str(record.get("incident", d.incident)),
            source_ref=str(record.get("source_ref", d.source_ref)),
            metadata=record_metadata(record, d),
        )
    except (domain.InvalidValue, ValueError, TypeError) as e:
        raise InputError(f"{where}: {e}") from None
    return Signal(
        canonical.type,
        canonical.value,
        canonical.labels,
        canonical.tags,
        canonical.industry,
        canonical.confidence,
        expires_at,
        canonical.verdict,
        canonical.incident,
        canonical.source_ref,
        dict(canonical.metadata),
    )


def record_metadata(record: dict[str, Any], d: RecordDefaults) -> dict[str, str]:
    """A record's metadata: the defaults' keys, then its own "metadata" object's (JSONL; CSV
    `meta.KEY` columns become one). Values must be strings (TypeError otherwise)."""
    given = record.get("metadata", {})
    if not isinstance(given, dict):
        raise TypeError('"metadata" is a JSON object of strings')
    for key, value in given.items():
        if not isinstance(value, str):
            raise TypeError(f"metadata value of {key!r} is not a string")
    return {**dict(d.metadata), **given}


def record_verdict(record: dict[str, Any], d: RecordDefaults) -> domain.Verdict | None:
    """A record's classifier verdict: a "classifier" object ({"classifier", "score",
    "human_reviewed"}, as `fetch --json` prints them in "classifiers"), or "classifier",
    "score" and "human_reviewed" fields (CSV columns), else the defaults'."""
    given = record.get("classifier", d.classifier)
    if isinstance(given, dict):
        name, score = given.get("classifier"), given.get("score")
        reviewed = given.get("human_reviewed", False)
    else:
        name = given
        score = record.get("score", d.score)
        reviewed = record.get("human_reviewed", d.human_reviewed)
    if name in (None, "") and score in (None, ""):
        return None
    if name in (None, "") or score in (None, ""):
        raise ValueError("a classifier verdict needs both the classifier and its score")
    if isinstance(reviewed, str):
        reviewed = reviewed.strip().lower() in ("1", "true", "yes")
    return domain.validate_verdict(str(name), float(score), bool(reviewed))


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC (ValueError if it is not a time)."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
