"""Prometheus metrics of the hub, all in one place (base units, `signalhub_` prefix, no member
ids or hash values as labels)."""

from __future__ import annotations

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)

from .extraction import ExtractionLimits
from .store import SEALED_DATABASES, Store

CHECKED_TABLES = (
    *sorted(SEALED_DATABASES),
    "log",
    "audit",
    "audit_heads",
    "pdq",
    "typed",
    "meta",
    "lmdb",
)
"""The `table` labels of signalhub_store_corrupt_records_total ("lmdb": a damaged page)."""


class HubMetrics:
    """The hub's metrics in their own registry (so tests can run several hubs in a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self.rpc_requests = Counter(
            "signalhub_rpc_requests",
            "RPCs answered, by method and status code.",
            ["method", "code"],
            registry=self.registry,
        )
        self.rpc_duration = Histogram(
            "signalhub_rpc_duration_seconds",
            "Time to answer an RPC, by method.",
            ["method"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.signals_submitted = Counter(
            "signalhub_signals_submitted",
            "Submitted signals stored, by type and result.",
            ["type", "result"],
            registry=self.registry,
        )
        self.matches = Counter(
            "signalhub_matches",
            "Matches returned, by signal type.",
            ["type"],
            registry=self.registry,
        )
        self.matches_warned = Counter(
            "signalhub_matches_warned",
            "Matches a warning list flags, by signal type and whether they were returned "
            "flagged or excluded at the caller's request.",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.warning_entries = Gauge(
            "signalhub_warning_list_entries",
            "Approved entries of each warning list.",
            ["list"],
            registry=self.registry,
        )
        self.warning_proposals_open = Gauge(
            "signalhub_warning_proposals_open",
            "Members' proposals and endorsements of warning-list entries waiting for approval.",
            registry=self.registry,
        )
        self.index_signals = Gauge(
            "signalhub_index_signals",
            "Signals in the in-memory match index, by type.",
            ["type"],
            registry=self.registry,
        )
        self.index_upkeep_rows = Gauge(
            "signalhub_index_upkeep_rows",
            "PDQ rows not yet in the index's main tables: in the tail's own tables (mid), "
            "scanned (tail) and in the delta; they stay small while the upkeep keeps up.",
            ["part"],
            registry=self.registry,
        )
        self.index_rebuilding = Gauge(
            "signalhub_index_rebuilding",
            "1 while the PDQ index builds new tables or a new base beside the old one.",
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "signalhub_auth_failures",
            "Refused authentications and authorisations, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.store_bytes = Gauge(
            "signalhub_store_bytes", "Bytes of the LMDB map in use.", registry=self.registry
        )
        self.store_map_bytes = Gauge(
            "signalhub_store_map_bytes", "Size of the LMDB map.", registry=self.registry
        )
        self.feed_sequence = Gauge(
            "signalhub_feed_sequence", "Sequence of the newest feed event.", registry=self.registry
        )
        self.feed_propagation = Histogram(
            "signalhub_feed_propagation_seconds",
            "Time from a signal's receipt to its delivery to a following subscriber.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.followers = Gauge(
            "signalhub_feed_followers",
            "FetchUpdates streams following the feed now.",
            registry=self.registry,
        )
        self.cluster_apply_lag = Gauge(
            "signalhub_cluster_apply_lag",
            "Entries of the cluster's log stream this node has not applied yet (cluster mode).",
            registry=self.registry,
        )
        self.shard_scatter = Histogram(
            "signalhub_shard_scatter_seconds",
            "Time to ask every match shard and gather their answers (sharded cluster mode).",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry,
        )
        self.shards_answering = Gauge(
            "signalhub_shards_answering_ratio",
            "Share of match shards that answered the last scatter (1 = full coverage).",
            registry=self.registry,
        )
        self.snapshot_spool_bytes = Gauge(
            "signalhub_snapshot_spool_bytes",
            "Bytes of snapshot spool files held for streams being read (one per member and "
            "state, shared by its readers).",
            registry=self.registry,
        )
        self.member_limit_refusals = Counter(
            "signalhub_member_limit_refusals",
            "Calls refused because the member already held its share of that kind of call "
            "(kind: follow, snapshot, report, match).",
            ["kind"],
            registry=self.registry,
        )
        self.follower_disconnects = Counter(
            "signalhub_feed_follower_disconnects",
            "Following subscribers disconnected for not reading (they resume from their cursor).",
            registry=self.registry,
        )
        self.corrupt_records = Counter(
            "signalhub_store_corrupt_records",
            "Stored records found corrupt when read (refused with DATA_LOSS), by table.",
            ["table"],
            registry=self.registry,
        )
        for table in CHECKED_TABLES:  # at 0 from the start: an alert sees the first one rise
            self.corrupt_records.labels(table)

        self.signals_quarantined = Gauge(
            "signalhub_signals_quarantined",
            "Signals in flood quarantine now (their match rate jumped far above its baseline; "
            "an operator releases or retracts each).",
            registry=self.registry,
        )
        self.matches_quarantined = Counter(
            "signalhub_matches_quarantined",
            "Matches of quarantined signals answered, by outcome (flagged, excluded).",
            ["outcome"],
            registry=self.registry,
        )
        self.match_counts_dropped = Gauge(
            "signalhub_match_counts_dropped",
            "Matches not counted for quarantine and reviews since the process started "
            "(the node's tally of (signal, member) pairs was full).",
            registry=self.registry,
        )
        self.match_refusals = Counter(
            "signalhub_match_refusals",
            "Match queries refused by the extraction limits (docs/match-only.md), by reason "
            "(budget: a member's daily match budget was spent; sweep: a sweeping member "
            "throttled).",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("budget", "sweep"):
            self.match_refusals.labels(reason)
        self.match_sweeps_detected = Counter(
            "signalhub_match_sweeps_detected",
            "Times a member became sweeping: most of its many queries in the last hour matched "
            "nothing (enumeration of a list looks like this).",
            registry=self.registry,
        )
        self.match_members_sweeping = Gauge(
            "signalhub_match_members_sweeping",
            "Members the sweep detector holds as sweeping now (which: signalhub admin usage).",
            registry=self.registry,
        )
        self.ready = Gauge(
            "signalhub_ready",
            "1 while the hub serves; 0 while its index loads or it drains.",
            registry=self.registry,
        )

    def watch_store(self, store: Store) -> None:
        """Store usage is read at scrape time, so it is never stale; corrupt records are
        counted as reads find them."""
        self.store_bytes.set_function(lambda: store.map_bytes()[0])
        self.store_map_bytes.set_function(lambda: store.map_bytes()[1])
        store.on_corrupt = lambda table: self.corrupt_records.labels(table).inc()

    def watch_extraction(self, limits: ExtractionLimits) -> None:
        """Members sweeping now are counted at scrape time (the state ends by itself)."""
        self.match_members_sweeping.set_function(limits.sweeping_members)

    def serve(self, host: str, port: int) -> None:
        """Starts the /metrics HTTP endpoint in a background thread."""
        start_http_server(port, addr=host, registry=self.registry)
