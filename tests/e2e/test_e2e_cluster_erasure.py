"""Legal erasure in cluster mode. Every node applies the erasure from the log, so every node's
store loses the value. The JetStream log still holds the entries that carried it until
`admin compact-cluster-log` purges the log behind a snapshot taken after the erasure; then the
value is nowhere. A node that had not applied the purged entries stops, rather than diverge,
and a node started from the snapshot has the same state as the others."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest
from clustertools import nats_binary, start_nats_cluster
from hubtools import HubProcess, run_cli

from client_sdk import Signal
from exchange.cluster import STREAM
from exchange.commands import init_data_dir
from exchange.store import STATE_DATABASES, Store
from signalhub import domain

pytestmark = pytest.mark.skipif(nats_binary() is None, reason="nats-server is not installed")

SECRET = "5ec7e7" * 10 + "abcd"
OTHERS = [f"{i:02x}" * 32 for i in range(1, 4)]


def _stream_bytes(urls: str) -> bytes:
    """Every message of the cluster's log, concatenated."""

    async def read() -> bytes:
        import nats

        nc = await nats.connect(servers=urls.split(","))
        try:
            js = nc.jetstream()
            info = await js.stream_info(STREAM)
            out = []
            for seq in range(int(info.state.first_seq), int(info.state.last_seq) + 1):
                try:
                    msg = await js.get_msg(STREAM, seq)
                except Exception:  # deleted or purged
                    continue
                out.append(msg.data or b"")
            return b"".join(out)
        finally:
            await nc.close()

    return asyncio.run(read())


def _state(data_dir: Path) -> dict[str, list[tuple[bytes, bytes]]]:
    store = Store(data_dir / "lmdb", readonly=True)
    try:
        with store.read() as view:
            return {n: [(bytes(k), bytes(v)) for k, v in view.txn.cursor(db=store.dbs[n])]
                    for n in STATE_DATABASES if n in store.dbs}  # fmt: skip
    finally:
        store.close()


def _wait(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_erasure_reaches_every_node_and_compaction_the_log(tmp_path: Path) -> None:
    nats = start_nats_cluster(tmp_path)
    nodes: list[HubProcess] = []
    try:
        init_data_dir(tmp_path / "seed")
        for name in ("a", "b", "fresh"):
            shutil.copytree(tmp_path / "seed", tmp_path / name / "data")
        args = ("--cluster", nats.urls)
        a = HubProcess(tmp_path / "a" / "data").start(extra=(*args, "--snapshot-interval", "1"))
        b = HubProcess(tmp_path / "b" / "data").start(extra=args)
        nodes += [a, b]
        key = a.add_member("acme", tmp_path)
        with a.client("acme", key) as acme:
            acme.submit([Signal("pdq", SECRET.upper()), Signal("pdq", OTHERS[0])])
            cursor = list(acme.fetch())[-1].cursor
        with b.client("acme", key) as on_b:  # b has applied it
            _wait(lambda: list(on_b.fetch()) and list(on_b.fetch())[-1].cursor == cursor)
        b.stop()  # b misses what follows
        with a.client("acme", key) as acme:
            acme.submit([Signal("pdq", OTHERS[1])])
        with a.admin() as admin:
            admin.erase_signal(domain.signal_id("pdq", SECRET), "court order")
        with a.client("acme", key) as acme:
            acme.submit([Signal("pdq", OTHERS[2])])
            (r,) = acme.match([("pdq", SECRET)], 0)
            assert r.matches == ()
        assert SECRET.upper().encode() in _stream_bytes(nats.urls)  # still in the log

        marker = a.log_path.stat().st_size
        _wait(lambda: "wrote a snapshot" in a.log_path.read_bytes()[marker:].decode())
        out = run_cli("admin", "compact-cluster-log", "--cluster", nats.urls, check=True)
        assert "purged" in out.stdout
        log_bytes = _stream_bytes(nats.urls)
        assert SECRET.upper().encode() not in log_bytes and SECRET.encode() not in log_bytes

        # b had not applied the purged entries: it refuses to go on.
        with pytest.raises(AssertionError, match="missed stream entries"):
            b.start(extra=args)
        # A node started from a fresh copy of the seed restores the snapshot: same state.
        fresh = HubProcess(tmp_path / "fresh" / "data").start(extra=args)
        nodes.append(fresh)
        with fresh.client("acme", key) as late:
            values = {e.signal.value for e in late.fetch() if e.event != "signal_erased"}
            assert set(OTHERS) <= values and SECRET not in values
        fresh.stop()
        a.stop()
        assert _state(fresh.data_dir) == _state(a.data_dir)
    finally:
        for node in nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.stop()
        nats.stop()
