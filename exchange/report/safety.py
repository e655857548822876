"""The coalition report's safety section (issue 21): for the period, what the coalition did
about benign hashes, floods and wrong decisions: warning-list entries approved and removed,
signals quarantined, released and retracted out of quarantine, retractions as false positives,
appeals by outcome, review notices sent and marked reviewed. Counts only, never a member; each
is a cell of the disclosure rule (exchange.report.disclosure).

Each count is read from the record the hub keeps of that decision:

- the command log, watched while the report replays it (`SafetyLog.watch`): the operator's and
  members' warning-list commands (the approved set is replayed as exchange.ledger.warnings
  decides it: whether an entry was listed before is state, not in the entry), the operator's
  quarantine decisions, retractions' reasons, appeals, marks of reviewed;
- the feed (never pruned; each record names the log entry that wrote it): a quarantine is
  decided inside apply of a `match_counts` entry from the store's match rates, so the log does
  not say which entry quarantined what; its SIGNAL_QUARANTINED event does. The quarantine table
  cannot: a release or a removal deletes its record;
- the review notices (table `reviews`, never deleted; each names the log entry that asked for it
  and when): apply decides who gets one from the store's match history.

Records of log entries past the last one the replay read are not counted: every count is as of
the report's `through_log_entry`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from google.protobuf.message import DecodeError

from signalhub import warnings as wl
from signalhub.normalisation import normalisation_rule
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, coalition_pb2, common_pb2

from ..store import Store, StoreView
from .disclosure import Cell, Sheet
from .period import Json, Period
from .reading import LOG_CHUNK_ENTRIES, read_view

APPEAL_OUTCOMES = {
    "appeals_upheld": coalition_pb2.APPEAL_OUTCOME_UPHELD,
    "appeals_denied": coalition_pb2.APPEAL_OUTCOME_DENIED,
}
"""The appeal rows, by outcome."""
REVIEW_REASONS = {
    "review_notices_after_false_positive_retraction": (
        coalition_pb2.REVIEW_REASON_RETRACTED_FALSE_POSITIVE
    ),
    "review_notices_after_upheld_appeal": coalition_pb2.REVIEW_REASON_APPEAL_UPHELD,
    "review_notices_after_quarantine_retraction": (
        coalition_pb2.REVIEW_REASON_QUARANTINE_RETRACTED
    ),
}
"""The review-notice rows, by the decision that sent them (each notice has one: they add up
to `review_notices_sent`)."""

ROWS: tuple[tuple[str, str, str], ...] = (
    ("warning_lists", "entries_approved", "Warning-list entries approved"),
    ("warning_lists", "entries_approved_by_operator", "… by the operator"),
    ("warning_lists", "entries_approved_by_endorsements", "… by members' endorsements"),
    ("warning_lists", "entries_removed", "Warning-list entries removed"),
    ("quarantine", "quarantines", "Signals quarantined"),
    ("quarantine", "releases", "Signals released from quarantine"),
    ("quarantine", "retractions", "Signals retracted out of quarantine"),
    ("decision_propagation", "retractions_as_false_positive", "Retractions as false positive"),
    ("decision_propagation", "appeals_upheld", "Appeals recorded as upheld"),
    ("decision_propagation", "appeals_denied", "Appeals recorded as denied"),
    ("decision_propagation", "review_notices_sent", "Review notices sent"),
    (
        "decision_propagation",
        "review_notices_after_false_positive_retraction",
        "… after a retraction as false positive",
    ),
    ("decision_propagation", "review_notices_after_upheld_appeal", "… after an upheld appeal"),
    (
        "decision_propagation",
        "review_notices_after_quarantine_retraction",
        "… after a retraction out of quarantine",
    ),
    ("decision_propagation", "review_notices_marked_reviewed", "Review notices marked reviewed"),
)
"""(section, key, title) of every row of the safety section, in order: every report has them
all, used or not (the presence of a row tells nothing)."""

SAFETY_METHOD: tuple[tuple[str, str], ...] = (
    (
        "Coalition safety: warning lists",
        "An entry approved is a value put on a warning list in the period that was not on it: "
        "by the operator (approving a proposed entry or any other), or by members' "
        "endorsements (the entry reached the list's number of endorsing members, also when the "
        "operator lowered that number). A listed entry approved again with a new note does not "
        "count. An entry removed is a listed value the operator took off a list. Counted from "
        "the command log, whose warning-list commands the report replays as the hub applies "
        "them.",
    ),
    (
        "Coalition safety: flood quarantine",
        "Quarantines count each time the hub put a signal in quarantine in the period (a "
        "signal quarantined again after a release counts again), read from the hub's feed "
        "events, which are never deleted: the hub decides a quarantine from its match rates "
        "while applying logged match counts. Releases and retractions count the operator's "
        "decisions on quarantined signals in the period, from the command log.",
    ),
    (
        "Coalition safety: decision propagation",
        "A retraction as false positive is one member withdrawing its submissions of one "
        "signal with the reason 'false positive'. Appeals count each appeal outcome a member "
        "recorded in the period, by outcome. A review notice is one member asked to review "
        "its own actions on one signal, after a retraction as false positive, an upheld "
        "appeal or a retraction out of quarantine; counted from the hub's stored notices by "
        "the time they were sent (the hub decides who gets one from its match history). "
        "Marked reviewed counts notices a member marked reviewed for the first time in the "
        "period, whenever they were sent.",
    ),
)
"""The safety section's part of the report's method (exchange.report.method)."""


@dataclass
class Safety:
    """The safety section's true counts for one period."""

    approved_by_operator: int = 0
    approved_by_endorsements: int = 0
    removed: int = 0
    quarantines: int = 0
    releases: int = 0
    quarantine_retractions: int = 0
    false_positive_retractions: int = 0
    appeals: Counter[int] = field(default_factory=Counter)
    """Appeals by outcome (coalition_pb2.AppealOutcome)."""
    notices: Counter[int] = field(default_factory=Counter)
    """Review notices sent, by reason (coalition_pb2.ReviewReason)."""
    reviewed: int = 0


Entry = tuple[str, str, str]
"""A warning-list entry: (list, type, value)."""


class WarningLists:
    """The approved entries and the open proposals of every warning list, replayed from the
    log as exchange.ledger.warnings applies its commands (only entries it applied are in the
    log: a refused or unchanged command is not logged). Its methods return how many entries a
    command approved or removed."""

    def __init__(self) -> None:
        self.required: dict[str, int] = {}
        """A list's endorsements_required (0: the operator only)."""
        self.listed: set[Entry] = set()
        self.proposals: dict[Entry, set[str]] = {}
        """Entries proposed and not (yet) approved -> the members endorsing them."""

    def set_list(self, command: rec.SetWarningListCommand) -> int:
        """New settings; lowering the endorsements needed approves what now has enough."""
        needed = self.required[command.name] = command.endorsements_required
        ready = [
            e
            for e, members in self.proposals.items()
            if e[0] == command.name and needed and len(members) >= needed
        ]
        for e in ready:
            self._approve(e)
        return len(ready)

    def edit(self, command: rec.EditWarningEntriesCommand) -> tuple[int, int]:
        """The operator's approval, rejection or removal: (approved, removed)."""
        approved = removed = 0
        for one in wl.canonical_entries(command.entries, wl.MAX_EDIT_ENTRIES):
            e = (command.list, one.type, one.value)
            if command.edit == admin_pb2.WARNING_EDIT_APPROVE and e not in self.listed:
                self._approve(e)
                approved += 1
            elif command.edit == admin_pb2.WARNING_EDIT_REJECT:
                self.proposals.pop(e, None)
            elif command.edit == admin_pb2.WARNING_EDIT_REMOVE and e in self.listed:
                self.listed.discard(e)
                self.proposals.pop(e, None)
                removed += 1
        return approved, removed

    def propose(self, proposal: coalition_pb2.WarningProposal) -> int:
        """A member's proposal, endorsement or withdrawal: how many entries it approved."""
        approved = 0
        needed = self.required.get(proposal.list, 0)
        for one in wl.canonical_entries(proposal.entries, wl.MAX_ENTRIES_PER_CALL):
            e = (proposal.list, one.type, one.value)
            if e in self.listed:
                continue
            if proposal.action == coalition_pb2.WARNING_ACTION_PROPOSE:
                members = self.proposals.setdefault(e, set())
                if proposal.member_id in members:
                    continue
                members.add(proposal.member_id)
                if needed and len(members) >= needed:
                    self._approve(e)
                    approved += 1
            elif proposal.member_id in self.proposals.get(e, ()):
                self.proposals[e].discard(proposal.member_id)
                if not self.proposals[e]:
                    del self.proposals[e]
        return approved

    def _approve(self, e: Entry) -> None:
        self.listed.add(e)
        self.proposals.pop(e, None)


Handler = Callable[["SafetyLog", int, bool, rec.LogEntry], None]
"""(the log, the entry's sequence, whether it falls in the period, the entry)."""


class SafetyLog:
    """The safety counts of a period gathered from the log as the report replays it
    (`watch`), then from the store's feed and review notices (`read_store`)."""

    def __init__(self, period: Period) -> None:
        self.period = period
        self.counts = Safety()
        self.lists = WarningLists()
        self.last_sequence = 0
        self.unreadable: list[int] = []
        """Entries it could not read (none in a store that passes audit verify)."""
        self._match_counts: list[int] = []
        """Sequences of the period's match_counts entries: where quarantines are decided."""
        self._reviewed: set[tuple[str, str]] = set()
        """(member, review id) of every notice marked reviewed so far."""

    def watch(
        self, entries: Iterable[tuple[int, rec.LogEntry]]
    ) -> Iterator[tuple[int, rec.LogEntry]]:
        """Passes `entries` (sequence, entry) on, following each (the report reads the log
        once, for its history and this)."""
        for sequence, entry in entries:
            self.apply(sequence, entry)
            yield sequence, entry

    def apply(self, sequence: int, entry: rec.LogEntry) -> None:
        """Follows one log entry: the method `COMMANDS` names for its command, if any."""
        self.last_sequence = sequence
        handler = self.COMMANDS.get(entry.WhichOneof("command") or "")
        if handler is None:
            return
        counted = self.period.contains(int(entry.received_at.ToMilliseconds()))
        try:
            with normalisation_rule(entry.normalisation_rule or 1):  # as apply canonicalised
                handler(self, sequence, counted, entry)
        except (DecodeError, wl.InvalidWarning):
            self.unreadable.append(sequence)

    def _on_set_list(self, _sequence: int, counted: bool, entry: rec.LogEntry) -> None:
        approved = self.lists.set_list(entry.set_warning_list)
        if counted:
            self.counts.approved_by_endorsements += approved

    def _on_edit(self, _sequence: int, counted: bool, entry: rec.LogEntry) -> None:
        approved, removed = self.lists.edit(entry.edit_warning_entries)
        if counted:
            self.counts.approved_by_operator += approved
            self.counts.removed += removed

    def _on_propose(self, _sequence: int, counted: bool, entry: rec.LogEntry) -> None:
        payload = entry.propose_warning_entries.envelope.payload
        approved = self.lists.propose(coalition_pb2.WarningProposal.FromString(payload))
        if counted:
            self.counts.approved_by_endorsements += approved

    def _on_match_counts(self, sequence: int, counted: bool, _entry: rec.LogEntry) -> None:
        if counted:
            self._match_counts.append(sequence)

    def _on_resolve(self, _sequence: int, counted: bool, entry: rec.LogEntry) -> None:
        if not counted:
            return
        if entry.resolve_quarantine.action == coalition_pb2.QUARANTINE_ACTION_RELEASE:
            self.counts.releases += 1
        elif entry.resolve_quarantine.action == coalition_pb2.QUARANTINE_ACTION_RETRACT:
            self.counts.quarantine_retractions += 1

    def _on_retract(self, _sequence: int, counted: bool, entry: rec.LogEntry) -> None:
        if not counted:
            return
        retraction = common_pb2.Retraction.FromString(entry.retract.envelope.payload)
        if retraction.reason == common_pb2.RETRACT_REASON_FALSE_POSITIVE:
            self.counts.false_positive_retractions += len(set(retraction.signal_ids))

    def _on_appeal(self, _sequence: int, counted: bool, entry: rec.LogEntry) -> None:
        if counted:
            appeal = coalition_pb2.Appeal.FromString(entry.record_appeal.envelope.payload)
            self.counts.appeals[appeal.outcome] += 1

    def _on_mark_reviewed(self, _sequence: int, counted: bool, entry: rec.LogEntry) -> None:
        done = coalition_pb2.ReviewDone.FromString(entry.mark_reviewed.envelope.payload)
        for review_id in done.review_ids:
            key = (done.member_id, review_id)
            if key not in self._reviewed:  # a notice keeps its first mark
                self._reviewed.add(key)
                if counted:
                    self.counts.reviewed += 1

    COMMANDS: ClassVar[dict[str, Handler]] = {
        "set_warning_list": _on_set_list,
        "edit_warning_entries": _on_edit,
        "propose_warning_entries": _on_propose,
        "match_counts": _on_match_counts,
        "resolve_quarantine": _on_resolve,
        "retract": _on_retract,
        "record_appeal": _on_appeal,
        "mark_reviewed": _on_mark_reviewed,
    }
    """The log's commands the safety section follows, each with the method that does."""

    def read_store(self, store: Store) -> Safety:
        """Adds the quarantines of the feed and the review notices of the store, of log
        entries up to the last one watched; returns the counts."""
        self.counts.quarantines = quarantines_in_feed(store, self._match_counts)
        with read_view(store) as view:
            for record in view.review_notices():
                sent = int(record.notice.requested_at.ToMilliseconds())
                if record.log_sequence <= self.last_sequence and self.period.contains(sent):
                    self.counts.notices[record.notice.reason] += 1
        return self.counts


def quarantines_in_feed(store: Store, entries: list[int]) -> int:
    """How many SIGNAL_QUARANTINED feed events the log entries `entries` (ascending sequences)
    wrote, read in short read transactions from where their records start."""
    if not entries:
        return 0
    wanted, last = set(entries), entries[-1]
    with read_view(store) as view:
        after = _feed_before(view, entries[0])
    found = 0
    while True:
        with read_view(store) as view:
            chunk = view.feed(after, LOG_CHUNK_ENTRIES)
        for record in chunk:
            if record.log_sequence > last:
                return found
            quarantined = record.event.kind == common_pb2.EVENT_KIND_SIGNAL_QUARANTINED
            if quarantined and record.log_sequence in wanted:
                found += 1
        if len(chunk) < LOG_CHUNK_ENTRIES:
            return found
        after = int(chunk[-1].event.cursor)


PROBE_RECORDS = 256
"""Feed records read at once while looking for one that names its log entry."""


def _feed_before(view: StoreView, entry: int) -> int:
    """The last feed sequence before the records of log entry `entry` and later ones. Feed
    records are appended in log order, each naming its entry, except a group change's
    visibility events (which name none): a binary search on the first record at or after a
    point that names one."""
    lo, hi = 0, view.counter("feed_seq")
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _entry_at_or_after(view, mid) < entry:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _entry_at_or_after(view: StoreView, sequence: int) -> int:
    """The log entry named by the first feed record from `sequence` on that names one (past
    every entry when none does)."""
    after = sequence - 1
    while True:
        chunk = view.feed(after, PROBE_RECORDS)
        for record in chunk:
            if record.log_sequence:
                return int(record.log_sequence)
        if len(chunk) < PROBE_RECORDS:
            return 1 << 64
        after = int(chunk[-1].event.cursor)


def safety_section(cell: Callable[[int], Cell], sheet: Sheet, counts: Safety) -> Json:
    """The summary's safety section as cells; the approvals and the review notices by reason
    are exact sums of their totals (`sheet`)."""
    by_operator, by_endorsements = (
        cell(counts.approved_by_operator),
        cell(counts.approved_by_endorsements),
    )
    approved = cell(counts.approved_by_operator + counts.approved_by_endorsements)
    sheet.sums(approved, [by_operator, by_endorsements])
    notices = {name: cell(counts.notices[reason]) for name, reason in REVIEW_REASONS.items()}
    sent = cell(sum(counts.notices[reason] for reason in REVIEW_REASONS.values()))
    sheet.sums(sent, list(notices.values()))
    return {
        "warning_lists": {
            "entries_approved": approved,
            "entries_approved_by_operator": by_operator,
            "entries_approved_by_endorsements": by_endorsements,
            "entries_removed": cell(counts.removed),
        },
        "quarantine": {
            "quarantines": cell(counts.quarantines),
            "releases": cell(counts.releases),
            "retractions": cell(counts.quarantine_retractions),
        },
        "decision_propagation": {
            "retractions_as_false_positive": cell(counts.false_positive_retractions),
            **{name: cell(counts.appeals[v]) for name, v in APPEAL_OUTCOMES.items()},
            "review_notices_sent": sent,
            **notices,
            "review_notices_marked_reviewed": cell(counts.reviewed),
        },
    }
