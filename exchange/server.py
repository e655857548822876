"""Wiring and lifecycle: opens the store, loads the index, starts the writer and the gRPC
server (health and reflection included), and stops cleanly on SIGTERM. How servicer methods
become gRPC handlers (exact request bytes, error statuses, the access log) is
exchange.server_handlers; committed entries reach the index through exchange.index.CommitHook.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import lmdb
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from signalhub import domain
from signalhub.signal_types import PluginError
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, exchange_pb2

from .auth import CallVerifier
from .backup import serve_lock
from .cluster import ClusterLog, ShardRouter, restore_snapshot, write_snapshot
from .errors import RESTORE_ADVICE, HubError
from .extraction import ExtractionLimits, ExtractionSettings, stored_queries
from .index import CommitHook, SignalIndex
from .integrity import startup_problems
from .limits import CostLimiter, MemberSlots, RateLimiter
from .match_counts import QuarantineSettings
from .metrics import HubMetrics
from .server_handlers import RpcHandlers
from .service import AdminService, ExchangeService, FeedNotifier, Hub
from .service import quarantine as service_quarantine
from .service import warnings as service_warnings
from .service.quarantine import log_match_counts, log_match_counts_periodically
from .store import Store
from .writer import Writer, now_timestamp

log = logging.getLogger("signalhub.server")
SHUTDOWN_GRACE_SECONDS = 10.0
EXCHANGE_SERVICE = exchange_pb2.DESCRIPTOR.services_by_name["Exchange"]
ADMIN_SERVICE = admin_pb2.DESCRIPTOR.services_by_name["Admin"]


@dataclass
class ServerConfig:
    """Settings of one hub process."""

    data_dir: Path
    listen: str = "127.0.0.1:50051"
    metrics_listen: str | None = "127.0.0.1:9464"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    """With a client CA, every connection must present a certificate it issued (mTLS), and
    every call must be signed as the member that certificate names (its CN)."""
    clock_skew_seconds: int = domain.REPLAY_WINDOW_SECONDS
    """How far a call's timestamp may be from the hub's clock."""
    audit_head_interval_seconds: float = 60.0
    """How often the hub signs the audit log's head when it has moved."""
    expiry_interval_seconds: float = 60.0
    """How often the hub looks for expired submissions (and logs a tick to remove them)."""
    rate_limit: float = 1000.0
    """Calls a second per member (0 = no limit)."""
    rate_burst: float = 2000.0
    max_message_bytes: int = domain.MAX_MESSAGE_BYTES
    max_batch_signals: int = domain.MAX_BATCH_SIGNALS
    max_store_bytes: int = 0
    max_concurrent_rpcs: int = 1000
    keepalive_seconds: float = 60.0
    follow_stall_seconds: float = 30.0
    """A stream whose subscriber reads nothing this long is ended (RESOURCE_EXHAUSTED)."""
    match_results_rate: float = 5000.0
    match_results_burst: float = 50000.0
    """Each member's share of match work (exchange.limits.CostLimiter; rate 0 = no limit)."""
    max_follows_per_member: int = 16
    max_snapshots_per_member: int = 2
    max_reports_per_member: int = 1
    """Long calls one member may hold at once (exchange.limits.MemberSlots; 0 = no limit)."""
    cluster: list[str] = field(default_factory=list)
    """NATS servers: the command log is a JetStream stream shared by the hub nodes (empty:
    single node, the log in LMDB only)."""
    cluster_replicas: int = 3
    snapshot_interval_seconds: float = 3600.0
    """Cluster mode: how often a node uploads a snapshot of its store (0: never)."""
    shard: tuple[int, int] | None = None
    """(I, K): index only shard I of K; matches ask every shard over NATS (cluster mode)."""
    match_count_interval_seconds: float = 5.0
    """How often the node logs its match counts (exchange.match_counts)."""
    quarantine_ratio: float = 20.0
    quarantine_min_matches_per_hour: int = 50
    quarantine_baseline_hours: int = 24
    """Flood quarantine's thresholds (ratio 0: never quarantine)."""
    review_window_days: int = 90
    """How far back review notices count a member's matches."""
    match_budget_per_day: int = 1_000_000
    sweep_misses_per_hour: int = 100_000
    sweep_min_miss_fraction: float = 0.99
    sweep_throttle: bool = False
    sweep_cooldown_seconds: float = 3600.0
    """Extraction limits (exchange.extraction)."""


def lmdb_path(data_dir: Path) -> Path:
    """Where a data directory keeps its LMDB environment."""
    return Path(data_dir) / "lmdb"


def corrupt_store_message(data_dir: Path, problem: str) -> str:
    """Why a hub refuses to serve a corrupt store, and what the operator can do."""
    problem = problem.split("; " + RESTORE_ADVICE)[0]
    return (
        f"refusing to serve {data_dir}: its store is corrupt: {problem}; run `signalhub admin "
        f"check --data-dir {data_dir}` to list what is damaged, and restore a backup "
        f"(`signalhub admin restore BACKUP --data-dir {data_dir} --force`)"
    )


def open_checked(path: Path, data_dir: Path, max_map_bytes: int = 0) -> Store:
    """Opens the store to serve it, or exits saying why it is corrupt (LMDB refuses its file,
    or one of the one-off passes a store from an older hub gets fails)."""
    try:
        return Store(path, max_map_bytes=max_map_bytes)
    except HubError as e:
        raise SystemExit(corrupt_store_message(data_dir, e.message)) from None
    except lmdb.Error as e:  # a damaged header, main table or page
        raise SystemExit(corrupt_store_message(data_dir, f"LMDB: {e}")) from None


def check_registry(store: Store) -> None:
    """Refuses to serve when a signal type this store was served with is no longer registered
    (its plug-in uninstalled or broken): its stored signals could be neither validated nor
    matched. Records the types (and where they came from) in the store's meta otherwise."""
    try:
        current = {name: domain.SIGNAL_TYPES[name].origin for name in domain.SIGNAL_TYPES}
    except PluginError as e:
        raise SystemExit(f"cannot load the signal types: {e}") from None
    with store.read() as view:
        raw = view.meta("signal_types")
    recorded: dict[str, str] = json.loads(raw) if raw else {}  # startup_problems checked it
    missing = sorted(set(recorded) - set(current))
    if missing:
        listed = ", ".join(f"{name} (from {recorded[name]})" for name in missing)
        raise SystemExit(
            f"this store was served with signal types that are not installed now: {listed}; "
            "its signals of those types could be neither validated nor matched: install the "
            "plug-ins again (docs/plugins.md)"
        )
    if recorded != current:
        store.write(
            lambda tx: tx.set_meta("signal_types", json.dumps(current, sort_keys=True).encode())
        )


class HubServer:
    """One hub process: store, writer, index, gRPC server and metrics endpoint."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.metrics = HubMetrics()
        self.store: Store | None = None
        self.writer: Writer | None = None
        self.server: grpc.aio.Server | None = None
        self.hub: Hub | None = None
        self._lock: serve_lock | None = None
        self._head_task: asyncio.Task[None] | None = None
        self._expiry_task: asyncio.Task[None] | None = None
        self._stats_task: asyncio.Task[None] | None = None
        self._snapshot_task: asyncio.Task[None] | None = None
        self._counts_task: asyncio.Task[None] | None = None
        self.cluster: ClusterLog | None = None
        self._pending: set[asyncio.Future[None]] = set()
        self.exchange: ExchangeService | None = None
        self.port = 0
        self.health = health.aio.HealthServicer()

    async def start(self) -> None:
        """Opens everything and starts answering; health is NOT_SERVING until the index is
        loaded."""
        store = await self._open_store()
        index = SignalIndex(self.config.shard)
        feed = FeedNotifier()
        feed.bind(asyncio.get_running_loop())
        on_commit = CommitHook(index, feed.notify)  # until the servicer exists
        self.writer = Writer(store, on_commit)
        self.hub = hub = self._hub(store, self.writer, index, feed)
        self.metrics.watch_extraction(hub.extraction)
        self.server = grpc.aio.server(
            options=self._grpc_options(),
            maximum_concurrent_rpcs=self.config.max_concurrent_rpcs or None,
        )
        exchange = ExchangeService(hub)
        self.exchange = exchange
        on_commit.then = exchange.committed  # reads the new records, then wakes the followers
        await self._serve_services(self.server, exchange, AdminService(hub))
        started = time.perf_counter()
        try:
            loaded = await asyncio.get_running_loop().run_in_executor(None, index.load, store)
        except HubError as e:  # a corrupt PDQ table or typed row (DATA_LOSS)
            await self.server.stop(0)  # before the loop closes (grpc's __del__ needs it)
            raise SystemExit(corrupt_store_message(self.config.data_dir, e.message)) from None
        self.metrics.index_signals.labels("pdq").set(loaded)
        for part in ("mid", "tail", "delta"):
            self.metrics.index_upkeep_rows.labels(part).set_function(
                functools.partial(lambda p: index.upkeep_state()[p], part)
            )
        self.metrics.index_rebuilding.set_function(lambda: index.upkeep_state()["rebuilding"])
        with store.read() as view:
            self.metrics.feed_sequence.set(view.counter("feed_seq"))
        service_warnings.refresh_metrics(hub)
        service_quarantine.refresh_metrics(hub)
        log.info("index loaded: %d PDQ hashes in %.2f s", loaded, time.perf_counter() - started)
        exchange.start_tail()
        self.writer.start()
        if self.config.cluster:
            await self._join_cluster(hub, store, self.writer, index)
        hub.ready = True
        # What start-up made (modules, the registry, the loaded index's objects) lives as
        # long as the process: kept out of the cyclic collector, a full collection costs
        # ~0 instead of ~9 ms with the GIL held, a stall every match in flight would share.
        gc.freeze()
        self.metrics.ready.set(1)
        for service in ("", EXCHANGE_SERVICE.full_name):
            await self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        self._head_task = asyncio.create_task(self._sign_heads_periodically(hub))
        self._expiry_task = asyncio.create_task(self._expire_periodically(hub))
        self._stats_task = asyncio.create_task(self._flush_stats_periodically(hub))
        self._counts_task = asyncio.create_task(
            log_match_counts_periodically(hub, self.config.match_count_interval_seconds)
        )
        if self.cluster is not None and self.config.snapshot_interval_seconds > 0:
            self._snapshot_task = asyncio.create_task(self._snapshot_periodically(self.cluster))

    async def _open_store(self) -> Store:
        """Takes the data directory's serve lock and opens its store (a new cluster node from
        the cluster's latest snapshot), or exits saying why it cannot be served."""
        path = lmdb_path(self.config.data_dir)
        if not (path / "data.mdb").exists():
            raise SystemExit(
                f"{self.config.data_dir} is not a signalhub data directory; "
                f"run: signalhub init --data-dir {self.config.data_dir}"
            )
        self._lock = serve_lock(self.config.data_dir)
        if not self._lock.__enter__():
            raise SystemExit(f"another hub is serving {self.config.data_dir}")
        if self.config.cluster:  # a new node starts from the cluster's latest snapshot
            await restore_snapshot(self.config.cluster, path)
        self.store = store = open_checked(
            path, self.config.data_dir, max_map_bytes=self.config.max_store_bytes
        )
        try:
            with store.read() as view:
                initialised = view.meta("operator_public_key") is not None
                problems = startup_problems(view)
        except HubError as e:  # LMDB found a damaged page (DATA_LOSS)
            initialised, problems = True, [e.message]
        if not initialised:
            raise SystemExit(f"{self.config.data_dir} was not initialised; run signalhub init")
        if problems:
            raise SystemExit(corrupt_store_message(self.config.data_dir, "; ".join(problems)))
        self.metrics.watch_store(store)
        if self.config.shard is not None and not self.config.cluster:
            raise SystemExit("--shard needs --cluster: the other shards are reached over NATS")
        check_registry(store)
        return store

    def _hub(self, store: Store, writer: Writer, index: SignalIndex, feed: FeedNotifier) -> Hub:
        """The servicers' shared context, with this configuration's limits."""
        hub_key = domain.read_private_key(self.config.data_dir / "hub.key")
        verifier = CallVerifier(self.config.clock_skew_seconds)

        def refused(kind: str) -> Callable[[str], None]:
            return lambda _: self.metrics.member_limit_refusals.labels(kind).inc()

        limiter = RateLimiter(self.config.rate_limit, self.config.rate_burst)
        return Hub(
            store,
            writer,
            index,
            verifier,
            self.metrics,
            hub_key,
            limiter=limiter,
            max_batch_signals=self.config.max_batch_signals,
            feed=feed,
            follows=MemberSlots(
                "following streams", self.config.max_follows_per_member, refused("follow")
            ),
            snapshots=MemberSlots(
                "snapshot streams", self.config.max_snapshots_per_member, refused("snapshot")
            ),
            reports=MemberSlots("reports", self.config.max_reports_per_member, refused("report")),
            match_work=CostLimiter(
                "match results",
                self.config.match_results_rate,
                self.config.match_results_burst,
                refused("match"),
            ),
            quarantine=QuarantineSettings(
                ratio=self.config.quarantine_ratio,
                min_matches_per_hour=self.config.quarantine_min_matches_per_hour,
                baseline_hours=self.config.quarantine_baseline_hours,
                enabled=self.config.quarantine_ratio > 0,
            ),
            review_window_days=self.config.review_window_days,
            extraction=ExtractionLimits(ExtractionSettings.of(self.config), stored_queries(store)),
        )

    def _grpc_options(self) -> list[tuple[str, int]]:
        """The gRPC server's channel options."""
        keepalive_ms = int(self.config.keepalive_seconds * 1000)
        return [
            ("grpc.max_receive_message_length", self.config.max_message_bytes),
            ("grpc.max_send_message_length", domain.MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
            ("grpc.keepalive_time_ms", keepalive_ms),
            ("grpc.keepalive_timeout_ms", 20_000),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.keepalive_permit_without_calls", 1),
            # Requests must come uncompressed: a compressed one is refused (UNIMPLEMENTED)
            # before it is inflated, so nobody can make the hub inflate 22 KB into 15 MB ahead
            # of authentication. Answers are not compressed either (members' SDK sends none).
            ("grpc.compression_enabled_algorithms_bitset", 1),  # identity only
        ]

    async def _serve_services(
        self, server: grpc.aio.Server, exchange: ExchangeService, admin: AdminService
    ) -> None:
        """Routes the services (health and reflection too), listens, and starts the server
        (NOT_SERVING) and the metrics endpoint."""
        server.add_generic_rpc_handlers(
            (
                RpcHandlers(
                    self.metrics,
                    [(EXCHANGE_SERVICE, exchange), (ADMIN_SERVICE, admin)],
                    self.config.follow_stall_seconds,
                    bind_certificate=self.config.tls_client_ca is not None,
                ),
            )
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            (
                EXCHANGE_SERVICE.full_name,
                ADMIN_SERVICE.full_name,
                reflection.SERVICE_NAME,
                health.SERVICE_NAME,
            ),
            server,
        )
        self.port = self._add_port(server)
        if self.port == 0:
            raise SystemExit(f"cannot listen on {self.config.listen}")
        for service in ("", EXCHANGE_SERVICE.full_name):
            await self.health.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
        await server.start()
        if self.config.metrics_listen:
            host, _, port = self.config.metrics_listen.rpartition(":")
            self.metrics.serve(host or "127.0.0.1", int(port))

    async def _join_cluster(
        self, hub: Hub, store: Store, writer: Writer, index: SignalIndex
    ) -> None:
        """Follows the cluster's command log (commands go to it from now on) until caught up,
        and with --shard serves this node's shard of the matching."""
        cluster = ClusterLog(
            self.config.cluster,
            store,
            writer,
            self.config.cluster_replicas,
            name=f"signalhub@{self.config.listen}",
        )
        cluster.on_failure = lambda reason: self._stop_serving(hub, reason)
        await cluster.start()
        self.cluster = cluster
        hub.log_sink = cluster
        # Reads stay unavailable (NOT_SERVING) until this node has applied the stream as
        # far as it stood when the node started.
        started = time.perf_counter()
        await cluster.caught_up.wait()
        if cluster.failure is not None:
            raise SystemExit(cluster.failure)
        log.info(
            "caught up with the cluster's log at %d in %.2f s",
            cluster.applied_seq,
            time.perf_counter() - started,
        )
        if self.config.shard is not None:
            shard, shards = self.config.shard
            router = ShardRouter(cluster, index, shards, self.metrics)
            await router.serve_shard(shard)  # only now: its answers are complete
            hub.search = router.search
            log.info("matching shard %d of %d", shard, shards)

    def _stop_serving(self, hub: Hub, reason: str) -> None:
        """This node can no longer follow the cluster: refuse reads and writes (UNAVAILABLE)
        and report NOT_SERVING, rather than answer from a state that would diverge."""
        hub.ready = False
        self.metrics.ready.set(0)
        log.critical("not serving: %s", reason)
        for service in ("", EXCHANGE_SERVICE.full_name):
            task = asyncio.ensure_future(
                self.health.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
            )
            self._pending.add(task)  # kept until done (the loop holds tasks weakly)
            task.add_done_callback(self._pending.discard)

    async def _snapshot_periodically(self, cluster: ClusterLog) -> None:
        while True:
            await asyncio.sleep(self.config.snapshot_interval_seconds)
            try:
                await write_snapshot(cluster)
            except Exception:
                log.exception("writing a snapshot failed")

    def _add_port(self, server: grpc.aio.Server) -> int:
        c = self.config
        if c.tls_cert is None and c.tls_key is None:
            if c.tls_client_ca is not None:
                raise SystemExit("--tls-client-ca needs --tls-cert and --tls-key")
            return int(server.add_insecure_port(c.listen))
        if c.tls_cert is None or c.tls_key is None:
            raise SystemExit("TLS needs both --tls-cert and --tls-key")
        client_ca = c.tls_client_ca.read_bytes() if c.tls_client_ca else None
        credentials = grpc.ssl_server_credentials(
            [(c.tls_key.read_bytes(), c.tls_cert.read_bytes())],
            root_certificates=client_ca,
            require_client_auth=client_ca is not None,
        )
        return int(server.add_secure_port(c.listen, credentials))

    async def _expire_periodically(self, hub: Hub) -> None:
        """Appends an expiry tick to the log when a submission's expires_at has passed. The
        tick carries the time, so apply (and every replay) removes exactly the same ones."""
        while True:
            await asyncio.sleep(self.config.expiry_interval_seconds)
            try:
                with hub.store.read() as view:
                    first = view.first_expiry_ms()
                now = now_timestamp()
                if first is not None and first <= now.ToMilliseconds():
                    entry = rec.LogEntry(received_at=now, expire_tick=rec.ExpireTick())
                    await hub.log.execute(entry)
                    self.metrics.index_signals.labels("pdq").set(len(hub.index))
            except Exception:
                log.exception("expiring submissions failed")

    async def _flush_stats_periodically(self, hub: Hub) -> None:
        while True:
            await asyncio.sleep(STATS_FLUSH_SECONDS)
            await flush_stats(hub)
            if self.cluster is not None:
                try:
                    self.metrics.cluster_apply_lag.set(await self.cluster.lag())
                except Exception:
                    log.warning("could not read the cluster log's state", exc_info=True)

    async def _sign_heads_periodically(self, hub: Hub) -> None:
        while True:
            await asyncio.sleep(self.config.audit_head_interval_seconds)
            try:
                await hub.sign_audit_head()
            except Exception:
                log.exception("signing the audit head failed")

    async def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stops taking calls, lets calls in flight finish (up to `grace`), drains the writer
        and closes LMDB."""
        self.metrics.ready.set(0)
        if self.hub is not None:
            self.hub.feed.close()
        if self.server is not None:
            await self.health.enter_graceful_shutdown()
            await self.server.stop(grace)
        tasks = (self._head_task, self._expiry_task, self._stats_task, self._snapshot_task)
        for task in (*tasks, self._counts_task):
            if task is not None:
                task.cancel()
        if self.hub is not None and self.hub.ready:
            await flush_stats(self.hub)
            await log_match_counts(self.hub)
            try:  # so that `audit verify` finds every entry covered by a signed head
                await self.hub.sign_audit_head()
            except Exception:
                log.exception("signing the final audit head failed")
        if self.cluster is not None:
            await self.cluster.stop()
        if self.exchange is not None:
            self.exchange.stop_tail()
        if self.writer is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.writer.stop)
        if self.store is not None:
            self.store.close()
        if self._lock is not None:
            self._lock.__exit__(None, None, None)


STATS_FLUSH_SECONDS = 5.0
"""Usage counts are written this often (a crash loses at most this much of them)."""


async def flush_stats(hub: Hub) -> None:
    """Writes the usage counts gathered since the last flush (exchange.usage)."""
    counts = hub.usage.take()
    if not counts:
        return
    try:
        await hub.writer.run(lambda tx: tx.add_stats(counts))
    except Exception:
        hub.usage.restore(counts)
        log.exception("writing usage statistics failed; kept for the next flush")


async def serve(
    config: ServerConfig, ready: Callable[[HubServer], Awaitable[None]] | None = None
) -> None:
    """Runs a hub until SIGTERM or SIGINT."""
    hub = HubServer(config)
    await hub.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    if ready is not None:
        await ready(hub)
    await stopping.wait()
    log.info("stopping")
    await hub.stop()
