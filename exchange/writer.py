"""The one writer thread: it owns every LMDB write transaction.

Commands queue up from the event loop; the thread takes what is waiting (up to
MAX_GROUP_COMMANDS), applies each inside its own nested transaction (so each batch stays
all-or-nothing), commits the group once (one fsync for many batches) and only then answers the
callers. Callers therefore never see an acknowledgement for data that is not on disk.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import lmdb
from google.protobuf.timestamp_pb2 import Timestamp

from signalhub.storage.v1 import records_pb2 as rec

from .errors import HubError
from .ledger import Applied, PreparedBatch, append_and_apply
from .store import STORE_CORRUPTION, Store, StoreFull, StoreTxn, u64

MAX_GROUP_COMMANDS = 256
MAX_GROUP_BYTES = 16 * 1024 * 1024
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class _Pending:
    entry: rec.LogEntry
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    job: Callable[[StoreTxn], Any] | None = None
    """Instead of a log entry: a write outside the log (e.g. storing a signed audit head)."""
    hint: PreparedBatch | None = None
    """A submission's payload as the precheck validated it (saves validating it twice)."""
    stream_seq: int = 0
    """Cluster mode: the entry's sequence in the replicated stream, recorded in the same
    transaction as its effects (so each stream entry is applied exactly once)."""

    @property
    def size(self) -> int:
        return self.entry.ByteSize()


class Writer:
    """Serialises all writes through one thread with group commit."""

    def __init__(self, store: Store, on_commit: Callable[[list[Applied]], None]) -> None:
        self._store = store
        self._on_commit = on_commit
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="signalhub-writer", daemon=True)

    def start(self) -> None:
        """Starts the writer thread (commands queued before wait for it)."""
        self._thread.start()

    def stop(self) -> None:
        """Finishes every queued command, then ends the thread."""
        self._queue.put(None)
        self._thread.join()

    async def execute(
        self, entry: rec.LogEntry, hint: PreparedBatch | None = None, stream_seq: int = 0
    ) -> Applied:
        """Appends `entry` to the log and applies it; returns once committed. Raises HubError
        when apply refuses it (then nothing was stored, but a stream_seq is still recorded)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Applied] = loop.create_future()
        self._queue.put(_Pending(entry, future, loop, hint=hint, stream_seq=stream_seq))
        return await future

    async def run(self, job: Callable[[StoreTxn], T]) -> T:
        """Runs `job` in the writer's next transaction (inside its own savepoint) and returns
        its result once committed. For writes that are not log entries."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Pending(rec.LogEntry(), future, loop, job))
        return await future

    def _next_group(self, first: _Pending) -> tuple[list[_Pending], bool]:
        """What is waiting, up to MAX_GROUP_COMMANDS entries and MAX_GROUP_BYTES of them (a
        bound on one LMDB transaction's dirty pages); True when a stop was queued."""
        group, size = [first], first.size
        while len(group) < MAX_GROUP_COMMANDS and size < MAX_GROUP_BYTES:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return group, True
            group.append(item)
            size += item.size
        return group, False

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group, stopping = self._next_group(first)
            outcomes = self._commit(group)
            committed = [o for o in outcomes if isinstance(o, Applied) and o.stored]
            if committed:
                try:
                    self._on_commit(committed)
                except Exception:
                    log.exception("updating the index after a commit failed")
            for pending, outcome in zip(group, outcomes, strict=True):
                pending.loop.call_soon_threadsafe(_settle, pending.future, outcome)

    def _commit(self, group: list[_Pending]) -> list[Any]:
        """Commits the group in one transaction; if it is too big for one (TxnFullError),
        commits its commands one transaction each. Nobody is acknowledged before a commit."""
        try:
            return self._store.write(functools.partial(_apply_group, group=group))
        except StoreFull:
            log.error("the store is full: refusing writes until space returns")
            error = HubError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "the hub's storage is full; retry later",
                retry_after_seconds=30,
            )
            return [error] * len(group)
        except HubError as e:  # DATA_LOSS: LMDB found a damaged page
            return [e] * len(group)
        except lmdb.TxnFullError:
            if len(group) > 1:
                return [self._commit([p])[0] for p in group]
            log.error("a single command does not fit in one write transaction")
            return [HubError(grpc.StatusCode.RESOURCE_EXHAUSTED, "the request is too large")]
        except Exception:
            log.exception("write transaction failed")
            error = HubError(grpc.StatusCode.UNAVAILABLE, "the store refused the write; retry")
            return [error] * len(group)


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _apply_group(tx: StoreTxn, *, group: list[_Pending]) -> list[Any]:
    """Applies each command in its own savepoint; returns each one's outcome in order."""
    outcomes: list[Any] = []
    for pending in group:
        try:
            if pending.job is not None:
                with tx.savepoint() as child:
                    result = pending.job(child)
                outcomes.append(result)
                continue
            outcomes.append(append_and_apply(tx, pending.entry, pending.hint))
        except (lmdb.MapFullError, lmdb.TxnFullError):
            raise  # the whole group is retried (on a larger map, or split up)
        except STORE_CORRUPTION:
            raise  # a damaged page: the transaction is lost; Store.write says DATA_LOSS
        except HubError as e:
            outcomes.append(e)
        except Exception:
            log.exception("applying a log entry failed")
            outcomes.append(HubError(grpc.StatusCode.INTERNAL, "internal error"))
        if pending.stream_seq:  # consumed, whatever apply decided
            tx.set_meta(STREAM_SEQ, u64(pending.stream_seq))
    return outcomes


STREAM_SEQ = "stream_seq"
"""Meta key: the last entry of the replicated stream this store applied (cluster mode)."""


def now_timestamp() -> Timestamp:
    """The receive time recorded in a log entry."""
    ts = Timestamp()
    ts.GetCurrentTime()
    return ts
