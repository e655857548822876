"""Grouping signals into batches for submission: `split_batches` cuts a known list (for
`Client.submit_all`), and `Batcher` collects signals added one at a time and submits them when a
batch is full (by count or by bytes) or when its oldest signal has waited `linger_seconds`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from .models import Signal, SubmitResult

DEFAULT_BATCH_SIGNALS = 1000
DEFAULT_BATCH_BYTES = 1024 * 1024


def split_batches(
    signals: Iterable[Signal], max_signals: int, max_bytes: int
) -> Iterator[list[Signal]]:
    """Groups signals into lists of at most `max_signals` whose wire size stays under
    `max_bytes` (a single larger signal still gets a batch of its own)."""
    chunk: list[Signal] = []
    size = 0
    for signal in signals:
        item_bytes = signal.to_wire().ByteSize() + 4
        if chunk and (len(chunk) >= max_signals or size + item_bytes > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(signal)
        size += item_bytes
    if chunk:
        yield chunk


class Batcher:
    """Thread-safe batching in front of a submit function (normally `Client.submit`).

    Use as a context manager, or call `close()`: it flushes what is left. A failed background
    flush is raised by the next `add`, `flush` or `close`; the signals of that batch are kept in
    `failed` so nothing is silently lost.
    """

    def __init__(
        self,
        submit: Callable[[Sequence[Signal]], SubmitResult],
        *,
        max_signals: int,
        max_bytes: int,
        linger_seconds: float,
    ) -> None:
        if max_signals < 1 or max_bytes < 1 or linger_seconds < 0:
            raise ValueError("max_signals and max_bytes must be positive, linger non-negative")
        self._submit = submit
        self.max_signals = max_signals
        self.max_bytes = max_bytes
        self.linger_seconds = linger_seconds
        self.results: list[SubmitResult] = []
        self.failed: list[Signal] = []
        self._pending: list[Signal] = []
        self._pending_bytes = 0
        self._oldest = 0.0
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._submit_lock = threading.Lock()
        self._closed = threading.Event()
        self._timer = threading.Thread(target=self._linger, name="signalhub-batcher", daemon=True)
        self._timer.start()

    def __enter__(self) -> Batcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, signal: Signal) -> None:
        """Queues one signal; submits the batch now if it is full."""
        self._raise_failure()
        size = signal.to_wire().ByteSize() + 4
        full: list[Signal] | None = None
        with self._lock:
            if self._pending and self._pending_bytes + size > self.max_bytes:
                full = self._take()
            if not self._pending:
                self._oldest = time.monotonic()
            self._pending.append(signal)
            self._pending_bytes += size
            if full is None and len(self._pending) >= self.max_signals:
                full = self._take()
        if full:
            self._send(full)
            self._raise_failure()

    def flush(self) -> None:
        """Submits whatever is queued now."""
        with self._lock:
            batch = self._take()
        if batch:
            self._send(batch)
        self._raise_failure()

    def close(self) -> None:
        """Flushes and stops the linger thread."""
        self._closed.set()
        self._timer.join()
        self.flush()

    def _take(self) -> list[Signal]:
        batch, self._pending, self._pending_bytes = self._pending, [], 0
        return batch

    def _send(self, batch: list[Signal]) -> None:
        with self._submit_lock:
            try:
                self.results.append(self._submit(batch))
            except Exception as e:
                self.failed.extend(batch)
                self._error = self._error or e

    def _raise_failure(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _linger(self) -> None:
        tick = max(min(self.linger_seconds / 4, 0.05), 0.001)
        while not self._closed.wait(tick):
            with self._lock:
                due = bool(self._pending) and (
                    time.monotonic() - self._oldest >= self.linger_seconds
                )
                batch = self._take() if due else []
            if batch:
                self._send(batch)
