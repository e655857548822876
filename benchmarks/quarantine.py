"""Benchmark flood quarantine's work on the match path (issue 21.2): what it adds per query.

Run from the repository root::

    python -m benchmarks.quarantine --hashes 10000000 --out /tmp/quarantine.json
    python -m benchmarks.quarantine --hashes 1000000      # quick

(a) Match-path overhead at --hashes: a matcher.PDQIndex of uniform random hashes with planted
signals: singles, and clusters of CLUSTER near-identical hashes (so a query matches several),
half of the clusters with CLUSTER_HELD of their signals quarantined. Queries, --queries of
each kind: random ("none", no match), a single's near-copy ("one"), a cluster's near-copy
("several") and a quarantined cluster's near-copy ("quarantined", asked with
exclude_quarantined, so the drop path runs). Both paths do what exchange/service/matching.py
find_matches does per answer besides quarantine: `index.search`, a `QueryMatches` with a fresh
`Signal` view per match, nearest first, the matched ids and `UsageCounter.record_match_call`.
Path B adds what quarantine adds there: the view's `quarantined` field (and noting whether
one is set), `exchange.service.quarantine.flag_quarantined` once a shown signal is quarantined,
and `MatchTally.record` of the call's matched signals for the caller (into a tally already
holding --tally-fill pairs, as a busy node's between flushes). B' is B with the quarantine
pass on every answer, as matching.py ran it before. Per query two runs of B' first (so every
timed path finds the index's buckets and the answer's objects in cache: at 10M the first
search of a query takes ~2.5x, the second ~1.5x the time of later ones; the first run's time
is reported, as the cold case a hub usually sees), then the three paths, in each of the six
orders in turn; p50/p99 per round, medians of --rounds rounds, the ratio B/A at p50, and the
median over queries of B's time less A's on the same query (paired). Also timed alone: the
quarantine part inside B and B', and the local replica's
`client_sdk.replica_warnings.flag_quarantined` over the same answers.

(b) The tally's flush and bounds: `MatchTally.take` of N pairs (the match_counts entries, and
serialising each as the LogEntry the hub logs), the memory a full tally (MAX_TALLY_KEYS pairs)
holds, and `record` of a counted pair, a new pair and a pair refused because the tally is full.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.match import machine
from benchmarks.warning_lists import THRESHOLD
from client_sdk.models import Match, MatchResult, SignalInfo
from client_sdk.replica_warnings import flag_quarantined as replica_flag_quarantined
from exchange.match_counts import (
    MAX_COUNTS_PER_ENTRY,
    MAX_TALLY_KEYS,
    MatchTally,
    QuarantineSettings,
)
from exchange.service.quarantine import flag_quarantined
from exchange.usage import UsageCounter
from matcher import PDQIndex
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2, exchange_pb2

U8 = npt.NDArray[np.uint8]
SINGLES = 1000
CLUSTERS = 200
CLUSTER = 8
"""Signals a cluster holds (each within CLUSTER_BITS of its centre): a "several" query's
matches."""
CLUSTER_BITS = 4
CLUSTER_HELD = 4
"""Signals quarantined in each of the quarantined half of the clusters."""
QUERY_BITS = 6
"""Bits a matching query differs from the planted hash it was made from."""
KINDS = ("none", "one", "several", "quarantined")
A, B, B_EVERY = "A: without quarantine", "B: with quarantine", "B': pass on every answer"
PATHS = (A, B, B_EVERY)
"""B is the hub as it runs; B' runs the quarantine pass on every answer with matches, as
matching.py did before it learned to skip it until a shown signal is quarantined."""
PARTS = {B: "quarantine part (B)", B_EVERY: "quarantine part (B')"}
COLD = "B', the query's first run"
"""The first of each query's two warm-up runs, timed: a query not seen before (a hub's usual
case) finds none of its index buckets in cache."""
MEMBER = "member-a"


def flipped(rows: U8, bits: int, rng: np.random.Generator) -> U8:
    """Copies of `rows` with `bits` distinct random bits of each flipped."""
    out = rows.copy()
    for row in out:
        for b in rng.choice(256, bits, replace=False):
            row[b // 8] ^= np.uint8(1 << (b % 8))
    return out


class Planted:
    """The index and the signals planted in it: row -> (signal id, hex, quarantined)."""

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        t0 = time.perf_counter()
        hashes = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
        centres = hashes[SINGLES : SINGLES + CLUSTERS].copy()
        start = SINGLES
        for c in range(CLUSTERS):
            hashes[start : start + CLUSTER] = flipped(
                np.repeat(centres[c : c + 1], CLUSTER, axis=0), CLUSTER_BITS, rng
            )
            start += CLUSTER
        self.planted = start
        self.index = PDQIndex()
        self.index.add(np.arange(n, dtype=np.uint64), hashes)
        self.build_seconds = time.perf_counter() - t0
        self.hashes = hashes
        self.centres = centres
        self.signals: dict[int, tuple[str, str, bool]] = {}
        for row in range(self.planted):
            value = hashes[row].tobytes().hex()
            cluster = (row - SINGLES) // CLUSTER
            held = row >= SINGLES and cluster % 2 == 1 and (row - SINGLES) % CLUSTER < CLUSTER_HELD
            self.signals[row] = (domain.signal_id("pdq", value), value, held)

    def queries(self, k: int, rng: np.random.Generator) -> tuple[U8, list[str]]:
        """`k` queries of each kind, shuffled, and the kind of each."""
        plain = np.arange(0, CLUSTERS, 2)
        held = np.arange(1, CLUSTERS, 2)
        parts = {
            "none": rng.integers(0, 256, (k, 32), dtype=np.uint8),
            "one": flipped(self.hashes[rng.integers(0, SINGLES, k)], QUERY_BITS, rng),
            "several": flipped(self.centres[rng.choice(plain, k)], QUERY_BITS, rng),
            "quarantined": flipped(self.centres[rng.choice(held, k)], QUERY_BITS, rng),
        }
        queries = np.concatenate([parts[kind] for kind in KINDS])
        kinds = [kind for kind in KINDS for _ in range(k)]
        order = rng.permutation(len(kinds))
        return queries[order], [kinds[i] for i in order]


def answer(
    planted: Planted, query: U8, with_quarantine: bool
) -> tuple[exchange_pb2.QueryMatches, bool]:
    """One query's answer as find_matches builds it (less the store reads): nearest first, a
    fresh Signal view per match; the quarantined field copied only `with_quarantine`. Also
    whether a shown signal is quarantined (matching.py's `_RowLookup.quarantined_seen`)."""
    lims, rows, distances = planted.index.search(query, max_distance=THRESHOLD)
    result = exchange_pb2.QueryMatches(query_index=0)
    seen = False
    lo, hi = int(lims[0]), int(lims[1])
    hits = zip(rows[lo:hi].tolist(), distances[lo:hi].tolist(), strict=True)
    for row, distance in sorted(hits, key=lambda c: (c[1], c[0])):
        known = planted.signals.get(row)
        if known is None:
            continue  # a random row within the threshold: not a stored signal here
        sid, value, held = known
        signal = common_pb2.Signal(signal_id=sid, type="pdq", value=value, corroboration=1)
        signal.labels.append("csam")
        if with_quarantine:
            signal.quarantined = held
            if held:
                seen = True
        result.matches.add(signal=signal, distance=distance)
    return result, seen


def timed_paths(
    planted: Planted, queries: U8, kinds: list[str], tally: MatchTally, usage: UsageCounter
) -> tuple[dict[str, list[float]], list[exchange_pb2.QueryMatches]]:
    """One round: per query two runs of B' (the index's buckets and the answer's objects in
    cache; the first is kept as COLD), then each path timed, in every order in turn (ms)."""
    times: dict[str, list[float]] = {name: [] for name in (*PATHS, *PARTS.values(), COLD)}
    answers = []

    def path_a(q: U8) -> float:
        result, _ = answer(planted, q, False)
        matched = [[m.signal.signal_id for m in result.matches]]
        usage.record_match_call(MEMBER, matched)
        return 0.0

    def path_b(q: U8, exclude: bool, every: bool) -> float:
        result, seen = answer(planted, q, True)
        t = time.perf_counter()
        if result.matches and (seen or every):
            flag_quarantined(result, exclude)
        part = time.perf_counter() - t
        matched = [[m.signal.signal_id for m in result.matches]]
        usage.record_match_call(MEMBER, matched)
        t = time.perf_counter()
        tally.record(MEMBER, (sid for sids in matched for sid in sids))
        if not every:
            answers.append(result)
        return (part + time.perf_counter() - t) * 1e3

    orders = list(itertools.permutations(PATHS))
    for i, kind in enumerate(kinds):
        q = queries[i : i + 1]
        exclude = kind == "quarantined"
        # Two runs first: at 10M the first search of a query takes ~300 us, the second ~165,
        # the third and later ~115 (its buckets in cache), so which path ran first would decide.
        t = time.perf_counter()
        path_b(q, exclude, True)
        times[COLD].append((time.perf_counter() - t) * 1e3)
        path_b(q, exclude, True)
        for name in orders[i % len(orders)]:
            t = time.perf_counter()
            part = path_a(q) if name == A else path_b(q, exclude, name == B_EVERY)
            times[name].append((time.perf_counter() - t) * 1e3)
            if name in PARTS:
                times[PARTS[name]].append(part)
    return times, answers


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p99 of `values`."""
    return {"p50_ms": float(np.percentile(values, 50)), "p99_ms": float(np.percentile(values, 99))}


def round_stats(times: dict[str, list[float]], kinds: list[str]) -> dict[str, Any]:
    """Per path: p50/p99 over all queries, and per kind of query; for B and B' the median over
    queries of their time less A's on the same query (paired: less noisy than a difference of
    p50s)."""
    out: dict[str, Any] = {}
    for name, values in times.items():
        out[name] = percentiles(values)
        out[name]["by_kind"] = {
            kind: percentiles([v for v, k in zip(values, kinds, strict=True) if k == kind])
            for kind in KINDS
        }
    for name in PARTS:
        paired = [1e3 * (b - a) for a, b in zip(times[A], times[name], strict=True)]
        out[name]["paired_us"] = statistics.median(paired)
        out[name]["paired_us_by_kind"] = {
            kind: statistics.median(d for d, k in zip(paired, kinds, strict=True) if k == kind)
            for kind in KINDS
        }
    return out


def replica_flag_ms(answers: list[exchange_pb2.QueryMatches], kinds: list[str]) -> float:
    """Median time (ms) of the local replica's flag_quarantined over one query's results."""
    results = [
        MatchResult("pdq", "", tuple(Match(SignalInfo.from_wire(m.signal), m.distance)
                                     for m in a.matches))
        for a in answers
    ]  # fmt: skip
    times = []
    for result, kind in zip(results, kinds, strict=True):
        t = time.perf_counter()
        replica_flag_quarantined([result], kind == "quarantined")
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def filled_tally(pairs: int, members: int = 10, start: int = 0) -> MatchTally:
    """A tally holding `pairs` (signal, member) pairs, ids as the hub's (32 hex digits)."""
    tally = MatchTally(node="bench", max_keys=max(pairs, MAX_TALLY_KEYS))
    ids = [f"{i:032x}" for i in range(start, start + pairs)]
    for i, sid in enumerate(ids):
        tally.record(f"member-{i % members:03d}", [sid], now_ms=1_700_000_000_000 + i)
    return tally


def overhead(n: int, k: int, rounds: int, tally_fill: int) -> dict[str, Any]:
    """Part (a): A against B on the same queries, alternating, --rounds rounds."""
    rng = np.random.default_rng(212)
    planted = Planted(n, rng)
    queries, kinds = planted.queries(k, rng)
    tally = filled_tally(tally_fill, start=1 << 100)
    usage = UsageCounter()
    matches = [int(np.diff(planted.index.search(queries[i : i + 1], THRESHOLD)[0])[0])
               for i in range(len(kinds))]  # fmt: skip
    per_round = []
    replica = []
    for _ in range(rounds):
        gc.collect()
        times, answers = timed_paths(planted, queries, kinds, tally, usage)
        per_round.append(round_stats(times, kinds))
        replica.append(replica_flag_ms(answers, kinds))
    names = (*PATHS, *PARTS.values(), COLD)

    def med(name: str, stat: str, kind: str | None = None) -> float:
        pick: Callable[[dict[str, Any]], float] = (
            (lambda r: r[name][stat])
            if kind is None
            else (lambda r: r[name]["by_kind"][kind][stat])
        )
        return statistics.median(pick(r) for r in per_round)

    median: dict[str, dict[str, Any]] = {
        name: {
            "p50_ms": med(name, "p50_ms"),
            "p99_ms": med(name, "p99_ms"),
            "by_kind": {
                kind: {s: med(name, s, kind) for s in ("p50_ms", "p99_ms")} for kind in KINDS
            },
        }
        for name in names
    }
    for name in PARTS:
        median[name]["paired_us"] = statistics.median(r[name]["paired_us"] for r in per_round)
        median[name]["paired_us_by_kind"] = {
            kind: statistics.median(r[name]["paired_us_by_kind"][kind] for r in per_round)
            for kind in KINDS
        }
    a = median[A]
    return {
        "hashes": n,
        "planted_signals": planted.planted,
        "build_seconds": planted.build_seconds,
        "queries": len(kinds),
        "matches_per_kind": {
            kind: statistics.mean(m for m, q in zip(matches, kinds, strict=True) if q == kind)
            for kind in KINDS
        },
        "rounds": rounds,
        "tally_fill": tally_fill,
        "tally_pairs_after": len(tally),
        "per_round": per_round,
        "median": median,
        "replica_flag_p50_ms": statistics.median(replica),
        "ratio_p50": {name: median[name]["p50_ms"] / a["p50_ms"] for name in PARTS},
        "ratio_p99": {name: median[name]["p99_ms"] / a["p99_ms"] for name in PARTS},
        "ratio_p50_by_kind": {
            name: {
                kind: median[name]["by_kind"][kind]["p50_ms"] / a["by_kind"][kind]["p50_ms"]
                for kind in KINDS
            }
            for name in PARTS
        },
    }


def flush_cost(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    """Part (b): MatchTally.take of N pairs, and each entry serialised as the logged LogEntry."""
    settings = QuarantineSettings()
    out = []
    for pairs in sizes:
        take_s, serial_s, entries, size = [], [], 0, 0
        for _ in range(repeats):
            tally = filled_tally(pairs)
            gc.collect()
            t = time.perf_counter()
            commands = tally.take(settings)
            take_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            blobs = [rec.LogEntry(match_counts=c).SerializeToString() for c in commands]
            serial_s.append(time.perf_counter() - t)
            entries, size = len(commands), sum(map(len, blobs))
        take_ms = 1e3 * statistics.median(take_s)
        serial_ms = 1e3 * statistics.median(serial_s)
        out.append(
            {
                "pairs": pairs,
                "entries": entries,
                "bytes": size,
                "take_ms": take_ms,
                "serialise_ms": serial_ms,
                "us_per_pair": 1e3 * (take_ms + serial_ms) / pairs,
            }
        )
    return out


def tally_bounds() -> dict[str, Any]:
    """Memory of a full tally, and what `record` costs per pair when counted, new or refused."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    full = filled_tally(MAX_TALLY_KEYS)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    n = 10_000

    def per_pair_us(tally: MatchTally, ids: list[str]) -> float:
        t = time.perf_counter()
        tally.record("member-000", ids)
        return 1e6 * (time.perf_counter() - t) / len(ids)

    counted = per_pair_us(full, [f"{i:032x}" for i in range(0, 10 * n, 10)])
    refused = per_pair_us(full, [f"{i:032x}" for i in range(1 << 100, (1 << 100) + n)])
    refused_count = full.dropped
    fresh = MatchTally(node="bench")
    new = per_pair_us(fresh, [f"{i:032x}" for i in range(n)])
    return {
        "max_tally_keys": MAX_TALLY_KEYS,
        "max_counts_per_entry": MAX_COUNTS_PER_ENTRY,
        "full_tally_bytes": held,
        "bytes_per_pair": held / MAX_TALLY_KEYS,
        "record_counted_us_per_pair": counted,
        "record_new_us_per_pair": new,
        "record_refused_us_per_pair": refused,
        "refused_counted_as_dropped": refused_count,
    }


def print_table(result: dict[str, Any]) -> None:
    """The human table of a run."""
    cost = result["overhead"]
    med = cost["median"]
    print(
        f"\n{cost['hashes']:,} hashes (build {cost['build_seconds']:.1f} s), "
        f"{cost['planted_signals']} planted signals, {cost['queries']} queries, "
        f"{cost['rounds']} rounds, tally holding {cost['tally_fill']:,} pairs"
    )
    print("| path | p50 ms | p99 ms | /A at p50 | /A at p99 | paired +us |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in (*PATHS, *PARTS.values(), COLD):
        row = f"| {name} | {med[name]['p50_ms']:.4f} | {med[name]['p99_ms']:.4f} |"
        if name in PARTS:
            row += (
                f" {cost['ratio_p50'][name]:.4f} | {cost['ratio_p99'][name]:.4f} |"
                f" {med[name]['paired_us']:.2f} |"
            )
        else:
            row += " | | |"
        print(row)
    print(f"replica flag_quarantined p50 {1e3 * cost['replica_flag_p50_ms']:.2f} us")
    print(
        "\n| query kind | matches | A p50 ms | B p50 ms | B/A | B paired +us | B part p50 us "
        "| B' paired +us | B' part p50 us |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind in KINDS:
        a = med[A]["by_kind"][kind]["p50_ms"]
        b = med[B]["by_kind"][kind]["p50_ms"]
        row = f"| {kind} | {cost['matches_per_kind'][kind]:.1f} | {a:.4f} | {b:.4f} | {b / a:.4f} |"
        for name, part in PARTS.items():
            row += (
                f" {med[name]['paired_us_by_kind'][kind]:.2f} |"
                f" {1e3 * med[part]['by_kind'][kind]['p50_ms']:.2f} |"
            )
        print(row)
    print("\n| tally pairs flushed | entries | bytes | take ms | serialise ms | us/pair |")
    print("|---:|---:|---:|---:|---:|---:|")
    for f in result["flush"]:
        print(
            f"| {f['pairs']:,} | {f['entries']} | {f['bytes']:,} | {f['take_ms']:.2f} | "
            f"{f['serialise_ms']:.2f} | {f['us_per_pair']:.2f} |"
        )
    b = result["bounds"]
    print(
        f"\nfull tally ({b['max_tally_keys']:,} pairs): {b['full_tally_bytes'] / 2**20:.1f} MiB "
        f"({b['bytes_per_pair']:.0f} B/pair); record per pair: counted "
        f"{b['record_counted_us_per_pair']:.2f} us, new {b['record_new_us_per_pair']:.2f} us, "
        f"refused (full) {b['record_refused_us_per_pair']:.2f} us"
    )


def main(argv: list[str] | None = None) -> None:
    """Runs both parts; prints JSON and the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hashes", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=100, help="of each kind")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tally-fill", type=int, default=MAX_TALLY_KEYS // 2)
    parser.add_argument(
        "--flush-pairs", default=f"1000,{MAX_COUNTS_PER_ENTRY},20000,{MAX_TALLY_KEYS}"
    )
    parser.add_argument("--flush-repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    result = {
        "machine": machine(),
        "overhead": overhead(args.hashes, args.queries, args.rounds, args.tally_fill),
        "flush": flush_cost([int(p) for p in args.flush_pairs.split(",")], args.flush_repeats),
        "bounds": tally_bounds(),
    }
    print(json.dumps(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    print_table(result)


if __name__ == "__main__":
    main()
