"""Reading the hub's feed (FetchUpdates): `fetch_events` iterates it on the caller's thread,
reopening a dropped stream after the last event yielded; `Subscription` follows it on a
background thread and hands each event to a callback once. `Client.fetch_wire`, `follow` and
`subscribe` are built on them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from signalhub.v1 import common_pb2, exchange_pb2

from .connection import RETRYABLE, _Connection
from .errors import SignalhubError, error_from_rpc
from .models import FeedEvent

FETCH_UPDATES = "/signalhub.v1.Exchange/FetchUpdates"


def _open_feed(conn: _Connection, request: exchange_pb2.FetchUpdatesRequest) -> Any:
    """One signed FetchUpdates stream (the call: iterate it, or cancel it)."""
    return conn.signed_stream(
        FETCH_UPDATES,
        request.SerializeToString(),
        exchange_pb2.FetchUpdatesResponse.FromString,
    )


def fetch_events(
    conn: _Connection,
    after: str = "",
    limit: int = 0,
    *,
    follow: bool = False,
    urgent_only: bool = False,
) -> Iterator[common_pb2.FeedEvent]:
    """Feed events after the cursor `after`, as wire messages: see `Client.fetch_wire`."""
    cursor, remaining = after, limit
    delays = conn.retry.delays()
    retryable = RETRYABLE | {grpc.StatusCode.RESOURCE_EXHAUSTED} if follow else RETRYABLE
    while True:
        request = exchange_pb2.FetchUpdatesRequest(
            after=cursor, limit=remaining, follow=follow, urgent_only=urgent_only
        )
        try:
            for message in _open_feed(conn, request):
                for event in message.events:
                    cursor = event.cursor
                    yield event
                    if limit:
                        remaining -= 1
                if follow:  # the stream works: a later drop gets the full retry budget
                    delays = conn.retry.delays()
            return
        except grpc.RpcError as e:
            error = error_from_rpc(e)
            delay = next(delays, None)
            if error.code not in retryable or delay is None:
                raise error from None
            time.sleep(delay)


class Subscription:
    """A background thread following the feed for `Client.subscribe`."""

    def __init__(
        self,
        conn: _Connection,
        callback: Callable[[FeedEvent], None],
        after: str,
        urgent_only: bool,
    ) -> None:
        self._conn = conn
        self._callback = callback
        self._urgent_only = urgent_only
        self.cursor = after
        """The cursor of the last event delivered to the callback."""
        self.error: BaseException | None = None
        """Why the subscription ended on its own (None while running or after stop())."""
        self._stopped = threading.Event()
        self._call: Any = None
        self._thread = threading.Thread(
            target=self._run, name="signalhub-subscription", daemon=True
        )

    def start(self) -> None:
        """Starts the thread (`Client.subscribe` does)."""
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the thread still follows the feed."""
        return self._thread.is_alive()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Ends the subscription and waits for its thread."""
        self._stopped.set()
        call = self._call
        if call is not None:
            call.cancel()
        self._thread.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        """Waits for the thread to end (on `stop()`, or an error kept in `.error`)."""
        self._thread.join(timeout)

    def _run(self) -> None:
        delay = 0.1
        while not self._stopped.is_set():
            try:
                for event in self._stream():
                    if self._stopped.is_set():
                        return
                    if event.cursor == self.cursor:
                        continue  # already delivered before a reconnect (the stream resumes
                        # after self.cursor, so the hub does not send it; cursors are opaque)
                    self._callback(FeedEvent.from_wire(event))
                    self.cursor = event.cursor
                    delay = 0.1
                return
            except SignalhubError as e:
                if self._stopped.is_set():
                    return
                if e.code not in RETRYABLE | {grpc.StatusCode.RESOURCE_EXHAUSTED} and not (
                    e.code == grpc.StatusCode.UNAUTHENTICATED and "window" in str(e)
                ):  # (a call signed just before a hub restart is re-signed, not given up)
                    self.error = e
                    return
                self._stopped.wait(delay)  # the hub stays away: keep trying, a little slower
                delay = min(delay * 2, 5.0)
            except Exception as e:  # the callback raised
                if not self._stopped.is_set():
                    self.error = e
                return

    def _stream(self) -> Iterator[common_pb2.FeedEvent]:
        """One FetchUpdates stream in follow mode after the last cursor delivered."""
        request = exchange_pb2.FetchUpdatesRequest(
            after=self.cursor, follow=True, urgent_only=self._urgent_only
        )
        call = _open_feed(self._conn, request)
        self._call = call
        if self._stopped.is_set():  # stop() ran between the check in _run and now
            call.cancel()
        try:
            for message in call:
                yield from message.events
        except grpc.RpcError as e:
            raise error_from_rpc(e) from None
        finally:
            self._call = None
