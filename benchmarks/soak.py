"""Soak: a mixed load on the real hub for a while, sampling the hub's resident memory every
second, to show it stays bounded.

Two client processes loop over: a signed batch of 100 PDQ signals drawn from a fixed pool
(so after warm-up the index stops growing and every batch is corroboration or duplicate
work), a batch of 100 match queries, an incremental feed fetch, and an opinion. The hub's
RSS is read from /proc each second. The peer is the hub's own RSS right after warm-up: the
report gives the growth from it over the rest of the run, and the slope of a least-squares
line through the second half of the samples.

    python -m benchmarks.soak --seconds 600 --out /tmp/soak.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.index_load import machine

POOL = 50_000


def _rss_bytes(pid: int, field: str = "RssAnon:") -> int:
    """Resident memory of the hub from /proc: RssAnon is the process's own (heap, index);
    RssFile is LMDB's memory-mapped data file, which grows with the data and which the kernel
    reclaims at will, so a leak shows in RssAnon."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return 0


def _client(endpoint: str, member: str, key_bytes: bytes, stop_at: float, seed: int, pool: int,
            counts: mp.Queue) -> None:  # type: ignore[type-arg]  # fmt: skip
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from client_sdk import Client, RetryPolicy, Signal, SignalhubError

    rng = random.Random(seed)
    key = Ed25519PrivateKey.from_private_bytes(key_bytes)
    done = {"batches": 0, "queries": 0, "events": 0, "opinions": 0, "errors": 0}
    cursor = ""
    with Client(endpoint, member, key, retry=RetryPolicy(attempts=3)) as client:
        while time.monotonic() < stop_at:
            values = [f"{rng.randrange(pool):064x}" for _ in range(100)]
            try:
                result = client.submit([Signal("pdq", v, labels=("csam",)) for v in values])
                done["batches"] += 1
                client.match_pdq([f"{rng.randrange(pool * 2):064x}" for _ in range(100)])
                done["queries"] += 100
                for event in client.fetch(after=cursor, limit=2000):
                    cursor = event.cursor
                    done["events"] += 1
                opinion = rng.choice(["true_positive", "false_positive", "none"])
                client.set_opinion(result.items[0].signal_id, opinion)
                done["opinions"] += 1
            except SignalhubError:
                done["errors"] += 1
    counts.put(done)


def run(seconds: float, warmup: float, pool: int = POOL) -> dict[str, object]:
    from client_sdk import AdminClient
    from signalhub import domain

    with tempfile.TemporaryDirectory(prefix="signalhub-soak-") as tmp:
        data = Path(tmp) / "data"
        subprocess.run([sys.executable, "-m", "signalhub", "init", "--data-dir", str(data)],
                       check=True, capture_output=True)  # fmt: skip
        log = open(Path(tmp) / "hub.log", "wb")  # noqa: SIM115
        hub = subprocess.Popen(
            [sys.executable, "-m", "signalhub", "serve", "--data-dir", str(data), "--listen",
             "127.0.0.1:0", "--metrics-listen", "off", "--log-format", "text"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        endpoint = ""
        for _ in range(600):
            text = (Path(tmp) / "hub.log").read_text()
            if "serving on" in text:
                endpoint = text.split("serving on ", 1)[1].split(" ", 1)[0]
                break
            time.sleep(0.05)
        keys = []
        with AdminClient(endpoint, data / "operator.key") as admin:
            for n in range(2):
                key = domain.new_private_key()
                admin.add_member(f"soak{n}", domain.raw_public_key(key))
                keys.append(key.private_bytes_raw())
        stop_at = time.monotonic() + seconds
        counts: mp.Queue = mp.Queue()  # type: ignore[type-arg]
        workers = [mp.Process(target=_client, args=(endpoint, f"soak{n}", keys[n], stop_at, n, pool,
                                                      counts)) for n in range(2)]  # fmt: skip
        for w in workers:
            w.start()
        samples: list[tuple[float, int]] = []
        file_samples: list[int] = []
        started = time.monotonic()
        while time.monotonic() < stop_at:
            samples.append((time.monotonic() - started, _rss_bytes(hub.pid)))
            file_samples.append(_rss_bytes(hub.pid, "RssFile:"))
            time.sleep(1.0)
        totals: dict[str, int] = {}
        for _ in workers:
            for k, v in counts.get(timeout=120).items():
                totals[k] = totals.get(k, 0) + v
        for w in workers:
            w.join()
        hub.send_signal(signal.SIGTERM)
        hub.wait(timeout=60)
    after_warmup = [rss for t, rss in samples if t >= warmup]
    base = after_warmup[0] if after_warmup else samples[-1][1]
    half = samples[len(samples) // 2 :]
    n = len(half)
    mean_t = sum(t for t, _ in half) / n
    mean_r = sum(r for _, r in half) / n
    slope = (sum((t - mean_t) * (r - mean_r) for t, r in half)
             / max(sum((t - mean_t) ** 2 for t, _ in half), 1e-9))  # fmt: skip
    return {
        "machine": machine(),
        "seconds": seconds,
        "pool": pool,
        "warmup_seconds": warmup,
        "work": totals,
        "measure": "RssAnon (the hub's own memory; LMDB's mapped file is RssFile)",
        "rss_file_end_mb": file_samples[-1] / 2**20,
        "rss_start_mb": samples[0][1] / 2**20,
        "rss_after_warmup_mb": base / 2**20,
        "rss_max_mb": max(r for _, r in samples) / 2**20,
        "rss_end_mb": samples[-1][1] / 2**20,
        "growth_after_warmup_mb": (max(after_warmup or [base]) - base) / 2**20,
        "slope_second_half_mb_per_min": slope * 60 / 2**20,
        "samples": len(samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--warmup", type=float, default=60)
    parser.add_argument(
        "--pool",
        type=int,
        default=POOL,
        help="distinct PDQ values submitted (small: no data growth)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    report = run(args.seconds, args.warmup, args.pool)
    print(json.dumps(report, indent=2))
    print(f"\nsoak {args.seconds:.0f} s: anonymous RSS "
          f"{report['rss_after_warmup_mb']:.0f} MB after warm-up, "
          f"max {report['rss_max_mb']:.0f} MB, growth {report['growth_after_warmup_mb']:.1f} MB, "
          f"slope over the second half {report['slope_second_half_mb_per_min']:.2f} MB/min; "
          f"work {report['work']}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
