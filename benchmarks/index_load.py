"""How long the hub takes to load its PDQ index from LMDB at start.

Fills a fresh LMDB store (the hub's own `exchange.store` layout) with N random PDQ rows, then
times `SignalIndex.load` — reading the packed `pdq` table and building `matcher.PDQIndex` — and
compares it in the same run with the floor: loading the same arrays from a `.npy` file and
building the index from them.

    python -m benchmarks.index_load --sizes 1000000,10000000 --out /tmp/index_load.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from exchange.index import SignalIndex
from exchange.store import Store, StoreTxn
from matcher import PDQIndex

ROWS_PER_TXN = 500_000


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model}, {os.cpu_count()} CPUs, {mem:.1f} GiB, Python {platform.python_version()}"


def fill(store: Store, hashes: np.ndarray) -> float:  # type: ignore[type-arg]
    started = time.perf_counter()
    for start in range(0, len(hashes), ROWS_PER_TXN):
        chunk = hashes[start : start + ROWS_PER_TXN]

        def work(tx: StoreTxn, chunk: np.ndarray = chunk, start: int = start) -> None:  # type: ignore[type-arg]
            for i, h in enumerate(chunk, start=start + 1):
                tx.put_pdq_row(i, h.tobytes(), f"{i:032x}")

        store.write(work)
    return time.perf_counter() - started


def run(n: int, repeats: int) -> dict[str, float | int]:
    rng = np.random.default_rng(n)
    hashes = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    with tempfile.TemporaryDirectory(prefix="signalhub-bench-") as tmp:
        store = Store(Path(tmp) / "lmdb", sync=False)
        fill_s = fill(store, hashes)
        loads = []
        for _ in range(repeats):
            index = SignalIndex()
            started = time.perf_counter()
            loaded = index.load(store)
            loads.append(time.perf_counter() - started)
            assert loaded == n and len(index) == n
        table = []
        for _ in range(repeats):
            started = time.perf_counter()
            with store.read() as view:
                view.pdq_table()
            table.append(time.perf_counter() - started)
        store.close()
        npy = Path(tmp) / "hashes.npy"
        np.save(npy, hashes)
        floor = []
        for _ in range(repeats):
            started = time.perf_counter()
            arr = np.load(npy)
            PDQIndex().add(np.arange(1, n + 1, dtype=np.uint64), arr)
            floor.append(time.perf_counter() - started)
    return {
        "n": n,
        "fill_s": fill_s,
        "load_s_median": statistics.median(loads),
        "read_table_s_median": statistics.median(table),
        "npy_floor_s_median": statistics.median(floor),
        "ratio_to_floor": statistics.median(loads) / statistics.median(floor),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000", help="comma-separated N values")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the JSON here too")
    args = parser.parse_args()
    results = [run(int(n), args.repeats) for n in args.sizes.split(",")]
    report = {"machine": machine(), "results": results}
    print(json.dumps(report, indent=2))
    print(f"\nmachine: {report['machine']}")
    print(f"{'N':>12} {'load s':>8} {'read table s':>13} {'npy+build s':>12} {'ratio':>6}")
    for r in results:
        print(f"{r['n']:>12,} {r['load_s_median']:>8.2f} {r['read_table_s_median']:>13.2f} "
              f"{r['npy_floor_s_median']:>12.2f} {r['ratio_to_floor']:>6.2f}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
