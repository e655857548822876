"""What checking stored records costs, and what single-byte corruptions of data.mdb do.

Builds a store of N PDQ signals through the hub's own apply (signed batches of 1000, in
process: `benchmarks.erasure`'s builder), then times the store's read paths as the service uses
them, each with the record checks of `exchange.store` on and off (`Store.checks`), alternating,
on the same store in the same run; medians of --repeats runs:

- get: a signal and its submissions (GetSignal without envelopes), random ids;
- get + provenance: the same plus each submission's log entry (its envelope), hashed against
  the audit chain when checks are on;
- exact miss: a lookup of an id that is not stored (most exact-match queries; checks add the
  look at the two records beside the gap);
- PDQ hit: a PDQ table row and the signal it names (what a PDQ match reads per candidate);
- feed: the whole feed read in pages of 1000 (FetchUpdates' reads);
- snapshot walk: every signal as GetSnapshot frames it;
- PDQ table: the whole table read for the index (checks add its weighted sum);
- per-record costs of the parts: parse, CRC-32 seal check, signal id recompute, sealing a
  record on write.

`admin check` (exchange.integrity) is timed on the same store. With --sweep STEP it also
flips one byte of data.mdb at every STEP-th offset of a small store and classifies what
reading everything through the store then does (each trial in a child process: LMDB itself
may crash on a damaged page): served unchanged, refused (DATA_LOSS, or at start), crashed, or
served changed without a word, and whether `admin check` reports it; and, as the peer, what the
same reads give with the checks off.

    python -m benchmarks.integrity --signals 100000 --sweep 37 --out /tmp/integrity.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import statistics
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lmdb

from benchmarks.erasure import _build
from benchmarks.load import machine
from exchange.errors import HubError
from exchange.integrity import CheckReport, check_data_dir, check_store, startup_problems
from exchange.snapshot import visible_signals
from exchange.store import Store, open_seal, seal
from exchange.visibility import Viewer
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec

SAMPLE = 5000


def _timed(run: Callable[[], int]) -> float:
    """Seconds per item of one run of `run` (which returns how many items it did)."""
    started = time.perf_counter()
    n = run()
    return (time.perf_counter() - started) / max(n, 1)


def build(path: Path, signals: int) -> tuple[Store, list[str]]:
    """The store (and the PDQ values) of `benchmarks.erasure`'s builder, with the meta keys a
    data directory has (so that admin check finds it whole)."""
    store, values = _build(path, signals)

    def keys(tx: Any) -> None:
        for name in ("hub_public_key", "operator_public_key"):
            tx.set_meta(name, bytes(32))

    store.write(keys)
    return store, values


def read_paths(store: Store, values: list[str], repeats: int) -> dict[str, dict[str, float]]:
    rng = random.Random(7)
    sids = [domain.signal_id("pdq", v) for v in rng.sample(values, min(SAMPLE, len(values)))]
    absent = [os.urandom(16).hex() for _ in range(SAMPLE)]
    with store.read() as view:
        rows = [r for r in range(1, view.counter("pdq_rows") + 1)]
        feed_seq = view.counter("feed_seq")
    rows = rng.sample(rows, min(SAMPLE, len(rows)))
    everyone = Viewer("", frozenset())

    def get() -> int:
        with store.read() as view:
            for sid in sids:
                view.signal(sid)
                view.submissions(sid)
        return len(sids)

    def provenance() -> int:
        with store.read() as view:
            for sid in sids[:500]:
                view.signal(sid)
                for sub in view.submissions(sid):
                    view.log_entry(sub.log_sequence)
        return 500

    def miss() -> int:
        with store.read() as view:
            for sid in absent:
                view.signal(sid)
        return len(absent)

    def pdq_hit() -> int:
        with store.read() as view:
            for row in rows:
                found = view.pdq_row(row)
                assert found is not None
                view.signal(found[1])
        return len(rows)

    def feed() -> int:
        after = 0
        while after < feed_seq:
            with store.read() as view:
                page = view.feed(after, 1000)
            after = int(page[-1].event.cursor)
        return feed_seq

    def snapshot() -> int:
        with store.read() as view:
            return sum(1 for _ in visible_signals(view, everyone))

    def pdq_table() -> int:
        with store.read() as view:
            view.pdq_table()
        return 1

    paths = {
        "get": get, "get + provenance": provenance, "exact miss": miss, "PDQ hit": pdq_hit,
        "feed": feed, "snapshot walk": snapshot, "PDQ table": pdq_table,
    }  # fmt: skip
    out: dict[str, dict[str, float]] = {}
    for name, run in paths.items():
        times: dict[bool, list[float]] = {True: [], False: []}
        run()  # warm the page cache
        for _ in range(repeats):
            for checks in (False, True):
                store.checks = checks
                times[checks].append(_timed(run))
        store.checks = True
        off, on = statistics.median(times[False]), statistics.median(times[True])
        out[name] = {"unchecked_us": off * 1e6, "checked_us": on * 1e6,
                     "overhead_pct": 100 * (on - off) / off}  # fmt: skip
    return out


def part_costs(store: Store, repeats: int) -> dict[str, float]:
    """Microseconds per record of each part of a check, over real signal records."""
    with store.read() as view:
        items = [(k, v) for k, v in zip(range(SAMPLE), view.items("signals"), strict=False)]
    records = [kv for _, kv in items]
    payloads = [(k, open_seal(k, v)[0]) for k, v in records]
    parsed = [rec.SignalRecord.FromString(p) for _, p in payloads]

    def parse() -> int:
        for _, p in payloads:
            rec.SignalRecord.FromString(p)
        return len(payloads)

    def crc() -> int:
        for k, v in records:
            open_seal(k, v)
        return len(records)

    def ids() -> int:
        for r in parsed:
            assert domain.signal_id(r.signal.type, r.signal.value) == r.signal.signal_id
        return len(parsed)

    def sealing() -> int:
        for k, p in payloads:
            seal(k, p)
        return len(payloads)

    def blake2b() -> int:  # the alternative to CRC-32 considered: 8 bytes of BLAKE2b
        for k, p in payloads:
            hashlib.blake2b(k + p, digest_size=8).digest()
        return len(payloads)

    def crc_only() -> int:
        for k, p in payloads:
            zlib.crc32(p, zlib.crc32(k))
        return len(payloads)

    parts = {
        "parse": parse, "seal check (slice + CRC-32)": crc, "CRC-32 alone": crc_only,
        "BLAKE2b-8 alone": blake2b, "signal id recompute": ids, "seal on write": sealing,
    }  # fmt: skip
    return {
        name: statistics.median(_timed(run) for _ in range(repeats)) * 1e6
        for name, run in parts.items()
    }


def checker(store: Store) -> dict[str, float]:
    started = time.perf_counter()
    report = check_store(store, CheckReport())
    seconds = time.perf_counter() - started
    records = sum(report.records.values())
    assert report.ok, [p.line() for p in report.problems[:5]]
    return {"seconds": seconds, "records": records, "us_per_record": seconds / records * 1e6}


# --- the sweep -----------------------------------------------------------------------------


def _served(path: Path, checks: bool = True) -> str:
    """Everything a hub serves from the store, read through its checks (or without them: the
    peer), as one string; or what stopped it (refused at start, DATA_LOSS)."""
    try:
        store = Store(path, readonly=True, checks=checks)
    except lmdb.Error:  # the hub cannot open it either: it refuses to start
        return "refused at start"
    try:
        with store.read() as view:
            problems = startup_problems(view) if checks else []
            if problems:
                return "refused at start"
            rows, hashes = view.pdq_table()
            out: list[object] = [rows.tobytes(), hashes.tobytes()]
            walked = list(view.items("signals"))
            out += [view.signal_record(k, v) for k, v in walked]  # as the snapshot reads them
            sids = [k.hex() for k, _ in walked if len(k) == 16]  # as a caller could ask
            for sid in sids:
                out += [view.signal(sid), view.submissions(sid), view.opinions(sid)]
            out += [view.pdq_row(r) for r in rows.tolist()]
            out += [view.feed(0, 1 << 30), view.members("", 1 << 20), view.groups()]
            out += [view.log_entry(n) for n in range(1, view.counter("log_seq") + 1)]
            return repr(out)
    except HubError:
        return "DATA_LOSS"
    finally:
        store.close()


def _in_child(work: Callable[[], str]) -> str:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            answer = work()
        except Exception as e:
            answer = f"error {type(e).__name__}"
        with os.fdopen(write_end, "w") as out:
            out.write(answer)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as got:
        answer = got.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f"crashed ({signal.Signals(os.WTERMSIG(status)).name})"
    return answer


def sweep(step: int, signals: int) -> dict[str, Any]:
    """Flips one byte at every `step`-th offset of a small store's data.mdb."""
    with tempfile.TemporaryDirectory(prefix="signalhub-sweep-") as tmp:
        built, _ = build(Path(tmp) / "built", signals)
        clean = Path(tmp) / "clean"
        clean.mkdir()
        built.env.copy(str(clean), compact=True)  # only live pages: each flip matters
        built.close()
        original = (clean / "data.mdb").read_bytes()
        work = Path(tmp) / "data" / "lmdb"
        work.mkdir(parents=True)

        def trial(data: bytes) -> tuple[str, str, str]:
            (work / "data.mdb").write_bytes(data)
            (work / "lock.mdb").unlink(missing_ok=True)
            served = _in_child(lambda: _served(work))
            unchecked = _in_child(lambda: _served(work, checks=False))
            checked = _in_child(lambda: "reports" if check_data_dir(work.parent).found else "clean")
            return served, unchecked, checked

        baseline, peer, ok = trial(original)
        assert ok == "clean" and baseline.startswith("[") and peer.startswith("["), ok

        def outcome(served: str, expected: str) -> str:
            if served == expected:
                return "served unchanged"
            return "served CHANGED, no error" if served.startswith("[") else served

        outcomes: Counter[tuple[str, str]] = Counter()
        without: Counter[str] = Counter()
        silent: list[int] = []
        started = time.perf_counter()
        for offset in range(0, len(original), step):
            data = bytearray(original)
            data[offset] ^= 0x10
            served, unchecked, checked = trial(bytes(data))
            what = outcome(served, baseline)
            outcomes[(what, checked)] += 1
            without[outcome(unchecked, peer)] += 1
            if what.startswith("served CHANGED"):
                silent.append(offset)
        return {
            "file_bytes": len(original),
            "flips": sum(outcomes.values()),
            "seconds": time.perf_counter() - started,
            "outcomes": [
                {"served": s, "admin_check": c, "flips": n} for (s, c), n in outcomes.most_common()
            ],
            "silent_offsets": silent,
            "without_checks": dict(without.most_common()),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signals", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--sweep",
        type=int,
        default=0,
        metavar="STEP",
        help="also flip a byte at every STEP-th offset of a small store",
    )
    parser.add_argument("--sweep-signals", type=int, default=300)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="signalhub-integrity-"))
    try:
        started = time.perf_counter()
        store, values = build(tmp / "lmdb", args.signals)
        built = time.perf_counter() - started
        result: dict[str, Any] = {
            "machine": machine(),
            "signals": args.signals,
            "build_seconds": built,
            "repeats": args.repeats,
            "read_paths": read_paths(store, values, args.repeats),
            "parts_us": part_costs(store, args.repeats),
            "admin_check": checker(store),
        }
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.sweep:
        result["sweep"] = sweep(args.sweep, args.sweep_signals)
    print(f"{result['machine']}; {args.signals:,} PDQ signals, medians of {args.repeats}")
    print(f"{'read path':<20} {'unchecked µs':>13} {'checked µs':>11} {'overhead':>9}")
    for name, r in result["read_paths"].items():
        print(f"{name:<20} {r['unchecked_us']:>13.2f} {r['checked_us']:>11.2f} "
              f"{r['overhead_pct']:>8.1f}%")  # fmt: skip
    print(f"{'part of a check':<30} {'µs a record':>12}")
    for name, us in result["parts_us"].items():
        print(f"{name:<30} {us:>12.3f}")
    c = result["admin_check"]
    print(f"admin check: {c['records']:,} records in {c['seconds']:.2f} s "
          f"({c['us_per_record']:.1f} µs a record)")  # fmt: skip
    if args.sweep:
        s = result["sweep"]
        print(f"sweep: {s['flips']} single-byte flips of a {s['file_bytes']:,}-byte data.mdb "
              f"({s['seconds']:.0f} s)")  # fmt: skip
        for o in s["outcomes"]:
            print(f"  {o['flips']:>5}  {o['served']:<28} admin check: {o['admin_check']}")
        print("the same flips read without the checks (the peer):")
        for what, n in s["without_checks"].items():
            print(f"  {n:>5}  {what}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
