"""The warning lists' tables (issue 21.1), read and written: each list's settings
(`warning_lists`), its approved entries (`warning_entries`) and members' proposals
(`warning_proposals`), keyed by list, type and canonical value; the version of the whole set
and each member's count of open proposals are meta counters."""

from __future__ import annotations

from signalhub.v1 import coalition_pb2

from .checked import CheckedReads
from .layout import WARNING_ENTRIES, WARNING_PROPOSALS, WARNING_VERSION, warning_key


class WarningReads(CheckedReads):
    """Typed reads of the warning tables (none on a store from before they existed)."""

    def warning_version(self) -> int:
        """The version of the set of warning lists (0: never changed)."""
        return self.counter(WARNING_VERSION)

    def warning_proposal_count(self, member_id: str = "") -> int:
        """The member's open (unapproved) proposals and endorsements (every member's: "")."""
        return self.counter(WARNING_PROPOSALS + member_id)

    def warning_entry_count(self, list_name: str) -> int:
        """How many entries a list holds."""
        return self.counter(WARNING_ENTRIES + list_name)

    def warning_list(self, name: str) -> coalition_pb2.WarningList | None:
        """A list's settings (no entries), or None."""
        if "warning_lists" not in self.dbs:
            return None
        return self._record("warning_lists", name.encode(), coalition_pb2.WarningList)

    def warning_lists(self) -> list[coalition_pb2.WarningList]:
        """Every list's settings (no entries), by name."""
        if "warning_lists" not in self.dbs:
            return []
        scan = self._scan("warning_lists", b"")
        return [self.record("warning_lists", k, v, coalition_pb2.WarningList) for k, v in scan]

    def warning_entry(
        self, list_name: str, type_name: str, value: str
    ) -> coalition_pb2.WarningEntry | None:
        """An approved entry of a list, or None."""
        if "warning_entries" not in self.dbs:
            return None
        key = warning_key(list_name, type_name, value)
        return self._record("warning_entries", key, coalition_pb2.WarningEntry)

    def warning_entries(self, list_name: str) -> list[coalition_pb2.WarningEntry]:
        """A list's approved entries, by (type, value)."""
        if "warning_entries" not in self.dbs:
            return []
        scan = self._scan("warning_entries", list_name.encode() + b"\x00")
        return [self.record("warning_entries", k, v, coalition_pb2.WarningEntry) for k, v in scan]

    def warning_proposal(
        self, list_name: str, type_name: str, value: str
    ) -> coalition_pb2.ProposedEntry | None:
        """The proposal of an entry, or None."""
        if "warning_proposals" not in self.dbs:
            return None
        key = warning_key(list_name, type_name, value)
        return self._record("warning_proposals", key, coalition_pb2.ProposedEntry)

    def warning_proposals(self, list_name: str = "") -> list[coalition_pb2.ProposedEntry]:
        """Every proposal (of one list, or of all), by (list, type, value)."""
        if "warning_proposals" not in self.dbs:
            return []
        prefix = list_name.encode() + b"\x00" if list_name else b""
        scan = self._scan("warning_proposals", prefix)
        return [
            self.record("warning_proposals", k, v, coalition_pb2.ProposedEntry) for k, v in scan
        ]
