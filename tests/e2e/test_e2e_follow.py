"""Rapid response: following the feed over the real server. Events arrive in order after the
backlog and as they commit; a subscription resumes across a hub restart without loss or
repeat; a subscriber that stops reading is let go without slowing ingest; urgent submissions
are flagged and can be followed alone, also from the CLI."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from hubtools import HubProcess, feed_sequence, new_hub

from client_sdk import Client, FeedEvent, Signal
from client_sdk.errors import error_from_rpc
from exchange.commands import init_data_dir
from signalhub.v1 import exchange_pb2


def _pdqs(prefix: int, n: int) -> list[Signal]:
    return [Signal("pdq", f"{prefix:08x}{i:056x}") for i in range(n)]


@pytest.fixture(scope="module")
def keys(hub: HubProcess, keys_dir: Path) -> dict[str, Path]:
    return {name: hub.add_member(name, keys_dir) for name in ("follow-a", "follow-b")}


def _collect(
    client: Client, after: str, want: int, urgent_only: bool = False
) -> Iterator[FeedEvent]:
    """The first `want` events of a following stream, read on a thread (so a test can submit
    while it follows); fails after 30 s."""
    out: queue.Queue[FeedEvent | BaseException] = queue.Queue()

    def run() -> None:
        try:
            for event in client.follow(after, urgent_only=urgent_only):
                out.put(event)
        except BaseException as e:  # handed to the test thread
            out.put(e)

    threading.Thread(target=run, daemon=True).start()
    for _ in range(want):
        item = out.get(timeout=30)
        if isinstance(item, BaseException):
            raise item
        yield item


def test_events_arrive_in_order_after_the_backlog_and_as_they_commit(
    hub: HubProcess, keys: dict[str, Path]
) -> None:
    with (
        hub.client("follow-a", keys["follow-a"]) as a,
        hub.client("follow-b", keys["follow-b"]) as b,
    ):
        start = list(a.fetch())[-1].cursor if list(a.fetch()) else ""
        a.submit(_pdqs(1, 3))  # backlog
        events = _collect(b, start, 8)
        first = [next(events) for _ in range(3)]
        a.submit(_pdqs(2, 5))  # live, while b follows
        rest = list(events)
    got = first + rest
    assert [e.signal.value for e in got] == [s.value for s in _pdqs(1, 3) + _pdqs(2, 5)]
    cursors = [feed_sequence(hub.data_dir, e.cursor) for e in got]
    assert cursors == list(range(cursors[0], cursors[0] + 8))  # contiguous, no repeat
    assert all(e.event == "signal_added" and e.member_id == "follow-a" for e in got)


def test_a_subscription_resumes_across_a_restart_without_loss_or_repeat(
    tmp_path: Path,
) -> None:
    own = new_hub(tmp_path / "restarting")
    try:
        key = own.add_member("follower", tmp_path)
        seen: list[FeedEvent] = []
        arrived = threading.Condition()

        def on_event(event: FeedEvent) -> None:
            with arrived:
                seen.append(event)
                arrived.notify_all()

        def wait_for(n: int) -> None:
            with arrived:
                assert arrived.wait_for(lambda: len(seen) >= n, timeout=30), len(seen)

        with own.client("follower", key) as client:
            subscription = client.subscribe(on_event)
            client.submit(_pdqs(3, 4))
            wait_for(4)
            own.restart()  # the stream drops; the subscription reconnects after its cursor
            # The channel's own reconnection backoff can outlast the SDK's retries of one call:
            # submit once the channel is connected again.
            grpc.channel_ready_future(client._conn.channel).result(timeout=30)
            client.submit(_pdqs(4, 4))
            wait_for(8)
            time.sleep(0.5)  # anything delivered twice would arrive now
            subscription.stop()
        assert subscription.error is None
        assert [e.signal.value for e in seen] == [s.value for s in _pdqs(3, 4) + _pdqs(4, 4)]
        assert [feed_sequence(own.data_dir, e.cursor) for e in seen] == list(range(1, 9))
        assert feed_sequence(own.data_dir, subscription.cursor) == 8
        assert not subscription.running
    finally:
        if own.proc is not None and own.proc.poll() is None:
            own.stop()


def _long_urls(batch: int, n: int) -> list[Signal]:
    """Signals whose feed events are large (~4 KB each), to fill transport buffers quickly."""
    return [Signal("url", f"https://example.com/{batch}/{i}/" + "x" * 3900) for i in range(n)]


def test_a_stalled_subscriber_is_let_go_and_does_not_hold_ingest(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    hub = HubProcess(data_dir, metrics_port=0).start(extra=("--follow-stall-seconds", "1"))
    channel = grpc.insecure_channel(hub.endpoint)
    try:
        key = hub.add_member("stalled", tmp_path)
        client = hub.client("stalled", key)
        # A subscriber that opens a following stream and never reads it.
        method = "/signalhub.v1.Exchange/FetchUpdates"
        raw = exchange_pb2.FetchUpdatesRequest(follow=True).SerializeToString()
        call = channel.unary_stream(
            method,
            request_serializer=lambda b: b,
            response_deserializer=exchange_pb2.FetchUpdatesResponse.FromString,
        )
        stream = call(raw, metadata=client._conn.signer.call_metadata(method, raw), timeout=120)
        # ~40 MB of events while it does not read (more than the socket and HTTP/2 buffers
        # hold): every submission must still be answered.
        for i in range(10):
            client.submit(_long_urls(i, 1000))
        time.sleep(3)  # the hub's writes to it have been blocked for longer than 1 s
        received = 0
        with pytest.raises(grpc.RpcError) as info:
            for message in stream:  # what was buffered, then the hub's verdict
                received += len(message.events)
        error = error_from_rpc(info.value)
        assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED, error
        assert "read nothing" in str(error) and "resume" in str(error)
        assert 0 < received < 10_000
        # A subscriber that reads gets everything.
        assert sum(1 for _ in client.fetch()) == 10_000
        client.close()
    finally:
        channel.close()
        hub.stop()


def test_urgent_submissions_are_flagged_and_can_be_followed_alone(
    hub: HubProcess, keys: dict[str, Path]
) -> None:
    with hub.client("follow-a", keys["follow-a"]) as a:
        start = ([""] + [e.cursor for e in a.fetch()])[-1]
        urgent = _collect(a, start, 2, urgent_only=True)
        a.submit(_pdqs(5, 3))
        a.submit(_pdqs(6, 2), urgent=True)
        flagged = list(urgent)
        everything = list(a.fetch(start))
    assert [e.signal.value for e in flagged] == [s.value for s in _pdqs(6, 2)]
    assert all(e.urgent for e in flagged)
    assert [e.urgent for e in everything] == [False] * 3 + [True] * 2


def test_fetch_follow_json_prints_events_as_they_arrive(
    hub: HubProcess, keys: dict[str, Path]
) -> None:
    env = {**os.environ, "SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "follow-b",
           "SIGNALHUB_KEY": str(keys["follow-b"])}  # fmt: skip
    with hub.client("follow-a", keys["follow-a"]) as a:
        start = ([""] + [e.cursor for e in a.fetch()])[-1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "signalhub", "fetch", "--follow", "--json", "--urgent-only",
             "--after", start],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            lines: queue.Queue[str] = queue.Queue()
            assert proc.stdout is not None
            threading.Thread(
                target=lambda: [lines.put(x) for x in proc.stdout], daemon=True
            ).start()  # type: ignore[union-attr]
            time.sleep(1.0)  # the stream is open and idle
            a.submit(_pdqs(7, 1))
            a.submit(_pdqs(8, 1), urgent=True)
            line = json.loads(lines.get(timeout=30))
            assert (line["value"], line["urgent"], line["event"]) == (_pdqs(8, 1)[0].value, True,
                                                                      "signal_added")  # fmt: skip
            a.submit(_pdqs(9, 1), urgent=True)
            assert json.loads(lines.get(timeout=30))["value"] == _pdqs(9, 1)[0].value
            assert proc.poll() is None  # still following
        finally:
            proc.terminate()
            proc.wait(10)
