"""GetMemberReport in a process of its own. A report replays the whole log (seconds at 100,000
signals): in a thread of the hub it would hold the GIL against every match, so one member
asking for reports slowed everyone's matching (issue 19: p50 1.4 ms to 222 ms). The worker
process opens the store read-only (LMDB serves readers in other processes) and answers one
report at a time; the hub's per-member limit (`max_reports_per_member`) keeps one member from
queueing many."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from pathlib import Path

import grpc

from .errors import HubError
from .store import Store

_store: Store | None = None
"""The worker process's read-only store (opened by `_open`)."""


REPORT_NICENESS = 10
"""The worker yields the CPU to the hub: matching comes first, a report waits (seconds)."""


def _open(path: str) -> None:
    global _store
    os.nice(REPORT_NICENESS)
    _store = Store(Path(path), readonly=True)


def member_report_json(member_id: str, first: date, last: date) -> str:
    """The member's report as GetMemberReport sends it (runs in the worker process)."""
    from . import report

    assert _store is not None
    with report.read_view(_store) as view:
        body = report.member_report(view, member_id, first, last)
    return json.dumps(body, sort_keys=True)


class ReportWorkers:
    """A pool of report processes over one store, started at the first report."""

    def __init__(self, store_path: Path, processes: int = 1) -> None:
        self._path = store_path
        self._processes = processes
        self._pool: ProcessPoolExecutor | None = None

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self._processes,
                mp_context=multiprocessing.get_context("spawn"),  # never fork a grpc process
                initializer=_open,
                initargs=(str(self._path),),
            )
        return self._pool

    async def member_report(self, member_id: str, first: date, last: date) -> str:
        """The member's report for `first` to `last` as JSON, computed in a worker process (started
        on first use); UNAVAILABLE when the worker died (the next report starts a new one)."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._started(), member_report_json, member_id, first, last
            )
        except BrokenProcessPool:
            self.close()  # started again by the next report
            raise HubError(
                grpc.StatusCode.UNAVAILABLE, "the report worker stopped; retry shortly"
            ) from None

    def close(self) -> None:
        """Stops the worker processes without waiting, cancelling reports not yet started."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
