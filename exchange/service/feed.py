"""FetchUpdates: the feed as one caller sees it, page by page, and following streams woken
after each commit. Near the head of the feed every follower needs the same few records: the
tail (`FeedTail`) reads them once after each commit, builds the events every member sees alike
once, and only then wakes the streams, so a commit costs the hub one read, not one a follower."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import grpc

from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2, exchange_pb2

from ..auth import Caller
from ..errors import HubError, invalid
from ..visibility import Viewer
from .context import Hub
from .feed_events import SharedEvent, event_for, shared_event

log = logging.getLogger("signalhub.service")
FEED_PAGE_EVENTS = 512
"""Events in one FetchUpdates message (and records read in one transaction)."""
FOLLOW_LINGER_SECONDS = 0.0
"""How long a woken following stream waits for more commits before it reads."""
FOLLOW_WAKE_SECONDS = 15.0
"""A following stream re-reads the feed at least this often even without a wake-up."""
LIVE_EVENT_SECONDS = 60
"""Events delivered to a follower within this long of their receipt count as propagation."""

Page = tuple[int, list[common_pb2.FeedEvent], bytes | None]
"""(cursor to continue after, the caller's events, their FetchUpdatesResponse serialised when
every event is shared); cursor 0 at the end of the feed."""


@dataclass
class _TailPage:
    cursor: int
    """The cursor of the page's last record (0: the page is empty)."""
    items: list[tuple[rec.FeedRecord, SharedEvent | None]]
    """Each record, with its event and that event framed as field 2 of FetchUpdatesResponse
    when every member sees it alike (None: computed per caller)."""

    @property
    def all_shared(self) -> bool:
        """Whether every record's event is one every member sees alike."""
        return all(shared is not None for _, shared in self.items)


class _TailCache:
    """Feed records read in the last TAIL_SECONDS, by sequence, with their shared events.
    Followers near the head of the feed all need the same few records, each from its own
    cursor: they are read from LMDB, and their events shared by everyone built and serialised,
    once rather than once per subscriber. A cached event shows its signal as it was when the
    record was read, at most TAIL_SECONDS before (otherwise events show the signal as it is
    when read)."""

    TAIL_SECONDS = 2.0
    MAX_RECORDS = 50_000

    def __init__(self) -> None:
        self._items: dict[int, tuple[float, rec.FeedRecord, SharedEvent | None]] = {}
        self._by_signal: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def get(self, after: int) -> _TailPage | None:
        """The cached records right after `after`, as far as they run contiguously (a page of
        at most FEED_PAGE_EVENTS), or None when the next one is not cached."""
        now = time.monotonic()
        items: list[tuple[rec.FeedRecord, SharedEvent | None]] = []
        seq = after + 1
        with self._lock:
            while len(items) < FEED_PAGE_EVENTS:
                found = self._items.get(seq)
                if found is None or now - found[0] > self.TAIL_SECONDS:
                    break
                items.append((found[1], found[2]))
                seq += 1
        if not items:
            return None
        return _TailPage(seq - 1, items)

    def clear(self) -> None:
        """Forgets every cached record."""
        with self._lock:
            self._items.clear()
            self._by_signal.clear()

    def put(self, after: int, page: _TailPage) -> None:
        """Caches the page's records. A record about a signal also drops the cached earlier
        records about it: their events were built from the signal as it was before this
        change, and a reader must see them as the signal is now (the feed's contract: replaying
        it from any cursor ends with exactly what the caller may see)."""
        now = time.monotonic()
        with self._lock:
            for record, shared in page.items:
                seq = int(record.event.cursor)
                sid = record.event.signal.signal_id
                for earlier in self._by_signal.get(sid, ()):
                    if earlier < seq:
                        self._items.pop(earlier, None)
                self._by_signal[sid] = [seq]
                self._items[seq] = (now, record, shared)
            if len(self._items) > self.MAX_RECORDS:
                for seq in sorted(self._items)[: len(self._items) - self.MAX_RECORDS // 2]:
                    del self._items[seq]
                self._by_signal = {
                    sid: kept
                    for sid, seqs in self._by_signal.items()
                    if (kept := [q for q in seqs if q in self._items])
                }


class FeedTail:
    """The feed's newest records, read once for every follower: a thread reads them into a
    `_TailCache` after each commit, then wakes the following streams."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._cache = _TailCache()
        self._fill_lock = threading.Lock()
        self._kick = threading.Event()
        self._stopping = False
        self._filled = 0
        # Commits told (by the writer) and commits the filler has read the feed past: while
        # they differ the cache may end before the store does.
        self._commits = 0
        self._commits_read = 0
        self._filler: threading.Thread | None = None
        self._followers_lock = threading.Lock()
        self._followers = 0
        """Following streams open now. With none, nobody reads the cache at the head of the
        feed: the filler then skips the records instead of reading and building them (under
        ingest load that work held the GIL longer than the writer's own)."""

    @contextlib.contextmanager
    def following(self) -> Iterator[None]:
        """Counts a following stream while it is open."""
        with self._followers_lock:
            self._followers += 1
        try:
            yield
        finally:
            with self._followers_lock:
                self._followers -= 1

    def start(self) -> None:
        """Starts the thread that, after each commit, reads the new feed records into the tail
        cache and only then wakes the following streams: they find the records ready instead
        of each hopping to a worker thread to read them."""
        with self.hub.store.read() as view:
            self._filled = view.counter("feed_seq")
        self._filler = threading.Thread(target=self._fill, name="signalhub-feed-tail", daemon=True)
        self._filler.start()

    def stop(self) -> None:
        """Stops the thread (waiting up to 5 s for it)."""
        self._stopping = True
        self._kick.set()
        if self._filler is not None:
            self._filler.join(5)

    def committed(self) -> None:
        """Called by the writer thread after a commit."""
        self._commits += 1
        if self._filler is None:
            self.hub.feed.notify()
        else:
            self._kick.set()

    def _fill(self) -> None:
        while True:
            self._kick.wait()
            self._kick.clear()
            if self._stopping:
                return
            try:
                with self._fill_lock:
                    commits = self._commits
                    while self._followers:
                        with self.hub.store.read() as view:
                            records = view.feed(self._filled, FEED_PAGE_EVENTS)
                            if not records:
                                self._commits_read = commits
                                break
                            page = _TailPage(
                                int(records[-1].event.cursor),
                                [(r, shared_event(view, r, self.hub.codec)) for r in records],
                            )
                        self._cache.put(self._filled, page)
                        self._filled = page.cursor
                    else:  # no follower (any more)
                        self._skip(commits)
            except Exception:
                log.exception("reading the feed's new records failed")
            self.hub.feed.notify()

    def _skip(self, commits: int) -> None:
        """With no follower: moves past the new records without reading them, and forgets
        what is cached (a record skipped could be about a signal a cached one shows as it
        was; a follower that comes later reads the store until the filler has cached again)."""
        with self.hub.store.read() as view:
            self._filled = view.counter("feed_seq")
        self._cache.clear()
        self._commits_read = commits

    def shared_tail_page(self, after: int, remaining: int, urgent_only: bool) -> Page | None:
        """The cached page after `after` when every event in it is shared; else None.

        A page shorter than FEED_PAGE_EVENTS is used only when it ends where the store's feed
        does (the filler has read past every commit told): else the message would end where
        the cache happens to, while `feed_page_shared` would go on reading, and how the
        caller's events are cut into messages would tell that records (perhaps hidden ones)
        were still being read."""
        page = self._cache.get(after)
        if page is None or not page.all_shared:
            return None
        if len(page.items) < FEED_PAGE_EVENTS and (
            page.cursor != self._filled or self._commits_read != self._commits
        ):
            return None
        events: list[common_pb2.FeedEvent] = []
        frames: list[bytes] = []
        for record, shared in page.items:
            if urgent_only and not record.event.urgent:
                continue
            assert shared is not None
            events.append(shared[0])
            frames.append(shared[1])
            if len(events) == remaining:
                return int(record.event.cursor), events, b"".join(frames)
        return page.cursor, events, b"".join(frames) if events else None

    def feed_page_shared(
        self, member_id: str, after: int, remaining: int, urgent_only: bool
    ) -> Page:
        """The caller's next page, plus the serialised FetchUpdatesResponse when every event
        in it is one every member sees alike (then it is built once, however many subscribers
        read it: see _TailCache).

        A page is FEED_PAGE_EVENTS of the caller's own events, or as many as there are up to
        the end of the feed: hub pages are read (each in its own short transaction) until
        then, so where one message ends never tells how many events the caller may not see."""
        events: list[common_pb2.FeedEvent] = []
        frames: list[bytes] | None = []
        cursor = 0
        viewer: Viewer | None = None
        while True:
            page = self.hub_page(after)
            if not page.items:
                break
            view_cm = None
            try:
                for record, shared in page.items:
                    if urgent_only and not record.event.urgent:
                        continue
                    if shared is not None:
                        event: common_pb2.FeedEvent | None = shared[0]
                        if frames is not None:
                            frames.append(shared[1])
                    else:
                        frames = None  # this page is the caller's own: built the usual way
                        if view_cm is None:
                            view_cm = self.hub.store.read()
                            view = view_cm.__enter__()
                            viewer = viewer or Viewer.load(view, member_id)
                        assert viewer is not None
                        event = event_for(view, record, viewer, self.hub.codec)
                    if event is not None:
                        events.append(event)
                        if len(events) == remaining or len(events) >= FEED_PAGE_EVENTS:
                            raw = b"".join(frames) if frames is not None else None
                            return int(record.event.cursor), events, raw
            finally:
                if view_cm is not None:
                    view_cm.__exit__(None, None, None)
            cursor = after = page.cursor
        raw = b"".join(frames) if frames is not None and events else None
        return cursor, events, raw

    def hub_page(self, after: int) -> _TailPage:
        """The hub's feed records after `after` (at most FEED_PAGE_EVENTS), from the tail
        cache or read into it."""
        page = self._cache.get(after)
        if page is None:
            # One reader at a time fills the cache: followers woken by the same commit would
            # otherwise all read and build the same new records (a thundering herd).
            with self._fill_lock:
                page = self._cache.get(after)
                if page is None:
                    with self.hub.store.read() as view:
                        records = view.feed(after, FEED_PAGE_EVENTS)
                        page = _TailPage(
                            int(records[-1].event.cursor) if records else 0,
                            [(r, shared_event(view, r, self.hub.codec)) for r in records],
                        )
                    if records:
                        self._cache.put(after, page)
        return page


async def fetch_updates(
    hub: Hub, tail: FeedTail, caller: Caller, message: exchange_pb2.FetchUpdatesRequest
) -> AsyncIterator[exchange_pb2.FetchUpdatesResponse | bytes]:
    """The caller's feed after its cursor, a message a page; with `follow`, then each new
    page as it commits (one of the member's following-stream slots held meanwhile)."""
    after = hub.codec.decode(message.after)
    if message.limit < 0:
        raise invalid("limit is 0 (no limit) or more", [("limit", "negative")])
    remaining = message.limit or -1
    slot = (
        hub.follows.hold(caller.member_id, caller.is_operator)
        if message.follow
        else contextlib.nullcontext()
    )
    following = tail.following() if message.follow else contextlib.nullcontext()
    with slot, following:
        if message.follow:
            hub.metrics.followers.inc()
        try:
            async for page in _pages(hub, tail, caller.member_id, message, after, remaining):
                yield page
        finally:
            if message.follow:
                hub.metrics.followers.dec()


async def _pages(
    hub: Hub,
    tail: FeedTail,
    member_id: str,
    message: exchange_pb2.FetchUpdatesRequest,
    after: int,
    remaining: int,
) -> AsyncIterator[exchange_pb2.FetchUpdatesResponse | bytes]:
    urgent_only = message.urgent_only
    loop = asyncio.get_running_loop()
    feed = hub.feed
    while remaining != 0:
        # Taken before reading: a commit after the read wakes this stream (no lost wake-up).
        changed = feed.changed()
        # Each page is read (and filtered for the caller) in a worker thread, in its own
        # short transaction: a long run of events the caller may not see never stalls the
        # event loop, and no transaction is held across the yields below.
        # At the head of the feed the page is usually cached and the same for everyone:
        # answered here, without a hop to a worker thread (100 followers make 100 hops a
        # commit otherwise).
        found = tail.shared_tail_page(after, remaining, urgent_only)
        if found is None:
            found = await loop.run_in_executor(
                None, tail.feed_page_shared, member_id, after, remaining, urgent_only
            )
        cursor, events, raw = found
        if not cursor:  # the end of the feed
            if not message.follow:
                return
            await feed.wait(changed, FOLLOW_WAKE_SECONDS)
            if changed.is_set():
                # Let a few more commits land: one message (and one wake-up of this
                # stream) then carries all of them. With 100 followers, waking each on
                # every commit cost the hub more than the ingest itself.
                await asyncio.sleep(FOLLOW_LINGER_SECONDS)
            if feed.closed:
                raise HubError(
                    grpc.StatusCode.UNAVAILABLE,
                    "the hub is shutting down; resume after the last cursor received",
                )
            continue
        after = cursor
        if events:  # one message a page: per-message overhead dominated catch-up
            if message.follow:
                _record_propagation(hub, events)
            # Bytes already serialised for every subscriber of a shared page.
            yield raw if raw is not None else exchange_pb2.FetchUpdatesResponse(events=events)
        if remaining > 0:
            remaining -= len(events)


def _record_propagation(hub: Hub, events: list[common_pb2.FeedEvent]) -> None:
    """Receipt-to-delivery times of live events (older ones are backlog, not latency)."""
    now = time.time()
    newest = events[-1].time  # one sample a message: the event that just committed
    live = [
        (now - newest.seconds - newest.nanos / 1e9) * 1000
        for _ in (0,)
        if now - newest.seconds < LIVE_EVENT_SECONDS
    ]
    if live:
        hub.usage.record_propagation(live, now)
        for ms in live:
            hub.metrics.feed_propagation.observe(ms / 1000)
