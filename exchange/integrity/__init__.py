"""Offline integrity check of a data directory: `signalhub admin check --data-dir DIR`.

Like SQLite's `PRAGMA integrity_check`, it walks the whole store and names every problem it
finds rather than stopping at the first: `audit verify` answers "does the state follow from the
signed log?", this answers "is every stored record intact and does each agree with the records
it points to?" (and runs in a fraction of a replay's time). It reads inside one LMDB read
transaction of a store opened read-only, so it gives a consistent answer while a hub serves.

What it checks, by table:
- LMDB's own structure (`lmdb.verify`, py-lmdb's pure-Python page walker: pages, B-trees, free
  list), only when no hub serves the directory (it reads the file, not a transaction);
- every sealed record: its seal (exchange.store, "Integrity") and that it parses;
- `signals`: the id against the key, type and value; at least one submission; members,
  corroboration, labels, tags and `restricted` against those submissions; its PDQ rows (row
  present, naming it, with its hash or one of its video's frames) and its `typed` row;
- `submissions`: the key against the record, its signal, member and log entry exist, its
  expiry is filed; `expiries` name existing submissions;
- `pdq`: row sizes, rows no signal owns, the table's checksum (PDQ_TABLE_SUM), the row counter;
- `typed`: each value against its id, and its signal;
- `feed` and `log`: contiguous from 1 to their counters, each record parses and (feed) carries
  its own cursor; each log entry hashes to its audit link (or, redacted, has a valid seal) and
  the audit chain links (exchange.audit);
- `meta`: the keys and counters a hub needs, and each member's live-submission counter against
  the submissions table;
- members, keys (id against the public key), groups, opinions, erased, signed heads, stats.

Problems about the signed heads' signatures and about whether the state follows from the log
are `audit verify`'s.

This module runs the check (the structural walk, the record walk in this process or a child,
the audit chain) and holds the hub's own start-up check; the per-table record walk is
exchange.integrity.walk, the report exchange.integrity.report.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import lmdb

from ..audit import chain_problems
from ..backup import serve_lock
from ..errors import HubError
from ..store import Store, StoreView
from .report import MAX_PROBLEMS, CheckReport, Problem, key_text
from .walk import _COUNTERS, KEY_BYTES, TableWalk

__all__ = [
    "MAX_PROBLEMS",
    "CheckReport",
    "Problem",
    "TableWalk",
    "check_data_dir",
    "check_store",
    "key_text",
    "startup_problems",
]


def check_data_dir(data_dir: Path, max_problems: int = MAX_PROBLEMS) -> CheckReport:
    """Checks DATA_DIR's store, opened read-only (a hub may go on serving it)."""
    report = CheckReport(max_problems=max_problems)
    started = time.perf_counter()
    path = Path(data_dir) / "lmdb"
    with serve_lock(Path(data_dir), wait=False) as idle:
        # Held while it checks, so that no hub starts writing under the structural walk.
        if idle:
            _check_structure(path, report)
        else:
            report.structure = "skipped: a hub is serving this directory"
        if report.structure == "problems":
            _check_records_in_child(path, report)
        else:
            _check_records(path, report)
    report.seconds = time.perf_counter() - started
    return report


def _check_records(path: Path, report: CheckReport) -> None:
    try:
        store = Store(path, readonly=True)
    except lmdb.Error as e:
        report.add("lmdb", "-", f"the store cannot be opened: {e}")
        return
    try:
        check_store(store, report)
    finally:
        store.close()


def _check_records_in_child(path: Path, report: CheckReport) -> None:
    """The record walk in a child process. LMDB trusts its pages: reading a damaged one can
    kill the reader (SIGBUS, SIGSEGV), so once the structural walk found damage the records are
    read where a crash costs only the child; what it found before crashing is kept."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report each problem as a JSON line, then the counts
        os.close(read_end)
        code = 1
        try:
            with os.fdopen(write_end, "w") as out:
                child = CheckReport(max_problems=report.max_problems)
                child.sink = lambda p: print(json.dumps(p.__dict__), file=out, flush=True)
                _check_records(path, child)
                print(
                    json.dumps({"records": child.records, "unchecked": child.unchecked}), file=out
                )
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as lines:
        for line in lines:
            item = json.loads(line)
            if "table" in item:
                report.add(item["table"], item["key"], item["what"])
            else:
                report.records.update(item["records"])
                report.unchecked += item["unchecked"]
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        report.add(
            "lmdb",
            "-",
            f"reading the records crashed LMDB ({name}) on a damaged page: "
            "a hub reading it would crash too",
        )


def _check_structure(path: Path, report: CheckReport) -> None:
    try:
        from lmdb import verify as lmdb_verify  # py-lmdb 3 and later
    except ImportError:
        report.structure = "skipped: this py-lmdb has no lmdb.verify"
        return
    try:
        found: list[str] = lmdb_verify.verify(str(path))  # type: ignore[no-untyped-call]
    except lmdb_verify.VerifyError as e:
        report.add("lmdb", "-", f"the data file cannot be verified: {e}")
        report.structure = "problems"
        return
    except Exception as e:  # a walker of damaged bytes: whatever it trips on is a finding
        report.add("lmdb", "-", f"the structural walk failed: {type(e).__name__}: {e}")
        report.structure = "problems"
        return
    for problem in found:
        report.add("lmdb", "-", problem)
    report.structure = "problems" if found else "ok"


def check_store(store: Store, report: CheckReport | None = None) -> CheckReport:
    """Walks every table of an open store (see the module docstring) into `report`."""
    report = report or CheckReport()
    TableWalk(store, report).run()
    try:
        entries, problems = chain_problems(store)
    except (HubError, lmdb.Error) as e:
        report.add("audit", "-", f"the chain cannot be read: {e}")
    else:
        for problem in problems:
            report.add("audit", "-", problem)
        report.records.setdefault("audit", entries)
    return report


def startup_problems(view: StoreView) -> list[str]:
    """What a hub checks before it serves: the meta records it reads and the counters it
    appends after, against their tables' ends. O(1) reads, so free at any size; the records
    themselves are checked as they are read, and by `admin check`."""
    problems, counters = _meta_problems(view)
    for table, counter in (("log", "log_seq"), ("feed", "feed_seq"), ("audit", "log_seq")):
        entries, last = view.entries(table), _last_key(view, table)
        if entries != counters[counter] or last != counters[counter]:
            problems.append(
                f"the {table} table holds {entries} records ending at {last}, "
                f"but its counter {counter!r} says {counters[counter]}"
            )
    last_row = _last_key(view, "pdq")
    if last_row > counters["pdq_rows"]:
        problems.append(
            f"the PDQ table ends at row {last_row}, past its counter 'pdq_rows' "
            f"({counters['pdq_rows']})"
        )
    for table in view.tables():
        # The first and last record of each table: reads the pages on both edges of its tree
        # (a damaged root or edge page shows here); the pages between are read as used.
        try:
            view.read_edges(table)
        except lmdb.Error as e:
            problems.append(f"LMDB cannot read the {table} table: {e}")
            break  # the transaction is dead after such an error
    return problems


def _meta_problems(view: StoreView) -> tuple[list[str], dict[str, int]]:
    """What is wrong with the meta records a hub reads at start (keys, counters, served
    types), and the counters' values (0 for one missing or malformed)."""
    problems: list[str] = []
    for name in ("hub_public_key", "operator_public_key"):
        raw = view.meta(name)
        if raw is not None and len(raw) != KEY_BYTES:
            problems.append(f"meta {name!r} holds {len(raw)} bytes, not a {KEY_BYTES}-byte key")
    counters: dict[str, int] = {}
    for name in _COUNTERS:
        raw = view.meta(name)
        if raw is not None and len(raw) != 8:
            problems.append(f"meta counter {name!r} holds {len(raw)} bytes, not 8")
        counters[name] = int.from_bytes(raw, "big") if raw is not None and len(raw) == 8 else 0
    types = view.meta("signal_types")
    if types is not None:
        try:
            if not isinstance(json.loads(types), dict):
                raise ValueError
        except ValueError:
            problems.append("meta 'signal_types' is not the JSON object of the served types")
    return problems, counters


def _last_key(view: StoreView, table: str) -> int:
    key = view.last_key(table)
    if key is None:
        return 0
    return int.from_bytes(key, "big") if len(key) == 8 else -1
