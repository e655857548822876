"""Transparency reports: the coalition's periodic report (`signalhub admin report`) and a
member's own report (GetMemberReport, `member_report`).

Everything is computed from the hub's own records. The command log is the history: a replay of
it in memory (no store is written) tells when each signal was first submitted, when a second
member corroborated it, which labels it carried at any moment, who withdrew what and what
expired, even for signals long removed from the state tables. The usage counts of the `stats`
database (exchange.usage) add what the log does not hold: matches, queries and propagation
latency, per UTC day. docs/report.md says what each number means.

The package, in the order a report is made:

- `reading`: short read transactions of the store, the log in chunks, a period's usage counts;
- `period`: the report's period (whole UTC days) and the trend's time buckets;
- `history`: the log replayed (`History`) and the records it keeps;
- `disclosure`: the coalition report's small-count suppression, the whole rule in one module;
- `coalition`: the coalition report's sections, as cells;
- `safety`: its coalition safety section (warning lists, flood quarantine, decision
  propagation), from the log, the feed and the review notices;
- `method`: its method text, the counting rules as docs/report.md states them;
- `member`: a member's own report (not suppressed: its own numbers, counts of others);
- `rendering`: the coalition report's JSON, CSV and HTML files.

Every name the single `report` module had is importable from here.
"""

from .coalition import (
    NONE,
    UNKNOWN,
    coalition_report,
    coalition_tree,
    percentile_bucket,
)
from .disclosure import (
    DEFAULT_MIN_COUNT,
    PRIMARY,
    SECONDARY,
    SHOWN,
    Cell,
    Derived,
    Relation,
    Sheet,
    cells_of,
    resolve,
)
from .history import Contribution, History, OpinionGiven, Withdrawal
from .member import MEMBER_METHOD, member_report
from .method import METHOD
from .period import (
    DAY_MS,
    EPOCH,
    FORMAT_VERSION,
    NO_LABEL,
    Buckets,
    Json,
    Period,
    date_of,
    day_number,
    parse_date,
    week_start,
)
from .reading import LOG_CHUNK_ENTRIES, Usage, log_entries, read_view, view_log_entries
from .rendering import (
    FORMATS,
    render_charts,
    render_html,
    summary_rows,
    table_rows,
    write_csv,
    write_report,
)

_cells = cells_of
"""The name tests use for `disclosure.cells_of` (it was private before the split)."""

__all__ = [
    "DAY_MS",
    "DEFAULT_MIN_COUNT",
    "EPOCH",
    "FORMATS",
    "FORMAT_VERSION",
    "LOG_CHUNK_ENTRIES",
    "MEMBER_METHOD",
    "METHOD",
    "NONE",
    "NO_LABEL",
    "PRIMARY",
    "SECONDARY",
    "SHOWN",
    "UNKNOWN",
    "Buckets",
    "Cell",
    "Contribution",
    "Derived",
    "History",
    "Json",
    "OpinionGiven",
    "Period",
    "Relation",
    "Sheet",
    "Usage",
    "Withdrawal",
    "cells_of",
    "coalition_report",
    "coalition_tree",
    "date_of",
    "day_number",
    "log_entries",
    "member_report",
    "parse_date",
    "percentile_bucket",
    "read_view",
    "render_charts",
    "render_html",
    "resolve",
    "summary_rows",
    "table_rows",
    "view_log_entries",
    "week_start",
    "write_csv",
    "write_report",
]
