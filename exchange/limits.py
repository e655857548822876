"""Per-member limits. Rates: a token bucket per caller; a member over its rate gets
RESOURCE_EXHAUSTED with google.rpc.RetryInfo saying when to try again; the SDK waits that
long before retrying. Concurrency: a member holds at most so many of each kind of long call
(following streams, snapshots, reports) at once, so that one member cannot take the memory,
disk or threads those cost from the others. The operator is not limited."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import grpc

from .errors import HubError


class RateLimiter:
    """`rate` calls a second per member, with bursts of up to `burst` calls."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._buckets: dict[str, tuple[float, float]] = {}  # member -> (tokens, at)
        self._lock = threading.Lock()

    def check(self, member_id: str, now: float | None = None) -> None:
        """Takes one token for the member or raises RESOURCE_EXHAUSTED."""
        if self.rate <= 0:
            return
        at = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(member_id, (self.burst, at))
            tokens = min(self.burst, tokens + (at - last) * self.rate)
            if tokens < 1.0:
                self._buckets[member_id] = (tokens, at)
                wait = (1.0 - tokens) / self.rate
                raise HubError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"rate limit: at most {self.rate:g} calls a second (bursts of "
                    f"{self.burst:g}); retry in {wait:.2f} s",
                    retry_after_seconds=wait,
                )
            self._buckets[member_id] = (tokens - 1.0, at)


class MemberSlots:
    """At most `limit` calls of one kind in flight per member (0 = no limit); a call over it
    gets RESOURCE_EXHAUSTED at once, before any work, and `refused` is told (a metric)."""

    def __init__(
        self, kind: str, limit: int, refused: Callable[[str], None] = lambda kind: None
    ) -> None:
        self.kind = kind
        self.limit = limit
        self._refused = refused
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, member_id: str, is_operator: bool = False) -> Iterator[None]:
        """Holds one slot for the call's duration."""
        if self.limit <= 0 or is_operator:
            yield
            return
        with self._lock:
            held = self._held.get(member_id, 0)
            if held >= self.limit:
                self._refused(self.kind)
                raise HubError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"at most {self.limit} {self.kind} at once per member; retry when one ends",
                    retry_after_seconds=1.0,
                )
            self._held[member_id] = held + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._held[member_id] - 1
                if left:
                    self._held[member_id] = left
                else:
                    del self._held[member_id]

    def held(self, member_id: str) -> int:
        """How many slots `member_id` holds now."""
        with self._lock:
            return self._held.get(member_id, 0)


class CostLimiter:
    """A member's share of an expensive kind of work, in units of its cost (MatchHashes: the
    matches and linked signals its answers carry): `rate` units a second with bursts of
    `burst`. A call is refused (RESOURCE_EXHAUSTED, RetryInfo) only while the member is in
    debt; its cost, known once it is answered, is charged after. So any one call a full
    bucket allows goes through, and a member sending call after call gets `rate` a second."""

    def __init__(
        self,
        what: str,
        rate: float,
        burst: float,
        refused: Callable[[str], None] = lambda kind: None,
    ) -> None:
        self.what = what
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._refused = refused
        self._buckets: dict[str, tuple[float, float]] = {}  # member -> (tokens, at)
        self._lock = threading.Lock()

    def _tokens(self, member_id: str, at: float) -> float:
        tokens, last = self._buckets.get(member_id, (self.burst, at))
        return min(self.burst, tokens + (at - last) * self.rate)

    def check(self, member_id: str, now: float | None = None) -> None:
        """Refuses the call (RESOURCE_EXHAUSTED, with RetryInfo of when the debt is paid off) while
        the member's bucket is in debt; an unlimited limiter (rate 0) never refuses."""
        if self.rate <= 0:
            return
        at = time.monotonic() if now is None else now
        with self._lock:
            tokens = self._tokens(member_id, at)
            self._buckets[member_id] = (tokens, at)
        if tokens < 0:
            wait = -tokens / self.rate
            self._refused(self.what)
            raise HubError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"your share of {self.what} is spent ({self.rate:g} a second, bursts of "
                f"{self.burst:g}); retry in {wait:.2f} s",
                retry_after_seconds=wait,
            )

    def charge(self, member_id: str, cost: float, now: float | None = None) -> None:
        """Takes the cost of an answered call from the member's bucket (it may go into debt)."""
        if self.rate <= 0 or cost <= 0:
            return
        at = time.monotonic() if now is None else now
        with self._lock:
            self._buckets[member_id] = (self._tokens(member_id, at) - cost, at)
