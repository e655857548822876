"""Reading the hub's store for a report: short read transactions of a store the hub may be
writing, the command log in chunks, and the usage counts (exchange.usage) of a period.

Everything reads through the store's own methods (`Store.read_only_view`, `StoreView`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from signalhub.storage.v1 import records_pb2 as rec

from .. import usage
from ..store import Store, StoreView
from .period import Period

LOG_CHUNK_ENTRIES = 2048
"""Log entries read per read transaction: short transactions never pin the hub's map."""


@contextmanager
def read_view(store: Store) -> Iterator[StoreView]:
    """A short read transaction of a store opened read-only while the hub may be writing
    (`Store.read_only_view`: it adopts a map the hub grew meanwhile)."""
    with store.read_only_view() as view:
        yield view


def log_entries(store: Store, last: int | None = None) -> Iterator[tuple[int, rec.LogEntry]]:
    """(sequence, entry) of the log up to `last` (default: its end when called), read in
    chunks of short read transactions (the log is append-only: chunks are consistent)."""
    if last is None:
        with read_view(store) as view:
            last = view.counter("log_seq")
    for start in range(1, last + 1, LOG_CHUNK_ENTRIES):
        stop = min(last, start + LOG_CHUNK_ENTRIES - 1)
        with read_view(store) as view:
            chunk = [(n, view.log_entry(n)) for n in range(start, stop + 1)]
        for n, entry in chunk:
            if entry is not None:
                yield n, entry


def view_log_entries(view: StoreView) -> Iterator[tuple[int, rec.LogEntry]]:
    """(sequence, entry) of the whole log inside one transaction."""
    for n in range(1, view.counter("log_seq") + 1):
        entry = view.log_entry(n)
        if entry is not None:
            yield n, entry


@dataclass
class Usage:
    """The usage counts (exchange.usage) of a period."""

    matches: list[usage.MatchCount] = field(default_factory=list)
    queries: list[usage.QueryCount] = field(default_factory=list)
    propagation: dict[int, tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def read(cls, view: StoreView, period: Period) -> Usage:
        """The usage counts of the days of `period`."""
        first, last = period.first_day, period.last_day
        out = cls()
        out.matches = [usage.decode_match(k, v) for k, v in view.stats(usage.MATCH, first, last)]
        out.queries = [
            usage.decode_queries(k, v) for k, v in view.stats(usage.QUERIES, first, last)
        ]
        for key, value in view.stats(usage.PROPAGATION, first, last):
            out.propagation[int.from_bytes(key[1:5], "big")] = usage.decode_propagation(value)
        return out
