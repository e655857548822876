"""Warning lists in the SDK (issue 21.1): the coalition's lists of benign and collision-prone
values, as the hub signs them (`WarningLists`, checked by `verified_lists`), proposals and
their state, and the entries files the CLI reads (JSON lines or a list file)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from signalhub import domain
from signalhub import warnings as wl
from signalhub.v1 import coalition_pb2, exchange_pb2

from .errors import SignalhubError
from .models import _time


@dataclass(frozen=True)
class WarningEntry:
    """One listed (or proposed) value."""

    type: str
    value: str
    note: str = ""

    def to_wire(self) -> coalition_pb2.WarningEntry:
        """The wire form."""
        return coalition_pb2.WarningEntry(type=self.type, value=self.value, note=self.note)

    def to_json(self) -> dict[str, Any]:
        """As a JSON object: type, value and note (when there is one)."""
        out = {"type": self.type, "value": self.value}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class WarningList:
    """A warning list: its settings and approved entries."""

    name: str
    description: str
    max_distance: int
    endorsements_required: int
    entries: tuple[WarningEntry, ...]
    updated_at: str | None

    @classmethod
    def from_wire(cls, w: coalition_pb2.WarningList) -> WarningList:
        """The SDK's value of a wire WarningList."""
        return cls(
            w.name,
            w.description,
            w.max_distance,
            w.endorsements_required,
            tuple(WarningEntry(e.type, e.value, e.note) for e in w.entries),
            _time(w.updated_at),
        )

    def to_json(self, entries: bool = True) -> dict[str, Any]:
        """As a JSON object (without the entries, only their count, unless `entries`)."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "max_distance": self.max_distance,
            "endorsements_required": self.endorsements_required,
            "entry_count": len(self.entries),
            "updated_at": self.updated_at,
        }
        if entries:
            out["entries"] = [e.to_json() for e in self.entries]
        return out


@dataclass(frozen=True)
class WarningLists:
    """The hub's signed set of lists at one version."""

    version: int
    lists: tuple[WarningList, ...]
    hub_public_key: bytes
    unchanged: bool = False
    """The caller already held this version (asked with `if_version_after`): no lists sent."""


def verified_lists(
    response: exchange_pb2.GetWarningListsResponse, hub_key: bytes | None = None
) -> WarningLists:
    """The lists of a GetWarningLists answer once its digest and signature check out (by
    `hub_key` when given, else by the key it names); SignalhubError otherwise."""
    digest = wl.lists_digest(response.version, response.lists)
    if response.digest != digest:
        raise SignalhubError("the warning lists do not match their digest")
    if hub_key is not None and response.hub_public_key != hub_key:
        raise SignalhubError(
            f"the warning lists are signed by hub key {domain.key_id(response.hub_public_key)}, "
            f"not by the trusted {domain.key_id(hub_key)}"
        )
    try:
        public = Ed25519PublicKey.from_public_bytes(response.hub_public_key)
        public.verify(response.signature, digest)
    except (InvalidSignature, ValueError):
        raise SignalhubError("the warning lists' signature does not verify") from None
    return WarningLists(
        response.version,
        tuple(WarningList.from_wire(w) for w in response.lists),
        bytes(response.hub_public_key),
    )


@dataclass(frozen=True)
class ProposedEntry:
    """A proposed entry's state: listed yet, and how many members endorse it."""

    list: str
    entry: WarningEntry
    endorsements: int
    approved: bool
    proposed_at: str | None
    members: tuple[str, ...] = ()
    """Who proposes or endorses it: the operator sees all; a member only itself."""

    @classmethod
    def from_wire(cls, p: coalition_pb2.ProposedEntry) -> ProposedEntry:
        """The SDK's value of a wire ProposedEntry."""
        return cls(
            p.list,
            WarningEntry(p.entry.type, p.entry.value, p.entry.note),
            p.endorsements,
            p.approved,
            _time(p.proposed_at),
            tuple(p.members),
        )

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {
            "list": self.list,
            **self.entry.to_json(),
            "endorsements": self.endorsements,
            "approved": self.approved,
            "proposed_at": self.proposed_at,
            "members": list(self.members),
        }


def read_entries(path: Path, default_type: str = "pdq") -> list[WarningEntry]:
    """Entries from a file: a warning list's JSON (an object with "entries"), JSON lines of
    {"type", "value", "note"}, or plain lines "VALUE" / "TYPE VALUE" (then `default_type`);
    blank lines and lines starting with '#' are skipped. SignalhubError names the bad line."""
    text = path.read_text()
    stripped = text.lstrip()
    if stripped.startswith("{") and '"entries"' in stripped[:4096]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("entries"), list):
            return [_entry_of(e, f"{path}: entries[{i}]") for i, e in enumerate(data["entries"])]
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{number}"
        if line.startswith("{"):
            try:
                out.append(_entry_of(json.loads(line), where))
            except json.JSONDecodeError as e:
                raise SignalhubError(f"{where}: not JSON: {e.msg}") from None
            continue
        parts = line.split()
        if len(parts) > 2:
            raise SignalhubError(f"{where}: expected VALUE or TYPE VALUE")
        type_name, value = (default_type, parts[0]) if len(parts) == 1 else parts
        out.append(WarningEntry(type_name, value))
    return out


def _entry_of(item: object, where: str) -> WarningEntry:
    if not isinstance(item, dict) or not isinstance(item.get("value"), str):
        raise SignalhubError(f'{where}: an object with a string "value" is required')
    return WarningEntry(str(item.get("type", "pdq")), item["value"], str(item.get("note", "")))


def wire_entries(entries: Iterable[WarningEntry]) -> list[coalition_pb2.WarningEntry]:
    """Entries in their wire form."""
    return [e.to_wire() for e in entries]


def starter_list_path() -> Path:
    """The project's starter list of degenerate images' PDQ hashes (flat colours, gradients,
    checkerboards, text-only frames, letterboxing), shipped with the package."""
    return Path(str(resources.files("signalhub") / "data" / "starter_warning_list.json"))


__all__: Sequence[str] = (
    "ProposedEntry",
    "WarningEntry",
    "WarningList",
    "WarningLists",
    "read_entries",
    "starter_list_path",
    "verified_lists",
)
