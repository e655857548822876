"""Benchmark matching while the list grows (issue 22): single-query latency per 10 s window
with and without ingest, and the index's memory through its folds and rebuilds.

Run from the repository root::

    python -m benchmarks.ingest_match --hashes 10000000 --out /tmp/ingest_match.json
    python -m benchmarks.ingest_match --hashes 1000000 --idle 10 --ingest 30 --inline 20  # quick

A `matcher.PDQIndex` of --hashes uniform random hashes under ascending ids (the hub's PDQ row
numbers) is built and left to settle (with --sized-for, its tables are built at that many rows
and the rest merged in, so that the 4x-growth rebuild comes due during the ingest phase).
Then, in the same process and run:

1. **idle** (--idle s): a query thread sends single queries open-loop at --qps (half are
   edited copies of stored hashes, 10-25 bits flipped, half random), nothing else runs;
2. **ingest, upkeep in the background** (--ingest s): as the hub runs it (exchange.index,
   `background=True`), a writer thread adds batches of --batch new hashes at --rate hashes/s
   (each `add` is what one commit hands the index) and removes --remove-fraction of that many
   old rows, while the queries go on. The delta fills and is folded into the base every
   ``delta_fraction`` of it; the worker merges the tail into each chunk's table in turn and
   rebuilds (compaction) when ``dead_fraction`` of the base is dead;
3. **mass removal** (--compact s): --compact-fraction of the rows are removed in batches of
   10,000 as fast as the index takes them (a member leaving, a legal erasure), which crosses
   ``dead_fraction``: the worker compacts the base (a new base beside the old one) while the
   queries go on;
4. **ingest, upkeep inline** (--inline s; the peer): the same index type with
   ``background=False``, so every fold's merges run inside the writer's `add`, under the
   index's lock, as the synchronous rebuild of earlier versions did.

Per 10 s window: queries, p50/p99/max of the search call (ms), hashes added, the largest
tail (rows not yet in every table) and delta, whether a rebuild ran, and the process's RSS.
Memory: bytes per hash once settled (RSS growth over the build / N), and the peak RSS during
each ingest phase over the settled footprint of the rows present at that moment
(``peak ratio``; the goal is <= 1.3).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.match import machine
from matcher import PDQIndex

U8 = npt.NDArray[np.uint8]
WINDOW = 10.0


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def random_hashes(rng: np.random.Generator, n: int) -> U8:
    return rng.integers(0, 256, size=(n, 32), dtype=np.uint8)


def edited(rng: np.random.Generator, h: U8) -> U8:
    out = h.copy()
    bits = rng.choice(256, size=int(rng.integers(10, 26)), replace=False)
    np.bitwise_xor.at(out, bits // 8, (1 << (bits % 8)).astype(np.uint8))
    return out


class Phase:
    """One phase: a query thread open-loop at `qps`, an optional writer, a sampler."""

    def __init__(self, index: PDQIndex, stored: U8, args: argparse.Namespace, seed: int) -> None:
        self.index, self.stored, self.args = index, stored, args
        self.rng = np.random.default_rng(seed)
        self.stop = threading.Event()
        self.samples: list[tuple[float, float]] = []  # (time, latency ms)
        self.added: list[tuple[float, int]] = []
        self.calls: list[tuple[float, float]] = []  # (time, ms) of each add/remove call
        self.state: list[tuple[float, dict[str, int], int]] = []

    def queries(self) -> None:
        rng = np.random.default_rng(int(self.rng.integers(2**32)))
        pool = [
            edited(rng, self.stored[int(rng.integers(len(self.stored)))])
            if k % 2 == 0
            else random_hashes(rng, 1)[0]
            for k in range(2000)
        ]
        period = 1.0 / self.args.qps
        due = time.perf_counter()
        k = 0
        while not self.stop.is_set():
            q = pool[k % len(pool)].reshape(1, 32)
            k += 1
            start = time.perf_counter()
            self.index.search(q, max_distance=31)
            end = time.perf_counter()
            self.samples.append((end, (end - start) * 1000))
            due += period
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            else:
                due = time.perf_counter()

    def writer(self, first_id: int) -> None:
        args, rng = self.args, np.random.default_rng(int(self.rng.integers(2**32)))
        fresh = random_hashes(rng, 200_000)
        batch, next_id, due = args.batch, first_id, time.perf_counter()
        removals = 0.0
        while not self.stop.is_set():
            lo = int(rng.integers(0, len(fresh) - batch))
            began = time.perf_counter()
            self.index.add(
                np.arange(next_id, next_id + batch, dtype=np.uint64), fresh[lo : lo + batch]
            )
            self.calls.append((time.perf_counter(), (time.perf_counter() - began) * 1000))
            next_id += batch
            removals += batch * args.remove_fraction
            if removals >= 1:
                gone = rng.integers(0, next_id, size=int(removals)).astype(np.uint64)
                self.index.remove(gone)
                removals -= int(removals)
            self.added.append((time.perf_counter(), batch))
            due += batch / args.rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        self.next_id = next_id

    def remover(self, fraction: float) -> None:
        rng = np.random.default_rng(int(self.rng.integers(2**32)))
        rows = len(self.index)
        gone = rng.choice(rows, size=int(rows * fraction), replace=False).astype(np.uint64)
        for lo in range(0, len(gone), 10_000):
            if self.stop.is_set():
                break
            began = time.perf_counter()
            self.index.remove(gone[lo : lo + 10_000])
            self.calls.append((time.perf_counter(), (time.perf_counter() - began) * 1000))
            self.added.append((time.perf_counter(), -min(10_000, len(gone) - lo)))

    def sampler(self) -> None:
        while not self.stop.wait(0.1):
            self.state.append((time.perf_counter(), self.index.upkeep_state(), rss_bytes()))

    def run(
        self, seconds: float, first_id: int | None, remove: float | None = None
    ) -> dict[str, Any]:
        threads = [threading.Thread(target=self.queries), threading.Thread(target=self.sampler)]
        if first_id is not None:
            threads.append(threading.Thread(target=self.writer, args=(first_id,)))
        if remove is not None:
            threads.append(threading.Thread(target=self.remover, args=(remove,)))
        self.next_id = first_id or 0
        start = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(seconds)
        self.stop.set()
        for t in threads:
            t.join()
        return self.report(start, seconds)

    def report(self, start: float, seconds: float) -> dict[str, Any]:
        windows = []
        for w in range(int(seconds // WINDOW)):
            lo, hi = start + w * WINDOW, start + (w + 1) * WINDOW
            lat = [ms for t, ms in self.samples if lo <= t < hi]
            states = [(s, r) for t, s, r in self.state if lo <= t < hi]
            if not lat:
                continue
            windows.append(
                {
                    "window": w,
                    "queries": len(lat),
                    "p50_ms": float(np.percentile(lat, 50)),
                    "p99_ms": float(np.percentile(lat, 99)),
                    "max_ms": max(lat),
                    "added": sum(k for t, k in self.added if lo <= t < hi),
                    "write_max_ms": max((ms for t, ms in self.calls if lo <= t < hi), default=0),
                    "max_tail": max((s["tail"] for s, _ in states), default=0),
                    "max_delta": max((s["delta"] for s, _ in states), default=0),
                    "rebuilding": any(s["rebuilding"] for s, _ in states),
                    "max_rss": max((r for _, r in states), default=0),
                    "rows": max((s["base"] + s["delta"] for s, _ in states), default=0),
                }
            )
        lat_all = [ms for _, ms in self.samples]
        return {
            "windows": windows,
            "queries": len(lat_all),
            "p50_ms": float(np.percentile(lat_all, 50)),
            "p99_ms": float(np.percentile(lat_all, 99)),
            "max_ms": max(lat_all),
            "added_per_s": sum(k for _, k in self.added) / seconds,
        }


def build(
    n: int, background: bool, rng: np.random.Generator, sized_for: int = 0
) -> tuple[PDQIndex, U8, dict[str, Any]]:
    """An index of ``n`` hashes whose chunk widths were chosen at ``sized_for`` rows (the
    rest added in batches of 1M and merged in), so that its 4x-growth rebuild comes due at
    ``4 * sized_for`` rows, early in the ingest phase."""
    before = rss_bytes()
    hashes = random_hashes(rng, n)
    started = time.perf_counter()
    index = PDQIndex(background=background)
    first = min(sized_for or n, n)
    index.add(np.arange(first, dtype=np.uint64), hashes[:first])
    index.wait_idle()
    for lo in range(first, n, 1_000_000):
        hi = min(n, lo + 1_000_000)
        index.add(np.arange(lo, hi, dtype=np.uint64), hashes[lo:hi])
        index.wait_idle()
    built = time.perf_counter() - started
    sample = hashes[rng.choice(n, size=5000, replace=False)].copy()
    del hashes
    gc.freeze()  # as the hub does once started (exchange/server.py)
    settled = rss_bytes()
    return index, sample, {"build_s": built, "rss_before": before, "rss_settled": settled}


def phase_memory(result: dict[str, Any], base_rss: int, per_hash: float) -> None:
    """Peak RSS of the phase over the settled footprint of the rows it held at that moment."""
    ratios = [
        (w["max_rss"] - base_rss) / (per_hash * w["rows"])
        for w in result["windows"]
        if w["rows"] and w["max_rss"]
    ]
    result["peak_ratio"] = max(ratios, default=0.0)


def one_run(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    index, stored, built = build(args.hashes, True, rng, args.sized_for)
    per_hash = (built["rss_settled"] - built["rss_before"]) / args.hashes
    out: dict[str, Any] = {"build": built, "bytes_per_hash": per_hash}
    base_rss = built["rss_before"]
    out["idle"] = Phase(index, stored, args, seed + 1).run(args.idle, None)
    out["background"] = Phase(index, stored, args, seed + 2).run(args.ingest, args.hashes)
    phase_memory(out["background"], base_rss, per_hash)
    index.wait_idle()
    out["after"] = {
        "state": index.upkeep_state(),
        "rows": len(index),
        "rss_over_rows": (rss_bytes() - base_rss) / max(len(index), 1),
    }
    if args.compact:
        phase = Phase(index, stored, args, seed + 4)
        out["compact"] = phase.run(args.compact, None, remove=args.compact_fraction)
        phase_memory(out["compact"], base_rss, per_hash)
        out["compact"]["compacted"] = index.wait_idle(timeout=600)
    index.close()
    del index
    if args.inline:
        index, stored, built = build(args.hashes, False, rng, args.sized_for)
        out["inline_build"] = built
        out["inline"] = Phase(index, stored, args, seed + 3).run(args.inline, args.hashes)
        del index
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(path: list[str]) -> float:
        values = []
        for r in runs:
            v: Any = r
            for p in path:
                v = v[p]
            values.append(float(v))
        return statistics.median(values)

    summary: dict[str, Any] = {"runs": len(runs)}
    for phase in ("idle", "background", "compact", "inline"):
        if phase not in runs[0]:
            continue
        summary[phase] = {
            key: med([phase, key]) for key in ("p50_ms", "p99_ms", "max_ms", "added_per_s")
        }
        summary[phase]["worst_window_p99_ms"] = statistics.median(
            max(w["p99_ms"] for w in r[phase]["windows"]) for r in runs
        )
    summary["bytes_per_hash"] = med(["bytes_per_hash"])
    summary["build_s"] = med(["build", "build_s"])
    summary["background"]["peak_ratio"] = med(["background", "peak_ratio"])
    if "compact" in runs[0]:
        summary["compact"]["peak_ratio"] = med(["compact", "peak_ratio"])
    return summary


def print_table(result: dict[str, Any]) -> None:
    s = result["summary"]
    print(
        f"\n{result['hashes']:,} hashes, {s['runs']} run(s), medians; queries at "
        f"{result['qps']} q/s, ingest offered {result['rate']:,}/s in batches of {result['batch']}"
    )
    print(
        f"{'phase':<28}{'added/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'worst 10s p99':>15}"
    )
    for phase in ("idle", "background", "compact", "inline"):
        if phase in s:
            p = s[phase]
            print(
                f"{phase:<28}{p['added_per_s']:>10,.0f}{p['p50_ms']:>9.3f}{p['p99_ms']:>9.3f}"
                f"{p['max_ms']:>9.2f}{p['worst_window_p99_ms']:>15.3f}"
            )
    print(
        f"settled memory {s['bytes_per_hash']:.1f} B/hash; peak during background ingest "
        f"{s['background']['peak_ratio']:.2f}x of the settled footprint; build {s['build_s']:.1f} s"
    )
    if "compact" in s:
        print(f"peak during the mass removal's compaction {s['compact']['peak_ratio']:.2f}x")
    last = result["runs"][-1]
    print("\nlast run, background ingest, per 10 s window:")
    print(
        f"{'w':>3}{'queries':>9}{'p50':>8}{'p99':>8}{'max':>8}{'added':>11}{'add max':>9}"
        f"{'tail':>9}{'delta':>8}{'rebuild':>8}{'RSS GiB':>9}"
    )
    for w in last["background"]["windows"]:
        print(
            f"{w['window']:>3}{w['queries']:>9}{w['p50_ms']:>8.3f}{w['p99_ms']:>8.3f}"
            f"{w['max_ms']:>8.2f}{w['added']:>11,}{w['write_max_ms']:>9.2f}"
            f"{w['max_tail']:>9,}{w['max_delta']:>8,}"
            f"{'yes' if w['rebuilding'] else '':>8}{w['max_rss'] / 2**30:>9.2f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hashes", type=int, default=10_000_000)
    parser.add_argument("--rate", type=int, default=100_000, help="hashes added per second")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--remove-fraction", type=float, default=0.0)
    parser.add_argument("--qps", type=int, default=500)
    parser.add_argument("--idle", type=float, default=60)
    parser.add_argument("--ingest", type=float, default=300)
    parser.add_argument("--compact", type=float, default=60)
    parser.add_argument("--compact-fraction", type=float, default=0.15)
    parser.add_argument("--inline", type=float, default=60)
    parser.add_argument(
        "--sized-for",
        type=int,
        default=0,
        help="build the tables at this many rows, then add the rest: the 4x-growth rebuild "
        "comes due at 4x this (default: at 4x --hashes)",
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    runs = [one_run(args, 1000 * k + 7) for k in range(args.runs)]
    result = {
        "machine": machine(),
        "hashes": args.hashes,
        "rate": args.rate,
        "batch": args.batch,
        "qps": args.qps,
        "remove_fraction": args.remove_fraction,
        "sized_for": args.sized_for,
        "runs": runs,
        "summary": summarise(runs),
    }
    print(json.dumps(result["summary"]))
    print_table(result)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
