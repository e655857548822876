"""Cluster nodes must share one signal-type registry: the first node records its registry in
the log stream, and a node whose plug-ins make a type validate or match otherwise refuses to
join (it would decide entries differently), naming the difference."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from clustertools import nats_binary, start_nats_cluster
from hubtools import HubProcess, plugin_site

from exchange.commands import init_data_dir

MATCHER = """
from signalhub.signal_types import TypeMatcher


class Exact:
    def __init__(self):
        self.values = {}

    def add(self, items):
        self.values.update(items)

    def remove(self, ids):
        for i in ids:
            self.values.pop(i, None)

    def search(self, value, max_distance):
        return [(sid, 0) for sid, v in self.values.items() if v == value]

    def __len__(self):
        return len(self.values)


MATCHER = TypeMatcher("photodna", lambda a, b: int(a != b), Exact, 0, 1)
"""

pytestmark = pytest.mark.skipif(nats_binary() is None, reason="nats-server is not installed")


def test_a_node_with_other_signal_types_refuses_to_join(tmp_path: Path) -> None:
    nats = start_nats_cluster(tmp_path)
    nodes: list[HubProcess] = []
    try:
        init_data_dir(tmp_path / "seed")
        args = ("--cluster", nats.urls, "--cluster-replicas", "1")
        for name in ("a", "b", "c"):
            shutil.copytree(tmp_path / "seed", tmp_path / name / "data")
        nodes.append(HubProcess(tmp_path / "a" / "data").start(extra=args))
        site = plugin_site(tmp_path, "other-matcher", "other_matcher", MATCHER,
                           "m = other_matcher:MATCHER")  # fmt: skip
        odd = HubProcess(tmp_path / "b" / "data", env={"PYTHONPATH": str(site)})
        with pytest.raises(AssertionError, match=r"signal types differ.*photodna:distance"):
            odd.start(extra=args)
        nodes.append(HubProcess(tmp_path / "c" / "data").start(extra=args))  # same types: joins
    finally:
        for node in nodes:
            node.stop()
        nats.stop()
