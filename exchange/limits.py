"""Per-member rate limits: a token bucket per caller. A member over its rate gets
RESOURCE_EXHAUSTED with google.rpc.RetryInfo saying when to try again; the SDK waits that
long before retrying. The operator is not limited."""

from __future__ import annotations

import threading
import time

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
