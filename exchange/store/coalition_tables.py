"""The tables of flood quarantine and decision propagation (issue 21.2-3), read: each signal's
matches per member and UTC day (`match_days`, what review notices count), its matches per hour
at members other than its submitters (`match_rates`, what quarantine compares with a
baseline), the signals in quarantine (`quarantine`) and members' review notices (`reviews`).
Apply writes them from logged match counts (StoreTxn), so a replay rebuilds them alike."""

from __future__ import annotations

from collections.abc import Iterator

from signalhub.storage.v1 import records_pb2 as rec

from .checked import CheckedReads
from .layout import _U32

MATCH_TABLES = ("match_days", "match_rates", "quarantine", "reviews")
"""The tables of this module (none on a store from before they existed)."""


def match_day_key(signal_id: str, member_id: str, day: int = -1) -> bytes:
    """Key of a member's matches of a signal on a day: signal id (16), member id, 0x00, day
    u32 (without a day: the prefix of the member's days)."""
    prefix = bytes.fromhex(signal_id) + member_id.encode() + b"\x00"
    return prefix if day < 0 else prefix + _U32.pack(day)


def review_key(member_id: str, review_id: str) -> bytes:
    """Key of a review notice: member id, 0x00, review id (16 bytes)."""
    return member_id.encode() + b"\x00" + bytes.fromhex(review_id)


class CoalitionReads(CheckedReads):
    """Typed reads of the match, quarantine and review tables."""

    def match_days(
        self, signal_id: str, member_id: str = ""
    ) -> Iterator[tuple[str, int, rec.MatchDayRecord]]:
        """(member, day, matches that day) of a signal (of one member's, when given), by
        member then day."""
        if "match_days" not in self.dbs:
            return
        prefix = match_day_key(signal_id, member_id) if member_id else bytes.fromhex(signal_id)
        for key, raw in self._scan("match_days", prefix):
            member = key[16:-5].decode()
            day = _U32.unpack(key[-4:])[0]
            yield member, day, self.record("match_days", key, raw, rec.MatchDayRecord)

    def match_rate(self, signal_id: str) -> rec.MatchRateRecord | None:
        """A signal's matches per hour at other members than its submitters, or None."""
        if "match_rates" not in self.dbs:
            return None
        return self._record("match_rates", bytes.fromhex(signal_id), rec.MatchRateRecord)

    def quarantined(self, signal_id: str) -> rec.QuarantineRecord | None:
        """The signal's quarantine, or None when it is not quarantined."""
        if "quarantine" not in self.dbs:
            return None
        return self._record("quarantine", bytes.fromhex(signal_id), rec.QuarantineRecord)

    def quarantine(self) -> list[rec.QuarantineRecord]:
        """Every quarantined signal, by id."""
        if "quarantine" not in self.dbs:
            return []
        scan = self._scan("quarantine", b"")
        return [self.record("quarantine", k, v, rec.QuarantineRecord) for k, v in scan]

    def review(self, member_id: str, review_id: str) -> rec.ReviewRecord | None:
        """One of a member's review notices, or None."""
        if "reviews" not in self.dbs:
            return None
        return self._record("reviews", review_key(member_id, review_id), rec.ReviewRecord)

    def reviews(self, member_id: str) -> list[rec.ReviewRecord]:
        """Every review notice of a member, by id."""
        if "reviews" not in self.dbs:
            return []
        scan = self._scan("reviews", member_id.encode() + b"\x00")
        return [self.record("reviews", k, v, rec.ReviewRecord) for k, v in scan]

    def review_notices(self) -> Iterator[rec.ReviewRecord]:
        """Every review notice ever sent, of every member (notices are never deleted), in key
        order: what the transparency report counts."""
        if "reviews" not in self.dbs:
            return
        for key, raw in self._scan("reviews", b""):
            yield self.record("reviews", key, raw, rec.ReviewRecord)
