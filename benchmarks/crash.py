"""Crash consistency: kill the real hub with SIGKILL at random moments while several clients
ingest signed batches, restart it, and check after every restart that

- every batch acknowledged before the kill is present, exactly once (each of its signals has
  exactly one `signal_added` event; a client retries an unacknowledged batch with the same
  batch_id after the restart, and it must not be stored twice);
- nothing half-written is visible (every stored batch is whole);
- the feed has no gaps (cursors 1..N);
and at the end that `signalhub audit verify` passes (chain, signed heads, replay).

    python -m benchmarks.crash --kills 200 --out /tmp/crash.json

The test suite runs a short campaign (tests/e2e/test_e2e_reliability.py).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from client_sdk import AdminClient, Client, RetryPolicy, Signal, SignalhubError
from exchange.cursor import CursorCodec
from signalhub import domain

SIGNALS_PER_BATCH = 20


@dataclass
class CrashReport:
    kills: int = 0
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    torn: int = 0
    feed_gaps: int = 0
    audit_ok: bool = False
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def _value(client_no: int, batch_no: int, i: int) -> str:
    return f"{client_no:08x}{batch_no:024x}{i:032x}"


class _Hub:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = open(data_dir.parent / "hub.log", "ab")  # noqa: SIM115

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signalhub", "serve", "--data-dir", str(self.data_dir),
             "--listen", f"127.0.0.1:{self.port}", "--metrics-listen", "off",
             "--log-format", "text", "--audit-head-interval", "0.5"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                operator = self.data_dir / "operator.key"
                once = RetryPolicy(attempts=1)
                endpoint = f"127.0.0.1:{self.port}"
                with AdminClient(endpoint, operator, retry=once, timeout_seconds=2) as admin:
                    admin.list_members()
                return
            except SignalhubError:
                if self.proc.poll() is not None:
                    raise RuntimeError("the hub exited during start") from None
                time.sleep(0.05)
        raise RuntimeError("the hub did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def run_campaign(kills: int, clients: int = 3, seed: int = 1, work_dir: Path | None = None,
                 max_uptime_seconds: float = 0.6) -> CrashReport:  # fmt: skip
    """Runs `kills` SIGKILL/restart cycles; returns what it found."""
    rng = random.Random(seed)
    report = CrashReport()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="signalhub-crash-", dir=work_dir) as tmp:
        data_dir = Path(tmp) / "data"
        subprocess.run([sys.executable, "-m", "signalhub", "init", "--data-dir", str(data_dir)],
                       check=True, capture_output=True)  # fmt: skip
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        hub = _Hub(data_dir, port)
        hub.start()
        endpoint = f"127.0.0.1:{port}"
        keys = [domain.new_private_key() for _ in range(clients)]
        with AdminClient(endpoint, data_dir / "operator.key") as admin:
            for n, key in enumerate(keys):
                admin.add_member(f"m{n}", domain.raw_public_key(key))
        acked: dict[str, tuple[int, int]] = {}  # batch_id -> (client, batch)
        next_batch = [0] * clients
        lock = threading.Lock()

        def ingest(n: int, stop: threading.Event) -> None:
            client = Client(endpoint, f"m{n}", keys[n], retry=RetryPolicy(attempts=1),
                            timeout_seconds=5)  # fmt: skip
            while not stop.is_set():
                b = next_batch[n]
                batch_id = f"c{n}-b{b}"
                signals = [Signal("pdq", _value(n, b, i)) for i in range(SIGNALS_PER_BATCH)]
                try:
                    client.submit(signals, batch_id=batch_id)
                except SignalhubError:
                    break  # not acknowledged (killed mid-call): retried after the restart
                with lock:
                    acked[batch_id] = (n, b)
                    next_batch[n] = b + 1
            client.close()

        state = _FeedState(CursorCodec.from_hub_key(domain.read_private_key(data_dir / "hub.key")))

        def cycles() -> None:
            for _ in range(kills):
                stop = threading.Event()
                threads = [threading.Thread(target=ingest, args=(n, stop)) for n in range(clients)]
                for t in threads:
                    t.start()
                time.sleep(rng.uniform(0.05, max_uptime_seconds))
                hub.kill()
                stop.set()
                for t in threads:
                    t.join()
                report.kills += 1
                hub.start()
                _check(endpoint, keys, acked, report, state)
                if report.problems:
                    return

        try:
            cycles()
        except Exception as e:
            report.problems.append(f"{type(e).__name__}: {e}")
        finally:
            if report.problems:  # keep the hub's log for whoever looks into it
                shutil.copy(
                    Path(tmp) / "hub.log",
                    Path(tempfile.gettempdir()) / "signalhub-crash-failed.log",
                )
        if not report.problems:
            hub.stop()  # signs a final audit head
            verified = subprocess.run(
                [sys.executable, "-m", "signalhub", "audit", "verify", "--data-dir", str(data_dir)],
                capture_output=True, text=True,
            )  # fmt: skip
            report.audit_ok = verified.returncode == 0
            if not report.audit_ok:
                report.problems.append(verified.stderr.strip())
        else:
            hub.kill()
    report.acknowledged = len(acked)
    report.seconds = time.monotonic() - started
    return report


@dataclass
class _FeedState:
    """What the checks have read of the feed so far (it is append-only, so each check reads
    only what is new)."""

    codec: CursorCodec
    """Decodes the member's cursors with the hub key, to check the feed has no gaps."""
    cursor: int = 0
    added: dict[str, int] = field(default_factory=dict)
    batches: dict[tuple[int, int], int] = field(default_factory=dict)


def _check(endpoint: str, keys: list, acked: dict[str, tuple[int, int]],  # type: ignore[type-arg]
           report: CrashReport, state: _FeedState) -> None:  # fmt: skip
    with Client(endpoint, "m0", keys[0]) as reader:
        events = list(reader.fetch(after=state.codec.encode(state.cursor)))
    cursors = [state.codec.decode(e.cursor) for e in events]
    if cursors != list(range(state.cursor + 1, state.cursor + len(cursors) + 1)):
        report.feed_gaps += 1
        report.problems.append("the feed has gaps")
    if cursors:
        state.cursor = cursors[-1]
    for e in events:
        if e.event != "signal_added":
            continue
        value = e.signal.value
        state.added[value] = state.added.get(value, 0) + 1
        if state.added[value] > 1:
            report.duplicated += 1
            report.problems.append(f"signal {value} added {state.added[value]} times")
        key = (int(value[:8], 16), int(value[8:32], 16))
        state.batches[key] = state.batches.get(key, 0) + 1
    for key, count in state.batches.items():
        if count != SIGNALS_PER_BATCH:
            report.torn += 1
            report.problems.append(f"batch {key} is torn: {count} of {SIGNALS_PER_BATCH}")
    for batch_id, key in acked.items():
        if state.batches.get(key) != SIGNALS_PER_BATCH:
            report.lost += 1
            report.problems.append(f"acknowledged batch {batch_id} is missing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    report = run_campaign(args.kills, args.clients, args.seed)
    data = asdict(report)
    print(json.dumps(data, indent=2))
    print(f"\n{report.kills} kills, {report.acknowledged} acknowledged batches: lost "
          f"{report.lost}, duplicated {report.duplicated}, torn {report.torn}, feed gaps "
          f"{report.feed_gaps}, audit verify {'OK' if report.audit_ok else 'FAILED'} "
          f"({report.seconds:.0f} s)")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(data, indent=2))
    sys.exit(0 if not report.problems and report.audit_ok else 1)


if __name__ == "__main__":
    main()
