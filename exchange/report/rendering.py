"""The coalition report's files: report.json, one CSV file per table plus summary.csv, and one
self-contained report.html (inline CSS, charts as inline SVG drawn with matplotlib, loaded only
when a page is drawn). Rendering reads the report's published values only: it never sees a
suppressed count's value.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .disclosure import SUPPRESSED, below_threshold
from .period import Json
from .safety import ROWS as SAFETY_ROWS

FORMATS = ("html", "json", "csv")


def table_rows(report: Json) -> dict[str, list[Json]]:
    """The report's tables, as written to CSV: one file each."""
    return {name: rows for name, rows in report["tables"].items()}


def summary_rows(report: Json) -> list[tuple[str, Any]]:
    """(metric, value) of the summary, dotted names (e.g. contributions.signals)."""
    out: list[tuple[str, Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            out.append((prefix, value))

    walk("", report["summary"])
    return out


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return _range_text(value)
    return str(value)


def write_csv(report: Json, out: Path) -> list[Path]:
    """Writes summary.csv and one CSV file per table into `out`; returns their paths."""
    written = []
    path = out / "summary.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["metric", "value"])
        for metric, value in summary_rows(report):
            writer.writerow([metric, _csv_value(value)])
    written.append(path)
    for name, rows in table_rows(report).items():
        path = out / f"{name}.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            if rows:
                writer.writerow(list(rows[0]))
            for row in rows:
                writer.writerow([_csv_value(v) for v in row.values()])
        written.append(path)
    return written


def write_report(report: Json, out: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Writes report.json, the CSV files and report.html into `out`; returns their paths."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {unknown[0]!r}; formats are {', '.join(FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if "json" in formats:
        path = out / "report.json"
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    if "csv" in formats:
        written.extend(write_csv(report, out))
    if "html" in formats:
        path = out / "report.html"
        path.write_text(render_html(report), encoding="utf-8")
        written.append(path)
    return written


def _range_text(value: Any) -> str:
    if isinstance(value, dict):
        if value.get("to_ms") is None:
            return f"> {value['from_ms']:,} ms"
        return f"{value['from_ms']:,}\u2013{value['to_ms']:,} ms"
    return str(value)


def _fmt(value: Any, kind: str = "count") -> str:
    if value is None:
        return "\u2013"
    if isinstance(value, str):
        return value.replace("<", "< ")
    if kind == "share":
        return f"{value * 100:.1f} %"
    if kind == "hours":
        return f"{value:,.1f} h"
    if isinstance(value, dict):
        return _range_text(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


_CSS = """
:root { --ink: #1d2430; --muted: #5b6472; --line: #d5dae1; --accent: #1f5fa8; --soft: #f3f5f8; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial,
       sans-serif; color: var(--ink); margin: 0; line-height: 1.45; background: #fff; }
main { max-width: 980px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 34px 0 10px; border-bottom: 2px solid var(--accent);
     padding-bottom: 4px; }
p.lead { color: var(--muted); margin: 0 0 18px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px; }
.card { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
        padding: 10px 12px; }
.card .v { font-size: 1.45rem; font-weight: 650; }
.card .k { color: var(--muted); font-size: .85rem; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; margin: 8px 0 4px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: right; }
td { white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: var(--soft); font-weight: 600; }
tr.sub td { color: var(--muted); }
figure { margin: 10px 0 16px; }
figure img { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: .82rem; }
.method dt { font-weight: 600; margin-top: 8px; }
.method dd { margin: 2px 0 0 0; }
.note { font-size: .85rem; color: var(--muted); }
@page { size: A4; margin: 16mm 14mm; }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  figure, table, .card { break-inside: avoid; }
  .cards { grid-template-columns: repeat(3, 1fr); }
}
"""


COLUMN_TITLES = {
    "start": "from",
    "end": "to",
    "type": "type",
    "label": "label",
    "signals": "signals",
    "new_signals": "new",
    "submissions": "submissions",
    "matches": "matches",
    "queries": "queries",
    "signals_matched": "signals matched",
    "true_positive": "true pos.",
    "false_positive": "false pos.",
    "disputed": "disputed",
    "false_positive_share": "false-pos. share",
    "bucket": "latency",
    "deliveries": "deliveries",
}
"""The title of each column of report.html's tables."""
TREND_COLUMNS = "start end new_signals signals submissions matches queries"
TYPE_COLUMNS = "type signals new_signals submissions matches signals_matched"
LABEL_COLUMNS = (
    "label signals new_signals submissions matches signals_matched true_positive false_positive "
    "disputed false_positive_share"
)


def _columns(keys: str, **titles: str) -> list[tuple[str, str]]:
    """(key, title) of the columns `keys` (space-separated), with some titles of their own."""
    return [(key, titles.get(key, COLUMN_TITLES[key])) for key in keys.split()]


def render_html(report: Json) -> str:
    """One self-contained HTML page: inline CSS, charts as inline SVG data (no external
    resource of any kind)."""
    e = html.escape
    s = report["summary"]
    period = report["period"]
    k = report["suppression"]["min_count"]
    charts = render_charts(report)
    tables = report["tables"]
    parts: list[str] = []
    add = parts.append
    add("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>")
    add("<meta name='viewport' content='width=device-width, initial-scale=1'>")
    add(
        f"<title>Signal sharing transparency report {e(period['from'])} to "
        f"{e(period['to'])}</title><style>{_CSS}</style></head><body><main>"
    )
    add("<h1>Signal sharing transparency report</h1>")
    add(
        f"<p class='lead'>{e(period['from'])} to {e(period['to'])} (UTC, {period['days']} "
        f"days) · generated {e(report.get('generated_at', ''))} from the hub's records "
        f"through log entry {report['through_log_entry']:,} · counts below {k} are shown as "
        f"“&lt; {k}” and no member is named.</p>"
    )
    c, m, o, p = s["contributions"], s["matches"], s["opinions"], s["propagation"]
    cards = [
        ("signals contributed", _fmt(c["signals"])),
        ("new signals", _fmt(c["new_signals"])),
        ("contributing members", _fmt(c["contributing_members"])),
        ("corroborated signals", _fmt(s["corroboration"]["corroborated_signals"])),
        (
            "median time to corroboration",
            _fmt(s["corroboration"]["median_hours_to_corroboration"], "hours"),
        ),
        ("matches answered", _fmt(m["matches"])),
        ("… of signals from other members", _fmt(m["matches_of_signals_from_other_members"])),
        ("false-positive share of opinions", _fmt(o["false_positive_share"], "share")),
        ("propagation p50 (bucket)", _fmt(p["p50"])),
        ("propagation p99 (bucket)", _fmt(p["p99"])),
    ]
    add("<section class='cards'>")
    for label, value in cards:
        add(
            f"<div class='card'><div class='v'>{e(value)}</div><div class='k'>{e(label)}</div>"
            "</div>"
        )
    add("</section>")

    granularity = "week" if report["trend_granularity"] == "week" else "day"
    add(f"<h2>Trend by {granularity}</h2>")
    add(_figure(charts["trend"], f"Signals contributed and matches answered per {granularity}", k))
    add(_table(tables["trend"], _columns(TREND_COLUMNS, new_signals="new signals")))

    add("<h2>By label</h2>")
    add(_figure(charts["label"], "Signals contributed and matches answered, by label", k))
    add(_table(tables["by_label"], _columns(LABEL_COLUMNS)))

    add("<h2>By signal type</h2>")
    add(_figure(charts["type"], "Signals contributed and matches answered, by signal type", k))
    add(_table(tables["by_type"], _columns(TYPE_COLUMNS)))

    add("<h2>Contributions, corroboration, use and removals</h2>")
    add(
        _key_values(
            [
                ("Signals contributed", c["signals"], ""),
                ("New signals", c["new_signals"], ""),
                ("Submissions", c["submissions"], ""),
                ("Contributing members", c["contributing_members"], ""),
                ("Corroborated signals", s["corroboration"]["corroborated_signals"], ""),
                (
                    "Median time from first submission to corroboration",
                    s["corroboration"]["median_hours_to_corroboration"],
                    "hours",
                ),
                ("Queries", m["queries"], ""),
                ("Queries with a match", m["queries_with_match"], ""),
                ("Querying members", m["querying_members"], ""),
                ("Matches answered", m["matches"], ""),
                (
                    "Matches of signals from other members",
                    m["matches_of_signals_from_other_members"],
                    "",
                ),
                ("Distinct signals matched", m["signals_matched"], ""),
                ("Opinions: true positive", o["true_positive"], ""),
                ("Opinions: false positive", o["false_positive"], ""),
                ("Opinions: disputed", o["disputed"], ""),
                ("False-positive share", o["false_positive_share"], "share"),
                ("Retractions", s["removals"]["retractions"], ""),
                (
                    "Signals removed by retraction",
                    s["removals"]["signals_removed_by_retraction"],
                    "",
                ),
                ("Expired submissions", s["removals"]["expired_submissions"], ""),
                ("Signals removed by expiry", s["removals"]["signals_removed_by_expiry"], ""),
            ]
        )
    )

    add("<h2>Coalition safety: warning lists, flood quarantine, decision propagation</h2>")
    safety = s["safety"]
    add(_key_values([(title, safety[part][key], "") for part, key, title in SAFETY_ROWS]))

    add("<h2>Propagation to following members</h2>")
    add(
        f"<p>{e(_fmt(p['deliveries']))} deliveries; p50 in {e(_fmt(p['p50']))}, p99 in "
        f"{e(_fmt(p['p99']))} (estimated from latency buckets).</p>"
    )
    add(_figure(charts["propagation"], "Deliveries per latency bucket", k))
    rows = [
        {"bucket": _range_text(r), "deliveries": r["deliveries"]}
        for r in report["tables"]["propagation"]
    ]
    add(_table(rows, _columns("bucket deliveries")))

    add("<h2>Method</h2><dl class='method'>")
    for item in report["method"]:
        add(f"<dt>{e(item['title'])}</dt><dd>{e(item['text'])}</dd>")
    add(
        "</dl><p class='note'>The same numbers are in report.json and the CSV files "
        "(summary.csv, by_type.csv, by_label.csv, trend.csv, propagation.csv).</p>"
    )
    add("</main></body></html>\n")
    return "".join(parts)


def _figure(uri: str, caption: str, k: int) -> str:
    e = html.escape
    return (
        f"<figure><img src='{uri}' alt='{e(caption)}'><figcaption>{e(caption)}. A hatched "
        f"bar is a count below {k} (drawn up to {k}); “s” marks a suppressed count."
        "</figcaption></figure>"
    )


def _table(rows: Sequence[Json], columns: Sequence[tuple[str, str]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(title)}</th>" for _, title in columns)
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            kind = "share" if key.endswith("_share") else "count"
            cells.append(f"<td>{e(_fmt(row[key], kind))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _key_values(rows: Sequence[tuple[str, Any, str]]) -> str:
    e = html.escape
    body = "".join(
        f"<tr><td>{e(name)}</td><td>{e(_fmt(value, kind or 'count'))}</td></tr>"
        for name, value, kind in rows
    )
    return f"<table><tbody>{body}</tbody></table>"


def render_charts(report: Json) -> dict[str, str]:
    """The report's charts as data: URIs of SVG images, drawn with matplotlib (Agg, no
    display) from the report's public values only: a suppressed count is a hatched bar up to
    the threshold ("<k") or a mark at the axis ("suppressed"), never its value."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    k = report["suppression"]["min_count"]
    tables = report["tables"]
    style: Any = {
        "svg.hashsalt": "signalhub-report",
        "svg.fonttype": "path",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    out: dict[str, str] = {}
    with matplotlib.rc_context(style):
        fig = Figure(figsize=(9, 5.2), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True)
        trend = tables["trend"]
        names = [
            r["start"][5:] if report["trend_granularity"] == "day" else r["start"] for r in trend
        ]
        contributed = [
            ("new signals", [r["new_signals"] for r in trend], "#1f5fa8"),
            ("submissions", [r["submissions"] for r in trend], "#8fb3de"),
        ]
        _bars(top, names, contributed, k)
        top.set_title("Signals contributed", loc="left")
        _bars(bottom, names, [("matches", [r["matches"] for r in trend], "#c2571a")], k)
        bottom.set_title("Matches answered", loc="left")
        if len(names) > 12:
            bottom.tick_params(axis="x", labelrotation=60)
        out["trend"] = _svg(fig)

        for name, key, rows in (
            ("label", "label", tables["by_label"]),
            ("type", "type", tables["by_type"]),
        ):
            fig = Figure(figsize=(9, 3.6 if name == "label" else 4.2), layout="constrained")
            left, right = fig.subplots(1, 2, sharey=True)
            categories = [r[key] for r in rows]
            _bars(
                left,
                categories,
                [("signals", [r["signals"] for r in rows], "#1f5fa8")],
                k,
                horizontal=True,
            )
            left.set_title("Signals contributed", loc="left")
            _bars(
                right,
                categories,
                [("matches", [r["matches"] for r in rows], "#c2571a")],
                k,
                horizontal=True,
            )
            right.set_title("Matches answered", loc="left")
            left.invert_yaxis()
            out[name] = _svg(fig)

        fig = Figure(figsize=(9, 2.8), layout="constrained")
        ax = fig.subplots()
        rows = tables["propagation"]
        names = [f"≤{r['to_ms']}" if r["to_ms"] is not None else f">{r['from_ms']}" for r in rows]
        _bars(ax, names, [("deliveries", [r["deliveries"] for r in rows], "#3c8d5a")], k)
        ax.set_xlabel("latency (ms)")
        out["propagation"] = _svg(fig)
    return out


def _bars(
    ax: Any,
    names: Sequence[str],
    series: Sequence[tuple[str, Sequence[Any], str]],
    k: int,
    horizontal: bool = False,
) -> None:
    width = 0.8 / len(series)
    positions = range(len(names))
    for n, (label, values, colour) in enumerate(series):
        offset = (n - (len(series) - 1) / 2) * width
        at = [p + offset for p in positions]
        shown = [v if isinstance(v, int) else 0 for v in values]
        masked = [k if v == below_threshold(k) else 0 for v in values]
        draw = ax.barh if horizontal else ax.bar
        draw(at, shown, width, label=label, color=colour)
        draw(at, masked, width, color="white", edgecolor=colour, hatch="////", linewidth=0.6)
        for x, v in zip(at, values, strict=True):
            if v == SUPPRESSED:
                if horizontal:
                    ax.text(0, x, " s", va="center", fontsize=7, color="#5b6472")
                else:
                    ax.text(x, 0, "s", ha="center", va="bottom", fontsize=7, color="#5b6472")
    if horizontal:
        ax.set_yticks(list(positions), list(names))
    else:
        ax.set_xticks(list(positions), list(names))
    if len(series) > 1:
        ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="x" if horizontal else "y", color="#e3e6ea", linewidth=0.6)
    ax.set_axisbelow(True)


def _svg(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = re.sub(rb"<!DOCTYPE[^>]*>\s*", b"", buffer.getvalue())  # names a DTD by URL: drop it
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
