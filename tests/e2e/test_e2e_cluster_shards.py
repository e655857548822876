"""Sharded matching over real processes: 3 NATS servers, three hub nodes each indexing one
shard of three, and one node indexing everything. Answers from a sharded node equal the
unsharded node's; with a shard's only node dead, a match fails UNAVAILABLE, never partial."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from clustertools import NatsCluster, nats_binary, start_nats_cluster
from hubtools import HubProcess

from client_sdk import Signal
from client_sdk.errors import SignalhubError
from exchange.commands import init_data_dir

pytestmark = pytest.mark.skipif(nats_binary() is None, reason="nats-server is not installed")


def _flip(value: int, bits: int, rng: random.Random) -> int:
    for b in rng.sample(range(256), bits):
        value ^= 1 << b
    return value


@pytest.fixture(scope="module")
def nodes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[list[HubProcess], HubProcess, Path]]:
    import shutil

    tmp = tmp_path_factory.mktemp("shards")
    nats: NatsCluster = start_nats_cluster(tmp)
    seed = tmp / "seed"
    init_data_dir(seed)
    started: list[HubProcess] = []
    try:
        for i, shard in enumerate(["0/3", "1/3", "2/3", ""]):
            data_dir = tmp / f"node-{i}" / "data"
            shutil.copytree(seed, data_dir)
            extra = ("--cluster", nats.urls) + (("--shard", shard) if shard else ())
            started.append(HubProcess(data_dir).start(extra=extra))
        yield started[:3], started[3], tmp
    finally:
        for node in started:
            if node.proc is not None and node.proc.poll() is None:
                node.stop()
        nats.stop()


def test_sharded_answers_equal_the_single_index_and_a_dead_shard_is_unavailable(
    nodes: tuple[list[HubProcess], HubProcess, Path],
) -> None:
    sharded, whole, tmp = nodes
    key = whole.add_member("sharding", tmp)
    rng = random.Random(3)
    centres = [rng.getrandbits(256) for _ in range(20)]
    stored = [f"{rng.getrandbits(256):064x}" for _ in range(300)]  # random
    stored += [f"{_flip(c, rng.randint(0, 12), rng):064x}" for c in centres for _ in range(15)]
    with whole.client("sharding", key) as client:
        for i in range(0, len(stored), 200):
            client.submit([Signal("pdq", v) for v in stored[i : i + 200]])
        head = list(client.fetch())[-1].cursor
    queries = [f"{_flip(c, 6, rng):064x}" for c in centres]  # near many stored copies
    queries += [stored[i] for i in rng.sample(range(300), 10)] + [f"{rng.getrandbits(256):064x}"]

    def answers(node: HubProcess) -> list[list[tuple[str, int]]]:
        with node.client("sharding", key) as c:
            while list(c.fetch())[-1].cursor != head:  # the node has applied everything
                pass
            return [[(m.signal.value, m.distance) for m in r.matches] for r in c.match_pdq(queries)]

    want = answers(whole)
    assert sum(len(a) for a in want) > 200  # clustered data: many matches per query
    for node in sharded:
        assert answers(node) == want

    sharded[2].stop(9)  # the only node of shard 2
    with sharded[0].client("sharding", key) as c, pytest.raises(SignalhubError) as info:
        c.match_pdq(queries[:1])
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    assert "shard 2 of 3 has no live node" in str(info.value)
    with whole.client("sharding", key) as c:  # the unsharded node still answers alone
        assert [
            [(m.signal.value, m.distance) for m in r.matches] for r in c.match_pdq(queries)
        ] == want
