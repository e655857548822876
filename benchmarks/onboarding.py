"""Onboarding benchmark: a new member, from nothing to its first local match answer, on a hub of
N PDQ signals (issue 14's target: under 2 minutes at 10,000,000).

1. build: a hub data directory (`signalhub init`'s) whose store holds N PDQ signals written
   in-process through the hub's own write path — signed envelopes of 10,000 signals from a real
   member key, each applied by `exchange.ledger.append_and_apply` as the writer applies it (log,
   audit chain, signals, submissions, feed, packed PDQ table), LMDB sync off while building.
   `--store DIR` keeps it and reuses it in later runs. Envelopes are built and signed in a
   second process while the first applies.
2. a real `signalhub serve` over it; timing starts once it has loaded its index.
3. ours: `signalhub sync --local DIR --json` (it picks a snapshot by itself: the backlog is
   above its threshold) and then the first `signalhub match --pdq HEX --local DIR --json`, each
   a separate process as a member would run them; wall time from the first process's start to
   the match answer. Repeated `--repeats` times into fresh directories; medians.
4. peer, same run: the same member with `sync --no-snapshot` (the feed alone) plus the first
   match, at `--peer-n` signals (default: N; a smaller N is built in its own store).
5. in-process: the first and second `LocalReplica.match` of one replica object (the second
   reuses the loaded index).

    python -m benchmarks.onboarding --signals 10000000 --store /var/tmp/onboard-10m \\
        --out /tmp/onboarding.json
    python -m benchmarks.onboarding --signals 200000 --peer-n 200000        # ~2 minutes
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.load import HubProcess, machine

ROOT = Path(__file__).resolve().parent.parent
BATCH_SIGNALS = 10_000
BATCHES_PER_TXN = 4
"""The writer commits groups of batches; the build does the same."""
TARGET_SECONDS = 120.0
MEMBER = "newcomer"


# ------------------------------------------------------------------ building the hub's store


def _envelopes(key_raw: bytes, n: int, seed: int, queue: Any) -> None:
    """Worker process: signed envelopes of `n` random PDQ signals, BATCH_SIGNALS each."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from client_sdk.signing import Signer
    from signalhub.v1 import common_pb2

    signer = Signer("seed", Ed25519PrivateKey.from_private_bytes(key_raw))
    rng = np.random.default_rng(seed)
    for start in range(0, n, BATCH_SIGNALS):
        count = min(BATCH_SIGNALS, n - start)
        text = rng.integers(0, 256, size=(count, 32), dtype=np.uint8).tobytes().hex()
        values = [text[i * 64 : (i + 1) * 64] for i in range(count)]
        signals = [
            common_pb2.SignalSubmission(type="pdq", value=v, labels=["csam"]) for v in values
        ]
        queue.put(signer.envelope(f"b{start}", signals).SerializeToString())
    queue.put(None)


def build_store(data: Path, n: int, say: Any) -> dict[str, Any]:
    """A hub data directory holding `n` PDQ signals of member `seed`, and member MEMBER (whose
    key goes beside it). Returns what it took."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from exchange.commands import init_data_dir
    from exchange.ledger import PreparedBatch, append_and_apply
    from exchange.server import lmdb_path
    from exchange.store import Store
    from exchange.writer import now_timestamp
    from signalhub import domain
    from signalhub.storage.v1 import records_pb2 as rec
    from signalhub.v1 import common_pb2

    started = time.perf_counter()
    init_data_dir(data)
    store = Store(lmdb_path(data), sync=False, map_bytes=4 << 30)
    seed_key = Ed25519PrivateKey.generate()
    newcomer = Ed25519PrivateKey.generate()
    domain.write_key_pair(newcomer, data.parent / f"{MEMBER}.key")
    for name, key in (("seed", seed_key), (MEMBER, newcomer)):
        entry = rec.LogEntry(received_at=now_timestamp(), add_member=rec.AddMemberCommand(
            member_id=name, public_key=domain.raw_public_key(key)))  # fmt: skip
        store.write(lambda tx, e=entry: append_and_apply(tx, e))
    queue: Any = mp.get_context("spawn").Queue(maxsize=8)
    worker = mp.get_context("spawn").Process(
        target=_envelopes, args=(seed_key.private_bytes_raw(), n, n, queue), daemon=True
    )
    worker.start()
    applied = 0
    sample: list[str] = []
    done = False
    while not done:
        group: list[tuple[rec.LogEntry, PreparedBatch]] = []
        while len(group) < BATCHES_PER_TXN:
            raw = queue.get()
            if raw is None:
                done = True
                break
            envelope = common_pb2.SignedEnvelope.FromString(raw)
            prepared = PreparedBatch.of(envelope.payload)
            entry = rec.LogEntry(received_at=now_timestamp(), window_seconds=300,
                                 submit=rec.SubmitCommand(envelope=envelope))  # fmt: skip
            group.append((entry, prepared))
            if len(sample) < 1000:
                sample += [s.value for s in prepared.signals[:10]]

        def work(tx: Any, group: list[tuple[rec.LogEntry, PreparedBatch]] = group) -> None:
            for entry, prepared in group:
                assert append_and_apply(tx, entry, prepared).stored

        if group:
            store.write(work)
            applied += sum(len(p.signals) for _, p in group)
            if applied % 500_000 < BATCH_SIGNALS * BATCHES_PER_TXN:
                say(f"built {applied:,} of {n:,} signals")
    worker.join()
    with store.read() as view:
        feed = view.counter("feed_seq")
    store.close()
    (data.parent / "sample.json").write_text(json.dumps(sample))
    return {
        "signals": applied,
        "feed_events": feed,
        "seconds": round(time.perf_counter() - started, 1),
        "signals_per_s": round(applied / (time.perf_counter() - started)),
        "store_gib": round((lmdb_path(data) / "data.mdb").stat().st_size / 2**30, 2),
    }


def hub_store(where: Path | None, n: int, say: Any) -> tuple[Path, dict[str, Any]]:
    """The data directory for `n` signals: reused from `where` when it holds a build of that
    size, else built (there, or in a temporary directory)."""
    base = where if where is not None else Path(tempfile.mkdtemp(prefix="signalhub-onboard-"))
    data = base / "hub"
    info = base / "build.json"
    if info.exists():
        built = json.loads(info.read_text())
        if built.get("signals") == n:
            say(f"reusing the store in {base} ({n:,} signals)")
            return data, {**built, "reused": True}
        shutil.rmtree(base)
    base.mkdir(parents=True, exist_ok=True)
    say(f"building a hub store of {n:,} signals in {base}")
    built = build_store(data, n, say)
    info.write_text(json.dumps(built))
    return data, {**built, "reused": False}


# ------------------------------------------------------------------ a member onboarding


def queries(base: Path, count: int, seed: int = 7) -> list[str]:
    """Stored hashes with 8-16 bits flipped: each must be found."""
    sample = json.loads((base / "sample.json").read_text())
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        bits = np.unpackbits(np.frombuffer(bytes.fromhex(sample[i % len(sample)]), np.uint8))
        bits[rng.choice(256, size=int(rng.integers(8, 17)), replace=False)] ^= 1
        out.append(np.packbits(bits).tobytes().hex())
    return out


def cli(args: list[str], env: dict[str, str], profile: Path | None = None) -> tuple[float, Any]:
    """Runs `signalhub ARGS` (under py-spy when `profile` is given); (wall seconds, JSON out)."""
    command = [sys.executable, "-m", "signalhub", *args]
    if profile is not None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        command = [spy, "record", "--rate", "100", "--format", "raw", "--output", str(profile),
                   "--", *command]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"signalhub {' '.join(args)} failed:\n{done.stderr}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return seconds, json.loads(lines[-1])


def onboard(
    hub: HubProcess, base: Path, tmp: Path, snapshot: bool, query: str, profile: Path | None
) -> dict[str, Any]:
    """One new member: sync into a fresh replica, then the first local match."""
    replica = tmp / f"replica-{time.monotonic_ns()}"
    env = {**hub.env, "SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": MEMBER,
           "SIGNALHUB_KEY": str(base / f"{MEMBER}.key")}  # fmt: skip
    flags = [] if snapshot else ["--no-snapshot"]
    before = len(re.findall(r"snapshot at cursor", hub.log_text()))
    sync_s, synced = cli(["sync", "--local", str(replica), "--json", *flags], env, profile)
    match_s, answer = cli(["match", "--pdq", query, "--local", str(replica), "--json"], env)
    built = re.findall(r"snapshot at cursor \d+: \d+ signals, (\d+) bytes, built in ([\d.]+) s",
                       hub.log_text())[before:]  # fmt: skip
    size = sum(p.stat().st_size for p in replica.iterdir())
    out = {
        "sync_s": round(sync_s, 2),
        "first_match_s": round(match_s, 2),
        "total_s": round(sync_s + match_s, 2),
        "signals": synced["signals"],
        "applied_events": synced["applied"],
        "snapshot": synced["snapshot"] is not None,
        "hub_build_s": float(built[0][1]) if built else None,
        "snapshot_mib": round(int(built[0][0]) / 2**20) if built else None,
        "replica_gib": round(size / 2**30, 2),
        "matches": len(answer["matches"]),
    }
    assert out["matches"] >= 1, "the query was not found"
    assert out["snapshot"] == snapshot
    shutil.rmtree(replica, ignore_errors=True)
    return out


def in_process_matches(hub: HubProcess, base: Path, tmp: Path, qs: list[str]) -> dict[str, Any]:
    """First and later LocalReplica.match calls on one object (the index is kept)."""
    from client_sdk import Client
    from client_sdk.local import LocalReplica

    path = tmp / "replica-in-process"
    key = base / f"{MEMBER}.key"
    with Client(hub.endpoint, MEMBER, key) as client, LocalReplica(path) as replica:
        replica.sync(client)
        started = time.perf_counter()
        first = replica.match([("pdq", qs[0])])
        first_s = time.perf_counter() - started
        later = []
        for q in qs[1:]:
            started = time.perf_counter()
            found = replica.match([("pdq", q)])
            later.append(time.perf_counter() - started)
            assert found[0].matches
    shutil.rmtree(path, ignore_errors=True)
    assert first[0].matches
    return {
        "first_match_s": round(first_s, 2),
        "later_match_ms_median": round(statistics.median(later) * 1000, 3),
        "later_queries": len(later),
    }


def summarise_profile(path: Path, top: int = 12) -> list[tuple[str, float]]:
    """Share of samples by innermost frame of our code (or of a library, when no frame of ours
    is on the stack), from py-spy's raw collapsed stacks."""
    counts: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        ours = [f for f in frames if re.search(r"\((client_sdk|signalhub|matcher)/", f)]
        counts[re.sub(r":\d+\)$", ")", (ours or frames)[-1])] += int(n)
        total += int(n)
    return [(frame, round(100 * n / total, 1)) for frame, n in counts.most_common(top)]


# ------------------------------------------------------------------ report


def run_once(
    n: int, where: Path | None, repeats: int, peer: bool, profile: Path | None, say: Any
) -> dict[str, Any]:
    data, build = hub_store(where, n, say)
    base = data.parent
    tmp = Path(tempfile.mkdtemp(prefix="signalhub-replicas-", dir=base))
    hub = HubProcess(base, init=False)
    out: dict[str, Any] = {"n": n, "build": build}
    try:
        deadline = time.time() + 600
        while "index loaded" not in hub.log_text():
            if time.time() > deadline or hub.proc.poll() is not None:
                raise SystemExit(f"the hub did not load its index:\n{hub.log_text()[-2000:]}")
            time.sleep(0.2)
        qs = queries(base, 200)
        runs = []
        for i in range(repeats):
            say(f"N={n:,}: a new member syncs with a snapshot and matches (run {i + 1})")
            runs.append(onboard(hub, base, tmp, True, qs[i], None))
            say(f"  {runs[-1]}")
        out["snapshot_runs"] = runs
        out["snapshot_total_s_median"] = statistics.median(r["total_s"] for r in runs)
        if profile is not None:  # one more run under py-spy, not counted in the medians
            say(f"N={n:,}: the snapshot path once more, under py-spy")
            prof = profile / f"sync-snapshot-{n}.txt"
            out["profiled_run"] = onboard(hub, base, tmp, True, qs[repeats], prof)
            out["profile_snapshot_sync"] = summarise_profile(prof)
        if peer:
            say(f"N={n:,}: the same member syncs from the feed alone and matches")
            out["feed_run"] = onboard(hub, base, tmp, False, qs[-1], None)
            say(f"  {out['feed_run']}")
        say(f"N={n:,}: LocalReplica.match in one process, first call and later ones")
        out["in_process"] = in_process_matches(hub, base, tmp, qs[-40:])
        out["hub_rss_mib"] = round(hub.rss_mib())
    finally:
        hub.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if where is None:
            shutil.rmtree(base, ignore_errors=True)
    return out


def table(res: dict[str, Any]) -> Iterator[str]:
    yield f"machine: {res['machine']}"
    yield (f"{'N':>12} {'path':<10} {'sync s':>8} {'1st match s':>12} {'total s':>8} "
           f"{'hub build s':>12} {'replica GiB':>12}")  # fmt: skip
    for r in res["results"]:
        rows = [("snapshot", x) for x in r["snapshot_runs"]]
        if "feed_run" in r:
            rows.append(("feed", r["feed_run"]))
        for path, x in rows:
            build = "-" if x["hub_build_s"] is None else f"{x['hub_build_s']:.1f}"
            yield (f"{r['n']:>12,} {path:<10} {x['sync_s']:>8.1f} {x['first_match_s']:>12.1f} "
                   f"{x['total_s']:>8.1f} {build:>12} {x['replica_gib']:>12.2f}")  # fmt: skip
        met = "met" if r["snapshot_total_s_median"] < TARGET_SECONDS else "NOT met"
        yield (f"{'':>12} median with a snapshot {r['snapshot_total_s_median']:.1f} s "
               f"(target < {TARGET_SECONDS:.0f} s: {met}); in one process: first match "
               f"{r['in_process']['first_match_s']} s, later "
               f"{r['in_process']['later_match_ms_median']} ms")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.onboarding",
        description="A new member from nothing to its first local match answer: sync from a "
        "signed snapshot vs from the feed alone, on a real hub of N PDQ signals.",
    )
    ap.add_argument("--signals", type=int, default=10_000_000, help="N (default 10,000,000)")
    ap.add_argument("--peer-n", type=int, default=None,
                    help="N for the feed-only peer (default: N; 0 skips it)")  # fmt: skip
    ap.add_argument("--repeats", type=int, default=3, help="snapshot runs (median; default 3)")
    ap.add_argument("--store", type=Path, default=None, metavar="DIR",
                    help="build the hub's store here and reuse it when it has N signals "
                         "(default: a temporary directory, removed after)")  # fmt: skip
    ap.add_argument("--profile", type=Path, default=None, metavar="DIR",
                    help="one more snapshot sync under py-spy (raw stacks into DIR; not "
                         "counted in the medians)")  # fmt: skip
    ap.add_argument("--out", type=Path, help="write the results as JSON")
    args = ap.parse_args(argv)
    began = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - began:7.1f}s] {msg}", file=sys.stderr, flush=True)

    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    peer_n = args.signals if args.peer_n is None else args.peer_n
    res: dict[str, Any] = {
        "machine": machine(),
        "command": "python -m benchmarks.onboarding "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "target_s": TARGET_SECONDS,
        "results": [],
    }
    res["results"].append(
        run_once(args.signals, args.store, args.repeats, peer_n == args.signals, args.profile, say)
    )
    if peer_n and peer_n != args.signals:
        store = None if args.store is None else args.store.with_name(args.store.name + "-peer")
        res["results"].append(run_once(peer_n, store, 1, True, args.profile, say))
    res["seconds"] = round(time.perf_counter() - began, 1)
    print(json.dumps(res, indent=2))
    print()
    for line in table(res):
        print(line)
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
