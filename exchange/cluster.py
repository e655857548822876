"""Cluster mode: the command log is a NATS JetStream stream, and every hub node materialises
the same LMDB state by applying it in order with the same deterministic `ledger.apply_entry`.

- A node verifies a request as in single-node mode, then publishes its log entry to the stream
  (`Nats-Msg-Id` = what makes it unique: member + batch_id for a submission, so a batch sent to
  two nodes is stored once) and answers only after JetStream stored it on a quorum *and* this
  node applied it (a member reads its own writes on the node it wrote to).
- Every node applies the stream in order from the entry after the last one its store recorded
  (`stream_seq` in the store's meta, written in the same transaction as the entry's effects):
  state-dependent checks (a key revoked meanwhile, a batch_id used) are decided at the entry's
  place in the stream, identically everywhere. The feed, its cursors and the audit chain are
  therefore identical on every node.
- A node reports NOT_SERVING until it has applied the stream as far as it stood at start.

The embedded default (`make run`) does not use any of this: it is `command_log.LocalLog`.
Sharded matching over the cluster is exchange/sharding.py; the single-node log and the
`CommandLog` protocol are exchange/command_log.py (both re-exported here for older importers).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec

from .auth import parse_batch
from .command_log import CommandLog as CommandLog
from .command_log import LocalLog as LocalLog
from .command_log import preview
from .errors import HubError, invalid
from .ledger import Applied, PreparedBatch
from .sharding import ShardRouter as ShardRouter
from .sharding import decode_answer as decode_answer
from .sharding import decode_search as decode_search
from .sharding import encode_answer as encode_answer
from .sharding import encode_search as encode_search
from .sharding import merge_answers as merge_answers
from .store import Store
from .writer import STREAM_SEQ, Writer

log = logging.getLogger("signalhub.cluster")

STREAM = "SIGNALHUB_LOG"
SUBJECT = "signalhub.log"
DUPLICATE_WINDOW_SECONDS = 120
"""JetStream drops a second publish with the same Nats-Msg-Id within this window; a later
replay is caught by apply itself (the batch record), as in single-node mode."""
OUTCOMES_KEPT = 10_000
"""Outcomes of recently applied entries, for the publisher waiting on them."""


def message_id(entry: rec.LogEntry) -> str:
    """What makes a log entry unique for JetStream's de-duplication."""
    which = entry.WhichOneof("command")
    if which == "submit":
        try:
            batch = parse_batch(entry.submit.envelope.payload)
        except HubError:
            batch = None
        if batch is not None and batch.batch_id:
            return f"submit:{batch.member_id}:{batch.batch_id}"
    if which == "expire_tick":  # one tick a minute, whichever node sends it first
        return f"tick:{entry.received_at.seconds // 60}"
    command = entry.__getattribute__(which).SerializeToString() if which else b""
    return f"{which}:{hashlib.sha256(command).hexdigest()[:32]}"


@dataclass
class ClusterLog:
    """The command log in JetStream; see the module's docstring."""

    servers: list[str]
    store: Store
    writer: Writer
    replicas: int = 3
    name: str = "signalhub"
    _nc: Any = None
    _js: Any = None
    _sub: Any = None
    _task: asyncio.Task[None] | None = None
    _applied_seq: int = 0
    _waiters: dict[int, list[asyncio.Future[Applied]]] = field(default_factory=dict)
    _outcomes: dict[int, Applied | HubError] = field(default_factory=dict)
    _progress: asyncio.Condition | None = None
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    failure: str | None = None
    """Set when this node cannot go on applying the stream (it missed purged entries)."""
    on_failure: Callable[[str], None] | None = None

    @property
    def applied_seq(self) -> int:
        """The last stream entry this node applied."""
        return self._applied_seq

    async def start(self) -> None:
        """Connects, creates the stream if needed and starts applying it from where this
        node's store stands."""
        import nats
        from nats.js.api import StreamConfig

        self._progress = asyncio.Condition()
        self._nc = await nats.connect(
            servers=self.servers,
            name=self.name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
        )
        self._js = self._nc.jetstream()
        types = domain.SIGNAL_TYPES
        config = StreamConfig(
            name=STREAM,
            subjects=[SUBJECT],
            num_replicas=self.replicas,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            # Every node must validate and match alike: the first node records its registry.
            description=json.dumps(
                {
                    "signal_types": types.fingerprint(origins=False),
                    "types": types.describe(origins=False),
                }
            ),
        )
        deadline = asyncio.get_running_loop().time() + 60
        while True:  # a new cluster elects its JetStream leader first: wait for it
            try:
                await self._js.stream_info(STREAM)
                break
            except Exception:
                try:
                    await self._js.add_stream(config)
                    break
                except Exception as e:
                    if asyncio.get_running_loop().time() > deadline:
                        raise SystemExit(f"cannot create the cluster's log stream: {e}") from e
                    await asyncio.sleep(0.5)
        info = await self._js.stream_info(STREAM)
        _check_registry(info.config.description)
        with self.store.read() as view:
            raw = view.meta(STREAM_SEQ)
        self._applied_seq = struct.unpack(">Q", raw)[0] if raw else 0
        target = int(info.state.last_seq)
        log.info("stream at %d, this store at %d", target, self._applied_seq)
        first = int(info.state.first_seq)
        if self._applied_seq < target and first > self._applied_seq + 1:
            self._fail(self._applied_seq + 1, first - 1)
            return
        if self._applied_seq >= target:
            self.caught_up.set()
        self._task = asyncio.create_task(self._apply_forever(target))

    async def stop(self) -> None:
        """Stops applying the stream and drains the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.drain()

    async def lag(self) -> int:
        """Entries of the stream this node has not applied yet."""
        info = await self._js.stream_info(STREAM)
        return max(0, int(info.state.last_seq) - self._applied_seq)

    async def _apply_forever(self, caught_up_at: int) -> None:
        from nats.js.api import ConsumerConfig, DeliverPolicy

        while True:
            try:
                start = self._applied_seq + 1
                sub = await self._js.subscribe(
                    SUBJECT,
                    ordered_consumer=True,
                    config=ConsumerConfig(
                        deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start
                    ),
                )
                self._sub = sub
                async for msg in sub.messages:
                    seq = int(msg.metadata.sequence.stream)
                    if seq <= self._applied_seq:
                        continue  # already applied (a resubscription starts a little early)
                    if seq > self._applied_seq + 1:
                        self._fail(self._applied_seq + 1, seq - 1)
                        return
                    await self._apply(seq, msg.data)
                    if self.failure is not None:
                        return
                    if not self.caught_up.is_set() and seq >= caught_up_at:
                        self.caught_up.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("following the stream failed; resubscribing")
                await asyncio.sleep(0.5)

    def _fail(self, first: int, last: int) -> None:
        """Entries first..last are gone from the stream (purged behind a snapshot, e.g. after
        a legal erasure) before this node applied them: applying what follows would make its
        state differ from every other node's, so it stops applying and says what to do."""
        self.failure = (
            f"this node missed stream entries {first}-{last}, which were purged from the "
            "cluster's log (signalhub admin compact-cluster-log) before it applied them; "
            "give it a fresh copy of the seed data directory and start it again: it starts "
            "from the cluster's latest snapshot"
        )
        log.critical("%s", self.failure)
        self.caught_up.set()  # unblocks a starting node, which then exits with the failure
        if self.on_failure is not None:
            self.on_failure(self.failure)

    async def _apply(self, seq: int, data: bytes) -> None:
        """Applies stream entry `seq` exactly once, retrying while the store refuses writes."""
        entry = rec.LogEntry.FromString(data)
        while True:
            outcome: Applied | HubError
            try:
                outcome = await self.writer.execute(entry, None, stream_seq=seq)
            except HubError as e:
                outcome = e
            if isinstance(outcome, HubError) and outcome.code == grpc.StatusCode.DATA_LOSS:
                # The other nodes apply this entry over intact records: going on from a corrupt
                # one would make this node's state differ from theirs.
                self.failure = f"stream entry {seq} met a corrupt record: {outcome.message}"
                log.critical("%s", self.failure)
                self.caught_up.set()
                if self.on_failure is not None:
                    self.on_failure(self.failure)
                return
            with self.store.read() as view:
                raw = view.meta(STREAM_SEQ)
            if raw is not None and struct.unpack(">Q", raw)[0] >= seq:
                break
            log.error("stream entry %d was not applied (%s); retrying", seq, outcome)
            await asyncio.sleep(1.0)
        self._applied_seq = seq
        self._outcomes[seq] = outcome
        if len(self._outcomes) > OUTCOMES_KEPT:
            for old in sorted(self._outcomes)[: len(self._outcomes) - OUTCOMES_KEPT]:
                del self._outcomes[old]
        for future in self._waiters.pop(seq, []):
            if not future.done():
                future.set_result(outcome)  # type: ignore[arg-type]
        assert self._progress is not None
        async with self._progress:
            self._progress.notify_all()

    async def _wait_applied(self, seq: int) -> None:
        assert self._progress is not None
        async with self._progress:
            await self._progress.wait_for(lambda: self._applied_seq >= seq)

    async def execute(self, entry: rec.LogEntry, hint: PreparedBatch | None = None) -> Applied:
        """Publishes `entry` and returns its outcome once this node applied it."""
        from nats.errors import Error as NatsError
        from nats.errors import MaxPayloadError

        try:
            ack = await self._js.publish(
                SUBJECT,
                entry.SerializeToString(),
                headers={"Nats-Msg-Id": message_id(entry)},
                timeout=10,
            )
        except MaxPayloadError:
            limit = self._nc.max_payload
            raise invalid(
                f"the request is larger than the cluster's log takes ({limit} bytes); "
                "send smaller batches",
                [("envelope", f"at most about {limit} bytes in cluster mode")],
            ) from None
        except (NatsError, TimeoutError) as e:
            raise HubError(
                grpc.StatusCode.UNAVAILABLE,
                f"the cluster's log did not take the request ({type(e).__name__}); retry",
                retry_after_seconds=1,
            ) from None
        seq = int(ack.seq)
        if getattr(ack, "duplicate", False):
            # The same message id was published before: wait for that entry, then let apply
            # answer this one as the replay it is (the stored first answer, ALREADY_EXISTS for
            # other content), storing nothing.
            await self._wait_applied(seq)
            return await self.writer.run(lambda tx: preview(tx, entry))
        if seq <= self._applied_seq:
            outcome = self._outcomes.get(seq)
            if outcome is None:
                return await self.writer.run(lambda tx: preview(tx, entry))
        else:
            future: asyncio.Future[Applied] = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(seq, []).append(future)
            outcome = await future
        if isinstance(outcome, HubError):
            raise outcome
        return outcome


# --- snapshots ------------------------------------------------------------------------------
# A node periodically uploads a compacted copy of its store to a JetStream object store,
# described with the last stream entry it covers; a node starting with a store that never
# applied anything downloads it and replays only the stream after it.

SNAPSHOT_BUCKET = "SIGNALHUB_SNAPSHOTS"
SNAPSHOT_NAME = "store"


def _check_registry(description: str | None) -> None:
    """Refuses to join a cluster whose log was started with other signal types: apply would
    decide entries differently on this node (a type unknown here, or matched otherwise)."""
    recorded = json.loads(description or "{}")
    theirs = recorded.get("signal_types")
    mine = domain.SIGNAL_TYPES.fingerprint(origins=False)
    if theirs is not None and theirs != mine:
        ours = set(domain.SIGNAL_TYPES.describe(origins=False).splitlines())
        cluster = set(str(recorded.get("types", "")).splitlines())
        differ = sorted(ours ^ cluster)
        raise SystemExit(
            "this node's signal types differ from the cluster's (its log was started with "
            f"others): {', '.join(differ) or theirs}; install the same plug-ins on every node "
            "(docs/plugins.md)"
        )


async def _snapshots(js: Any, replicas: int, create: bool) -> Any:
    from nats.js.api import ObjectStoreConfig

    try:
        return await js.object_store(SNAPSHOT_BUCKET)
    except Exception:
        if not create:
            return None
        return await js.create_object_store(
            SNAPSHOT_BUCKET, config=ObjectStoreConfig(replicas=replicas)
        )


def _stream_seq_of(lmdb_dir: Path) -> int:
    store = Store(lmdb_dir, readonly=True)
    try:
        with store.read() as view:
            raw = view.meta(STREAM_SEQ)
        return struct.unpack(">Q", raw)[0] if raw else 0
    finally:
        store.close()


async def write_snapshot(log_: ClusterLog) -> int | None:
    """Uploads this node's store if it covers more of the stream than the stored snapshot;
    returns the stream entry it covers, or None when nothing newer was written."""
    obs = await _snapshots(log_._js, log_.replicas, create=True)
    stored = 0
    with contextlib.suppress(Exception):
        info = await obs.get_info(SNAPSHOT_NAME)
        stored = int(json.loads(info.description or "{}").get("stream_seq", 0))
    if log_.applied_seq <= stored:
        return None
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory(prefix="signalhub-snapshot-") as tmp:
        await loop.run_in_executor(None, log_.store.copy_to, Path(tmp))
        seq = await loop.run_in_executor(None, _stream_seq_of, Path(tmp))
        from nats.js.api import ObjectMeta

        with open(Path(tmp) / "data.mdb", "rb") as f:
            await obs.put(
                SNAPSHOT_NAME,
                f,
                meta=ObjectMeta(name=SNAPSHOT_NAME, description=json.dumps({"stream_seq": seq})),
            )
    log.info("wrote a snapshot covering the stream up to %d", seq)
    return seq


SNAPSHOT_RESTORE_SECONDS = 12.0
"""Per attempt (a big store downloads at ~100 MB/s on a LAN: raise it for large hubs)."""
SNAPSHOT_RESTORE_ATTEMPTS = 3


async def restore_snapshot(servers: list[str], lmdb_dir: Path) -> int | None:
    """Before a node opens its store: when the store never applied a stream entry, replaces it
    with the cluster's latest snapshot (same identity: every node is seeded from one
    initialised data directory). Returns the stream entry the snapshot covers, or None (then
    the node replays the whole stream)."""
    if _stream_seq_of(lmdb_dir) > 0:
        return None
    log.info("a new node: looking for the cluster's latest snapshot")
    for attempt in range(SNAPSHOT_RESTORE_ATTEMPTS):
        try:  # a new connection may reach a server whose copy of the bucket is current
            return await asyncio.wait_for(_restore(servers, lmdb_dir), SNAPSHOT_RESTORE_SECONDS)
        except TimeoutError:
            (lmdb_dir / "data.mdb.snapshot").unlink(missing_ok=True)
            log.warning("fetching the snapshot timed out (attempt %d)", attempt + 1)
    log.warning("no snapshot could be fetched: replaying the whole stream")
    return None


async def _restore(servers: list[str], lmdb_dir: Path) -> int | None:
    import nats

    nc = await nats.connect(servers=servers, name="signalhub-restore", connect_timeout=5)
    try:
        obs = await _snapshots(nc.jetstream(), 1, create=False)
        if obs is None:
            return None
        try:
            info = await obs.get_info(SNAPSHOT_NAME)
        except Exception:
            return None
        seq = int(json.loads(info.description or "{}").get("stream_seq", 0))
        partial = lmdb_dir / "data.mdb.snapshot"
        with open(partial, "wb") as f:
            await obs.get(SNAPSHOT_NAME, writeinto=f)
        (lmdb_dir / "lock.mdb").unlink(missing_ok=True)
        os.replace(partial, lmdb_dir / "data.mdb")
        if _stream_seq_of(lmdb_dir) != seq:
            raise SystemExit("the downloaded snapshot does not cover what it says; remove it")
        log.info("restored a snapshot covering the stream up to %d", seq)
        return seq
    finally:
        await nc.close()


async def compact_log(servers: list[str]) -> tuple[int, int]:
    """Purges the cluster's log behind its latest snapshot: the entries a node starting from
    that snapshot never reads. After a legal erasure (once a snapshot taken after it exists),
    this removes the erased value's last copies from the stream. Returns (entries purged, the
    stream entry the snapshot covers). Nodes that had not applied the purged entries stop
    (ClusterLog._fail) rather than diverge."""
    import nats

    nc = await nats.connect(servers=servers, name="signalhub-admin")
    try:
        js = nc.jetstream()
        obs = await _snapshots(js, 1, create=False)
        if obs is None:
            raise SystemExit("the cluster has no snapshot yet: nothing can be purged")
        info = await obs.get_info(SNAPSHOT_NAME)
        covered = int(json.loads(info.description or "{}").get("stream_seq", 0))
        if covered <= 0:
            raise SystemExit("the cluster's snapshot covers no stream entry: nothing purged")
        before = await js.stream_info(STREAM)
        await js.purge_stream(STREAM, seq=covered + 1)  # keeps entries covered+1 and later
        after = await js.stream_info(STREAM)
        return int(before.state.messages) - int(after.state.messages), covered
    finally:
        await nc.close()
