"""The command log replayed in memory for a report (no store is written): when each signal was
first submitted, when a second member corroborated it, which labels it carried at any moment,
who withdrew what and what expired, even for signals long removed from the state tables.

`History.apply` dispatches each logged command through `History.COMMANDS` (command name →
method), one method per command kind.
"""

from __future__ import annotations

import bisect
import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from google.protobuf.message import DecodeError

from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2

from ..auth import parse_batch
from ..errors import HubError
from ..ledger import canonical_batch
from ..ledger.decisions import Withdraw, withdrawals
from ..visibility import Viewer, shares_a_submission
from .period import Period


def _ms(ts: Any) -> int:
    return int(ts.ToMilliseconds())


@dataclass(slots=True)
class _Sub:
    """A live submission: (log sequence, index in its batch) names it, as the store does."""

    sequence: int
    index: int
    member: str
    labels: tuple[str, ...]
    visible: bool
    key_id: str = ""
    ms: int = 0
    """When the hub received it."""
    audience: tuple[str, ...] = ()


class _Signal:
    """What the replay keeps of one signal; compact (one per signal ever submitted)."""

    __slots__ = ("corroborated_ms", "first_ms", "labels", "live", "own", "submitters", "type")

    def __init__(self, type_name: str, first_ms: int) -> None:
        self.type = type_name
        self.first_ms = first_ms
        self.corroborated_ms = -1
        """When two distinct members first held live submissions of it (-1: never)."""
        self.live: list[_Sub] = []
        self.submitters: list[tuple[str, int]] = []
        """(member, time of its first submission), in order (in a member's report: only
        submissions it may see)."""
        self.labels: list[tuple[int, frozenset[str]]] = []
        """Its labels over time: the union over its live (visible) submissions from each time
        on; an empty set while it has none."""
        self.own: _Own | None = None
        """A member's report, for the member's signals."""

    def first_by(self, member: str) -> int | None:
        return next((t for m, t in self.submitters if m == member), None)

    def labels_at(self, ms: int) -> frozenset[str]:
        """Its labels at `ms`; when it had none (removed, or not yet submitted), those it
        had last (or first)."""
        i = bisect.bisect_right(self.labels, ms, key=lambda x: x[0]) - 1
        if i < 0:
            return self.labels[0][1] if self.labels else frozenset()
        while i > 0 and not self.labels[i][1]:
            i -= 1
        return self.labels[i][1]

    def own_live_between(self, start_ms: int, end_ms: int) -> bool:
        """Did the focus member hold a live submission at some moment in [start, end)?"""
        if self.own is None:
            return False
        times, live = self.own.times, self.own.live
        i = bisect.bisect_right(times, start_ms) - 1
        if i >= 0 and live[i]:
            return True
        j = bisect.bisect_left(times, end_ms)
        return any(live[max(i + 1, 0) : j])


@dataclass(slots=True)
class _Own:
    """A member's report: its labels of one of its signals, and when it held a live
    submission of it (live[i] from times[i] on)."""

    labels: set[str] = field(default_factory=set)
    times: list[int] = field(default_factory=list)
    live: list[bool] = field(default_factory=list)
    value: str = ""
    """The signal's value (a member's own report may show it: the member submitted it)."""
    audiences: set[tuple[str, ...]] = field(default_factory=set)
    """The audiences the member shared it with: another member's match or opinion of it
    counts only when that member could see one of them."""


@dataclass(frozen=True, slots=True)
class Contribution:
    """One submission accepted in the period."""

    ms: int
    signal_id: str
    type: str
    member: str
    labels: tuple[str, ...]
    new: bool
    """The first submission of the signal ever (in a member's report: the first it may see)."""


@dataclass(frozen=True, slots=True)
class OpinionGiven:
    """A member's opinion of a signal given in the period (its latest counts)."""

    ms: int
    signal_id: str
    member: str
    opinion: int
    labels: frozenset[str]
    own: bool
    """A member's report: the signal was the member's (a live submission of it) then."""


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """A member's retraction of its submissions of one signal, or submissions that expired."""

    ms: int
    signal_id: str
    member: str
    submissions: int
    removed: bool
    """No submission of the signal was left: it was removed."""


class History:
    """The log replayed in memory, keeping what the reports need: every signal's first
    submission, corroboration, labels over time and submitters; and the contributions,
    opinions, retractions and expiries of one period.

    With `focus` (a member's report) labels and submitters count only submissions the member
    may see (its current groups), as the hub shows them to it, and the member's own
    submissions are followed."""

    def __init__(
        self,
        period: Period,
        focus: Viewer | None = None,
        viewer_of: Callable[[str], Viewer] | None = None,
    ) -> None:
        self.period = period
        self.focus = focus
        self.viewer_of = viewer_of
        """With `focus`: another member's groups, to decide which of its actions the focus
        may count (only those through a submission the focus sees)."""
        self.signals: dict[str, _Signal] = {}
        self.contributions: list[Contribution] = []
        self.opinions: dict[tuple[str, str], OpinionGiven] = {}
        """(signal, member) -> the member's latest opinion of it given in the period."""
        self.retractions: list[Withdrawal] = []
        self.expiries: list[Withdrawal] = []
        self.corroboration_ms: list[int] = []
        """Time from first submission to corroboration, of signals corroborated in the
        period."""
        self.last_sequence = 0
        self.unreadable: list[int] = []
        """Log entries the replay could not read (none in a store that passes audit verify)."""
        self._expiries: list[tuple[int, str, int, int]] = []
        """(expires_at ms, signal, sequence, index) of submissions with an expiry."""
        self._interned: dict[Any, Any] = {}
        """Label sets and tuples are few: one object each, however many signals carry them."""

    def _intern(self, value: Any) -> Any:
        return self._interned.setdefault(value, value)

    def replay(self, entries: Iterable[tuple[int, rec.LogEntry]]) -> History:
        """Applies `entries` (sequence, entry) in order; returns itself."""
        for sequence, entry in entries:
            self.apply(sequence, entry)
        return self

    def apply(self, sequence: int, entry: rec.LogEntry) -> None:
        """Replays one log entry: the method `COMMANDS` names for its command (commands the
        reports need not follow have none). An entry that does not parse is recorded in
        `unreadable`."""
        self.last_sequence = sequence
        which = entry.WhichOneof("command")
        ms = _ms(entry.received_at)
        handler = self.COMMANDS.get(which or "")
        if handler is None:
            return
        try:
            handler(self, sequence, ms, entry)
        except (HubError, DecodeError):
            self.unreadable.append(sequence)

    def _on_submit(self, sequence: int, ms: int, entry: rec.LogEntry) -> None:
        """A submission batch (the signals erasure redacted from the log since, restored from
        its redaction record)."""
        erased = (
            {r.index: r for r in entry.redaction.signals} if entry.HasField("redaction") else None
        )
        envelope = entry.submit.envelope
        self._submit(sequence, ms, envelope.payload, envelope.key_id, erased)

    def _on_set_opinion(self, sequence: int, ms: int, entry: rec.LogEntry) -> None:
        """A member's opinion of a signal."""
        self._opinion(ms, entry.set_opinion.envelope.payload)

    def _on_withdrawal(self, sequence: int, ms: int, entry: rec.LogEntry) -> None:
        """A retraction, a key revoked as compromised, an offboarding or an erasure: the
        submissions it withdraws are those the ledger's own rules name
        (`ledger.decisions.withdrawals`, which apply uses too), so the report cannot read the
        log differently from the hub."""
        for withdraw in withdrawals(entry):
            self._withdraw(ms, withdraw)

    def _on_expire_tick(self, sequence: int, ms: int, entry: rec.LogEntry) -> None:
        """The hub's expiry check: submissions whose expiry has passed are removed."""
        self._expire(ms)

    def _withdraw(self, ms: int, withdraw: Withdraw) -> None:
        if withdraw.member is not None:  # a retraction, a compromised key, an offboarding
            self._withdraw_where(
                ms,
                withdraw.member,
                lambda s: withdraw.takes(s.member, s.key_id, s.ms),
                withdraw.signal_ids,
            )
            return
        for sid in withdraw.signal_ids or ():  # an erasure: every member's submissions
            record = self.signals.get(sid)
            for member in sorted({s.member for s in record.live} if record else ()):
                self._withdraw_where(ms, member, lambda _: True, [sid])

    COMMANDS: ClassVar[dict[str, Callable[[History, int, int, rec.LogEntry], None]]] = {
        "submit": _on_submit,
        "set_opinion": _on_set_opinion,
        "retract": _on_withdrawal,
        "expire_tick": _on_expire_tick,
        "revoke_key": _on_withdrawal,
        "remove_member": _on_withdrawal,
        "erase_signal": _on_withdrawal,
    }
    """The log's commands a report follows (by the name of the entry's `command` field), each
    with the method that replays it."""

    # a submission batch: each distinct signal of it is one submission (as apply stores it)
    def _submit(
        self,
        sequence: int,
        ms: int,
        payload: bytes,
        key_id: str = "",
        erased: dict[int, rec.RedactedSignal] | None = None,
    ) -> None:
        batch = parse_batch(payload)
        audience = tuple(sorted(set(batch.audience)))
        member = batch.member_id
        focus = self.focus.member_id if self.focus is not None else None
        visible = self.focus is None or self.focus.sees(member, audience)
        seen: set[str] = set()
        for index, signal in enumerate(canonical_batch(batch, erased)):
            sid = signal.signal_id
            if sid in seen:
                continue
            seen.add(sid)
            record = self.signals.get(sid)
            first_ever = record is None
            if record is None:
                record = self.signals[sid] = _Signal(self._intern(signal.type), ms)
            labels: tuple[str, ...] = self._intern(signal.labels)
            corroborates = any(s.member != member for s in record.live)
            record.live.append(_Sub(sequence, index, member, labels, visible, key_id, ms, audience))
            if signal.expires_at_ms:
                heapq.heappush(self._expiries, (signal.expires_at_ms, sid, sequence, index))
            if record.corroborated_ms < 0 and corroborates:
                record.corroborated_ms = ms
                if self.period.contains(ms):
                    self.corroboration_ms.append(ms - record.first_ms)
            new = first_ever if focus is None else visible and not record.submitters
            if visible and record.first_by(member) is None:
                record.submitters.append((member, ms))
            self._relabel(record, ms)
            if member == focus:
                if record.own is None:
                    record.own = _Own(value=signal.value)
                record.own.labels.update(labels)
                record.own.audiences.add(audience)
                self._own(record, ms)
            if self._counts(ms, member):
                self.contributions.append(Contribution(ms, sid, record.type, member, labels, new))

    def shares(self, member: str, record: _Signal) -> bool:
        """With `focus`: whether `member` sees a submission of the signal the focus sees —
        one of the focus's own, or a live one visible to it. An action of a member who saw
        the signal only through submissions the focus may not see is as if it never was."""
        if self.focus is None or self.viewer_of is None or member == self.focus.member_id:
            return True
        other = self.viewer_of(member)
        focus = self.focus.member_id
        own = [(focus, a) for a in record.own.audiences] if record.own is not None else []
        live = [(s.member, s.audience) for s in record.live if s.visible]
        return shares_a_submission(other, own + live)

    def _relabel(self, record: _Signal, ms: int) -> None:
        labels = frozenset(x for s in record.live if s.visible for x in s.labels)
        if not record.labels or record.labels[-1][1] != labels:
            labels = self._intern(labels)
            if record.labels and record.labels[-1][0] == ms:
                record.labels[-1] = (ms, labels)
            else:
                record.labels.append((ms, labels))

    def _own(self, record: _Signal, ms: int) -> None:
        if self.focus is None or record.own is None:
            return
        live = any(s.member == self.focus.member_id for s in record.live)
        own = record.own
        if not own.live or own.live[-1] != live:
            own.times.append(ms)
            own.live.append(live)

    def _opinion(self, ms: int, payload: bytes) -> None:
        change = common_pb2.OpinionChange.FromString(payload)
        record = self.signals.get(change.signal_id)
        if record is None or not self.period.contains(ms):
            return
        own = record.own_live_between(ms, ms + 1) and self.shares(change.member_id, record)
        self.opinions[(change.signal_id, change.member_id)] = OpinionGiven(
            ms, change.signal_id, change.member_id, int(change.opinion), record.labels_at(ms), own
        )

    def _withdraw_where(
        self,
        ms: int,
        member: str,
        chosen: Callable[[_Sub], bool],
        signal_ids: Iterable[str] | None = None,
    ) -> None:
        """A member's submissions withdrawn (its retraction, a compromised key's, an
        offboarding or an erasure): of `signal_ids`, or of every signal."""
        ids = list(self.signals) if signal_ids is None else list(dict.fromkeys(signal_ids))
        for sid in ids:
            record = self.signals.get(sid)
            if record is None:
                continue
            kept = [s for s in record.live if s.member != member or not chosen(s)]
            withdrawn = len(record.live) - len(kept)
            if not withdrawn:
                continue
            record.live = kept
            self._after_removal(record, ms)
            if self._counts(ms, member):
                # Removed as the focus sees it: a submission it may not see that keeps the
                # signal stored must not show (as RetractSubmission answers).
                gone = not any(s.visible for s in kept)
                self.retractions.append(Withdrawal(ms, sid, member, withdrawn, gone))

    def _expire(self, ms: int) -> None:
        due: dict[str, set[tuple[int, int]]] = defaultdict(set)
        while self._expiries and self._expiries[0][0] <= ms:
            _, sid, sequence, index = heapq.heappop(self._expiries)
            due[sid].add((sequence, index))
        for sid in sorted(due):
            record = self.signals[sid]
            expired = [s for s in record.live if (s.sequence, s.index) in due[sid]]
            if not expired:  # retracted before it expired
                continue
            record.live = [s for s in record.live if (s.sequence, s.index) not in due[sid]]
            by_member: dict[str, int] = defaultdict(int)
            for sub in expired:
                by_member[sub.member] += 1
            self._after_removal(record, ms)
            for member, n in sorted(by_member.items()):
                if self._counts(ms, member):
                    self.expiries.append(Withdrawal(ms, sid, member, n, not record.live))

    def _counts(self, ms: int, member: str) -> bool:
        """Does something done at `ms` by `member` count in this report?"""
        in_focus = self.focus is None or member == self.focus.member_id
        return in_focus and self.period.contains(ms)

    def _after_removal(self, record: _Signal, ms: int) -> None:
        self._relabel(record, ms)
        self._own(record, ms)
