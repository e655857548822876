"""Plain values `AdminClient` returns: members, keys, privacy groups, usage and the outcome of
each operator action, converted from the Admin service's messages at the edge (`from_wire`).

Times are `datetime`s in UTC; a time the hub leaves unset (a key not revoked, a member never
seen) is None. Lists of ids are lists, as the wire's repeated fields compare. Two small
allowances keep code written against the protobuf messages working: `HasField(name)` says
whether an optional field is set, and the times are `UtcTime`s, datetimes that also answer
`ToMilliseconds()`; a `MemberContact` compares equal to the wire's message of the same fields.
`to_json()` gives the objects `signalhub admin ... --json` prints.
"""

from __future__ import annotations

import calendar
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from signalhub.v1 import admin_pb2, coalition_pb2


class UtcTime(datetime):
    """A UTC time from the wire; `ToMilliseconds()` as on a protobuf Timestamp."""

    @classmethod
    def from_wire(cls, ts: Timestamp) -> UtcTime:
        """The time of a wire Timestamp (an unset one is the Unix epoch)."""
        d = ts.ToDatetime(tzinfo=UTC)
        return cls(d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, UTC)

    def ToMilliseconds(self) -> int:
        """Milliseconds since the Unix epoch (rounded down, as Timestamp's)."""
        return calendar.timegm(self.utctimetuple()) * 1000 + self.microsecond // 1000


def iso_time(when: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as every command prints times; None stays None."""
    if when is None:
        return None
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _optional_time(message: Any, name: str) -> UtcTime | None:
    return UtcTime.from_wire(getattr(message, name)) if message.HasField(name) else None


class _OptionalFields:
    """`HasField` of the protobuf messages these values replace: the field is not None."""

    def HasField(self, name: str) -> bool:
        """Whether the optional field `name` is set (is not None)."""
        return getattr(self, name) is not None


@dataclass(frozen=True, eq=False)
class MemberContact:
    """Who the operator contacts about a member; every field may be empty."""

    name: str = ""
    email: str = ""
    phone: str = ""
    notes: str = ""

    @classmethod
    def from_wire(cls, c: admin_pb2.MemberContact) -> MemberContact:
        """The contact of a wire message."""
        return cls(c.name, c.email, c.phone, c.notes)

    @classmethod
    def of(cls, contact: MemberContact | admin_pb2.MemberContact) -> MemberContact:
        """`contact` as this type, whichever of the two it is."""
        return contact if isinstance(contact, MemberContact) else cls.from_wire(contact)

    def to_wire(self) -> admin_pb2.MemberContact:
        """The wire message of this contact."""
        return admin_pb2.MemberContact(
            name=self.name, email=self.email, phone=self.phone, notes=self.notes
        )

    def to_json(self) -> dict[str, str]:
        """The contact as `admin list-members --json` prints it."""
        return {"name": self.name, "email": self.email, "phone": self.phone, "notes": self.notes}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, admin_pb2.MemberContact):
            other = MemberContact.from_wire(other)
        if not isinstance(other, MemberContact):
            return NotImplemented
        return astuple(self) == astuple(other)

    def __hash__(self) -> int:
        return hash(astuple(self))


@dataclass(frozen=True)
class Member(_OptionalFields):
    """A registered member: its keys, groups, contact and whether it may call."""

    member_id: str
    display_name: str
    key_ids: list[str]
    created_at: UtcTime
    suspended: bool
    group_ids: list[str]
    contact: MemberContact | None
    """None when the operator gave none."""
    removed_at: UtcTime | None
    """When the member was offboarded (None: still a member)."""

    @classmethod
    def from_wire(cls, m: admin_pb2.Member) -> Member:
        """The member of a wire message."""
        return cls(
            member_id=m.member_id,
            display_name=m.display_name,
            key_ids=list(m.key_ids),
            created_at=UtcTime.from_wire(m.created_at),
            suspended=m.suspended,
            group_ids=list(m.group_ids),
            contact=MemberContact.from_wire(m.contact) if m.HasField("contact") else None,
            removed_at=_optional_time(m, "removed_at"),
        )

    def to_json(self) -> dict[str, Any]:
        """The member as `admin list-members --json` prints it."""
        return {
            "member_id": self.member_id,
            "display_name": self.display_name,
            "key_ids": list(self.key_ids),
            "suspended": self.suspended,
            "group_ids": list(self.group_ids),
            "created_at": iso_time(self.created_at),
            "contact": self.contact.to_json() if self.contact is not None else None,
            "removed_at": iso_time(self.removed_at),
        }


@dataclass(frozen=True)
class Key(_OptionalFields):
    """One of a member's Ed25519 public keys."""

    key_id: str
    member_id: str
    public_key: bytes
    created_at: UtcTime
    revoked_at: UtcTime | None
    """None while the key is valid."""

    @classmethod
    def from_wire(cls, k: admin_pb2.Key) -> Key:
        """The key of a wire message."""
        return cls(
            k.key_id,
            k.member_id,
            k.public_key,
            UtcTime.from_wire(k.created_at),
            _optional_time(k, "revoked_at"),
        )

    def to_json(self) -> dict[str, Any]:
        """The key as `admin list-keys --json` prints it."""
        return {
            "key_id": self.key_id,
            "member_id": self.member_id,
            "public_key": self.public_key.hex(),
            "created_at": iso_time(self.created_at),
            "revoked_at": iso_time(self.revoked_at),
        }


@dataclass(frozen=True)
class PrivacyGroup:
    """A privacy group and its members."""

    group_id: str
    member_ids: list[str]

    @classmethod
    def from_wire(cls, g: admin_pb2.PrivacyGroup) -> PrivacyGroup:
        """The group of a wire message."""
        return cls(g.group_id, list(g.member_ids))

    def to_json(self) -> dict[str, Any]:
        """The group as `admin list-groups --json` prints it."""
        return {"group_id": self.group_id, "member_ids": list(self.member_ids)}


@dataclass(frozen=True)
class MemberUsage(_OptionalFields):
    """One member's usage over a period of UTC days, and what does not depend on it."""

    member_id: str
    signals_submitted: int
    batches: int
    queries: int
    queries_with_match: int
    last_seen: UtcTime | None
    """The member's last call (any period); None: never."""
    live_submissions: int
    """Its submissions in force now (any period)."""
    queries_today: int = 0
    match_budget_per_day: int = 0
    sweeping: bool = False
    misses_last_hour: int = 0
    """Extraction limits now, as the node that answered counts them (docs/match-only.md):
    queries this UTC day, the daily budget (0 = unlimited), whether the sweep detector holds
    the member as sweeping, and its queries that matched nothing in the last hour."""

    @classmethod
    def from_wire(cls, u: admin_pb2.MemberUsage) -> MemberUsage:
        """The usage of a wire message."""
        return cls(
            u.member_id,
            u.signals_submitted,
            u.batches,
            u.queries,
            u.queries_with_match,
            _optional_time(u, "last_seen"),
            u.live_submissions,
            u.queries_today,
            u.match_budget_per_day,
            u.sweeping,
            u.misses_last_hour,
        )


@dataclass(frozen=True)
class UsageReport:
    """Every member's usage (or one's) over UTC days first_day..last_day."""

    usage: list[MemberUsage]
    first_day: str
    last_day: str

    @classmethod
    def from_wire(cls, r: admin_pb2.GetMemberUsageResponse) -> UsageReport:
        """The report of a wire response."""
        return cls([MemberUsage.from_wire(u) for u in r.usage], r.first_day, r.last_day)

    def rows_json(self) -> list[dict[str, Any]]:
        """One object a member, as `admin usage --json` prints them."""
        return [
            {
                "member_id": u.member_id,
                "first_day": self.first_day,
                "last_day": self.last_day,
                "signals_submitted": u.signals_submitted,
                "batches": u.batches,
                "queries": u.queries,
                "queries_with_match": u.queries_with_match,
                "live_submissions": u.live_submissions,
                "last_seen": iso_time(u.last_seen),
                "queries_today": u.queries_today,
                "match_budget_per_day": u.match_budget_per_day,
                "sweeping": u.sweeping,
                "misses_last_hour": u.misses_last_hour,
            }
            for u in self.usage
        ]


@dataclass(frozen=True)
class AddMemberResult:
    """The member registered, and the id of its first key."""

    member: Member
    key_id: str


@dataclass(frozen=True)
class RevokeKeyResult:
    """A key revoked as compromised, and what was retracted with it."""

    key: Key
    retracted_submissions: int
    removed_signals: int
    """Signals left with no submission by the retraction, so removed."""


@dataclass(frozen=True)
class RemoveMemberResult:
    """A member offboarded, and what became of its submissions."""

    member: Member
    retracted_submissions: int
    removed_signals: int


@dataclass(frozen=True)
class ErasedSignal:
    """The tombstone of an erased signal: no value, only what, why and when."""

    signal_id: str
    type: str
    reason: str
    erased_at: UtcTime

    @classmethod
    def from_wire(cls, e: admin_pb2.ErasedSignal) -> ErasedSignal:
        """The tombstone of a wire message."""
        return cls(e.signal_id, e.type, e.reason, UtcTime.from_wire(e.erased_at))


@dataclass(frozen=True)
class QuarantinedSignal:
    """A signal in flood quarantine: when, and the hour's rate that tripped it against the
    baseline it was compared with (matches per hour at members other than its submitters)."""

    signal_id: str
    type: str
    quarantined_at: UtcTime
    matches_per_hour: int
    baseline_per_hour: float

    @classmethod
    def from_wire(cls, q: coalition_pb2.QuarantinedSignal) -> QuarantinedSignal:
        """The SDK's value of a wire message."""
        return cls(
            q.signal_id,
            q.type,
            UtcTime.from_wire(q.quarantined_at),
            q.matches_per_hour,
            q.baseline_per_hour,
        )

    def to_json(self) -> dict[str, Any]:
        """As a JSON object (times in RFC 3339)."""
        return {
            "signal_id": self.signal_id,
            "type": self.type,
            "quarantined_at": iso_time(self.quarantined_at),
            "matches_per_hour": self.matches_per_hour,
            "baseline_per_hour": self.baseline_per_hour,
        }


@dataclass(frozen=True)
class QuarantineDecision:
    """What ResolveQuarantine did: the signal as it was, and for a retraction how many
    submissions went and whether the signal was removed."""

    signal: QuarantinedSignal
    retracted_submissions: int
    removed: bool


@dataclass(frozen=True)
class EraseSignalResult:
    """A signal erased, what was scrubbed, and the signals erased with it (same value)."""

    tombstone: ErasedSignal
    log_entries_redacted: int
    feed_events_scrubbed: int
    also_erased: list[ErasedSignal]

    @classmethod
    def from_wire(cls, r: admin_pb2.EraseSignalResponse) -> EraseSignalResult:
        """The result of a wire response."""
        return cls(
            ErasedSignal.from_wire(r.tombstone),
            r.log_entries_redacted,
            r.feed_events_scrubbed,
            [ErasedSignal.from_wire(a) for a in r.also_erased],
        )

    def to_json(self) -> dict[str, Any]:
        """The result as `admin erase-signal --json` prints it."""
        t = self.tombstone
        return {
            "signal_id": t.signal_id,
            "type": t.type,
            "reason": t.reason,
            "erased_at": iso_time(t.erased_at),
            "log_entries_redacted": self.log_entries_redacted,
            "feed_events_scrubbed": self.feed_events_scrubbed,
            "also_erased": [
                {"signal_id": a.signal_id, "type": a.type, "reason": a.reason}
                for a in self.also_erased
            ],
        }


@dataclass(frozen=True)
class AuditHead:
    """A head of the audit log's hash chain, signed by the hub's key."""

    sequence: int
    chain_hash: bytes
    signed_at: UtcTime
    hub_public_key: bytes
    signature: bytes

    @classmethod
    def from_wire(cls, h: admin_pb2.AuditHead) -> AuditHead:
        """The head of a wire message."""
        return cls(
            h.sequence,
            h.chain_hash,
            UtcTime.from_wire(h.signed_at),
            h.hub_public_key,
            h.signature,
        )


__all__ = [
    "AddMemberResult",
    "AuditHead",
    "EraseSignalResult",
    "ErasedSignal",
    "Key",
    "Member",
    "MemberContact",
    "MemberUsage",
    "PrivacyGroup",
    "RemoveMemberResult",
    "RevokeKeyResult",
    "UsageReport",
    "UtcTime",
    "iso_time",
]
