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
import textwrap
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from client_sdk import AdminClient, Client
from exchange.commands import init_data_dir
from exchange.cursor import CursorCodec
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


QUIET_COUNTS = {"SIGNALHUB_MATCH_COUNT_INTERVAL": "3600"}
"""Test hubs log match counts at shutdown only (unless a test asks for a short interval with
--match-count-interval): a flush landing between two store fingerprints would look like a
write of the call under test."""


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
    env: dict[str, str] = field(default_factory=dict)
    """Environment added to the hub's (e.g. PYTHONPATH with a plug-in)."""
    _handles: list[IO[bytes]] = field(default_factory=list)
    _log_offset: int = 0

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
            # A file, not a pipe: nobody reads the hub's (per-call) log while tests run, and a
            # full pipe would block the hub.
            stdout=self._log_file(),
            stderr=subprocess.STDOUT,
            env={**os.environ, **QUIET_COUNTS, **self.env},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = self._log_since_start()
            self.log_lines = text.splitlines(keepends=True)
            found = READY.search(text)
            if found:
                self.port = int(found.group(2))
                return self
            if self.proc.poll() is not None:
                raise AssertionError("hub exited during start:\n" + text)
            time.sleep(0.02)
        raise AssertionError("hub did not start in time")

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / "hub.log"

    def _log_file(self) -> IO[bytes]:
        """The hub's log file, appended to across restarts."""
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        handle = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self._handles.append(handle)
        return handle

    def _log_since_start(self) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            return f.read().decode(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for handle in self._handles:
            handle.close()
        self._handles.clear()
        self.log_lines = self._log_since_start().splitlines(keepends=True)
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


def new_hub(tmp: Path, metrics: bool = False, extra: tuple[str, ...] = ()) -> HubProcess:
    data_dir = tmp / "data"
    init_data_dir(data_dir)
    return HubProcess(data_dir, metrics_port=free_port() if metrics else 0).start(extra=extra)


def plugin_site(
    root: Path, distribution: str, module: str, source: str, entry: str, version: str = "1.0"
) -> Path:
    """A directory that, on PYTHONPATH, makes importlib.metadata see an installed distribution
    with one module and one `signalhub.signal_types` entry point `entry`
    ("name = module:ATTR"): a real plug-in, without pip."""
    site = root / "site"
    info = site / f"{module}-{version}.dist-info"
    info.mkdir(parents=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
    )
    (info / "entry_points.txt").write_text(f"[signalhub.signal_types]\n{entry}\n")
    return site


def store_fingerprint(data_dir: Path) -> dict[str, object]:
    """Entry counts, counters and a digest of every key and value in the hub's LMDB store, read
    directly from disk: equal fingerprints mean nothing was stored. Usage statistics (the
    `stats` database, written every few seconds from counts of earlier calls) and signed audit
    heads (`audit_heads`, the minute's signature over the log as it already was: a call that
    stored anything changes the log itself) are left out, as the store's own state digest
    leaves them out (`STATE_DATABASES`, exchange/store/layout.py)."""
    store = Store(lmdb_path(data_dir), readonly=True)
    try:
        out: dict[str, object] = {}
        with store.read() as view:
            h = hashlib.sha256()
            for name, db in sorted(store.dbs.items()):
                if name in ("stats", "audit_heads"):  # written on timers, not by calls
                    continue
                out[name] = view.entries(name)
                for key, value in view.txn.cursor(db=db):
                    h.update(bytes(key))
                    h.update(bytes(value))
            out["digest"] = h.hexdigest()
        return out
    finally:
        store.close()


def _codec(data_dir: Path) -> CursorCodec:
    return CursorCodec.from_hub_key(domain.read_private_key(data_dir / "hub.key"))


def feed_sequence(data_dir: Path, cursor: str) -> int:
    """The feed sequence behind a member's cursor, decoded with the hub's key as an operator's
    tool may (members' cursors are opaque: exchange.cursor)."""
    return _codec(data_dir).decode(cursor)


def cursor_at(data_dir: Path, sequence: int) -> str:
    """The cursor the hub hands out for feed sequence `sequence`."""
    return _codec(data_dir).encode(sequence)
