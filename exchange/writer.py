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

import grpc
import lmdb
from google.protobuf.timestamp_pb2 import Timestamp

from signalhub.storage.v1 import records_pb2 as rec

from .errors import HubError
from .ledger import Applied, apply_entry
from .store import Store, StoreTxn

MAX_GROUP_COMMANDS = 256
log = logging.getLogger(__name__)


@dataclass
class _Pending:
    entry: rec.LogEntry
    validate_only: bool
    future: asyncio.Future[Applied]
    loop: asyncio.AbstractEventLoop


class _Discard(Exception):
    """Raised inside a savepoint to undo an entry that must leave no trace."""

    def __init__(self, applied: Applied) -> None:
        self.applied = applied


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


def _settle(future: asyncio.Future[Applied], outcome: Applied | Exception) -> None:
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _apply_group(tx: StoreTxn, *, group: list[_Pending]) -> list[Applied | Exception]:
    """Applies each command in its own savepoint; returns each one's outcome in order."""
    outcomes: list[Applied | Exception] = []
    for pending in group:
        try:
            with tx.savepoint() as child:
                sequence = child.next_counter("log_seq")
                child.put_log(sequence, pending.entry)
                applied = apply_entry(child, sequence, pending.entry, pending.validate_only)
                if not applied.stored or pending.validate_only:
                    raise _Discard(applied)
            outcomes.append(applied)
        except _Discard as discarded:
            outcomes.append(discarded.applied)
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
