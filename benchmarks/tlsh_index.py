"""Benchmark the signalhub-tlsh plug-in's TLSHIndex against brute force with py-tlsh (a Python
loop of `tlsh.diff` over every stored hash, the way a matcher without an index works), on the
same hashes and queries in the same process.

Run from the repository root (the plug-in installed: `make dev` installs it)::

    python -m benchmarks.tlsh_index                      # 100,000 documents, 1-2 minutes
    python -m benchmarks.tlsh_index --n 20000 --queries 50 --out /tmp/tlsh_index.json

Documents are generated text, 256 bytes to 64 KB long (log-uniform, so their TLSH l-values
spread as a document collection's do): slices of one corpus of Zipf-distributed words, each
written in one of 1,000 "topics" (the word ranks rotated), so that documents of one topic are
alike and of different topics unrelated. A tenth of the stored documents are edited copies of
others (bytes replaced, a span deleted, text inserted), so near-duplicates are stored. Half of
the queries are edited copies of stored documents (not themselves stored), half are fresh.

For each threshold, every query is timed with each method once, in turn: the index
(`TLSHIndex.search`), brute force with `tlsh.diff`, and, to separate what the vectorised
distance and the l-value pruning each give, the same numpy distance over every stored hash with
no pruning ("numpy, every hash"). Times are per query (median and p90 over the queries); the
speed-up is the ratio of the medians. No method sorts its answer (the hub orders answers
itself); every answer of the index and of numpy, as a set of (id, distance), is compared with
brute force's, and the run fails if one differs. "Scanned" is the share of stored hashes whose
l-value bucket the index compared at that threshold.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import numpy as np
import tlsh  # type: ignore[import-not-found, unused-ignore]
from signalhub_tlsh import DEFAULT_THRESHOLD, MAX_THRESHOLD
from signalhub_tlsh.index import TLSHIndex, decode_tlsh, lvalue_terms, tlsh_distances

from benchmarks.match import machine

Hits = list[tuple[str, int]]

MIN_DOCUMENT_BYTES = 256
MAX_DOCUMENT_BYTES = 65536
CORPUS_WORDS = 4_000_000
VOCABULARY_WORDS = 20_000
TOPICS = 1000


class Corpus:
    """Text of Zipf-distributed words of 1-10 letters, as word numbers; a document is a slice
    of it written in one of many topics (the word ranks rotated, so each topic has its own
    frequent words): documents of one topic are alike, of different topics unrelated."""

    def __init__(self, rng: np.random.Generator) -> None:
        letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
        self.words = [
            rng.choice(letters, size=rng.integers(1, 11)).tobytes() + b" "
            for _ in range(VOCABULARY_WORDS)
        ]
        weights = 1.0 / np.arange(1, VOCABULARY_WORDS + 1)
        self.text = rng.choice(VOCABULARY_WORDS, size=CORPUS_WORDS, p=weights / weights.sum())
        self.rng = rng

    def document(self) -> bytes:
        low, high = np.log2(MIN_DOCUMENT_BYTES), np.log2(MAX_DOCUMENT_BYTES)
        size = int(2 ** self.rng.uniform(low, high))
        count = size // 6 + 1  # words are 6.5 bytes on average with their space
        start = int(self.rng.integers(0, CORPUS_WORDS - count))
        shift = int(self.rng.integers(TOPICS)) * 7919
        ranks = (self.text[start : start + count] + shift) % VOCABULARY_WORDS
        return b"".join([self.words[i] for i in ranks.tolist()])[:size]

    def passage(self, size: int) -> bytes:
        start = int(self.rng.integers(0, CORPUS_WORDS - size))
        return b"".join([self.words[i] for i in self.text[start : start + size].tolist()])[:size]


def _edited(rng: np.random.Generator, doc: bytes, corpus: Corpus) -> bytes:
    """A near-duplicate: a few bytes replaced, a span deleted, or text inserted."""
    out = bytearray(doc)
    kind = int(rng.integers(3))
    if kind == 0:
        for i in rng.integers(0, len(out), size=int(rng.integers(1, 2 + len(out) // 200))):
            out[i] = int(rng.integers(256))
    elif kind == 1:
        start = int(rng.integers(len(out)))
        del out[start : start + int(rng.integers(1, 2 + len(out) // 20))]
    else:
        at = int(rng.integers(len(out)))
        out[at:at] = corpus.passage(int(rng.integers(1, 2 + len(out) // 20)))
    return bytes(out)


def _hash(doc: bytes) -> str | None:
    value = str(tlsh.hash(doc))
    return None if value == "TNULL" else value


def dataset(n: int, queries: int, seed: int) -> tuple[list[tuple[str, str]], list[str], int]:
    """(signal id, hash) of `n` documents (a tenth edited copies of others), `queries` query
    hashes (half edited copies of stored documents), and the bytes hashed."""
    rng = np.random.default_rng(seed)
    corpus = Corpus(rng)
    docs: list[bytes] = []
    stored: list[str] = []
    hashed = 0
    while len(stored) < n:
        if docs and rng.random() < 0.1:
            doc = _edited(rng, docs[int(rng.integers(len(docs)))], corpus)
        else:
            doc = corpus.document()
        hashed += len(doc)
        value = _hash(doc)
        if value is not None:
            docs.append(doc)
            stored.append(value)
    asked: list[str] = []
    while len(asked) < queries:
        if len(asked) % 2 == 0:
            doc = _edited(rng, docs[int(rng.integers(len(docs)))], corpus)
        else:
            doc = corpus.document()
        value = _hash(doc)
        if value is not None:
            asked.append(value)
    return [(f"sig-{i:07d}", v) for i, v in enumerate(stored)], asked, hashed


def _brute_force(items: list[tuple[str, str]], value: str, max_distance: int) -> Hits:
    found = []
    for sid, stored in items:  # the peer: one tlsh.diff a stored hash
        d = tlsh.diff(value, stored)
        if d <= max_distance:
            found.append((sid, d))
    return found


def _timed(method: Callable[[str, int], Hits], value: str, max_distance: int) -> tuple[Hits, float]:
    started = time.perf_counter()
    result = method(value, max_distance)
    return result, (time.perf_counter() - started) * 1000


def _summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3),
    }


def run(*, n: int, queries: int, thresholds: list[int], seed: int) -> dict[str, Any]:
    """Generates the data, times the three methods and returns the figures (JSON-able)."""
    started = time.perf_counter()
    items, asked, hashed = dataset(n, queries, seed)
    res: dict[str, Any] = {
        "n": len(items),
        "queries": len(asked),
        "seed": seed,
        "py_tlsh": metadata.version("py-tlsh"),
        "generated_mb": round(hashed / 1e6, 1),
        "generation_seconds": round(time.perf_counter() - started, 1),
    }
    index = TLSHIndex()
    started = time.perf_counter()
    index.add(items)
    res["build_seconds"] = round(time.perf_counter() - started, 3)
    res["array_bytes_per_hash"] = round(index.memory_bytes() / len(items), 1)
    values = [v for _, v in items]
    ids = np.array([sid for sid, _ in items])
    decoded = decode_tlsh(values)
    res["distinct_lvalues"] = len(np.unique(decoded.lvalue))

    def brute_force(value: str, max_distance: int) -> Hits:
        return _brute_force(items, value, max_distance)

    def numpy_every_hash(value: str, max_distance: int) -> Hits:
        d = tlsh_distances(value, decoded)
        hits = np.flatnonzero(d <= max_distance)
        return list(zip(ids[hits].tolist(), d[hits].tolist(), strict=True))

    res["thresholds"] = {}
    for threshold in thresholds:
        times: dict[str, list[float]] = {"index": [], "brute force": [], "numpy, every hash": []}
        hits: list[int] = []
        scanned: list[float] = []
        for query in asked:
            expected, ms = _timed(brute_force, query, threshold)
            times["brute force"].append(ms)
            expected.sort()
            for name, method in (("index", index.search), ("numpy, every hash", numpy_every_hash)):
                found, ms = _timed(method, query, threshold)
                times[name].append(ms)
                if sorted(found) != expected:
                    raise SystemExit(f"threshold {threshold}: {name} differs from brute force")
            hits.append(len(expected))
            lterms = lvalue_terms(int(decode_tlsh([query]).lvalue[0]))
            scanned.append(float(np.mean(lterms[decoded.lvalue] <= threshold)))
        summary = {name: _summary(ms) for name, ms in times.items()}
        index_median = summary["index"]["median_ms"]
        res["thresholds"][str(threshold)] = {
            "methods": summary,
            "speedup_vs_brute_force": round(summary["brute force"]["median_ms"] / index_median, 1),
            "answers_equal": True,
            "hits_median": statistics.median(hits),
            "queries_with_hits": sum(h > 0 for h in hits),
            "scanned_share_median": round(statistics.median(scanned), 4),
        }
    return res


def table(res: dict[str, Any]) -> str:
    lines = [
        f"TLSHIndex vs brute force (tlsh.diff loop, py-tlsh {res['py_tlsh']}): {res['n']:,} "
        f"stored hashes ({res['distinct_lvalues']} l-values), {res['queries']} queries; "
        f"build {res['build_seconds']} s, {res['array_bytes_per_hash']} array bytes/hash",
        "",
        f"{'threshold':>9} {'method':<18} {'median ms':>10} {'p90 ms':>9} {'speed-up':>9} "
        f"{'scanned':>8} {'hits (median)':>14}",
    ]
    for threshold, row in res["thresholds"].items():
        for name, figures in row["methods"].items():
            ratio = row["methods"]["brute force"]["median_ms"] / figures["median_ms"]
            extra = (
                f"{row['scanned_share_median']:>8.1%} {row['hits_median']:>14}"
                if name == "index"
                else ""
            )
            lines.append(
                f"{threshold:>9} {name:<18} {figures['median_ms']:>10.3f} "
                f"{figures['p90_ms']:>9.3f} {ratio:>8.1f}x {extra}".rstrip()
            )
    lines.append("")
    lines.append("every answer of the index and of numpy equals brute force's")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.tlsh_index", description=(__doc__ or "").split("\n\n")[0]
    )
    ap.add_argument("--n", type=int, default=100_000, help="stored document hashes")
    ap.add_argument("--queries", type=int, default=100, help="queries (half near-duplicates)")
    ap.add_argument(
        "--thresholds",
        default=f"{DEFAULT_THRESHOLD},100,{MAX_THRESHOLD}",
        help="comma list (the type's default and maximum are 30 and 300)",
    )
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--out", default="", help="also write the JSON here")
    args = ap.parse_args(argv)
    thresholds = [int(t) for t in args.thresholds.split(",") if t]
    res = {
        "machine": machine(),
        **run(n=args.n, queries=args.queries, thresholds=thresholds, seed=args.seed),
    }
    print(json.dumps(res, indent=2))
    print()
    print(table(res))
    if args.out:
        with open(args.out, "w") as f:
            f.write(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
