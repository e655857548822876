"""Match counts that go into the command log (issue 21.2-3): each node counts, per (signal,
member), the matches its answers carried, and logs them every few seconds as a
`match_counts` entry. Apply turns them into the per-day match history review notices count and
the per-hour rates flood quarantine watches, so both are decided in apply, from the log, and a
replay (or every node of a cluster) decides alike.

Why logged counts rather than one elected node deciding: the cluster already orders every
write through one stream, and apply is where every other decision is made; an elected node
would need its own failover, and its decisions would still have to be logged to be replayed.
The cost is one log entry per node every `match_count_interval` seconds while members match.

Bounds: at most MAX_TALLY_KEYS (signal, member) pairs are held between flushes (more are
counted as dropped, with a metric), and one entry carries at most MAX_COUNTS_PER_ENTRY pairs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from signalhub.storage.v1 import records_pb2 as rec

MAX_TALLY_KEYS = 100_000
"""(signal, member) pairs one node holds between flushes."""
MAX_COUNTS_PER_ENTRY = 5_000
"""Pairs one match_counts entry carries."""
MAX_MATCHES_PER_COUNT = 2**32 - 1


@dataclass(frozen=True)
class QuarantineSettings:
    """The hub's quarantine thresholds (logged with each entry as a QuarantinePolicy)."""

    ratio: float = 20.0
    min_matches_per_hour: int = 50
    baseline_hours: int = 24
    enabled: bool = True

    def policy(self) -> rec.QuarantinePolicy:
        """As logged."""
        return rec.QuarantinePolicy(
            ratio=self.ratio,
            min_matches_per_hour=self.min_matches_per_hour,
            baseline_hours=self.baseline_hours,
            disabled=not self.enabled,
        )


class MatchTally:
    """Matches answered since the last flush, per (signal, member): thread-safe (the match
    path runs in worker threads)."""

    def __init__(self, node: str | None = None, max_keys: int = MAX_TALLY_KEYS) -> None:
        self.node = node or f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"
        """This process among the cluster's nodes (and its restarts)."""
        self._serial = 0
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], list[int]] = {}
        self.dropped = 0
        """Pairs not counted because the tally was full (since the process started)."""

    def record(self, member_id: str, signal_ids: Iterable[str], now_ms: int | None = None) -> None:
        """One answer's matches for `member_id` (a signal matched by several queries of one
        call counts once per query)."""
        # On the match path of every call (benchmarks/quarantine.py): one key a pair, no min().
        now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        with self._lock:
            held = self._counts  # under the lock: take() swaps the dict
            for sid in signal_ids:
                key = (sid, member_id)
                counts = held.get(key)
                if counts is None:
                    if len(held) >= self._max_keys:
                        self.dropped += 1
                        continue
                    held[key] = [1, now, now]
                else:
                    if counts[0] < MAX_MATCHES_PER_COUNT:
                        counts[0] += 1
                    counts[2] = now

    def take(self, settings: QuarantineSettings) -> list[rec.MatchCountsCommand]:
        """The counts so far as log commands (empty when there were none); the tally restarts."""
        with self._lock:
            counts, self._counts = self._counts, {}
        commands: list[rec.MatchCountsCommand] = []
        items = sorted(counts.items())
        for start in range(0, len(items), MAX_COUNTS_PER_ENTRY):
            self._serial += 1
            command = rec.MatchCountsCommand(
                node=self.node, serial=self._serial, policy=settings.policy()
            )
            add = command.counts.add
            # Times set in place, not built and copied: a full tally's take runs on the event
            # loop, and this cuts it by about 30% (benchmarks/quarantine.py).
            for (sid, member), (n, first, last) in items[start : start + MAX_COUNTS_PER_ENTRY]:
                count = add(signal_id=sid, member_id=member, matches=n)
                count.first.FromMilliseconds(first)
                count.last.FromMilliseconds(last)
            commands.append(command)
        return commands

    def restore(self, commands: Iterable[rec.MatchCountsCommand]) -> None:
        """Counts a flush could not log, kept for the next one."""
        with self._lock:
            for command in commands:
                for c in command.counts:
                    key = (c.signal_id, c.member_id)
                    first, last = c.first.ToMilliseconds(), c.last.ToMilliseconds()
                    held = self._counts.get(key)
                    if held is None:
                        self._counts[key] = [c.matches, first, last]
                    else:
                        held[0] = min(held[0] + c.matches, MAX_MATCHES_PER_COUNT)
                        held[1] = min(held[1], first)
                        held[2] = max(held[2], last)

    def __len__(self) -> int:
        with self._lock:
            return len(self._counts)


log = logging.getLogger(__name__)
