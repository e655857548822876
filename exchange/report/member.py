"""A member's own report (GetMemberReport): its contributions, the matches and opinions of its
signals by other members (counts only, never who), its own queries, its disputed signals and
removals, over whole UTC days.

Its numbers are not suppressed (exchange.report.disclosure is the coalition report's rule): the
report holds the member's own numbers and, of others, only counts of their actions through a
submission of the member's they could see; labels and corroboration come only from submissions
the member may see.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from signalhub.v1 import common_pb2

from ..store import StoreView
from ..visibility import Viewer
from .history import History, _Signal
from .period import DAY_MS, FORMAT_VERSION, NO_LABEL, Json, Period, week_start
from .reading import Usage, view_log_entries

OPINION_NAMES: dict[int, str] = {
    common_pb2.OPINION_TRUE_POSITIVE: "true_positive",
    common_pb2.OPINION_FALSE_POSITIVE: "false_positive",
    common_pb2.OPINION_DISPUTED: "disputed",
}
"""The opinions of others the report counts, by the name of their count."""


def member_report(view: StoreView, member_id: str, first_day: date, last_day: date) -> Json:
    """A member's own contribution and use over days first_day..last_day (UTC, inclusive):
    its numbers unsuppressed, nothing about any other member but counts (how often its
    signals matched at others, others' opinions of its signals), and only what it may see
    (labels and corroboration from submissions visible to it)."""
    period = Period(first_day, last_day)
    history = _member_history(view, member_id, period)
    used = Usage.read(view, period)
    by_others, mine = _match_tallies(history, used, member_id)
    opinions = _OpinionTally.of(history, member_id)
    return {
        "report": "signalhub member report",
        "format_version": FORMAT_VERSION,
        "member_id": member_id,
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "days": period.days,
        },
        "contributions": _contributions(history, member_id),
        "matches_of_your_signals_by_others": by_others.summary(),
        "your_queries": _your_queries(used, member_id, mine),
        "opinions_of_your_signals_by_others": {
            **opinions.totals,
            "by_label": dict(sorted(opinions.by_label.items())),
        },
        "disputed_signals": [
            _disputed_row(sid, history.signals[sid], opinions.by_signal[sid])
            for sid in opinions.disputed()
        ],
        "removals": {
            "retractions": len(history.retractions),
            "signals_removed_by_retraction": sum(1 for w in history.retractions if w.removed),
            "expired_submissions": sum(w.submissions for w in history.expiries),
        },
        "method": [{"title": t, "text": x} for t, x in MEMBER_METHOD],
    }


def _member_history(view: StoreView, member_id: str, period: Period) -> History:
    """The whole log replayed as the member may see it."""
    viewer = Viewer.load(view, member_id)
    viewers: dict[str, Viewer] = {}

    def viewer_of(member: str) -> Viewer:
        if member not in viewers:
            viewers[member] = Viewer.load(view, member)
        return viewers[member]

    return History(period, focus=viewer, viewer_of=viewer_of).replay(view_log_entries(view))


def _contributions(history: History, member_id: str) -> Json:
    """The member's submissions of the period: signals, new ones, corroborated ones, by type
    and label."""
    contribs = history.contributions
    signals = {c.signal_id for c in contribs}
    types: dict[str, set[str]] = defaultdict(set)
    labels: dict[str, set[str]] = defaultdict(set)
    for c in contribs:
        types[c.type].add(c.signal_id)
        for label in c.labels or (NO_LABEL,):
            labels[label].add(c.signal_id)
    end_ms = history.period.end_ms
    corroborated = sum(
        1
        for sid in signals
        if any(m != member_id and t < end_ms for m, t in history.signals[sid].submitters)
    )
    return {
        "signals": len(signals),
        "new_signals": len({c.signal_id for c in contribs if c.new}),
        "submissions": len(contribs),
        "corroborated_by_others": corroborated,
        "by_type": {k: len(v) for k, v in sorted(types.items())},
        "by_label": {k: len(v) for k, v in sorted(labels.items())},
    }


def _own_labels(record: _Signal) -> list[str]:
    """The member's labels of one of its signals, or (none)."""
    return sorted(record.own.labels if record.own else ()) or [NO_LABEL]


def _match_tallies(
    history: History, used: Usage, member_id: str
) -> tuple[_MatchTally, _MatchTally]:
    """Matches of the member's signals by others (a signal it held a submission of that day,
    matched by a member who could see it), and the member's own matches."""
    by_others = _MatchTally()
    mine = _MatchTally()
    for m in used.matches:
        record = history.signals.get(m.signal_id)
        day_start = m.day * DAY_MS
        if m.member_id == member_id:
            labs = sorted(record.labels_at(day_start + DAY_MS - 1)) if record else []
            mine.add(m.day, m.signal_id, labs or [NO_LABEL], m.count)
        elif (
            record is not None
            and record.own_live_between(day_start, day_start + DAY_MS)
            and history.shares(m.member_id, record)
        ):
            by_others.add(m.day, m.signal_id, _own_labels(record), m.count)
    return by_others, mine


def _your_queries(used: Usage, member_id: str, mine: _MatchTally) -> Json:
    """The member's own queries and matches, in all and per ISO week."""
    own_queries = [q for q in used.queries if q.member_id == member_id]
    weeks: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for q in own_queries:
        week = weeks[week_start(q.day).isoformat()]
        week[0] += q.queries
        week[1] += q.matched
    return {
        "queries": sum(q.queries for q in own_queries),
        "queries_with_match": sum(q.matched for q in own_queries),
        **mine.summary(),
        "queries_by_week": [
            {"week_start": w, "queries": n, "queries_with_match": hit}
            for w, (n, hit) in sorted(weeks.items())
        ],
    }


class _OpinionTally:
    """Others' latest opinions of the period of signals the member held a submission of."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = dict.fromkeys(OPINION_NAMES.values(), 0)
        self.by_label: dict[str, dict[str, int]] = {}
        self.by_signal: dict[str, dict[str, int]] = {}

    @classmethod
    def of(cls, history: History, member_id: str) -> _OpinionTally:
        """The opinions of `history` that count in the member's report."""
        tally = cls()
        for o in history.opinions.values():
            if o.member == member_id or not o.own or o.opinion not in OPINION_NAMES:
                continue
            tally.add(
                o.signal_id, OPINION_NAMES[o.opinion], _own_labels(history.signals[o.signal_id])
            )
        return tally

    def add(self, signal_id: str, name: str, labels: Sequence[str]) -> None:
        """One opinion `name` of a signal with the member's `labels`."""
        self.totals[name] += 1
        for label in labels:
            row = self.by_label.setdefault(label, dict.fromkeys(OPINION_NAMES.values(), 0))
            row[name] += 1
        self.by_signal.setdefault(signal_id, dict.fromkeys(OPINION_NAMES.values(), 0))[name] += 1

    def disputed(self) -> list[str]:
        """Signals with a false-positive or disputed opinion, most such opinions first."""
        n = self.by_signal
        return sorted(
            (sid for sid, c in n.items() if c["false_positive"] or c["disputed"]),
            key=lambda sid: (-n[sid]["false_positive"] - n[sid]["disputed"], sid),
        )


def _disputed_row(signal_id: str, record: _Signal, counts: dict[str, int]) -> Json:
    own = record.own
    return {
        "signal_id": signal_id,
        "type": record.type,
        "value": own.value if own else "",
        "labels": sorted(own.labels) if own else [],
        **counts,
    }


class _MatchTally:
    """Matches counted in all, per label and per ISO week."""

    def __init__(self) -> None:
        self.matches = 0
        self.signals: set[str] = set()
        self.labels: dict[str, list[Any]] = {}
        self.weeks: dict[str, list[Any]] = {}

    def add(self, day: int, sid: str, labels: Sequence[str], n: int) -> None:
        self.matches += n
        self.signals.add(sid)
        for label in labels:
            row = self.labels.setdefault(label, [0, set()])
            row[0] += n
            row[1].add(sid)
        week = self.weeks.setdefault(week_start(day).isoformat(), [0, set(), {}])
        week[0] += n
        week[1].add(sid)
        for label in labels:
            week[2][label] = week[2].get(label, 0) + n

    def summary(self) -> Json:
        return {
            "matches": self.matches,
            "signals_matched": len(self.signals),
            "by_label": {
                label: {"matches": n, "signals_matched": len(ids)}
                for label, (n, ids) in sorted(self.labels.items())
            },
            "by_week": [
                {
                    "week_start": w,
                    "matches": n,
                    "signals_matched": len(ids),
                    "matches_by_label": dict(sorted(labs.items())),
                }
                for w, (n, ids, labs) in sorted(self.weeks.items())
            ],
        }


MEMBER_METHOD: tuple[tuple[str, str], ...] = (
    (
        "Your contributions",
        "Your submissions accepted in the period (one per signal per batch); 'new signals' are "
        "those nobody had submitted before as far as you may see; 'corroborated by others' "
        "counts your signals of the period that another member also submitted (by the end of "
        "the period) in a submission you may see. By label: the labels of your own submissions.",
    ),
    (
        "Matches of your signals",
        "Matches by other members (all of them together, never who) of signals you held a "
        "submission of on that day, per label (your labels) and per ISO week (from Monday).",
    ),
    (
        "Your queries",
        "Your match calls' queries; a match is one query finding one signal, counted under the "
        "labels you could see on that day.",
    ),
    (
        "Opinions",
        "Other members' latest opinions in the period of signals you held a submission of "
        "when they gave them.",
    ),
    (
        "Disputed signals",
        "Your signals with at least one such opinion that is a false positive or disputed, "
        "most first: each with your labels and the count of each kind, never who gave them.",
    ),
)
