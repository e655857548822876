"""What a legal erasure costs, and how long it holds the writer.

Builds a store of N PDQ signals through the hub's own apply (signed batches of 1000, in
process), then erases one signal as the hub does: the scans of the log and the feed in short
read transactions (`exchange.erasure`, off the writer thread), then the erase command's apply
in one write transaction (what holds the writer). The peer, in the same run on the same
store: apply alone walking the whole feed itself, as it would with no scan before it (a copy
of the store, so both erase the same signal).

    python -m benchmarks.erasure --signals 1000000 --out /tmp/erasure.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.load import machine


def _build(path: Path, n: int) -> tuple[Any, list[str]]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from client_sdk import Signal
    from client_sdk.signing import Signer
    from exchange.ledger import append_and_apply
    from exchange.store import Store
    from exchange.writer import now_timestamp
    from signalhub import domain
    from signalhub.storage.v1 import records_pb2 as rec

    key = Ed25519PrivateKey.generate()
    signer = Signer("acme", key)
    store = Store(path, sync=False)
    add = rec.LogEntry(received_at=now_timestamp(), add_member=rec.AddMemberCommand(
        member_id="acme", public_key=domain.raw_public_key(key)))  # fmt: skip
    store.write(lambda tx: append_and_apply(tx, add))
    values: list[str] = []
    for start in range(0, n, 1000):
        batch = [os.urandom(32).hex() for _ in range(min(1000, n - start))]
        values.extend(batch)
        envelope = signer.envelope(f"b{start}", [Signal("pdq", v).to_wire() for v in batch])
        entry = rec.LogEntry(received_at=now_timestamp(), window_seconds=300,
                             submit=rec.SubmitCommand(envelope=envelope))  # fmt: skip
        store.write(lambda tx, e=entry: append_and_apply(tx, e))
    return store, values


def _erase(store: Any, sid: str, scan: bool) -> dict[str, float]:
    from exchange import erasure
    from exchange.ledger import append_and_apply
    from exchange.writer import now_timestamp
    from signalhub.storage.v1 import records_pb2 as rec

    command = rec.EraseSignalCommand(signal_id=sid, reason="benchmark")
    t0 = time.perf_counter()
    if scan:
        command.log_sequences.extend(erasure.entries_carrying(store, sid, "pdq"))
        command.feed_scanned_to, feed = erasure.feed_about(store, {sid})
        command.feed_sequences.extend(feed)
    t1 = time.perf_counter()
    entry = rec.LogEntry(received_at=now_timestamp(), erase_signal=command)
    applied = store.write(lambda tx: append_and_apply(tx, entry))
    t2 = time.perf_counter()
    assert applied.response.tombstone.signal_id == sid
    return {"scan_s": t1 - t0, "writer_s": t2 - t1}


def run(n: int, repeats: int) -> dict[str, Any]:
    from signalhub import domain

    with tempfile.TemporaryDirectory(prefix="signalhub-erasure-") as tmp:
        t = time.perf_counter()
        store, values = _build(Path(tmp) / "a", n)
        built = time.perf_counter() - t
        store.close()
        shutil.copytree(Path(tmp) / "a", Path(tmp) / "b")
        from exchange.store import Store

        ours: list[dict[str, float]] = []
        peer: list[dict[str, float]] = []
        a, b = Store(Path(tmp) / "a", sync=False), Store(Path(tmp) / "b", sync=False)
        for i in range(repeats):  # a different signal each time, the same one on both stores
            sid = domain.signal_id("pdq", values[(i * 7919) % len(values)])
            ours.append(_erase(a, sid, scan=True))
            peer.append(_erase(b, sid, scan=False))
        a.close()
        b.close()
    med = statistics.median
    return {
        "signals": n,
        "build_s": round(built, 1),
        "scan_s_median": round(med(r["scan_s"] for r in ours), 3),
        "writer_s_median": round(med(r["writer_s"] for r in ours), 4),
        "peer_writer_s_median": round(med(r["writer_s"] for r in peer), 4),
        "writer_hold_ratio": round(
            med(r["writer_s"] for r in peer) / max(med(r["writer_s"] for r in ours), 1e-9), 1
        ),
        "repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signals", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result = {"machine": machine(), **run(args.signals, args.repeats)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    print()
    print(f"{'signals':>10} {'scan (off the writer)':>22} {'writer: ours':>13} "
          f"{'writer: apply walks the feed':>29} {'ratio':>6}")  # fmt: skip
    print(f"{result['signals']:>10} {result['scan_s_median']:>21.3f}s "
          f"{result['writer_s_median']:>12.4f}s {result['peer_writer_s_median']:>28.4f}s "
          f"{result['writer_hold_ratio']:>5}x")  # fmt: skip


if __name__ == "__main__":
    main()
