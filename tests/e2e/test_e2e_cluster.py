"""Cluster mode over real processes: 3 `nats-server` (JetStream, R=3) and hub nodes on
loopback, each materialising the same LMDB state from the replicated log."""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clustertools import NatsCluster, hub_nodes, nats_binary, new_node, start_nats_cluster
from hubtools import HubProcess, feed_sequence

from client_sdk import Client, Signal
from exchange.store import STATE_DATABASES, Store

pytestmark = pytest.mark.skipif(nats_binary() is None, reason="nats-server is not installed")


def _pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def state_digest(data_dir: Path) -> str:
    """Every key and value of the state apply writes (not signed heads or usage counts)."""
    store = Store(data_dir / "lmdb", readonly=True)
    try:
        h = hashlib.sha256()
        with store.read() as view:
            for name in sorted(STATE_DATABASES):
                for key, value in view.txn.cursor(db=store.dbs[name]):
                    h.update(name.encode() + bytes(key) + bytes(value))
        return h.hexdigest()
    finally:
        store.close()


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[NatsCluster, list[HubProcess], Path]]:
    tmp = tmp_path_factory.mktemp("cluster")
    nats = start_nats_cluster(tmp)
    nodes: list[HubProcess] = []
    try:
        nodes = hub_nodes(tmp, nats)
        yield nats, nodes, tmp
    finally:
        for node in nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.stop()
        nats.stop()


@pytest.fixture(scope="module")
def member(cluster: tuple[NatsCluster, list[HubProcess], Path]) -> Path:
    _, nodes, tmp = cluster
    return nodes[0].add_member("clustered", tmp)


def _wait(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_submission_on_one_node_matches_on_the_others(
    cluster: tuple[NatsCluster, list[HubProcess], Path], member: Path
) -> None:
    _, nodes, _ = cluster
    value = _pdq(random.Random(1))
    with nodes[0].client("clustered", member) as a:
        result = a.submit([Signal("pdq", value, labels=("csam",))])
        (own,) = a.match_pdq([value])  # the node that acknowledged reads its own write
        assert [m.signal.value for m in own.matches] == [value]
    for node in nodes[1:]:
        with node.client("clustered", member) as other:
            _wait(lambda other=other: other.match_pdq([value])[0].matches)
            events = [e for e in other.fetch() if e.signal.value == value]
            assert events[0].cursor == result.cursor  # the same feed cursor on every node


def test_the_same_batch_sent_to_two_nodes_is_stored_once(
    cluster: tuple[NatsCluster, list[HubProcess], Path], member: Path
) -> None:
    _, nodes, _ = cluster
    values = [_pdq(random.Random(2 + i)) for i in range(3)]
    signals = [Signal("pdq", v) for v in values]
    with nodes[0].client("clustered", member) as a, nodes[1].client("clustered", member) as b:
        first = a.submit(signals, batch_id="twice")
        again = b.submit(signals, batch_id="twice")
        assert [i.signal_id for i in again.items] == [i.signal_id for i in first.items]
        assert again.replayed and not first.replayed
        other = b.submit([Signal("pdq", _pdq(random.Random(99)))], batch_id="twice-other")
        assert other.counts() == {"new": 1}
        events = [e for e in b.fetch() if e.signal.value in values]
    assert len(events) == 3  # stored once


def test_state_is_identical_on_every_node_and_a_new_node_catches_up(
    cluster: tuple[NatsCluster, list[HubProcess], Path], member: Path
) -> None:
    nats, nodes, tmp = cluster
    rng = random.Random(7)
    with nodes[2].client("clustered", member) as c:
        for _ in range(5):
            c.submit([Signal("pdq", _pdq(rng)) for _ in range(50)])
        c.retract([c.submit([Signal("url", "https://example.com/gone")]).items[0].signal_id])
        head = list(c.fetch())[-1].cursor
    joined = new_node(tmp, "late", nats)  # starts from an empty store and the stream's start
    try:
        with joined.client("clustered", member) as late:
            assert list(late.fetch())[-1].cursor == head  # serving only once caught up
        everyone = [*nodes, joined]
        for node in everyone:
            with node.client("clustered", member) as client:
                _wait(lambda client=client: list(client.fetch())[-1].cursor == head)
        for node in everyone:
            node.stop()
        digests = {state_digest(node.data_dir) for node in everyone}
        assert len(digests) == 1
    finally:
        for node in nodes:
            node.start()
        if joined.proc is not None and joined.proc.poll() is None:
            joined.stop()


def test_no_acknowledged_batch_is_lost_when_a_nats_server_and_a_hub_node_die(
    cluster: tuple[NatsCluster, list[HubProcess], Path], member: Path
) -> None:
    nats, nodes, _ = cluster
    acked: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def ingest(node: HubProcess, seed: int) -> None:
        rng = random.Random(seed)
        with Client(node.endpoint, "clustered", member, timeout_seconds=20) as client:
            while not stop.is_set():
                values = [_pdq(rng) for _ in range(20)]
                try:
                    client.submit([Signal("pdq", v) for v in values])
                except Exception as e:  # a node going away: not acknowledged, not counted
                    errors.append(e)
                    if node.proc is None or node.proc.poll() is not None:
                        return
                    continue
                acked.extend(values)

    threads = [threading.Thread(target=ingest, args=(nodes[i], 100 + i)) for i in (0, 1)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    nats.servers[2].kill()  # one of three JetStream replicas
    nodes[1].stop(9)  # SIGKILL a hub node mid-ingest
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join(60)
    assert acked, errors
    with nodes[0].client("clustered", member) as survivor:
        # A batch the dead node had put on the stream but not acknowledged may still be on
        # its way to the survivor: read once the feed has stopped growing.
        events = list(survivor.fetch())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.5)
            again = list(survivor.fetch())
            if len(again) == len(events):
                break
            events = again
    stored = {e.signal.value for e in events}
    cursors = [feed_sequence(nodes[0].data_dir, e.cursor) for e in events]
    assert set(acked) <= stored  # every acknowledged batch, on the surviving node
    assert cursors == sorted(set(cursors))  # in order, none twice
    nats.servers[2].start()
    nodes[1].start()  # restarts from its store and catches up with the stream
    with nodes[1].client("clustered", member) as back:
        assert [e.cursor for e in back.fetch()] == [e.cursor for e in events]
    for node in (nodes[0], nodes[1]):
        node.stop()
    assert state_digest(nodes[0].data_dir) == state_digest(nodes[1].data_dir)
    store = Store(nodes[0].data_dir / "lmdb", readonly=True)
    try:
        with store.read() as view:
            feed = [int(r.event.cursor) for r in view.feed(0, 1_000_000)]
    finally:
        store.close()
    assert feed == list(range(1, len(feed) + 1))  # the hub's feed has no gap
    for node in (nodes[0], nodes[1]):
        node.start()


def test_a_new_node_starts_from_a_snapshot_and_replays_only_the_rest(
    cluster: tuple[NatsCluster, list[HubProcess], Path], member: Path
) -> None:
    nats, nodes, tmp = cluster
    nodes[0].stop()
    nodes[0].start(extra=("--cluster", nats.urls, "--snapshot-interval", "1"))
    marker = nodes[0].log_path.stat().st_size
    with nodes[0].client("clustered", member) as a:
        a.submit([Signal("pdq", _pdq(random.Random(500 + i))) for i in range(30)])
    _wait(lambda: "wrote a snapshot" in nodes[0].log_path.read_bytes()[marker:].decode(), 30)
    with nodes[0].client("clustered", member) as a:  # after the snapshot: replayed from the stream
        a.submit([Signal("pdq", _pdq(random.Random(600)))])
        head = list(a.fetch())[-1].cursor
    fresh = new_node(tmp, "from-snapshot", nats)
    try:
        found = re.search(r"restored a snapshot covering the stream up to (\d+)",
                          fresh.log_path.read_text())  # fmt: skip
        assert found is not None and int(found.group(1)) > 0
        with fresh.client("clustered", member) as late:
            assert list(late.fetch())[-1].cursor == head
        fresh.stop()
        nodes[0].stop()
        assert state_digest(fresh.data_dir) == state_digest(nodes[0].data_dir)
    finally:
        if fresh.proc is not None and fresh.proc.poll() is None:
            fresh.stop()
        if nodes[0].proc is None or nodes[0].proc.poll() is not None:
            nodes[0].start(extra=("--cluster", nats.urls))


def test_a_batch_too_large_for_the_clusters_log_is_refused_and_nothing_stored(
    cluster: tuple[NatsCluster, list[HubProcess], Path], member: Path
) -> None:
    """NATS takes messages of at most 1 MB by default; the hub takes 16 MiB. A larger batch is
    refused for good (INVALID_ARGUMENT), not retried, and no node stores anything."""

    from client_sdk.errors import SignalhubError

    _, nodes, _ = cluster
    big = [Signal("url", f"https://example.com/{i}/" + "x" * 3900) for i in range(400)]
    before = [state_digest(node.data_dir) for node in nodes]  # (heads are signed on a timer)
    with nodes[0].client("clustered", member) as a, pytest.raises(SignalhubError) as info:
        a.submit(big)
    assert info.value.code.name == "INVALID_ARGUMENT"
    assert "larger than the cluster's log takes" in str(info.value)
    assert [state_digest(node.data_dir) for node in nodes] == before
