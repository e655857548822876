"""Test support: start a real hub process on a free loopback port over a real LMDB directory,
and read its store directly to prove what was (not) stored."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from client_sdk import AdminClient, Client
from exchange.commands import init_data_dir
from exchange.server import lmdb_path
from exchange.store import Store
from signalhub import domain

READY = re.compile(r"signalhub serving on ([\d.]+):(\d+)")


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    check: bool = False,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Runs `signalhub ARGS...` as a user would, in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "signalhub", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=stdin,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"signalhub {' '.join(args)} failed: {result.stderr}")
    return result


@dataclass
class HubProcess:
    """A `signalhub serve` process and the keys to talk to it."""

    data_dir: Path
    proc: subprocess.Popen[str] | None = None
    port: int = 0
    log_lines: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def operator_key(self) -> Path:
        return self.data_dir / "operator.key"

    metrics_port: int = 0
    extra: tuple[str, ...] = ()

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def metric(self, name: str) -> float:
        """The current value of one sample (e.g. 'x_total{reason="stale"}'), 0 when absent."""
        text = urllib.request.urlopen(self.metrics_url, timeout=10).read().decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def start(self, port: int = 0, extra: tuple[str, ...] | None = None) -> HubProcess:
        if extra is not None:
            self.extra = extra
        metrics = f"127.0.0.1:{self.metrics_port}" if self.metrics_port else "off"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "signalhub",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--listen",
                f"127.0.0.1:{port}",
                "--metrics-listen",
                metrics,
                *self.extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("hub exited during start:\n" + "".join(self.log_lines))
            self.log_lines.append(line)
            found = READY.search(line)
            if found:
                self.port = int(found.group(2))
                return self
        raise AssertionError("hub did not start in time")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self.log_lines.append(out or "")
        code = self.proc.returncode
        self.proc = None
        return code

    def restart(self) -> HubProcess:
        port = self.port
        assert self.stop() == 0
        return self.start(port)

    def admin(self) -> AdminClient:
        return AdminClient(self.endpoint, self.operator_key)

    def add_member(self, name: str, key_dir: Path) -> Path:
        """Creates a key for `name`, registers it, returns the private key's path."""
        key = key_dir / f"{name}.key"
        domain.write_key_pair(domain.new_private_key(), key)
        with self.admin() as admin:
            admin.add_member(name, domain.read_public_key(Path(f"{key}.pub")))
        return key

    def client(self, member: str, key: Path, **kwargs: object) -> Client:
        return Client(self.endpoint, member, key, **kwargs)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def new_hub(tmp: Path, metrics: bool = False) -> HubProcess:
    data_dir = tmp / "data"
    init_data_dir(data_dir)
    return HubProcess(data_dir, metrics_port=free_port() if metrics else 0).start()


def store_fingerprint(data_dir: Path) -> dict[str, object]:
    """Entry counts, counters and a digest of every key and value in the hub's LMDB store, read
    directly from disk: equal fingerprints mean nothing was stored."""
    store = Store(lmdb_path(data_dir), readonly=True)
    try:
        out: dict[str, object] = {}
        with store.read() as view:
            h = hashlib.sha256()
            for name, db in sorted(store.dbs.items()):
                out[name] = view.entries(name)
                for key, value in view.txn.cursor(db=db):
                    h.update(bytes(key))
                    h.update(bytes(value))
            out["digest"] = h.hexdigest()
        return out
    finally:
        store.close()
