"""Warning lists (issue 21.1): coalition lists of values known to be benign or collision-prone
(a blank frame, a logo, a meme template). A match whose query or stored value is a listed value,
or for Hamming types within the list's `max_distance` of one, is flagged with the list's name.

What the hub, the SDK's local replicas and the benchmarks share: the limits and validation of
lists and entries, the signed digest of a set of lists, and `WarningIndex`, which flags many
values in one batched search per list. Pure functions over plain values and messages: no gRPC,
no LMDB.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from matcher.pdq_index import PDQIndex
from signalhub.signal_types import SIGNAL_TYPES, InvalidValue, MatchKind
from signalhub.v1 import coalition_pb2

MAX_LISTS = 64
"""Warning lists a hub holds."""
MAX_ENTRIES_PER_LIST = 50_000
"""Approved entries one list holds (every match is checked against every list: kept small)."""
MAX_PROPOSED_PER_MEMBER = 10_000
"""Open proposals and endorsements one member holds, over all lists (what a member may make
the hub store)."""
MAX_ENTRIES_PER_CALL = 1_000
"""Entries one ProposeWarningEntries call names."""
MAX_EDIT_ENTRIES = 10_000
"""Entries one EditWarningEntries call names."""
MAX_ENTRY_NOTE_CHARS = 200
MAX_DESCRIPTION_CHARS = 500
MAX_LIST_DISTANCE = 64
MAX_ENDORSEMENTS = 100
"""Largest endorsements_required a list may set."""

_LIST_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")

WARNING_LISTS_SIGNING_PREFIX = b"signalhub.v1.WarningLists\x00"
WARNING_PROPOSAL_SIGNING_PREFIX = b"signalhub.v1.WarningProposal\x00"


class InvalidWarning(InvalidValue):
    """A warning list or entry the hub refuses; `field` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def validate_list_settings(
    name: str, description: str, max_distance: int, endorsements_required: int
) -> None:
    """Raises InvalidWarning unless these are a valid list's name and settings."""
    if not _LIST_NAME.fullmatch(name):
        raise InvalidWarning("name", "2-63 characters: a-z, 0-9 and '-', not starting with '-'")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidWarning("description", f"at most {MAX_DESCRIPTION_CHARS} characters")
    if not 0 <= max_distance <= MAX_LIST_DISTANCE:
        raise InvalidWarning("max_distance", f"0-{MAX_LIST_DISTANCE}")
    if not 0 <= endorsements_required <= MAX_ENDORSEMENTS:
        raise InvalidWarning("endorsements_required", f"0-{MAX_ENDORSEMENTS}")


def is_list_name(name: str) -> bool:
    """True when `name` has the shape of a warning list's name."""
    return bool(_LIST_NAME.fullmatch(name))


def canonical_entry(entry: coalition_pb2.WarningEntry) -> coalition_pb2.WarningEntry:
    """The entry with its value in canonical form; raises InvalidWarning naming the field."""
    spec = SIGNAL_TYPES.get(entry.type)
    if spec is None:
        raise InvalidWarning("type", f"unknown signal type {entry.type!r}")
    if len(entry.note) > MAX_ENTRY_NOTE_CHARS:
        raise InvalidWarning("note", f"at most {MAX_ENTRY_NOTE_CHARS} characters")
    if len(entry.value) > spec.max_chars:
        raise InvalidWarning("value", f"at most {spec.max_chars} characters")
    try:
        value = spec.canonical(entry.value)
    except InvalidValue as error:
        raise InvalidWarning("value", f"not a {entry.type} value: {error}") from None
    return coalition_pb2.WarningEntry(type=entry.type, value=value, note=entry.note)


def canonical_entries(
    entries: Sequence[coalition_pb2.WarningEntry], limit: int
) -> list[coalition_pb2.WarningEntry]:
    """Each entry canonicalised, in order, duplicates (same type and value) dropped; raises
    InvalidWarning naming `entries[i].field` for the first bad one, or when there are none or
    more than `limit`."""
    if not entries:
        raise InvalidWarning("entries", "at least one entry")
    if len(entries) > limit:
        raise InvalidWarning("entries", f"at most {limit:,} entries")
    out: dict[tuple[str, str], coalition_pb2.WarningEntry] = {}
    for i, entry in enumerate(entries):
        try:
            got = canonical_entry(entry)
        except InvalidWarning as error:
            raise InvalidWarning(f"entries[{i}].{error.field}", str(error)) from None
        out.setdefault((got.type, got.value), got)
    return list(out.values())


def lists_digest(version: int, lists: Iterable[coalition_pb2.WarningList]) -> bytes:
    """What the hub signs for a set of lists (GetWarningListsResponse.digest): SHA-256 over the
    prefix, the version as 8 big-endian bytes and each serialised list, length-prefixed."""
    digest = hashlib.sha256(WARNING_LISTS_SIGNING_PREFIX + struct.pack(">Q", version))
    for warning_list in lists:
        body = warning_list.SerializeToString(deterministic=True)
        digest.update(struct.pack(">I", len(body)) + body)
    return digest.digest()


def _padded(type_name: str, values: Sequence[str]) -> np.ndarray:
    """Hamming values of `type_name` as 32-byte rows (zero padding adds no distance)."""
    digits = SIGNAL_TYPES[type_name].bits // 4
    text = "".join(v.rjust(digits, "0").ljust(64, "0") for v in values)
    return np.frombuffer(bytes.fromhex(text), dtype=np.uint8).reshape(-1, 32)


BRUTE_FORCE_ENTRIES = 4096
"""Below this many listed values of a type, a list is searched by numpy brute force (a few
microseconds, where the multi-index search's fixed cost is ~10 us); above it, by PDQIndex."""


class _Near:
    """One list's values of one Hamming type, searched within the list's distance."""

    def __init__(self, rows: np.ndarray, radius: int) -> None:
        self.radius = radius
        self.words = np.ascontiguousarray(rows).view("<u8")
        self.index: PDQIndex | None = None
        if len(rows) > BRUTE_FORCE_ENTRIES:
            self.index = PDQIndex()
            self.index.add(np.arange(len(rows), dtype=np.uint64), rows)

    def hits(self, queries: np.ndarray) -> list[bool]:
        """Whether each query row is within the radius of any listed value."""
        if self.index is not None:
            lims, _ids, _distances = self.index.search(queries, max_distance=self.radius)
            return [bool(x) for x in np.diff(lims) > 0]
        q = np.ascontiguousarray(queries).view("<u8")
        distances = np.bitwise_count(q[:, None, :] ^ self.words[None, :, :]).sum(axis=2)
        return [bool(x) for x in distances.min(axis=1) <= self.radius]


@dataclass
class _IndexedList:
    name: str
    max_distance: int
    exact: set[tuple[str, str]]
    near: dict[str, _Near]
    """Hamming type -> its listed values (only when max_distance > 0)."""


class WarningIndex:
    """Approved entries of a set of warning lists, to flag values with the lists they are on.
    Built once a version (the lists are small); `flags` answers many values in one batched
    search per (list, Hamming type)."""

    def __init__(self, lists: Iterable[coalition_pb2.WarningList], version: int = 0) -> None:
        self.version = version
        self._lists: list[_IndexedList] = []
        self.entries = 0
        for warning_list in sorted(lists, key=lambda w: w.name):
            exact = {(e.type, e.value) for e in warning_list.entries}
            near: dict[str, _Near] = {}
            if warning_list.max_distance > 0:
                by_type: dict[str, list[str]] = {}
                for type_name, value in exact:
                    spec = SIGNAL_TYPES.get(type_name)
                    if spec is not None and spec.match is MatchKind.HAMMING:
                        by_type.setdefault(type_name, []).append(value)
                for type_name, values in by_type.items():
                    near[type_name] = _Near(_padded(type_name, values), warning_list.max_distance)
            self.entries += len(exact)
            self._lists.append(
                _IndexedList(warning_list.name, warning_list.max_distance, exact, near)
            )

    def __bool__(self) -> bool:
        return self.entries > 0

    def flags(self, values: Sequence[tuple[str, str]]) -> list[tuple[str, ...]]:
        """For each (type, canonical value): the names of the lists it is on, sorted."""
        found: list[set[str]] = [set() for _ in values]
        for indexed in self._lists:
            for i, pair in enumerate(values):
                if pair in indexed.exact:
                    found[i].add(indexed.name)
            for type_name, near in indexed.near.items():
                rows = [i for i, (t, _) in enumerate(values) if t == type_name]
                if not rows:
                    continue
                queries = _padded(type_name, [values[i][1] for i in rows])
                for row, hit in zip(rows, near.hits(queries), strict=True):
                    if hit:
                        found[row].add(indexed.name)
        return [tuple(sorted(names)) for names in found]
