"""The coalition transparency report (`signalhub admin report`): its sections, each a tree of
cells (exchange.report.disclosure) built from the replayed log (exchange.report.history) and the
period's usage counts, the sums that tie them together, and the report's method text.

Every number comes from the hub's own records; no member is named, and every count is
published through the disclosure rule (`disclosure.Sheet`). docs/report.md says what each
number means; the report carries the same text (`METHOD`, exchange.report.method).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from signalhub import domain
from signalhub.v1 import common_pb2

from .. import usage
from ..store import Store
from .disclosure import (
    DEFAULT_MIN_COUNT,
    Cell,
    Derived,
    Sheet,
    cells_of,
    resolve,
    suppression_legend,
)
from .history import Contribution, History, OpinionGiven
from .method import METHOD
from .period import DAY_MS, FORMAT_VERSION, NO_LABEL, Buckets, Json, Period
from .reading import Usage, log_entries, read_view
from .safety import Safety, SafetyLog, safety_section

UNKNOWN = "(unknown)"
"""The type and label of a matched signal the log does not hold."""
NONE = frozenset({NO_LABEL})
OPINION_KINDS = {
    "true_positive": common_pb2.OPINION_TRUE_POSITIVE,
    "false_positive": common_pb2.OPINION_FALSE_POSITIVE,
    "disputed": common_pb2.OPINION_DISPUTED,
}
"""The opinions the report counts, by the name of their column."""
TABLE_COLUMNS = ("signals", "new_signals", "submissions", "matches", "signals_matched")
"""The columns the by-type and by-label tables share, each tied to its summary total."""


def percentile_bucket(counts: Sequence[int], q: float) -> dict[str, int | None]:
    """The latency bucket holding the q-quantile (nearest rank) of a histogram over
    usage.PROPAGATION_MS: {"from_ms": lower bound (excluded), "to_ms": upper bound (included;
    None for the last, unbounded bucket)}."""
    total = sum(counts)
    rank = max(1, math.ceil(q * total))
    running = 0
    for i, n in enumerate(counts):
        running += n
        if running >= rank:
            return _bucket_bounds(i)
    raise ValueError("an empty histogram has no percentile")


def _bucket_bounds(i: int) -> dict[str, int | None]:
    """Bucket `i` of usage.PROPAGATION_MS: its lower (excluded) and upper (included) bound."""
    lower = usage.PROPAGATION_MS[i - 1] if i else 0
    upper = usage.PROPAGATION_MS[i] if i < len(usage.PROPAGATION_MS) else None
    return {"from_ms": lower, "to_ms": upper}


class _MatchRow(NamedTuple):
    """One usage count of matches, with what the report groups it by."""

    day: int
    signal_id: str
    type: str
    labels: frozenset[str]
    """The signal's labels on that day ({NO_LABEL} when it had none)."""
    other: bool
    """The querying member had not submitted the signal by the end of that day."""
    matches: int


def _match_rows(history: History, used: Usage) -> list[_MatchRow]:
    """Each (day, signal, member) count of matches, with the signal's labels and type."""
    rows: list[_MatchRow] = []
    for m in used.matches:
        record = history.signals.get(m.signal_id)
        end = (m.day + 1) * DAY_MS
        if record is None:
            kind, labs, other = UNKNOWN, frozenset({UNKNOWN}), True
        else:
            kind, labs = record.type, record.labels_at(end - 1)
            first = record.first_by(m.member_id)
            other = first is None or first >= end
        rows.append(_MatchRow(m.day, m.signal_id, kind, labs or NONE, other, m.count))
    return rows


def _counts_by(items: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for key, value in items:
        out[key].add(value)
    return out


def _label_keys(xs: Iterable[str]) -> list[str]:
    """The labels a count goes under: its labels, or (none)."""
    found = sorted(set(xs))
    return found or [NO_LABEL]


def _union_labels(contribs: Iterable[Contribution]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for c in contribs:
        out[c.signal_id].update(c.labels)
    return out


@dataclass
class _Facts:
    """What the coalition report counts, gathered once from the history and usage counts."""

    history: History
    used: Usage
    contribs: list[Contribution]
    signals: set[str]
    new: set[str]
    """Signals whose first submission ever falls in the period."""
    match_rows: list[_MatchRow]
    queries: list[usage.QueryCount]
    """Usage counts with at least one query."""
    held: list[OpinionGiven]
    """Each member's latest opinion of each signal given in the period, but cleared ones."""

    @classmethod
    def of(cls, history: History, used: Usage) -> _Facts:
        """The facts of a replayed history and the usage counts of its period."""
        contribs = history.contributions
        return cls(
            history,
            used,
            contribs,
            {c.signal_id for c in contribs},
            {c.signal_id for c in contribs if c.new},
            _match_rows(history, used),
            [q for q in used.queries if q.queries],
            [o for o in history.opinions.values() if o.opinion],
        )

    def categories(self) -> tuple[list[str], list[str]]:
        """The rows of the by-type and by-label tables: every type and label, (none), and
        (unknown) when a match names a signal the log does not hold."""
        types = sorted(domain.SIGNAL_TYPES)
        labels = [*sorted(domain.LABELS), NO_LABEL]
        if any(r.type == UNKNOWN for r in self.match_rows):
            types.append(UNKNOWN)
            labels.append(UNKNOWN)
        return types, labels


class _Cells:
    """The cells of a report being built, and the sheet of the sums that tie them."""

    def __init__(self, k: int) -> None:
        self.sheet = Sheet(k)
        self.made: list[Cell] = []

    def __call__(self, value: int) -> Cell:
        """A new cell counting `value`."""
        c = Cell(value)
        self.made.append(c)
        return c

    def columns(
        self,
        rows: Sequence[Json],
        names: Iterable[str],
        totals: dict[str, Cell],
        exact: bool = True,
    ) -> None:
        """Declares each column `name` of `rows` a sum of its total (`exact`, or a cover)."""
        if not rows:
            return
        for name in names:
            self.sheet.sums(totals[name], [row[name] for row in rows], exact)


def _share_of(false: Cell, true: Cell) -> Derived:
    """false / (false + true), 4 decimals (None when both are 0); shown when both are."""
    return Derived(
        [false, true],
        lambda: (
            round(false.value / (false.value + true.value), 4) if false.value + true.value else None
        ),
    )


def _summary(cell: _Cells, facts: _Facts) -> Json:
    """The summary's sections but propagation (added by `_propagation`)."""
    contribs, rows, history = facts.contribs, facts.match_rows, facts.history
    opinions = {
        name: cell(sum(1 for o in facts.held if o.opinion == v))
        for name, v in OPINION_KINDS.items()
    }
    corroborated = cell(len(history.corroboration_ms))
    delays = sorted(history.corroboration_ms)
    return {
        "contributions": {
            "signals": cell(len(facts.signals)),
            "new_signals": cell(len(facts.new)),
            "submissions": cell(len(contribs)),
            "contributing_members": cell(len({c.member for c in contribs})),
        },
        "corroboration": {
            "corroborated_signals": corroborated,
            "median_hours_to_corroboration": Derived(
                [corroborated],
                lambda: round(statistics.median(delays) / 3_600_000, 2) if delays else None,
            ),
        },
        "matches": {
            "queries": cell(sum(q.queries for q in facts.queries)),
            "queries_with_match": cell(sum(q.matched for q in facts.queries)),
            "querying_members": cell(len({q.member_id for q in facts.queries})),
            "matches": cell(sum(r.matches for r in rows)),
            "matches_of_signals_from_other_members": cell(sum(r.matches for r in rows if r.other)),
            "signals_matched": cell(len({r.signal_id for r in rows})),
        },
        "opinions": {
            **opinions,
            "false_positive_share": _share_of(
                opinions["false_positive"], opinions["true_positive"]
            ),
        },
        "removals": {
            "retractions": cell(len(history.retractions)),
            "signals_removed_by_retraction": cell(sum(1 for w in history.retractions if w.removed)),
            "expired_submissions": cell(sum(w.submissions for w in history.expiries)),
            "signals_removed_by_expiry": cell(
                len({(w.ms, w.signal_id) for w in history.expiries if w.removed})
            ),
        },
    }


def _totals(summary: Json) -> dict[str, Cell]:
    """The summary's cells the tables' columns add up to, by column name."""
    c, m, o = summary["contributions"], summary["matches"], summary["opinions"]
    return {
        "signals": c["signals"],
        "new_signals": c["new_signals"],
        "submissions": c["submissions"],
        "matches": m["matches"],
        "signals_matched": m["signals_matched"],
        **{name: o[name] for name in OPINION_KINDS},
        "queries": m["queries"],
    }


def _by_type(cell: _Cells, facts: _Facts, types: Sequence[str]) -> list[Json]:
    """Per signal type: signals, new signals, submissions, matches, signals matched."""
    sig_type = {c.signal_id: c.type for c in facts.contribs}
    rows: list[Json] = []
    for kind in types:
        ids = {s for s in facts.signals if sig_type[s] == kind}
        mrows = [r for r in facts.match_rows if r.type == kind]
        rows.append(
            {
                "type": kind,
                "signals": cell(len(ids)),
                "new_signals": cell(len(ids & facts.new)),
                "submissions": cell(sum(1 for c in facts.contribs if c.type == kind)),
                "matches": cell(sum(r.matches for r in mrows)),
                "signals_matched": cell(len({r.signal_id for r in mrows})),
            }
        )
    return rows


def _by_label(cell: _Cells, facts: _Facts, labels: Sequence[str]) -> list[Json]:
    """Per label (a signal counts under each of its labels): the by-type columns, opinions
    and the false-positive share."""
    by_label_signals = _counts_by(
        (label, sid)
        for sid, labs in _union_labels(facts.contribs).items()
        for label in _label_keys(labs)
    )
    sub_labels: dict[str, int] = defaultdict(int)
    for c in facts.contribs:
        for label in _label_keys(c.labels):
            sub_labels[label] += 1
    rows: list[Json] = []
    for label in labels:
        ids = by_label_signals.get(label, set())
        mrows = [r for r in facts.match_rows if label in r.labels]
        ops = [o for o in facts.held if label in (o.labels or {NO_LABEL})]
        row: Json = {
            "label": label,
            "signals": cell(len(ids)),
            "new_signals": cell(len(ids & facts.new)),
            "submissions": cell(sub_labels.get(label, 0)),
            "matches": cell(sum(r.matches for r in mrows)),
            "signals_matched": cell(len({r.signal_id for r in mrows})),
            **{
                name: cell(sum(1 for o in ops if o.opinion == v))
                for name, v in OPINION_KINDS.items()
            },
        }
        row["false_positive_share"] = _share_of(row["false_positive"], row["true_positive"])
        rows.append(row)
    return rows


TREND_COLUMNS = ("signals", "new_signals", "submissions", "matches", "queries")


def _trend(cell: _Cells, facts: _Facts, buckets: Buckets) -> list[Json]:
    """Per time bucket: signals, new signals, submissions, matches, queries."""
    n = len(buckets.ranges)
    per_bucket: dict[str, list[Any]] = {
        "signals": [set() for _ in range(n)],
        "new_signals": [set() for _ in range(n)],
        "submissions": [0] * n,
        "matches": [0] * n,
        "queries": [0] * n,
    }
    for c in facts.contribs:
        b = buckets.of_ms(c.ms)
        per_bucket["signals"][b].add(c.signal_id)
        if c.new:
            per_bucket["new_signals"][b].add(c.signal_id)
        per_bucket["submissions"][b] += 1
    for r in facts.match_rows:
        per_bucket["matches"][buckets.of_day(r.day)] += r.matches
    for q in facts.queries:
        per_bucket["queries"][buckets.of_day(q.day)] += q.queries
    rows: list[Json] = []
    for b, (bucket_first, bucket_last) in enumerate(buckets.ranges):
        row: Json = {"start": bucket_first.isoformat(), "end": bucket_last.isoformat()}
        for name, values in per_bucket.items():
            value = values[b]
            row[name] = cell(len(value) if isinstance(value, set) else value)
        rows.append(row)
    return rows


def _propagation(cell: _Cells, used: Usage) -> tuple[Json, list[Json]]:
    """The propagation summary (deliveries, p50, p99) and its table of latency buckets."""
    histogram = [0] * (len(usage.PROPAGATION_MS) + 1)
    for counts in used.propagation.values():
        for i, n in enumerate(counts):
            histogram[i] += n
    deliveries = cell(sum(histogram))
    bucket_cells = [cell(n) for n in histogram]
    cell.sheet.sums(deliveries, bucket_cells)
    rows: list[Json] = [{**_bucket_bounds(i), "deliveries": c} for i, c in enumerate(bucket_cells)]
    summary = {
        "deliveries": deliveries,
        "p50": Derived([deliveries], lambda: percentile_bucket(histogram, 0.5)),
        "p99": Derived([deliveries], lambda: percentile_bucket(histogram, 0.99)),
    }
    return summary, rows


def coalition_tree(
    history: History,
    used: Usage,
    buckets: Buckets,
    k: int = DEFAULT_MIN_COUNT,
    safety: SafetyLog | None = None,
) -> tuple[Json, Sheet]:
    """The coalition report as a tree of cells (true values), and its protected sheet.
    `safety`: the safety counts of the same log and store (`SafetyLog.read_store` done; without
    it, the safety section counts nothing)."""
    period = history.period
    cell = _Cells(k)
    facts = _Facts.of(history, used)
    types, labels = facts.categories()
    summary = _summary(cell, facts)
    totals = _totals(summary)
    # The order of the sums is the order protection visits them in: keep it.
    type_rows = _by_type(cell, facts, types)
    cell.columns(type_rows, TABLE_COLUMNS, totals)
    label_rows = _by_label(cell, facts, labels)
    cell.columns(label_rows, [*TABLE_COLUMNS, *OPINION_KINDS], totals, exact=False)
    trend_rows = _trend(cell, facts, buckets)
    for name in TREND_COLUMNS:  # a signal contributed in two buckets counts in both
        cell.columns(trend_rows, [name], totals, exact=name != "signals")
    summary["propagation"], propagation_rows = _propagation(cell, used)
    summary["safety"] = safety_section(cell, cell.sheet, safety.counts if safety else Safety())
    unreadable = {*history.unreadable, *(safety.unreadable if safety else ())}
    tree: Json = {
        "report": "signalhub coalition transparency report",
        "format_version": FORMAT_VERSION,
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "days": period.days,
        },
        "through_log_entry": history.last_sequence,
        "unreadable_log_entries": len(unreadable),
        "suppression": suppression_legend(k),
        "trend_granularity": buckets.granularity,
        "summary": summary,
        "tables": {
            "by_type": type_rows,
            "by_label": label_rows,
            "trend": trend_rows,
            "propagation": propagation_rows,
        },
        "method": [{"title": t, "text": x.format(k=k)} for t, x in METHOD],
    }
    cell.sheet.protect([*cell.made, *cells_of(tree)])
    return tree, cell.sheet


def coalition_report(
    store: Store,
    first: date,
    last: date,
    min_count: int = DEFAULT_MIN_COUNT,
    granularity: str = "auto",
) -> Json:
    """The coalition report of days first..last (UTC, inclusive), suppressed, as JSON data."""
    period = Period(first, last)
    buckets = Buckets.of(period, granularity)
    # Usage counts first: every signal they name is then in the log read after them, even
    # while the hub goes on writing.
    with read_view(store) as view:
        used = Usage.read(view, period)
    safety = SafetyLog(period)  # follows the same read of the log
    history = History(period).replay(safety.watch(log_entries(store)))
    safety.read_store(store)
    tree, sheet = coalition_tree(history, used, buckets, min_count, safety)
    out: Json = resolve(tree, sheet.k)
    out["generated_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out
