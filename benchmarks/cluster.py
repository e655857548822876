"""Cluster benchmark: ingest and match throughput with 1, 2 and 3 hub nodes over a 3-server
NATS JetStream cluster (R=3), against one node without NATS, and the propagation latency
between nodes (a submission acknowledged on node 0 until it matches on the last node), in one
run, on loopback.

Everything runs on this one machine (2 cores): the NATS servers, the hub nodes and the client
processes share it, so more nodes cannot mean more throughput here; the figures show what
replication costs and how fast a write reaches the other nodes.

    python -m benchmarks.cluster --out /tmp/cluster.json
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.load import (
    ROOT,
    HubProcess,
    _client,
    add_members,
    ingest_worker,
    machine,
    match_worker,
    ms_stats,
    pct,
    run_workers,
)

TARGET_PROPAGATION_P99_MS = 1000.0


def _ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def start_nats(tmp: Path) -> tuple[list[subprocess.Popen[bytes]], str]:
    binary = Path(sys.executable).parent / "nats-server"
    ports = _ports(9)
    client, routes, monitor = ports[:3], ports[3:6], ports[6:]
    procs = []
    for i in range(3):
        store = tmp / f"nats-{i}"
        store.mkdir(parents=True)
        others = ",".join(f"nats://127.0.0.1:{p}" for j, p in enumerate(routes) if j != i)
        procs.append(subprocess.Popen(
            [str(binary), "-a", "127.0.0.1", "-p", str(client[i]), "-m", str(monitor[i]),
             "-n", f"n{i}", "-js", "-sd", str(store), "--cluster_name", "bench",
             "--cluster", f"nats://127.0.0.1:{routes[i]}", "--routes", others],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
    deadline = time.time() + 60
    for port in monitor:
        while True:
            try:
                url = f"http://127.0.0.1:{port}/healthz?js-enabled-only=true"
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit("NATS did not start")
            time.sleep(0.2)
    return procs, ",".join(f"nats://127.0.0.1:{p}" for p in client)


def start_nodes(tmp: Path, urls: str, k: int) -> list[HubProcess]:
    seed = tmp / "seed" / "hub"
    subprocess.run([sys.executable, "-m", "signalhub", "init", "--data-dir", str(seed)],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
    nodes = []
    for i in range(k):
        home = tmp / f"node-{i}"
        shutil.copytree(seed, home / "hub")
        nodes.append(HubProcess(home, extra=("--cluster", urls), init=False))
    return nodes


def phase(nodes: list[HubProcess], keys: dict[str, bytes], seconds: float) -> dict[str, Any]:
    members = sorted(keys)
    ingest_specs = [
        {"endpoint": nodes[i % len(nodes)].endpoint, "member": members[i], "key": keys[members[i]],
         "batch": 1000, "duration": seconds, "sample": 300}
        for i in range(2)
    ]  # fmt: skip
    run = run_workers(ingest_worker, ingest_specs, nodes[0])
    rs = run["results"]
    signals = sum(r["signals"] for r in rs)
    wall = max(r["end"] for r in rs) - min(r["start"] for r in rs)
    sample = [h for r in rs for h in r["sample"]]
    lat = [x for r in rs for x in r["latencies"]]
    out: dict[str, Any] = {
        "nodes": len(nodes),
        "ingest_signals_per_s": round(signals / wall),
        "ingest_batch_ms": ms_stats(lat),
        "machine_cores_ingest": round(run["machine_cores"], 2),
    }
    time.sleep(1.0)  # every node applies the last batches before the match phase
    match_specs = [
        {"endpoint": nodes[i % len(nodes)].endpoint, "member": members[i], "key": keys[members[i]],
         "queries": sample, "duration": seconds, "rate": 0, "threads": 1, "processes": 2}
        for i in range(2)
    ]  # fmt: skip
    run = run_workers(match_worker, match_specs, nodes[0])
    rs = run["results"]
    calls = sum(r["calls"] for r in rs)
    out["match_queries_per_s"] = round(calls / seconds)
    out["match_ms"] = ms_stats([x for r in rs for x in r["latencies"]])
    out["matched_share"] = round(sum(r["matched"] for r in rs) / max(calls, 1), 3)
    if len(nodes) > 1:
        out["propagation"] = propagation(nodes, keys, members[0])
    return out


def propagation(nodes: list[HubProcess], keys: dict[str, bytes], member: str) -> dict[str, Any]:
    """Acknowledged on node 0 until it matches on the last node (polled every 2 ms)."""
    from client_sdk import Signal

    rng = random.Random(5)
    times = []
    with _client(nodes[0].endpoint, member, keys[member]) as first, \
            _client(nodes[-1].endpoint, member, keys[member]) as last:  # fmt: skip
        for _ in range(30):
            value = f"{rng.getrandbits(256):064x}"
            first.submit([Signal("pdq", value)])
            acked = time.perf_counter()
            while not last.match_pdq([value], max_distance=0)[0].matches:
                time.sleep(0.002)
            times.append((time.perf_counter() - acked) * 1e3)
    return {"samples": len(times), "p50_ms": round(statistics.median(times), 1),
            "p99_ms": round(pct(times, 99), 1), "max_ms": round(max(times), 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each phase")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    res: dict[str, Any] = {"machine": machine(), "phases": []}
    with tempfile.TemporaryDirectory(prefix="signalhub-cluster-") as tmp_dir:
        tmp = Path(tmp_dir)
        single = HubProcess(tmp / "single")
        try:
            keys = add_members(single, ["c0", "c1"])
            one = phase([single], keys, args.seconds)
            one["nats"] = False
            res["phases"].append(one)
        finally:
            single.stop()
        for k in (1, 2, 3):
            procs, urls = start_nats(tmp / f"nats-{k}")
            nodes: list[HubProcess] = []
            try:
                nodes = start_nodes(tmp / f"cluster-{k}", urls, k)
                keys = add_members(nodes[0], ["c0", "c1"])
                time.sleep(0.5)
                result = phase(nodes, keys, args.seconds)
                result["nats"] = True
                res["phases"].append(result)
            finally:
                for node in nodes:
                    node.stop()
                for p in procs:
                    p.kill()
                    p.wait()
    print(json.dumps(res, indent=2))
    print(f"\n{'setup':<28} {'ingest sig/s':>12} {'batch p50 ms':>12} {'match q/s':>10} "
          f"{'match p50 ms':>12} {'propagation p50/p99 ms':>24}")  # fmt: skip
    for p in res["phases"]:
        name = f"{p['nodes']} node{'s' if p['nodes'] > 1 else ''}" + (
            " + NATS" if p["nats"] else ", no NATS"
        )
        prop = p.get("propagation")
        prop_text = f"{prop['p50_ms']} / {prop['p99_ms']}" if prop else "-"
        print(
            f"{name:<28} {p['ingest_signals_per_s']:>12,} {p['ingest_batch_ms']['p50_ms']:>12} "
            f"{p['match_queries_per_s']:>10,} {p['match_ms']['p50_ms']:>12} {prop_text:>24}"
        )
    worst = max(
        (p["propagation"]["p99_ms"] for p in res["phases"] if "propagation" in p), default=None
    )
    if worst is not None:
        verdict = "MET" if worst < TARGET_PROPAGATION_P99_MS else "NOT MET"
        print(
            f"propagation target p99 < {TARGET_PROPAGATION_P99_MS:g} ms between nodes -> {verdict}"
        )
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
