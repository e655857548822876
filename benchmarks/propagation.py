"""Propagation benchmark: how fast a submission reaches every member following the feed.

A real hub (`signalhub serve`, LMDB on disk) on loopback; --subscribers following
FetchUpdates streams (`Client.follow`) spread over --processes client processes, while one
process submits signed batches at a steady --rate signals/s. For each batch the submitter
records when its acknowledgement arrived and the cursor of its last event; each subscriber
records when that cursor arrived. The latency of a batch is the time from its acknowledgement to
its arrival at the LAST subscriber (so p99 covers every subscriber); an event can reach a
subscriber before the submitter has read its acknowledgement, which counts as 0.

Peer, in the same run: the same ingest with no subscriber (what following costs ingest), and
with one subscriber that follows and never reads (what a stalled subscriber costs: nothing,
it is disconnected after --follow-stall-seconds).

    python -m benchmarks.propagation --out /tmp/propagation.json     # 100 subscribers, 10k/s
    python -m benchmarks.propagation --subscribers 20 --seconds 10   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.load import HubProcess, _client, add_members, machine, pct, run_workers
from exchange.cursor import CursorCodec
from signalhub import domain

TARGET_P99_MS = 250.0
BATCH = 100


def _signals(n: int) -> list[Any]:
    from client_sdk import Signal

    raw = os.urandom(32 * n).hex()
    return [Signal("pdq", raw[i * 64 : (i + 1) * 64]) for i in range(n)]


def subscriber_worker(
    spec: dict[str, Any], ready: Any, go: Any, out: Any, index: int
) -> None:  # pragma: no cover - runs in a child process
    """spec["streams"] following streams (one thread each); records the arrival time of every
    event cursor until spec["until_cursor"] arrives at all of them or the deadline passes."""
    try:
        clients = [_client(spec["endpoint"], m, k) for m, k in spec["members"]]
        sequence = _sequences(spec)
        arrivals: list[dict[int, float]] = [{} for _ in clients]
        opened = threading.Barrier(len(clients) + 1)
        stop = threading.Event()

        def follow(i: int) -> None:
            seen = arrivals[i]
            stream = clients[i].fetch_wire(spec["after"], follow=True)
            opened.wait()
            # Only each batch's last cursor is looked up later: record arrival times of those
            # cheaply (every event is still parsed by the SDK, as a member's would be).
            for event in stream:
                seen[sequence(event.cursor)] = time.time()
                if stop.is_set():
                    return

        threads = [
            threading.Thread(target=follow, args=(i,), daemon=True) for i in range(len(clients))
        ]
        for t in threads:
            t.start()
        ready.put(index)
        opened.wait()  # (a stream's first message opens it; see `after` below)
        go.wait()
        deadline = time.time() + spec["duration"] + 30
        while time.time() < deadline:
            done = spec.get("last_cursor_file")
            if done and Path(done).exists():
                last = int(Path(done).read_text())
                if all(last in a for a in arrivals):
                    break
            time.sleep(0.2)
        stop.set()
        out.put((index, {"arrivals": [dict(a) for a in arrivals]}))
    except BaseException as e:
        out.put((index, {"error": repr(e)}))


def submitter_worker(
    spec: dict[str, Any], ready: Any, go: Any, out: Any, index: int
) -> None:  # pragma: no cover - runs in a child process
    """Paced batches of BATCH signals at spec["rate"] signals/s from spec["threads"] threads;
    records (acknowledged at, last cursor) per batch."""
    try:
        client = _client(spec["endpoint"], spec["member"], spec["key"])
        sequence = _sequences(spec)
        client.submit(_signals(10))
        ready.put(index)
        go.wait()
        time.sleep(spec.get("delay", 0.0))  # let the subscribers' streams open first
        threads = spec["threads"]
        interval = threads * BATCH / spec["rate"] if spec["rate"] else 0.0
        duration = spec["duration"]
        lock = threading.Lock()
        acks: list[tuple[float, int, float]] = []  # (ack time, last cursor, call seconds)
        failures: list[str] = []
        started = time.perf_counter()

        def run(thread: int) -> None:
            t0 = time.perf_counter() + thread * interval / threads
            end = time.perf_counter() + duration
            k = 0
            while True:
                scheduled = t0 + k * interval
                if scheduled > t0 + duration or time.perf_counter() > end:
                    return
                wait = scheduled - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                batch = _signals(BATCH)
                t = time.perf_counter()
                try:
                    result = client.submit(batch)
                except Exception as e:  # the hub went away: report what was acknowledged
                    with lock:
                        failures.append(repr(e))
                    return
                done = time.time()
                with lock:
                    acks.append((done, sequence(result.cursor), time.perf_counter() - t))
                k += 1

        pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        if spec.get("last_cursor_file"):  # written whole (a rename), never read half-written
            done = Path(spec["last_cursor_file"])
            done.with_suffix(".tmp").write_text(str(max(c for _, c, _ in acks)))
            done.with_suffix(".tmp").replace(done)
        out.put((index, {"acks": acks, "failures": failures,
                         "seconds": time.perf_counter() - started}))  # fmt: skip
        client.close()
    except BaseException as e:
        out.put((index, {"error": repr(e)}))


def _sequences(spec: dict[str, Any]) -> Callable[[str], int]:
    """Decodes members' cursors to feed sequences with the hub's key, as an operator's tool
    may (cursors are opaque to members: exchange.cursor); 0 without a key file."""
    if not spec.get("hub_key_file"):
        return lambda cursor: 0
    return CursorCodec.from_hub_key(domain.read_private_key(Path(spec["hub_key_file"]))).decode


def _feed_head(hub: HubProcess, key: bytes, member: str) -> str:
    with _client(hub.endpoint, member, key) as client:
        last = ""
        for event in client.fetch_wire(last):
            last = event.cursor
        return last


def run_propagation(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    hub = HubProcess(tmp)
    try:
        members = [f"sub-{i}" for i in range(10)]
        keys = add_members(hub, ["submitter", *members])
        after = _feed_head(hub, keys["submitter"], "submitter")
        per_proc = [[] for _ in range(args.processes)]  # type: ignore[var-annotated]
        for s in range(args.subscribers):
            m = members[s % len(members)]
            per_proc[s % args.processes].append((m, keys[m]))
        last_file = tmp / "last-cursor"
        specs: list[dict[str, Any]] = [
            {"endpoint": hub.endpoint, "members": streams, "after": after,
             "duration": args.seconds, "last_cursor_file": str(last_file),
             "hub_key_file": str(hub.data / "hub.key")}
            for streams in per_proc if streams
        ]  # fmt: skip
        sub_spec = {"endpoint": hub.endpoint, "member": "submitter", "key": keys["submitter"],
                    "rate": args.rate, "threads": args.threads, "duration": args.seconds,
                    "last_cursor_file": str(last_file),
                    "hub_key_file": str(hub.data / "hub.key")}  # fmt: skip
        # The submitter runs beside the subscribers, all released together (run_workers takes
        # one target: _any_worker dispatches on the spec).
        workers = [{**s, "_target": "subscriber"} for s in specs]
        workers.append({**sub_spec, "_target": "submitter", "delay": 2.0})
        run = run_workers(_any_worker, workers, hub)
    finally:
        hub.stop()
    results = run["results"]
    acks = results[-1]["acks"]
    arrivals = [a for r in results[:-1] for a in r["arrivals"]]
    latencies, missing = [], 0
    missing_detail: list[tuple[int, int]] = []
    for acked_at, cursor, _ in acks:
        times = [a.get(cursor) for a in arrivals]
        if any(t is None for t in times):
            missing += 1
            missing_detail.append((cursor, sum(t is None for t in times)))
            continue
        latencies.append(max(0.0, max(t for t in times if t is not None) - acked_at) * 1e3)
    submitted = len(acks) * BATCH
    return {
        "subscribers": args.subscribers,
        "offered_signals_per_s": args.rate,
        "achieved_signals_per_s": round(submitted / results[-1]["seconds"]),
        "submit_failures": len(results[-1]["failures"]),
        "batches": len(acks),
        "batches_not_delivered_to_all": missing,
        "not_delivered_sample": sorted(missing_detail)[:10],
        "cursor_range": [min(c for _, c, _ in acks), max(c for _, c, _ in acks)] if acks else [],
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(pct(latencies, 99) * 1, 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "submit_p50_ms": round(statistics.median(c for _, _, c in acks) * 1e3, 1),
        "hub_cores": round(run["hub_cores"], 2),
        "machine_cores": round(run["machine_cores"], 2),
    }


def _any_worker(spec: dict[str, Any], ready: Any, go: Any, out: Any, index: int) -> None:
    target = subscriber_worker if spec["_target"] == "subscriber" else submitter_worker
    target(spec, ready, go, out, index)


def run_ingest_peer(tmp: Path, seconds: float, stalled: bool) -> dict[str, Any]:
    """Unpaced ingest of batches of BATCH, alone or beside one stalled follower."""
    import grpc

    hub = HubProcess(tmp, extra=("--follow-stall-seconds", "2"))  # the stalled one goes
    channel = None
    try:
        keys = add_members(hub, ["ingest"])
        if stalled:
            from signalhub.v1 import exchange_pb2

            client = _client(hub.endpoint, "ingest", keys["ingest"])
            channel = grpc.insecure_channel(hub.endpoint)
            raw = exchange_pb2.FetchUpdatesRequest(follow=True).SerializeToString()
            method = "/signalhub.v1.Exchange/FetchUpdates"
            channel.unary_stream(method, request_serializer=lambda b: b)(
                raw, metadata=client._conn.signer.call_metadata(method, raw)
            )  # opened, never read
        spec = {"endpoint": hub.endpoint, "member": "ingest", "key": keys["ingest"],
                "rate": 0, "threads": 4, "duration": seconds}  # fmt: skip
        run = run_workers(submitter_worker, [spec], hub)
    finally:
        if channel is not None:
            channel.close()
        hub.stop()
    acks = run["results"][0]["acks"]
    return {
        "stalled_subscriber": stalled,
        "signals_per_s": round(len(acks) * BATCH / run["wall"]),
        "submit_p50_ms": round(statistics.median(c for _, _, c in acks) * 1e3, 1),
        "submit_p99_ms": round(pct([c for _, _, c in acks], 99) * 1e3, 1),
    }


def main(argv: list[str] | None = None) -> int:
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--processes", type=int, default=4, help="subscriber processes")
    ap.add_argument("--rate", type=float, default=10_000, help="signals/s submitted")
    ap.add_argument("--threads", type=int, default=16,
                    help="submitter threads (enough calls in flight to keep the rate)")  # fmt: skip
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--no-peer", action="store_true", help="skip the ingest-alone comparison")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    res: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="signalhub-prop-") as tmp:
        res["propagation"] = p = run_propagation(args, Path(tmp) / "a")
        if not args.no_peer:
            res["ingest_alone"] = run_ingest_peer(Path(tmp) / "b", 10, stalled=False)
            res["ingest_with_stalled_subscriber"] = run_ingest_peer(Path(tmp) / "c", 10, True)
    print(json.dumps(res, indent=2))
    print(
        f"\n{p['subscribers']} following subscribers, {p['achieved_signals_per_s']:,} signals/s "
        f"submitted (offered {p['offered_signals_per_s']:,.0f}) in batches of {BATCH}:\n"
        f"  ack -> last subscriber: p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms, max "
        f"{p['max_ms']} ms; {p['batches_not_delivered_to_all']} of {p['batches']} batches not "
        f"delivered to all; hub {p['hub_cores']} cores, machine {p['machine_cores']}\n"
        f"  target p99 < {TARGET_P99_MS:g} ms -> "
        f"{'MET' if p['p99_ms'] is not None and p['p99_ms'] < TARGET_P99_MS else 'NOT MET'}"
    )
    if not args.no_peer:
        a, b = res["ingest_alone"], res["ingest_with_stalled_subscriber"]
        print(
            f"  ingest alone {a['signals_per_s']:,}/s (p50 {a['submit_p50_ms']} ms); beside a "
            f"stalled subscriber {b['signals_per_s']:,}/s (p50 {b['submit_p50_ms']} ms)"
        )
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
