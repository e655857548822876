"""Load benchmark of a real hub over loopback: ingest, MatchHashes at 1M hashes, feed catch-up.

Starts its own `signalhub serve` (fresh data directory in a temp dir, LMDB sync on), registers
members, and drives it from separate client processes (multiprocessing, spawn), so the clients do
not share a GIL with each other or with the hub. On a small machine clients and hub compete for
the same cores: the report gives the hub's own CPU use per phase next to the throughput.

Phases, in order:
  1. ingest: signed batches of 1000 and of 10 PDQ signals from --clients processes for a fixed
     duration (signals/s, per-call p50/p99);
  2. profile: the hub under the batch-1000 (and batch-10) load, sampled with py-spy (wall clock
     per thread, and GIL holders), summarised by where the time goes;
  3. preload: tops the store up to --hashes PDQ signals through the API (batches of 10,000);
  4. match: single-query MatchHashes calls, closed loop from --clients processes (q/s, p50/p99),
     then an open-loop paced load at --rate q/s (latency measured from each call's scheduled
     start, so a stall is not hidden by coordinated omission);
  5. feed: a fresh subscriber catches up on every event with `Client.fetch` and with
     `LocalReplica.sync`.
The "peer" figures are the raw floors measured in the same run: Ed25519 verify alone, protobuf
parse and validation of a batch, raw LMDB puts and commits, the hub's own apply path in-process
(no gRPC, no signatures), and matcher.PDQIndex.search in-process.

    python -m benchmarks.load --out /tmp/load.json          # ~10 minutes
    python -m benchmarks.load --quick                       # ~2 minutes, 100k hashes
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PRELOAD_BATCH = 10_000
SAMPLE: list[str] = []
"""Hashes the clients stored (for near-duplicate match queries)."""
TARGET_INGEST = 50_000.0
TARGET_P99_MS = 5.0
TARGET_SYNC_S = 60.0


# ------------------------------------------------------------------ machine and helpers


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import cryptography
    import grpc
    import lmdb

    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "lmdb": lmdb.__version__,
        "cryptography": cryptography.__version__,
    }


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def ms_stats(latencies_s: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(pct(latencies_s, 50) * 1000, 3),
        "p99_ms": round(pct(latencies_s, 99) * 1000, 3),
        "max_ms": round(max(latencies_s) * 1000, 3) if latencies_s else float("nan"),
    }


def _clk() -> int:
    return int(os.sysconf("SC_CLK_TCK"))


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _clk()


def machine_busy_seconds() -> float:
    """CPU-seconds spent non-idle by the whole machine since boot (all cores)."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(x) for x in parts]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / _clk()


def thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    out: dict[int, tuple[str, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
            comm = (task / "comm").read_text().strip()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        out[int(task.name)] = (comm, (int(fields[11]) + int(fields[12])) / _clk())
    return out


# ------------------------------------------------------------------ the hub process


class HubProcess:
    """`signalhub init` + `signalhub serve` on 127.0.0.1:0, logs to a file."""

    def __init__(self, tmp: Path, extra: tuple[str, ...] = (), init: bool = True) -> None:
        self.data = tmp / "hub"
        self.log_path = tmp / "hub.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALHUB_")}
        self.env = env
        if init:  # (cluster nodes get a copy of one initialised directory instead)
            subprocess.run(
                [sys.executable, "-m", "signalhub", "init", "--data-dir", str(self.data)],
                check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "signalhub", "serve", "--data-dir", str(self.data),
                "--listen", "127.0.0.1:0", "--metrics-listen", "off", "--log-format", "text",
                *extra,
            ],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.port = 0
        deadline = time.time() + 60
        while time.time() < deadline:
            m = re.search(r"signalhub serving on 127\.0\.0\.1:(\d+)", self.log_text())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                raise SystemExit(f"the hub exited:\n{self.log_text()}")
            time.sleep(0.05)
        if not self.port:
            raise SystemExit(f"the hub did not start:\n{self.log_text()}")
        self.start_seconds = time.perf_counter() - started
        self.endpoint = f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def cpu(self) -> float:
        return proc_cpu_seconds(self.pid)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def add_members(hub: HubProcess, names: list[str]) -> dict[str, bytes]:
    """Registers members; returns name -> raw private key bytes (picklable for workers)."""
    from client_sdk import AdminClient
    from signalhub import domain

    keys: dict[str, bytes] = {}
    with AdminClient(hub.endpoint, hub.data / "operator.key") as admin:
        for name in names:
            key = domain.new_private_key()
            admin.add_member(name, domain.raw_public_key(key))
            keys[name] = key.private_bytes_raw()
    return keys


# ------------------------------------------------------------------ client worker processes


def _client(endpoint: str, member: str, key_raw: bytes) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from client_sdk import Client

    key = Ed25519PrivateKey.from_private_bytes(key_raw)
    return Client(endpoint, member, key, timeout_seconds=120.0)


def _random_signals(n: int) -> list[Any]:
    from client_sdk import Signal

    raw = os.urandom(32 * n).hex()
    return [Signal("pdq", raw[i * 64 : (i + 1) * 64]) for i in range(n)]


def ingest_worker(
    spec: dict[str, Any], ready: Any, go: Any, out: Any, index: int
) -> None:  # pragma: no cover - runs in a child process
    """Submits batches of spec["batch"] random PDQ signals until spec["duration"] seconds have
    passed or spec["count"] signals are sent; reports latencies and a sample of the hashes."""
    try:
        client = _client(spec["endpoint"], spec["member"], spec["key"])
        batch = spec["batch"]
        client.submit(_random_signals(min(batch, 10)))  # connect and warm up (not counted)
        ready.put(index)
        go.wait()
        count = spec.get("count") or 0
        deadline = time.time() + (spec.get("duration") or 1e9)
        latencies: list[float] = []
        sample: list[str] = []
        sent = new = 0
        cpu0 = time.process_time()
        started = time.time()
        while time.time() < deadline and (not count or sent < count):
            n = min(batch, count - sent) if count else batch
            signals = _random_signals(n)
            t = time.perf_counter()
            result = client.submit(signals)
            latencies.append(time.perf_counter() - t)
            sent += n
            new += result.counts().get("new", 0)
            if len(sample) < spec.get("sample", 0):
                sample.extend(s.value for s in signals[: spec["sample"] - len(sample)])
        ended = time.time()
        out.put(
            (index, {
                "start": started, "end": ended, "latencies": latencies, "signals": sent,
                "new": new, "sample": sample, "client_cpu": time.process_time() - cpu0,
            })
        )  # fmt: skip
        client.close()
    except BaseException as e:
        out.put((index, {"error": repr(e)}))


def match_worker(
    spec: dict[str, Any], ready: Any, go: Any, out: Any, index: int
) -> None:  # pragma: no cover - runs in a child process
    """Single-query MatchHashes calls. Closed loop (rate 0): as fast as one thread can. Open
    loop (rate > 0): spec["threads"] threads, each calling on its own fixed schedule;
    latency is measured from the scheduled start."""
    try:
        client = _client(spec["endpoint"], spec["member"], spec["key"])
        queries: list[str] = spec["queries"]
        for q in queries[:20]:
            client.match_pdq([q])
        ready.put(index)
        go.wait()
        duration = spec["duration"]
        rate = spec["rate"]
        lock = threading.Lock()
        latencies: list[float] = []
        service: list[float] = []
        late: list[float] = []
        matched = calls = 0
        started = time.time()

        def closed() -> None:
            nonlocal matched, calls
            deadline = time.perf_counter() + duration
            i = index * 7919
            while time.perf_counter() < deadline:
                q = queries[i % len(queries)]
                i += 1
                t = time.perf_counter()
                result = client.match_pdq([q])
                latencies.append(time.perf_counter() - t)
                matched += bool(result[0].matches)
                calls += 1

        def paced(thread: int, threads: int) -> None:
            nonlocal matched, calls
            interval = threads * spec["processes"] / rate
            offset = (thread * spec["processes"] + index) / rate
            t0 = time.perf_counter() + 0.05 + offset
            k = 0
            while True:
                scheduled = t0 + k * interval
                if scheduled > t0 + duration:
                    break
                wait = scheduled - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                t = time.perf_counter()
                result = client.match_pdq([queries[(thread * 131 + k) % len(queries)]])
                done = time.perf_counter()
                with lock:
                    latencies.append(done - scheduled)
                    service.append(done - t)
                    late.append(max(0.0, t - scheduled))
                    matched += bool(result[0].matches)
                    calls += 1
                k += 1

        if rate:
            pool = [
                threading.Thread(target=paced, args=(t, spec["threads"]))
                for t in range(spec["threads"])
            ]
            for th in pool:
                th.start()
            for th in pool:
                th.join()
        else:
            closed()
        out.put(
            (index, {
                "start": started, "end": time.time(), "latencies": latencies,
                "service": service, "late": late, "calls": calls, "matched": matched,
            })
        )  # fmt: skip
        client.close()
    except BaseException as e:
        out.put((index, {"error": repr(e)}))


def feed_worker(
    spec: dict[str, Any], ready: Any, go: Any, out: Any, index: int
) -> None:  # pragma: no cover - runs in a child process
    """A fresh subscriber: every event via Client.fetch, or LocalReplica.sync into a new dir."""
    try:
        client = _client(spec["endpoint"], spec["member"], spec["key"])
        client.audit_head()  # connect
        ready.put(index)
        go.wait()
        started = time.perf_counter()
        first = None
        events = 0
        if spec["mode"] == "fetch":
            for _ in client.fetch(after=""):
                if first is None:
                    first = time.perf_counter() - started
                events += 1
        else:
            from client_sdk.local import LocalReplica

            with LocalReplica(Path(spec["replica"])) as replica:
                events = replica.sync(client)
        elapsed = time.perf_counter() - started
        out.put((index, {"events": events, "seconds": elapsed, "first_event_s": first}))
        client.close()
    except BaseException as e:
        out.put((index, {"error": repr(e)}))


def run_workers(
    target: Callable[..., None],
    specs: list[dict[str, Any]],
    hub: HubProcess,
    during: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Starts one process per spec, waits until all are connected, releases them together and
    collects their reports; also measures the hub's and the machine's CPU over the run."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=target, args=(spec, ready, go, out, i), daemon=True)
        for i, spec in enumerate(specs)
    ]
    for p in procs:
        p.start()
    results: dict[int, dict[str, Any]] = {}
    waiting = len(procs)
    while waiting:
        try:
            ready.get(timeout=180)
            waiting -= 1
        except Exception:
            break
    while not out.empty():  # a worker that failed before it was ready
        i, r = out.get()
        results[i] = r
    if any("error" in r for r in results.values()):
        go.set()
        raise SystemExit(f"a client failed: {results}")
    hub_cpu0, busy0, threads0 = hub.cpu(), machine_busy_seconds(), thread_cpu(hub.pid)
    t0 = time.time()
    go.set()
    if during is not None:
        during()
    while len(results) < len(procs):
        i, r = out.get(timeout=3600)
        results[i] = r
    t1 = time.time()
    hub_cpu1, busy1, threads1 = hub.cpu(), machine_busy_seconds(), thread_cpu(hub.pid)
    for p in procs:
        p.join(30)
    errors = [r["error"] for r in results.values() if "error" in r]
    if errors:
        raise SystemExit(f"a client failed: {errors[0]}")
    wall = t1 - t0
    per_thread: dict[str, float] = defaultdict(float)
    for tid, (comm, cpu) in threads1.items():
        per_thread[comm] += cpu - threads0.get(tid, (comm, 0.0))[1]
    return {
        "results": [results[i] for i in range(len(procs))],
        "wall": wall,
        "hub_cores": (hub_cpu1 - hub_cpu0) / wall,
        "machine_cores": (busy1 - busy0) / wall,
        "hub_threads_cores": {
            k: round(v / wall, 3) for k, v in sorted(per_thread.items(), key=lambda kv: -kv[1])
        },
    }


# ------------------------------------------------------------------ phases


def ingest_phase(
    hub: HubProcess, keys: dict[str, bytes], batch: int, duration: float, clients: int,
    during: Callable[[], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    members = sorted(keys)[:clients]
    specs = [
        {"endpoint": hub.endpoint, "member": m, "key": keys[m], "batch": batch,
         "duration": duration, "sample": 2000}
        for m in members
    ]  # fmt: skip
    run = run_workers(ingest_worker, specs, hub, during)
    rs = run["results"]
    signals = sum(r["signals"] for r in rs)
    start, end = min(r["start"] for r in rs), max(r["end"] for r in rs)
    latencies = [x for r in rs for x in r["latencies"]]
    client_cpu = sum(r["client_cpu"] for r in rs)
    SAMPLE.extend(h for r in rs for h in r["sample"])
    return {
        "batch": batch,
        "clients": clients,
        "seconds": round(end - start, 2),
        "signals": signals,
        "new": sum(r["new"] for r in rs),
        "calls": len(latencies),
        "signals_per_s": round(signals / (end - start)),
        "calls_per_s": round(len(latencies) / (end - start), 1),
        **ms_stats(latencies),
        "hub_cores": round(run["hub_cores"], 2),
        "machine_cores": round(run["machine_cores"], 2),
        "client_cores": round(client_cpu / (end - start), 2),
        "hub_threads_cores": dict(list(run["hub_threads_cores"].items())[:6]),
    }


def preload_phase(
    hub: HubProcess, keys: dict[str, bytes], count: int, clients: int
) -> tuple[dict[str, Any], list[str]]:
    members = sorted(keys)[:clients]
    share = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]
    specs = [
        {"endpoint": hub.endpoint, "member": m, "key": keys[m], "batch": PRELOAD_BATCH,
         "count": n, "sample": 5000}
        for m, n in zip(members, share, strict=True)
    ]  # fmt: skip
    run = run_workers(ingest_worker, specs, hub)
    rs = run["results"]
    signals = sum(r["signals"] for r in rs)
    seconds = max(r["end"] for r in rs) - min(r["start"] for r in rs)
    sample = [h for r in rs for h in r["sample"]]
    return {
        "signals": signals,
        "new": sum(r["new"] for r in rs),
        "batch": PRELOAD_BATCH,
        "clients": clients,
        "seconds": round(seconds, 1),
        "signals_per_s": round(signals / seconds) if seconds else 0,
        "hub_cores": round(run["hub_cores"], 2),
        "machine_cores": round(run["machine_cores"], 2),
        "hub_rss_mib": round(hub.rss_mib()),
        "store_mib": round((hub.data / "lmdb" / "data.mdb").stat().st_size / 2**20),
    }, sample


def make_queries(sample: list[str], n: int, seed: int = 7) -> list[str]:
    """Half near-duplicates of indexed hashes (8-24 bits flipped: each matches within 31),
    half uniform random hashes (almost surely no match)."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for i in range(n):
        if i % 2 == 0 and sample:
            h = np.frombuffer(bytes.fromhex(sample[int(rng.integers(len(sample)))]), np.uint8)
            bits = np.unpackbits(h)
            flip = rng.choice(256, size=int(rng.integers(8, 25)), replace=False)
            bits[flip] ^= 1
            out.append(np.packbits(bits).tobytes().hex())
        else:
            out.append(rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex())
    return out


def match_phase(
    hub: HubProcess, keys: dict[str, bytes], queries: list[str], duration: float,
    processes: int, rate: float, threads: int, during: Callable[[], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    members = sorted(keys)[:processes]
    specs = [
        {"endpoint": hub.endpoint, "member": m, "key": keys[m], "queries": queries,
         "duration": duration, "rate": rate, "threads": threads, "processes": processes}
        for m in members
    ]  # fmt: skip
    run = run_workers(match_worker, specs, hub, during)
    rs = run["results"]
    calls = sum(r["calls"] for r in rs)
    start, end = min(r["start"] for r in rs), max(r["end"] for r in rs)
    latencies = [x for r in rs for x in r["latencies"]]
    out = {
        "mode": f"open loop at {rate:g} q/s" if rate else "closed loop",
        "processes": processes,
        "threads_per_process": threads if rate else 1,
        "seconds": round(end - start, 2),
        "calls": calls,
        "queries_per_s": round(calls / (end - start), 1),
        "matched_share": round(sum(r["matched"] for r in rs) / max(calls, 1), 3),
        **ms_stats(latencies),
        "hub_cores": round(run["hub_cores"], 2),
        "machine_cores": round(run["machine_cores"], 2),
    }
    if rate:
        service = [x for r in rs for x in r["service"]]
        late = [x for r in rs for x in r["late"]]
        out["service_p50_ms"] = round(pct(service, 50) * 1000, 3)
        out["service_p99_ms"] = round(pct(service, 99) * 1000, 3)
        out["start_late_p99_ms"] = round(pct(late, 99) * 1000, 3)
        out["p99_under_5ms"] = out["p99_ms"] < TARGET_P99_MS
    return out


def feed_phase(
    hub: HubProcess, keys: dict[str, bytes], member: str, mode: str, tmp: Path
) -> dict[str, Any]:
    replica = tmp / f"replica-{time.monotonic_ns()}"
    spec = {"endpoint": hub.endpoint, "member": member, "key": keys[member], "mode": mode,
            "replica": str(replica)}  # fmt: skip
    run = run_workers(feed_worker, [spec], hub)
    r = run["results"][0]
    shutil.rmtree(replica, ignore_errors=True)
    return {
        "mode": "Client.fetch" if mode == "fetch" else "LocalReplica.sync",
        "events": r["events"],
        "seconds": round(r["seconds"], 2),
        "events_per_s": round(r["events"] / r["seconds"]),
        "first_event_ms": None if r["first_event_s"] is None else round(r["first_event_s"] * 1e3),
        "hub_cores": round(run["hub_cores"], 2),
        "machine_cores": round(run["machine_cores"], 2),
    }


# ------------------------------------------------------------------ floors ("peers")


def _timeit(fn: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def floors(tmp: Path, quick: bool) -> dict[str, Any]:
    """Costs of the pieces alone, in this (otherwise idle) process, one thread."""
    import lmdb
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from client_sdk.signing import Signer
    from exchange.ledger import append_and_apply, canonical_batch
    from exchange.store import Store
    from exchange.writer import now_timestamp
    from signalhub import domain
    from signalhub.storage.v1 import records_pb2 as rec
    from signalhub.v1 import exchange_pb2

    out: dict[str, Any] = {}
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    signer = Signer("floor", key)
    method = "/signalhub.v1.Exchange/SubmitSignals"

    def envelope(n: int) -> Any:
        wire = [s.to_wire() for s in _random_signals(n)]
        return signer.envelope(os.urandom(8).hex(), wire)

    env1000 = envelope(1000)
    raw1000 = exchange_pb2.SubmitSignalsRequest(envelope=env1000).SerializeToString()
    out["batch_1000_request_bytes"] = len(raw1000)
    signed = domain.signing_bytes(domain.SUBMISSION_SIGNING_PREFIX, env1000.payload)
    small = domain.call_signing_bytes(method, "floor", signer.key_id, 1, "n" * 24, raw1000)
    n = 500 if quick else 2000
    v_small = _timeit(lambda: public.verify(key.sign(small), small), 1)  # warm
    sig_small, sig_big = key.sign(small), key.sign(signed)
    v_small = _timeit(lambda: public.verify(sig_small, small), n)
    v_big = _timeit(lambda: public.verify(sig_big, signed), n // 4)
    s_call = _timeit(lambda: signer.call_metadata(method, raw1000), n // 4)
    out["ed25519_verify_call_us"] = round(pct(v_small, 50) * 1e6, 1)
    out["ed25519_verify_batch1000_payload_us"] = round(pct(v_big, 50) * 1e6, 1)
    out["call_metadata_sign_batch1000_us"] = round(pct(s_call, 50) * 1e6, 1)
    per_call = pct(v_small, 50) + pct(v_big, 50)
    out["verify_ceiling_signals_per_s_batch1000"] = round(1000 / per_call)
    env10 = envelope(10)
    sig10 = key.sign(domain.signing_bytes(domain.SUBMISSION_SIGNING_PREFIX, env10.payload))
    v10 = _timeit(
        lambda: public.verify(
            sig10, domain.signing_bytes(domain.SUBMISSION_SIGNING_PREFIX, env10.payload)
        ),
        n,
    )
    out["verify_ceiling_signals_per_s_batch10"] = round(10 / (pct(v_small, 50) + pct(v10, 50)))

    from signalhub.v1 import common_pb2

    parse = _timeit(lambda: exchange_pb2.SubmitSignalsRequest.FromString(raw1000), 50)
    out["protobuf_parse_batch1000_us"] = round(pct(parse, 50) * 1e6, 1)
    batch = common_pb2.SubmissionBatch.FromString(env1000.payload)
    canon = _timeit(lambda: canonical_batch(batch), 20)
    out["canonical_batch_1000_ms"] = round(pct(canon, 50) * 1e3, 3)
    build = _timeit(lambda: signer.envelope("x", [s.to_wire() for s in _random_signals(1000)]), 10)
    out["client_build_sign_batch1000_ms"] = round(pct(build, 50) * 1e3, 3)

    # Raw LMDB: per signal the hub writes about 6 records (signal, submission, feed, pdq row,
    # two counters) in one transaction per group; here 6 random puts per "signal", sync on.
    path = tmp / "floor-lmdb"
    env = lmdb.open(str(path), map_size=4 << 30, sync=True, metasync=True)
    puts_per_txn = 6000
    put_times, commit_times = [], []
    for _ in range(5 if quick else 20):
        items = [(os.urandom(16), os.urandom(150)) for _ in range(puts_per_txn)]
        txn = env.begin(write=True)
        t = time.perf_counter()
        for k, v in items:
            txn.put(k, v)
        t1 = time.perf_counter()
        txn.commit()
        t2 = time.perf_counter()
        put_times.append(t1 - t)
        commit_times.append(t2 - t1)
    empty = []
    for _ in range(20):
        txn = env.begin(write=True)
        txn.put(b"k", os.urandom(8))
        t = time.perf_counter()
        txn.commit()
        empty.append(time.perf_counter() - t)
    env.close()
    out["lmdb_puts_per_s"] = round(puts_per_txn / pct(put_times, 50))
    out["lmdb_commit_6000_puts_ms"] = round(pct(commit_times, 50) * 1e3, 2)
    out["lmdb_commit_tiny_ms"] = round(pct(empty, 50) * 1e3, 2)
    out["lmdb_ceiling_signals_per_s"] = round(1000 / (pct(put_times, 50) + pct(commit_times, 50)))

    # The hub's own apply (exchange.ledger.append_and_apply) in-process: no gRPC, no
    # signature checks; one batch of 1000 per transaction (sync on), and 8 batches per group.
    store = Store(tmp / "floor-hub", sync=True)
    add = rec.LogEntry(
        received_at=now_timestamp(),
        add_member=rec.AddMemberCommand(member_id="floor", public_key=domain.raw_public_key(key)),
    )
    store.write(lambda tx: append_and_apply(tx, add))

    def entry() -> Any:
        return rec.LogEntry(
            received_at=now_timestamp(), window_seconds=300,
            submit=rec.SubmitCommand(envelope=envelope(1000)),
        )  # fmt: skip

    batches = 8 if quick else 30
    entries = [entry() for _ in range(batches)]
    apply_only: list[float] = []

    def one(tx: Any, e: Any) -> None:
        t = time.perf_counter()
        applied = append_and_apply(tx, e)
        apply_only.append(time.perf_counter() - t)
        assert applied.stored

    total = _timeit(lambda: store.write(lambda tx: one(tx, entries.pop())), batches)
    out["hub_apply_batch1000_ms"] = round(pct(apply_only, 50) * 1e3, 2)
    out["hub_apply_commit_batch1000_ms"] = round(pct(total, 50) * 1e3, 2)
    out["hub_apply_ceiling_signals_per_s"] = round(1000 / pct(total, 50))
    groups = [[entry() for _ in range(8)] for _ in range(2 if quick else 4)]
    grouped = _timeit(
        lambda: store.write(lambda tx: [append_and_apply(tx, e) for e in groups.pop()]),
        len(groups),
    )
    out["hub_apply_group8_signals_per_s"] = round(8000 / pct(grouped, 50))
    # As the server runs it: the precheck (another thread) has validated the payload already
    # and hands its PreparedBatch to apply, so the writer does not validate again.
    from exchange.ledger import PreparedBatch

    prepared = [(e, PreparedBatch.of(e.submit.envelope.payload))
                for e in (entry() for _ in range(batches))]  # fmt: skip
    hinted = _timeit(lambda: store.write(lambda tx: append_and_apply(tx, *prepared.pop())), batches)
    out["hub_apply_commit_prepared_batch1000_ms"] = round(pct(hinted, 50) * 1e3, 2)
    out["hub_apply_prepared_ceiling_signals_per_s"] = round(1000 / pct(hinted, 50))
    store.close()

    # The matcher in-process at the benchmark's index size, single-query calls.
    out.update(matcher_floor(1_000_000 if not quick else 100_000))
    return out


def matcher_floor(n: int) -> dict[str, Any]:
    from matcher import PDQIndex

    rng = np.random.default_rng(1)
    hashes = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    index = PDQIndex()
    t = time.perf_counter()
    index.add(np.arange(1, n + 1, dtype=np.uint64), hashes)
    build = time.perf_counter() - t
    sample = [hashes[i].tobytes().hex() for i in rng.integers(0, n, 2000)]
    queries = [
        np.frombuffer(bytes.fromhex(q), np.uint8).reshape(1, 32) for q in make_queries(sample, 2000)
    ]
    for q in queries[:50]:
        index.search(q, max_distance=31)
    lat = []
    for q in queries:
        t = time.perf_counter()
        index.search(q, max_distance=31)
        lat.append(time.perf_counter() - t)
    return {
        "pdqindex_n": n,
        "pdqindex_build_s": round(build, 2),
        "pdqindex_search_p50_ms": round(pct(lat, 50) * 1e3, 4),
        "pdqindex_search_p99_ms": round(pct(lat, 99) * 1e3, 4),
    }


# ------------------------------------------------------------------ profiling (py-spy)


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def record_profile(exe: str, pid: int, seconds: float, path: Path, mode: str) -> Callable[[], None]:
    """Returns a callable that records `seconds` of the hub with py-spy (raw collapsed stacks;
    speedscope.app opens them). mode "wall": every thread, idle included; "gil": only the
    thread holding the GIL."""
    flags = ["--threads", "--idle"] if mode == "wall" else ["--gil"]

    def run() -> None:
        time.sleep(1.0)  # let the load ramp up
        subprocess.run(
            [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds - 2))),
             "--rate", "200", "--nonblocking", "--format", "raw", "--output", str(path), *flags],
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    return run


# Categories, tried from the innermost frame outwards: the first frame that matches names the
# sample. (function, file suffix) patterns; file "" matches any file.
CATEGORIES: list[tuple[str, str, str]] = [
    ("_expire", "exchange/auth.py", "nonce table scan (auth.CallVerifier._expire)"),
    ("verify_signature", "exchange/auth.py", "Ed25519 verify (auth.verify_signature)"),
    ("call_signing_bytes", "signalhub/domain.py", "SHA-256 of request (domain.call_signing_bytes)"),
    ("audit_link", "exchange/store/", "audit hash chain (store.audit_link)"),
    ("canonical_batch", "exchange/ledger/submissions.py", "validation (ledger.canonical_batch)"),
    ("batch_content_digest", "signalhub/domain.py", "batch digest (domain.batch_content_digest)"),
    ("parse_batch", "exchange/auth.py", "protobuf parse of batch (auth.parse_batch)"),
    ("put_signal", "exchange/store/", "LMDB put + serialize (store.put_*)"),
    ("put_submission", "exchange/store/", "LMDB put + serialize (store.put_*)"),
    ("put_feed", "exchange/store/", "LMDB put + serialize (store.put_*)"),
    ("put_pdq_row", "exchange/store/", "LMDB put + serialize (store.put_*)"),
    ("put_batch", "exchange/store/", "LMDB put + serialize (store.put_*)"),
    ("append_log", "exchange/store/", "log append (store.append_log)"),
    ("next_counter", "exchange/store/", "counters get/put (store.next_counter)"),
    ("signal", "exchange/store/", "LMDB get + parse (store.signal/submissions)"),
    ("submissions", "exchange/store/", "LMDB get + parse (store.signal/submissions)"),
    ("Viewer.load", "exchange/visibility.py", "viewer load"),
    ("savepoint", "exchange/store/", "nested txn begin/commit (store.savepoint)"),
    ("_record_submission", "exchange/ledger/", "per-signal protobuf building (ledger)"),
    ("apply_submit", "exchange/ledger/submissions.py", "per-signal loop (ledger.apply_submit)"),
    ("Store.write", "exchange/store/", "LMDB txn commit + fsync (store.Store.write)"),
    ("add_committed", "exchange/index.py", "index add (index.add_committed)"),
    ("Writer._run", "exchange/writer.py", "writer queue wait/settle (writer._run)"),
    ("submit_signals", "exchange/service/", "SubmitSignals after commit (metrics per signal)"),
    ("_observe", "exchange/server_handlers.py", "access log + metrics (server._observe)"),
    ("parse", "exchange/server_handlers.py", "protobuf parse of request (server._deserializer)"),
    ("_metadata", "exchange/server_handlers.py", "metadata dict (server._metadata)"),
    ("_begin", "exchange/server_handlers.py", "request id + initial metadata (server._begin)"),
    ("precheck", "exchange/service/", "precheck other (service.precheck)"),
    ("authenticate", "exchange/service/", "auth other (service.authenticate)"),
    ("find_matches", "exchange/service/", "match (service.find_matches)"),
    ("_worker", "concurrent/futures/thread.py", "executor thread idle / handoff"),
    ("", "grpc/_cython", "grpc aio runtime (cython)"),
    ("", "asyncio/", "asyncio event loop"),
    ("", "grpc/aio", "grpc aio runtime (python)"),
]


def _frame_parts(frame: str) -> tuple[str, str]:
    m = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    return (m.group(1), m.group(2)) if m else (frame, "")


def categorise(stack: list[str]) -> str:
    for frame in reversed(stack):
        func, file = _frame_parts(frame)
        for fn, suffix, name in CATEGORIES:
            if (not fn or func == fn or func.endswith("." + fn)) and (suffix in file):
                return name
    return "other: " + (stack[-1] if stack else "?")


def read_raw(path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(thread, frames outermost first, samples) per line of a py-spy raw file."""
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        body, _, count = line.rpartition(" ")
        frames = body.split(";")
        thread = ""
        if frames and frames[0].startswith("thread ("):
            thread = frames[0].split(": ", 1)[-1]
            frames = frames[1:]
        yield thread, frames, int(count)


IDLE_LEAVES = ("wait (threading.py", "get (queue.py", "_worker (concurrent/futures/thread.py",
               "select (selectors.py", "_poll")  # fmt: skip


def summarise_profile(wall: Path, gil: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"wall_file": str(wall), "gil_file": str(gil)}
    threads: Counter[str] = Counter()
    busy: Counter[str] = Counter()
    writer: Counter[str] = Counter()
    for thread, frames, count in read_raw(wall):
        name = re.sub(r"_\d+$", "_N", thread)  # asyncio_0..n -> one row
        threads[name] += count
        leaf = frames[-1] if frames else ""
        if not any(x in leaf for x in IDLE_LEAVES):
            busy[name] += count
        if thread == "signalhub-writer":
            writer[categorise(frames)] += count
    total_threads = {t: n for t, n in threads.items()}
    if total_threads:
        # samples per thread are a wall clock; busy share = samples not parked in a wait
        out["threads_busy_share"] = {
            t: round(busy[t] / n, 3)
            for t, n in sorted(total_threads.items(), key=lambda kv: -kv[1])
        }
        wtotal = sum(writer.values()) or 1
        out["writer_thread_wall_share"] = {
            k: round(v / wtotal, 3) for k, v in writer.most_common(14)
        }
    gil_cats: Counter[str] = Counter()
    gil_funcs: Counter[str] = Counter()
    gil_lines: Counter[str] = Counter()
    gil_total = 0
    for _, frames, count in read_raw(gil):
        gil_total += count
        gil_cats[categorise(frames)] += count
        for frame in reversed(frames):  # the innermost frame of the hub's own code
            if "(exchange/" in frame or "(signalhub/" in frame or "(matcher/" in frame:
                gil_lines[frame] += count
                break
        seen = set()
        for frame in frames:
            func, file = _frame_parts(frame)
            key = f"{file.split('/main/')[-1].split('site-packages/')[-1]}:{func}"
            if key not in seen:
                seen.add(key)
                gil_funcs[key] += count
    if gil_total:
        out["gil_samples"] = gil_total
        out["gil_share_by_category"] = {
            k: round(v / gil_total, 3) for k, v in gil_cats.most_common(18)
        }
        out["gil_self_top_lines"] = {
            k: round(v / gil_total, 3) for k, v in gil_lines.most_common(15)
        }
        out["gil_share_inclusive_top"] = {
            k: round(v / gil_total, 3)
            for k, v in gil_funcs.most_common(40)
            if k.startswith(("exchange/", "signalhub/", "grpc/", "matcher/"))
        }
    return out


# ------------------------------------------------------------------ report


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*["-" * w for w in widths])]
    lines += [fmt.format(*[str(c) for c in r]) for r in rows]
    return "\n".join(lines)


def report(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['memory_gib']} GiB, "
        f"Linux {m['kernel']}, Python {m['python']}, grpcio {m['grpcio']}, lmdb {m['lmdb']}",
        f"command: {res['command']}",
        "",
    ]
    rows = []
    for r in res["ingest"]:
        rows.append([
            f"ingest batch {r['batch']} ({r['clients']} clients)", f"{r['signals_per_s']:,} sig/s",
            f"{r['calls_per_s']} calls/s", r["p50_ms"], r["p99_ms"], r["hub_cores"],
            r["machine_cores"],
        ])  # fmt: skip
    p = res["preload"]
    if p.get("signals"):
        rows.append([
            f"preload to {res['hashes']:,} (batch {p['batch']})",
            f"{p['signals_per_s']:,} sig/s", f"{p['seconds']} s", "", "", p["hub_cores"],
            p["machine_cores"],
        ])  # fmt: skip
    for r in res["match"]:
        rows.append([
            f"match 1q, {r['mode']}", f"{r['queries_per_s']:,} q/s", f"{r['calls']} calls",
            r["p50_ms"], r["p99_ms"], r["hub_cores"], r["machine_cores"],
        ])  # fmt: skip
    for r in res["feed"]:
        rows.append([
            f"feed catch-up, {r['mode']}", f"{r['events_per_s']:,} ev/s",
            f"{r['events']:,} in {r['seconds']} s", "", "", r["hub_cores"], r["machine_cores"],
        ])  # fmt: skip
    lines.append(table(rows, ["phase", "rate", "volume", "p50 ms", "p99 ms", "hub cores",
                              "machine cores"]))  # fmt: skip
    lines += ["", "floors (same run, one thread, in-process):"]
    lines += [f"  {k}: {v}" for k, v in res["floors"].items()]
    lines += ["", "targets:"]
    lines += [f"  {t['target']}: {t['measured']} -> {'MET' if t['met'] else 'NOT MET'}"
              for t in res["targets"]]  # fmt: skip
    prof = res.get("profile")
    if prof:
        lines += ["", "profile of the hub under ingest load (py-spy):"]
        for name, p in prof.items():
            lines.append(f"  [{name}]")
            keys = ("threads_busy_share", "writer_thread_wall_share", "gil_share_by_category",
                    "gil_self_top_lines")  # fmt: skip
            for key in keys:
                if key in p:
                    lines.append(f"    {key}:")
                    lines += [f"      {v:6.1%}  {k}" for k, v in p[key].items()]
    return "\n".join(lines)


def targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    big = [r for r in res["ingest"] if r["batch"] == 1000]
    if big:
        rate = big[0]["signals_per_s"]
        out.append({"target": "ingest >= 50,000 signals/s (batches of 1000)",
                    "measured": f"{rate:,} signals/s", "met": rate >= TARGET_INGEST})  # fmt: skip
    paced = [r for r in res["match"] if "open loop" in r["mode"]]
    if paced:
        r = paced[0]
        out.append({
            "target": f"match p99 < 5 ms at {res['hashes']:,} hashes under {r['mode']}",
            "measured": f"p99 {r['p99_ms']} ms (p50 {r['p50_ms']} ms, achieved "
                        f"{r['queries_per_s']} q/s)",
            "met": r["p99_ms"] < TARGET_P99_MS and res["hashes"] >= 1_000_000,
        })  # fmt: skip
    for r in res["feed"]:
        scaled = r["seconds"] * 1_000_000 / max(r["events"], 1)
        out.append({
            "target": f"fresh subscriber syncs 1M signals in < 60 s ({r['mode']})",
            "measured": f"{r['events']:,} events in {r['seconds']} s"
                        + ("" if r["events"] >= 1_000_000 else f" (~{scaled:.0f} s per 1M)"),
            "met": scaled < TARGET_SYNC_S,
        })  # fmt: skip
    return out


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.load",
        description="Load benchmark of a real signalhub over loopback (ingest, match, feed).",
    )
    ap.add_argument("--quick", action="store_true",
                    help="100k hashes and short phases (~2 minutes)")  # fmt: skip
    ap.add_argument(
        "--hashes",
        type=int,
        default=None,
        help="PDQ signals in the store for match and feed (default 1,000,000)",
    )
    ap.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    ap.add_argument(
        "--ingest-seconds",
        type=float,
        default=None,
        help="duration of each ingest phase (default 20)",
    )
    ap.add_argument(
        "--match-seconds",
        type=float,
        default=None,
        help="duration of each match phase (default 20)",
    )
    ap.add_argument(
        "--rate",
        type=float,
        default=500.0,
        help="offered load of the open-loop match phase, q/s (default 500)",
    )
    ap.add_argument(
        "--paced-threads",
        type=int,
        default=1,
        help="threads per client process in the open-loop phase (default 1: --clients lanes)",
    )
    ap.add_argument("--no-profile", action="store_true", help="skip the py-spy phases")
    ap.add_argument(
        "--profile-dir",
        type=Path,
        default=Path("/tmp/signalhub-load-profile"),
        help="where the py-spy raw profiles go (speedscope.app opens them)",
    )
    ap.add_argument("--no-floors", action="store_true", help="skip the in-process floors")
    ap.add_argument(
        "--ingest-only",
        action="store_true",
        help="only the ingest phases (and their profile): no preload, match or feed",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp data directory")
    ap.add_argument("--out", type=Path, help="write the results as JSON")
    args = ap.parse_args(argv)
    hashes = args.hashes or (100_000 if args.quick else 1_000_000)
    ingest_s = args.ingest_seconds or (6.0 if args.quick else 20.0)
    match_s = args.match_seconds or (6.0 if args.quick else 20.0)
    profile_s = 8.0 if args.quick else 15.0
    clients = args.clients
    began = time.perf_counter()

    res: dict[str, Any] = {
        "machine": machine(),
        "command": "python -m benchmarks.load " + " ".join(sys.argv[1:] if argv is None else argv),
        "hashes": hashes,
        "clients": clients,
    }
    tmp = Path(tempfile.mkdtemp(prefix="signalhub-load-"))
    hub: HubProcess | None = None

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f}s] {msg}", file=sys.stderr, flush=True)

    try:
        if not args.no_floors:
            say("floors (in-process)")
            res["floors"] = floors(tmp, args.quick)
        else:
            res["floors"] = {}
        hub = HubProcess(tmp)
        say(f"hub pid {hub.pid} on {hub.endpoint} (started in {hub.start_seconds:.1f} s)")
        names = [f"loader{i}" for i in range(max(clients, 2))] + ["subscriber"]
        keys = add_members(hub, names)
        loaders = {k: v for k, v in keys.items() if k != "subscriber"}

        res["ingest"] = []
        for batch in (1000, 10):
            say(f"ingest, batches of {batch}, {clients} clients, {ingest_s:.0f} s")
            r = ingest_phase(hub, loaders, batch, ingest_s, clients)
            say(f"  {r['signals_per_s']:,} signals/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms")
            res["ingest"].append(r)

        exe = None if args.no_profile else py_spy()
        if exe:
            args.profile_dir.mkdir(parents=True, exist_ok=True)
            res["profile"] = {}
            res["ingest_profiled"] = []
            for batch in (1000, 10):
                files = {}
                for mode in ("wall", "gil") if batch == 1000 else ("gil",):
                    path = args.profile_dir / f"ingest{batch}-{mode}.txt"
                    path.unlink(missing_ok=True)
                    say(f"profiling ingest batch {batch} ({mode}) -> {path}")
                    rec = record_profile(exe, hub.pid, profile_s, path, mode)
                    r = ingest_phase(hub, loaders, batch, profile_s, clients, during=rec)
                    r["profiled"] = mode
                    res["ingest_profiled"].append(r)
                    files[mode] = path
                res["profile"][f"ingest batch {batch}"] = summarise_profile(
                    files.get("wall", Path("/nonexistent")), files["gil"]
                )
        elif not args.no_profile:
            say("py-spy not found: profile skipped (pip install py-spy)")

        res.update(preload={}, match=[], feed=[])
        if not args.ingest_only:  # --ingest-only: the ingest phases alone (~1 minute)
            stored = sum(r["new"] for r in res["ingest"] + res.get("ingest_profiled", []))
            todo = max(0, hashes - stored)
            say(f"preload {todo:,} signals (store holds {stored:,}), batches of {PRELOAD_BATCH}")
            preload, sample = preload_phase(hub, loaders, todo, clients) if todo else ({}, [])
            preload["stored_before"] = stored
            res["preload"] = preload
            if todo:
                say(f"  {preload['signals_per_s']:,} signals/s, {preload['seconds']} s")
            res["hashes"] = hashes = stored + preload.get("new", 0)
            sample = sample + SAMPLE
            if not sample:
                raise SystemExit("no hashes sampled for match queries")

            queries = make_queries(sample, 4000)
            res["match"] = []
            say(f"match, closed loop, {clients} clients, {match_s:.0f} s")
            r = match_phase(hub, loaders, queries, match_s, clients, 0, 1)
            say(f"  {r['queries_per_s']:,} q/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms")
            res["match"].append(r)
            say(f"match, open loop at {args.rate:g} q/s, {match_s:.0f} s")
            r = match_phase(hub, loaders, queries, match_s, clients, args.rate, args.paced_threads)
            say(f"  {r['queries_per_s']:,} q/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms")
            res["match"].append(r)
            if exe:
                path = args.profile_dir / "match-open-gil.txt"
                path.unlink(missing_ok=True)
                say(f"profiling the open-loop match phase (gil) -> {path}")
                rec = record_profile(exe, hub.pid, profile_s, path, "gil")
                r = match_phase(
                    hub, loaders, queries, profile_s, clients, args.rate, args.paced_threads, rec
                )
                r["profiled"] = "gil"
                res["match_profiled"] = r
                res["profile"]["match open loop"] = summarise_profile(Path("/nonexistent"), path)

            res["feed"] = []
            for mode in ("fetch", "replica"):
                say(f"feed catch-up ({mode}) of {hashes:,} events")
                r = feed_phase(hub, keys, "subscriber", mode, tmp)
                say(f"  {r['events_per_s']:,} events/s, {r['seconds']} s")
                res["feed"].append(r)
        res["hub_rss_mib_end"] = round(hub.rss_mib())
        res["targets"] = targets(res)
        res["total_seconds"] = round(time.perf_counter() - began, 1)
    finally:
        if hub is not None:
            errors = [ln for ln in hub.log_text().splitlines() if "Traceback" in ln]
            hub.stop()
            if errors:
                say(f"the hub logged {len(errors)} traceback(s); see {hub.log_path}")
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            say(f"kept {tmp}")
    print(report(res))
    if args.out:
        args.out.write_text(json.dumps(res, indent=2) + "\n")
        say(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
