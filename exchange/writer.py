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
from .ledger import Applied, append_and_apply
from .store import Store, StoreTxn

MAX_GROUP_COMMANDS = 256
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class _Pending:
    entry: rec.LogEntry
    validate_only: bool
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    job: Callable[[StoreTxn], Any] | None = None
    """Instead of a log entry: a write outside the log (e.g. storing a signed audit head)."""


class Writer:
    """Serialises all writes through one thread with group commit."""

    def __init__(self, store: Store, on_commit: Callable[[list[Applied]], None]) -> None:
        self._store = store
        self._on_commit = on_commit
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="signalhub-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finishes every queued command, then ends the thread."""
        self._queue.put(None)
        self._thread.join()

    async def execute(self, entry: rec.LogEntry, validate_only: bool = False) -> Applied:
        """Appends `entry` to the log and applies it; returns once committed. Raises HubError
        when apply refuses it (then nothing was stored)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Applied] = loop.create_future()
        self._queue.put(_Pending(entry, validate_only, future, loop))
        return await future

    async def run(self, job: Callable[[StoreTxn], T]) -> T:
        """Runs `job` in the writer's next transaction (inside its own savepoint) and returns
        its result once committed. For writes that are not log entries."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Pending(rec.LogEntry(), False, future, loop, job))
        return await future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            while len(group) < MAX_GROUP_COMMANDS:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
            try:
                outcomes = self._store.write(functools.partial(_apply_group, group=group))
            except Exception as e:  # a failed commit: nobody is acknowledged
                log.exception("write transaction failed")
                error = HubError(grpc.StatusCode.UNAVAILABLE, f"the store refused the write: {e}")
                outcomes = [error] * len(group)
            committed = [
                o
                for o, p in zip(outcomes, group, strict=True)
                if isinstance(o, Applied) and o.stored and not p.validate_only
            ]
            if committed:
                try:
                    self._on_commit(committed)
                except Exception:
                    log.exception("updating the index after a commit failed")
            for pending, outcome in zip(group, outcomes, strict=True):
                pending.loop.call_soon_threadsafe(_settle, pending.future, outcome)


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _apply_group(tx: StoreTxn, *, group: list[_Pending]) -> list[Any]:
    """Applies each command in its own savepoint; returns each one's outcome in order."""
    outcomes: list[Applied | Exception] = []
    for pending in group:
        try:
            if pending.job is not None:
                with tx.savepoint() as child:
                    outcomes.append(pending.job(child))
                continue
            outcomes.append(append_and_apply(tx, pending.entry, pending.validate_only))
        except lmdb.MapFullError:
            raise  # the whole group is retried on a larger map
        except HubError as e:
            outcomes.append(e)
        except Exception as e:
            log.exception("applying a log entry failed")
            outcomes.append(HubError(grpc.StatusCode.INTERNAL, f"internal error: {e}"))
    return outcomes


def now_timestamp() -> Timestamp:
    """The receive time recorded in a log entry."""
    ts = Timestamp()
    ts.GetCurrentTime()
    return ts
