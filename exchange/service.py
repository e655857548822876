"""What each RPC means. The servicers take parsed requests (with their raw bytes, which the
per-call signature covers), ask `auth` who is calling, and read the store, search the index or
hand a command to the writer. Errors are raised as HubError; `server` turns them into statuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Generic, TypeVar

import grpc
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from numpy.typing import NDArray

from signalhub import domain
from signalhub.signal_types import NORMALISATION_RULE, VpdqFrame, vpdq_frames, vpdq_retained
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, common_pb2, exchange_pb2

from . import erasure, snapshot, usage
from .auth import Caller, CallVerifier, verify_envelope, verify_signed_payload
from .cluster import CommandLog, LocalLog
from .cursor import CursorCodec
from .errors import HubError, invalid, permission_denied
from .index import SignalIndex
from .ledger import PreparedBatch, key_message, valid_time
from .limits import CostLimiter, MemberSlots, RateLimiter
from .metrics import HubMetrics
from .report_worker import ReportWorkers
from .snapshot import framed
from .store import Store, StoreTxn, StoreView, submission_key
from .usage import UsageCounter
from .visibility import Viewer, event_visible, signal_view, view_from, visible_opinions
from .writer import Writer, now_timestamp

log = logging.getLogger("signalhub.service")
M = TypeVar("M", bound=Message)
R = TypeVar("R", bound=Message)
FEED_PAGE_EVENTS = 512
MAX_MATCHES_PER_QUERY = 1000
MAX_MATCHES_PER_CALL = 50_000
"""Bounds on one MatchHashes answer: the response must fit in a gRPC message."""
MATCH_VIEW_CHUNK = 256
SUBMISSIONS_PAGE_DEFAULT = 100
SUBMISSIONS_PAGE_MAX = 1000
ENVELOPE_BYTES_PER_PAGE = 8 * 1024 * 1024
LIST_PAGE_DEFAULT = 1000


class RawRequest(Generic[M]):
    """A request as received: its exact bytes, parsed only when first asked for (`message`:
    None when the bytes are not a valid message of the method's type). Calls are authenticated
    on the raw bytes first, so a caller who is nobody costs the hub no parsing."""

    def __init__(self, raw: bytes, message_cls: type[M] | None = None, message: M | None = None):
        self.raw = raw
        self._cls = message_cls
        self._message = message
        self._parsed = message_cls is None

    @property
    def message(self) -> M | None:
        if not self._parsed:
            self._parsed = True
            assert self._cls is not None
            try:
                self._message = self._cls.FromString(self.raw)
            except DecodeError:
                self._message = None
        return self._message


FOLLOW_LINGER_SECONDS = 0.0
"""How long a woken following stream waits for more commits before it reads."""
FOLLOW_WAKE_SECONDS = 15.0
"""A following stream re-reads the feed at least this often even without a wake-up."""
LIVE_EVENT_SECONDS = 60
"""Events delivered to a follower within this long of their receipt count as propagation."""


class FeedNotifier:
    """Tells following streams that the feed grew. The writer thread calls `notify` after each
    commit; a stream takes `changed()` before it reads the feed and waits on it after reading
    nothing new, so a commit between the read and the wait is never missed."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self.closed = False
        """Set when the hub stops: following streams end (UNAVAILABLE) so that their
        subscribers reconnect elsewhere or later instead of holding the shutdown."""

    def close(self) -> None:
        """Ends every following stream (call on the event loop)."""
        self.closed = True
        self._wake()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def changed(self) -> asyncio.Event:
        if self._event is None:
            self.bind(asyncio.get_running_loop())
        assert self._event is not None
        return self._event

    def notify(self) -> None:
        """Thread-safe: wakes every stream waiting now."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        event, self._event = self._event, asyncio.Event()
        if event is not None:
            event.set()

    @staticmethod
    async def wait(changed: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)


@dataclass
class Hub:
    """What the servicers share: the store, the writer, the index, auth and metrics."""

    store: Store
    writer: Writer
    index: SignalIndex
    verifier: CallVerifier
    metrics: HubMetrics
    hub_key: Ed25519PrivateKey | None = None
    """Signs audit heads."""
    limiter: RateLimiter | None = None
    max_batch_signals: int = domain.MAX_BATCH_SIGNALS
    ready: bool = False
    """False while the index loads: matches would be incomplete, so reads answer UNAVAILABLE."""
    usage: UsageCounter = field(default_factory=UsageCounter)
    """Matches, queries and feed latency, written to the store every few seconds."""
    feed: FeedNotifier = field(default_factory=lambda: FeedNotifier())
    """Wakes following FetchUpdates streams when events commit."""
    search: (
        Callable[
            [NDArray[np.uint8], int],
            tuple[NDArray[np.int64], NDArray[np.uint64], NDArray[np.int32]],
        ]
        | None
    ) = None
    """PDQ search for matches: the local index, or the cluster's shards (ShardRouter)."""
    log_sink: CommandLog | None = None
    """Where log entries go: the cluster's stream (exchange.cluster); None: the local writer."""
    cursors: CursorCodec | None = None
    """Members' cursors (exchange.cursor); derived from the hub key when not given."""
    follows: MemberSlots = field(default_factory=lambda: MemberSlots("following streams", 16))
    snapshots: MemberSlots = field(default_factory=lambda: MemberSlots("snapshot streams", 2))
    reports: MemberSlots = field(default_factory=lambda: MemberSlots("reports", 1))
    match_work: CostLimiter = field(
        default_factory=lambda: CostLimiter("match results", 5000, 50_000)
    )
    """Each member's share of match work: the matches and linked signals its answers carry."""
    """Long calls one member may hold at once: each stream holds memory and a spool or a
    subscription, each report replays the log."""

    def __post_init__(self) -> None:
        if self.cursors is None:
            key = self.hub_key if self.hub_key is not None else Ed25519PrivateKey.generate()
            self.cursors = CursorCodec.from_hub_key(key)

    @property
    def codec(self) -> CursorCodec:
        assert self.cursors is not None
        return self.cursors

    @property
    def log(self) -> CommandLog:
        return self.log_sink if self.log_sink is not None else LocalLog(self.writer)

    async def sign_audit_head(self) -> admin_pb2.AuditHead | None:
        """Signs the audit chain's current head with the hub key and stores it (unless the
        newest stored head already covers it). None before the first log entry."""
        key = self.hub_key
        if key is None:
            raise HubError(grpc.StatusCode.FAILED_PRECONDITION, "the hub has no signing key")

        def work(tx: StoreTxn) -> admin_pb2.AuditHead | None:
            sequence = tx.counter("log_seq")
            latest = tx.latest_audit_head()
            if latest is not None and latest.sequence == sequence:
                return latest
            link = tx.audit(sequence)
            if link is None:
                return None
            head = sign_head(key, sequence, link.chain_hash, int(time.time() * 1000))
            tx.put_audit_head(head)
            return head

        return await self.writer.run(work)

    def log_entry(self, **command: Message) -> rec.LogEntry:
        """A log entry received now, with the replay window in force (apply reads both from
        the entry, never from the clock or the configuration)."""
        return rec.LogEntry(
            received_at=now_timestamp(),
            window_seconds=self.verifier.window_ms // 1000,
            normalisation_rule=NORMALISATION_RULE,
            **command,  # type: ignore[arg-type]
        )

    def check_ready(self) -> None:
        if not self.ready:
            raise HubError(
                grpc.StatusCode.UNAVAILABLE, "the hub is loading its index; retry shortly"
            )

    def authenticate(
        self, method: str, request: RawRequest[M], metadata: Mapping[str, str | bytes]
    ) -> tuple[Caller, M]:
        """Verifies the call's signed metadata; returns the caller and the parsed request."""
        self.check_ready()
        with self.store.read() as view:
            caller = self.verifier.verify(view, method, metadata, request.raw)
        if not caller.is_operator:
            self.usage.record_seen(caller.member_id)
        if self.limiter is not None and not caller.is_operator:
            self.limiter.check(caller.member_id)
        return caller, parsed(request)


def parsed(request: RawRequest[M]) -> M:
    if request.message is None:
        raise invalid(
            "the request is not a valid protobuf message of this method's type",
            [("request", "could not be parsed")],
        )
    return request.message


def _signal_view(view: StoreView, signal_id: str, viewer: Viewer) -> common_pb2.Signal | None:
    record = view.signal(signal_id)
    return None if record is None else signal_view(view, record, viewer)


def sign_head(
    key: Ed25519PrivateKey, sequence: int, chain_hash: bytes, signed_at_ms: int
) -> admin_pb2.AuditHead:
    """An audit head signed with the hub key."""
    head = admin_pb2.AuditHead(
        sequence=sequence,
        chain_hash=chain_hash,
        hub_public_key=domain.raw_public_key(key),
        signature=key.sign(domain.audit_head_signing_bytes(sequence, chain_hash, signed_at_ms)),
    )
    head.signed_at.FromMilliseconds(signed_at_ms)
    return head


@dataclass(frozen=True)
class VideoThresholds:
    query: float
    """Least share (percent) of the query's retained frames found in a stored video."""
    compared: float
    """Least share (percent) of the stored video's retained frames found in the query."""


MAX_LINKED = 100
"""Signals linked by incidents shown with one match."""
MAX_LINKED_PER_CALL = 2000
"""Linked signals shown in one MatchHashes answer, in all."""
MAX_LINKED_CASES_PER_CALL = 64
"""Incidents (member, case reference) whose signals one MatchHashes call walks: each walk reads
the submissions of the incident's signals, so this and the two above bound the work."""
MAX_ANSWER_BYTES = 8 * 1024 * 1024
"""Size budget of one MatchHashes answer, decided while it is built (never a half-built
300 MB message): the rest is marked truncated, to be asked again in smaller calls."""


class _RowLookup:
    """Rows of the PDQ table and signals as one caller may see them, cached for one call."""

    def __init__(self, view: StoreView, viewer: Viewer) -> None:
        self.view = view
        self.viewer = viewer
        self._records: dict[str, rec.SignalRecord | None] = {}
        self._views: dict[str, common_pb2.Signal | None] = {}
        self._frames: dict[str, dict[bytes, float]] = {}
        self._cases: dict[tuple[str, str], list[str]] = {}
        self._linked_ids: dict[str, tuple[list[str], bool]] = {}
        self.linked_left = MAX_LINKED_PER_CALL

    def row(self, row: int) -> tuple[bytes, str] | None:
        return self.view.pdq_row(row)

    def record(self, signal_id: str) -> rec.SignalRecord | None:
        if signal_id not in self._records:
            self._records[signal_id] = self.view.signal(signal_id)
        return self._records[signal_id]

    def visible(self, signal_id: str) -> common_pb2.Signal | None:
        if signal_id not in self._views:
            record = self.record(signal_id)
            self._views[signal_id] = (
                None if record is None else signal_view(self.view, record, self.viewer)
            )
        return self._views[signal_id]

    def linked(self, signal_id: str) -> tuple[list[common_pb2.Signal], bool]:
        """Signals linked to this one by an incident: for each (member, incident) of a
        submission of it the caller may see, that member's other signals of the incident
        through a submission the caller may see; at most MAX_LINKED, sorted by id, and within
        the call's budgets (MAX_LINKED_PER_CALL, MAX_LINKED_CASES_PER_CALL). Also whether any
        were left out. Budgets are spent on what the caller sees only, so what it is shown
        never depends on what it may not see."""
        if signal_id not in self._linked_ids:  # once a call per signal: matches repeat
            cases = {
                (s.member_id, s.incident)
                for s in self.view.submissions(signal_id)
                if s.incident and self.viewer.sees(s.member_id, s.audience)
            }
            found: set[str] = set()
            cut_cases = False
            for case in sorted(cases):
                members = self._case(case)
                if members is None:
                    cut_cases = True
                    continue
                found.update(m for m in members if m != signal_id)
            self._linked_ids[signal_id] = (sorted(found), cut_cases)
        ids, cut = self._linked_ids[signal_id]
        room = min(MAX_LINKED, self.linked_left)
        if len(ids) > room:
            ids, cut = ids[:room], True
        self.linked_left -= len(ids)
        shown = [self.visible(k) for k in ids]
        return [s for s in shown if s is not None], cut

    def _case(self, case: tuple[str, str]) -> list[str] | None:
        """The signals of one incident the caller may see through the incident's own
        submissions, walked once a call; None once the call's incident budget is spent."""
        if case not in self._cases:
            if len(self._cases) >= MAX_LINKED_CASES_PER_CALL:
                return None
            member_id, incident = case
            members: list[str] = []
            for other in self.view.incident_signals(member_id, incident):
                carried = any(
                    s.member_id == member_id
                    and s.incident == incident
                    and self.viewer.sees(s.member_id, s.audience)
                    for s in self.view.submissions(other)
                )
                if carried and self.visible(other) is not None:
                    members.append(other)
                    if len(members) > MAX_LINKED:  # enough for any one match
                        break
            self._cases[case] = members
        return self._cases[case]

    def frame_time(self, signal_id: str, hash32: bytes) -> float | None:
        """Time of a video's retained frame with this hash (retained hashes are distinct)."""
        if signal_id not in self._frames:
            record = self.record(signal_id)
            frames = vpdq_retained(vpdq_frames(record.signal.value)) if record else []
            self._frames[signal_id] = {bytes.fromhex(f.pdq): f.timestamp for f in frames}
        return self._frames[signal_id].get(hash32)


def _pdq_matches(
    result: exchange_pb2.QueryMatches,
    lookup: _RowLookup,
    candidates: list[tuple[int, int]],
    limit: int,
) -> None:
    """Signals near one PDQ hash, nearest first: photos, and videos with a frame like it (once
    a video, at its nearest frame, with that frame's time)."""
    seen: set[str] = set()
    for row, distance in sorted(candidates, key=lambda c: (c[1], c[0])):
        entry = lookup.row(row)
        if entry is None or entry[1] in seen:
            continue
        hash32, sid = entry
        signal = lookup.visible(sid)
        if signal is None:
            continue
        if len(result.matches) >= limit:
            result.truncated = True
            break
        seen.add(sid)
        match = result.matches.add(signal=signal, distance=distance)
        if signal.type == "vpdq":
            when = lookup.frame_time(sid, hash32)
            if when is not None:
                match.frame_timestamp = when


def _cut_to_budget(result: exchange_pb2.QueryMatches, excess: int) -> None:
    """Drops a query's last matches until `excess` bytes are gone; marks it truncated."""
    result.truncated = True
    while result.matches and excess > 0:
        excess -= result.matches[-1].ByteSize() + 8  # and its framing, at most
        del result.matches[-1]


def _video_matches(
    result: exchange_pb2.QueryMatches,
    lookup: _RowLookup,
    frame_hits: list[list[tuple[int, int]]],
    thresholds: VideoThresholds,
    limit: int,
) -> None:
    """Stored videos sharing enough frames with a query video, as pytx's vPDQ matcher decides:
    the share of the query's retained frames that match any frame of the video, and the share
    of the video's retained frames that match any frame of the query."""
    query_frames: dict[str, set[int]] = {}
    video_rows: dict[str, set[int]] = {}
    nearest: dict[str, int] = {}
    for position, candidates in enumerate(frame_hits):
        for row, distance in candidates:
            entry = lookup.row(row)
            if entry is None:
                continue
            record = lookup.record(entry[1])
            if record is None or not record.frame_rows:
                continue  # a photo: video queries match videos
            sid = entry[1]
            query_frames.setdefault(sid, set()).add(position)
            video_rows.setdefault(sid, set()).add(row)
            nearest[sid] = min(distance, nearest.get(sid, distance))
    if not frame_hits:
        return
    scored = []
    for sid, positions in query_frames.items():
        record = lookup.record(sid)
        assert record is not None
        query_percent = 100.0 * len(positions) / len(frame_hits)
        compared_percent = 100.0 * len(video_rows[sid]) / len(record.frame_rows)
        if query_percent >= thresholds.query and compared_percent >= thresholds.compared:
            scored.append((-query_percent, -compared_percent, nearest[sid], sid))
    for neg_query, neg_compared, distance, sid in sorted(scored):
        signal = lookup.visible(sid)
        if signal is None:
            continue
        if len(result.matches) >= limit:
            result.truncated = True
            break
        result.matches.add(
            signal=signal,
            distance=distance,
            query_match_percent=-neg_query,
            compared_match_percent=-neg_compared,
        )


@dataclass
class _TailPage:
    cursor: int
    """The cursor of the page's last record (0: the page is empty)."""
    items: list[tuple[rec.FeedRecord, tuple[common_pb2.FeedEvent, bytes] | None]]
    """Each record, with its event and that event framed as field 2 of FetchUpdatesResponse
    when every member sees it alike (None: computed per caller)."""

    @property
    def all_shared(self) -> bool:
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
        self._items: dict[
            int, tuple[float, rec.FeedRecord, tuple[common_pb2.FeedEvent, bytes] | None]
        ] = {}
        self._by_signal: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def get(self, after: int) -> _TailPage | None:
        """The cached records right after `after`, as far as they run contiguously (a page of
        at most FEED_PAGE_EVENTS), or None when the next one is not cached."""
        now = time.monotonic()
        items: list[tuple[rec.FeedRecord, tuple[common_pb2.FeedEvent, bytes] | None]] = []
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


_EVERYONE = Viewer("", frozenset())


_GONE = (common_pb2.EVENT_KIND_SIGNAL_REMOVED, common_pb2.EVENT_KIND_SIGNAL_ERASED)
"""Events that carry the signal as it was (id and type; a removal also its value)."""


def _shared_event(
    view: StoreView, record: rec.FeedRecord, codec: CursorCodec
) -> tuple[common_pb2.FeedEvent, bytes] | None:
    """The event of a record every member sees alike (public, about a signal no submission of
    which is restricted), with its serialised frame; None when views may differ."""
    if record.target_member or record.private or record.members or record.audience:
        return None
    if record.event.kind not in _GONE:
        stored = view.signal(record.event.signal.signal_id)
        if stored is None or stored.restricted:
            return None
    event = _event_for(view, record, _EVERYONE, codec)
    if event is None:
        return None
    return event, framed(_EVENTS_FIELD, event.SerializeToString())


_EVENTS_FIELD = 2  # FetchUpdatesResponse.events


@dataclass
class _SharedSpool:
    """A built snapshot and how many streams are reading it."""

    built: snapshot.BuiltSnapshot
    readers: int = 0


class ExchangeService:
    """signalhub.v1.Exchange."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._tail = _TailCache()
        self._tail_fill = threading.Lock()
        self._kick = threading.Event()
        self._stopping = False
        self._filled = 0
        self._filler: threading.Thread | None = None
        self._snapshot_builds = asyncio.Semaphore(snapshot.MAX_CONCURRENT_BUILDS)
        self._reports = ReportWorkers(hub.store.path)
        self._spools: dict[tuple[str, int], _SharedSpool] = {}

    def start_tail(self) -> None:
        """Starts the thread that, after each commit, reads the new feed records into the tail
        cache and only then wakes the following streams: they find the records ready instead
        of each hopping to a worker thread to read them."""
        with self.hub.store.read() as view:
            self._filled = view.counter("feed_seq")
        self._filler = threading.Thread(target=self._fill_tail, name="signalhub-feed-tail",
                                        daemon=True)  # fmt: skip
        self._filler.start()

    def stop_tail(self) -> None:
        self._reports.close()
        self._stopping = True
        self._kick.set()
        if self._filler is not None:
            self._filler.join(5)

    def committed(self) -> None:
        """Called by the writer thread after a commit."""
        if self._filler is None:
            self.hub.feed.notify()
        else:
            self._kick.set()

    def _fill_tail(self) -> None:
        while True:
            self._kick.wait()
            self._kick.clear()
            if self._stopping:
                return
            try:
                with self._tail_fill:
                    while True:
                        with self.hub.store.read() as view:
                            records = view.feed(self._filled, FEED_PAGE_EVENTS)
                            if not records:
                                break
                            page = _TailPage(
                                int(records[-1].event.cursor),
                                [(r, _shared_event(view, r, self.hub.codec)) for r in records],
                            )
                        self._tail.put(self._filled, page)
                        self._filled = page.cursor
            except Exception:
                log.exception("reading the feed's new records failed")
            self.hub.feed.notify()

    async def SubmitSignals(
        self,
        request: RawRequest[exchange_pb2.SubmitSignalsRequest],
        metadata: Mapping[str, str | bytes],
    ) -> exchange_pb2.SubmitSignalsResponse:
        loop = asyncio.get_running_loop()
        # Signature checks and validating thousands of values are CPU work: off the loop.
        envelope, prepared = await loop.run_in_executor(None, self._precheck, request, metadata)
        entry = self.hub.log_entry(submit=rec.SubmitCommand(envelope=envelope))
        applied = await self.hub.log.execute(entry, prepared)
        response = applied.response
        assert isinstance(response, exchange_pb2.SubmitSignalsResponse)
        if applied.stored:
            batch = prepared.batch
            distinct = len({r.signal_id for r in response.results})
            self.hub.usage.record_submission(batch.member_id, distinct)
            counts: dict[tuple[str, int], int] = {}
            for result, signal in zip(response.results, batch.signals, strict=True):
                counts[(signal.type, result.status)] = (
                    counts.get((signal.type, result.status), 0) + 1
                )
            for (type_name, status), n in counts.items():
                name = exchange_pb2.SubmitStatus.Name(status).removeprefix("SUBMIT_STATUS_")
                self.hub.metrics.signals_submitted.labels(type_name, name.lower()).inc(n)
            if response.cursor:
                self.hub.metrics.feed_sequence.set(int(response.cursor))
            self.hub.metrics.index_signals.labels("pdq").set(len(self.hub.index))
        if response.cursor:  # stored as the sequence; the member gets its cursor
            response.cursor = self.hub.codec.encode(int(response.cursor))
        return response

    def _precheck(
        self,
        request: RawRequest[exchange_pb2.SubmitSignalsRequest],
        metadata: Mapping[str, str | bytes],
    ) -> tuple[common_pb2.SignedEnvelope, PreparedBatch]:
        caller, message = self.hub.authenticate(
            "/signalhub.v1.Exchange/SubmitSignals", request, metadata
        )
        envelope = _envelope_of(message)
        with self.hub.store.read() as view:
            batch, _ = verify_envelope(view, envelope)
        _same_member(caller, batch.member_id)
        if len(batch.signals) > self.hub.max_batch_signals:
            raise invalid(
                f"at most {self.hub.max_batch_signals} signals a batch on this hub",
                [("signals", f"at most {self.hub.max_batch_signals}, got {len(batch.signals)}")],
            )
        return envelope, PreparedBatch.of(envelope.payload, batch)

    async def MatchHashes(
        self,
        request: RawRequest[exchange_pb2.MatchHashesRequest],
        metadata: Mapping[str, str | bytes],
    ) -> exchange_pb2.MatchHashesResponse:
        caller, message = self.hub.authenticate(
            "/signalhub.v1.Exchange/MatchHashes", request, metadata
        )
        max_distance = (
            message.max_distance
            if message.HasField("max_distance")
            else domain.DEFAULT_PDQ_MAX_DISTANCE
        )
        most = domain.SIGNAL_TYPES["pdq"].max_threshold  # the registry says it: 64
        if not 0 <= max_distance <= most:
            raise invalid(
                f"max_distance is 0-{most} bits",
                [("max_distance", f"0-{most} required, got {max_distance}")],
            )
        if len(message.queries) > domain.MAX_MATCH_QUERIES:
            raise invalid(
                f"at most {domain.MAX_MATCH_QUERIES} queries a call",
                [("queries", f"got {len(message.queries)}")],
            )
        thresholds = VideoThresholds(
            message.min_query_match_percent
            if message.HasField("min_query_match_percent")
            else domain.VPDQ_QUERY_MATCH_PERCENT,
            message.min_compared_match_percent
            if message.HasField("min_compared_match_percent")
            else 0.0,
        )
        violations: list[tuple[str, str]] = [
            (name, "0-100 required")
            for name, value in (
                ("min_query_match_percent", thresholds.query),
                ("min_compared_match_percent", thresholds.compared),
            )
            if not 0 <= value <= 100  # also refuses NaN
        ]
        canonical: list[tuple[str, str]] = []
        typed_limits: dict[int, int] = {}  # query position -> its max_distance (indexed types)
        videos: dict[int, list[VpdqFrame]] = {}  # parsed once: query position -> frames
        frames = 0
        for i, q in enumerate(message.queries):
            try:
                if q.type == "vpdq":
                    videos[i] = vpdq_frames(q.value)
                    frames += len(videos[i])
                    canonical.append((q.type, ""))  # matched by its frames, not its text
                else:
                    canonical.append((q.type, domain.canonical_value(q.type, q.value)))
                    spec = domain.SIGNAL_TYPES[q.type]
                    if spec.indexed:
                        limit = (
                            q.max_distance if q.HasField("max_distance")
                            else spec.default_threshold
                        )  # fmt: skip
                        if not 0 <= limit <= spec.max_threshold:
                            violations.append((
                                f"queries[{i}].max_distance",
                                f"0-{spec.max_threshold} for {q.type}, got {limit}",
                            ))  # fmt: skip
                        typed_limits[i] = limit
                    elif q.HasField("max_distance"):
                        violations.append((
                            f"queries[{i}].max_distance",
                            f"{q.type} is not matched by a distance of its own",
                        ))  # fmt: skip
            except domain.InvalidValue as e:
                field = "type" if q.type not in domain.SIGNAL_TYPES else "value"
                violations.append((f"queries[{i}].{field}", str(e)))
        if frames > domain.MAX_MATCH_FRAMES:
            violations.append(
                ("queries", f"at most {domain.MAX_MATCH_FRAMES} video frames a call, got {frames}")
            )
        if violations:
            raise invalid(f"invalid query: {violations[0][0]}: {violations[0][1]}", violations)
        if not caller.is_operator:
            self.hub.match_work.check(caller.member_id)
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(
            None,
            self._match,
            canonical,
            max_distance,
            thresholds,
            caller.member_id,
            videos,
            typed_limits,
        )
        if not caller.is_operator:
            cost = sum(1 + len(m.linked) for r in response.results for m in r.matches)
            self.hub.match_work.charge(caller.member_id, cost)
        return response

    def _match(
        self,
        queries: list[tuple[str, str]],
        max_distance: int,
        thresholds: VideoThresholds,
        member_id: str,
        videos: dict[int, list[VpdqFrame]] | None = None,
        typed_limits: dict[int, int] | None = None,
    ) -> exchange_pb2.MatchHashesResponse:
        response = exchange_pb2.MatchHashesResponse()
        typed_limits = typed_limits or {}
        # One batched search for every PDQ query and every retained frame of every video query.
        hashes: list[bytes] = []
        spans: dict[int, tuple[int, int]] = {}  # query position -> its range of search rows
        video_frames: dict[int, list[VpdqFrame]] = {}
        for i, (type_name, value) in enumerate(queries):
            spec = domain.SIGNAL_TYPES[type_name]
            how = spec.match
            if spec.indexed:
                continue  # a plug-in's own index (any Hamming width but pdq's), below
            if how is domain.MatchKind.HAMMING:
                spans[i] = (len(hashes), len(hashes) + 1)
                hashes.append(bytes.fromhex(value))
            elif how is domain.MatchKind.VIDEO:
                kept = vpdq_retained(videos[i] if videos else vpdq_frames(value))
                video_frames[i] = kept
                spans[i] = (len(hashes), len(hashes) + len(kept))
                hashes.extend(bytes.fromhex(f.pdq) for f in kept)
        hits: list[list[tuple[int, int]]] = []  # per search row: [(table row, distance)]
        if hashes:
            array = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, 32)
            search = self.hub.search or self.hub.index.search
            lims, rows, distances = search(array, max_distance)
            hits = [
                list(zip(rows[lo:hi].tolist(), distances[lo:hi].tolist(), strict=True))
                for lo, hi in zip(lims[:-1].tolist(), lims[1:].tolist(), strict=True)
            ]
        budget = MAX_MATCHES_PER_CALL
        answer_bytes = 0
        for start in range(0, len(queries), MATCH_VIEW_CHUNK):
            if response.truncated:
                break
            # Short read transactions: a long one would pin the map and block its growth.
            with self.hub.store.read() as view:
                lookup = _RowLookup(view, Viewer.load(view, member_id))
                incidents = view.entries("incidents") > 0
                for i in range(start, min(start + MATCH_VIEW_CHUNK, len(queries))):
                    type_name, value = queries[i]
                    result = response.results.add(query_index=i)
                    limit = min(MAX_MATCHES_PER_QUERY, budget)
                    if i in video_frames:
                        lo, hi = spans[i]
                        _video_matches(result, lookup, hits[lo:hi], thresholds, limit)
                    elif i in spans:
                        _pdq_matches(result, lookup, hits[spans[i][0]], limit)
                    elif i in typed_limits:
                        found = self.hub.index.search_typed(type_name, value, typed_limits[i])
                        for sid, distance in found:
                            signal = lookup.visible(sid)
                            if signal is None:
                                continue
                            if len(result.matches) == limit:
                                result.truncated = True
                                break
                            result.matches.add(signal=signal, distance=distance)
                    else:
                        signal = lookup.visible(domain.signal_id(type_name, value))
                        if signal is not None:
                            result.matches.add(signal=signal, distance=0)
                    if incidents:
                        for m in result.matches:
                            linked, cut = lookup.linked(m.signal.signal_id)
                            m.linked.extend(linked)
                            m.linked_truncated = cut
                    answer_bytes += result.ByteSize()
                    if answer_bytes > MAX_ANSWER_BYTES:
                        # Over the size budget: this query's answer is cut where it crossed,
                        # and every later one is left unanswered (truncated), to ask again.
                        _cut_to_budget(result, answer_bytes - MAX_ANSWER_BYTES)
                        response.truncated = True
                        for rest in range(i + 1, len(queries)):
                            response.results.add(query_index=rest, truncated=True)
                        break
                    budget -= len(result.matches)
                    if result.matches:
                        self.hub.metrics.matches.labels(type_name).inc(len(result.matches))
        self.hub.usage.record_match_call(
            member_id, [[m.signal.signal_id for m in r.matches] for r in response.results]
        )
        return response

    async def FetchUpdates(
        self,
        request: RawRequest[exchange_pb2.FetchUpdatesRequest],
        metadata: Mapping[str, str | bytes],
    ) -> AsyncIterator[exchange_pb2.FetchUpdatesResponse | bytes]:
        caller, message = self.hub.authenticate(
            "/signalhub.v1.Exchange/FetchUpdates", request, metadata
        )
        after = self.hub.codec.decode(message.after)
        if message.limit < 0:
            raise invalid("limit is 0 (no limit) or more", [("limit", "negative")])
        remaining = message.limit or -1
        slot = (
            self.hub.follows.hold(caller.member_id, caller.is_operator)
            if message.follow
            else contextlib.nullcontext()
        )
        with slot:
            if message.follow:
                self.hub.metrics.followers.inc()
            try:
                async for page in self._pages(caller.member_id, message, after, remaining):
                    yield page
            finally:
                if message.follow:
                    self.hub.metrics.followers.dec()

    async def _pages(
        self,
        member_id: str,
        message: exchange_pb2.FetchUpdatesRequest,
        after: int,
        remaining: int,
    ) -> AsyncIterator[exchange_pb2.FetchUpdatesResponse | bytes]:
        urgent_only = message.urgent_only
        loop = asyncio.get_running_loop()
        feed = self.hub.feed
        while remaining != 0:
            # Taken before reading: a commit after the read wakes this stream (no lost wake-up).
            changed = feed.changed()
            # Each page is read (and filtered for the caller) in a worker thread, in its own
            # short transaction: a long run of events the caller may not see never stalls the
            # event loop, and no transaction is held across the yields below.
            # At the head of the feed the page is usually cached and the same for everyone:
            # answered here, without a hop to a worker thread (100 followers make 100 hops a
            # commit otherwise).
            found = self._shared_tail_page(after, remaining, urgent_only)
            if found is None:
                found = await loop.run_in_executor(
                    None, self._feed_page_shared, member_id, after, remaining, urgent_only
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
                    self._record_propagation(events)
                # Bytes already serialised for every subscriber of a shared page.
                yield raw if raw is not None else exchange_pb2.FetchUpdatesResponse(events=events)
            if remaining > 0:
                remaining -= len(events)

    def _record_propagation(self, events: list[common_pb2.FeedEvent]) -> None:
        """Receipt-to-delivery times of live events (older ones are backlog, not latency)."""
        now = time.time()
        newest = events[-1].time  # one sample a message: the event that just committed
        live = [
            (now - newest.seconds - newest.nanos / 1e9) * 1000
            for _ in (0,)
            if now - newest.seconds < LIVE_EVENT_SECONDS
        ]
        if live:
            self.hub.usage.record_propagation(live, now)
            for ms in live:
                self.hub.metrics.feed_propagation.observe(ms / 1000)

    def _feed_page(
        self, member_id: str, after: int, remaining: int, urgent_only: bool = False
    ) -> tuple[int, list[common_pb2.FeedEvent]]:
        """(cursor to continue after, the caller's events) of one page; cursor 0 at the end."""
        cursor, events, _ = self._feed_page_shared(member_id, after, remaining, urgent_only)
        return cursor, events

    def _shared_tail_page(
        self, after: int, remaining: int, urgent_only: bool
    ) -> tuple[int, list[common_pb2.FeedEvent], bytes | None] | None:
        """The cached page after `after` when every event in it is shared; else None."""
        page = self._tail.get(after)
        if page is None or not page.all_shared:
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

    def _feed_page_shared(
        self, member_id: str, after: int, remaining: int, urgent_only: bool
    ) -> tuple[int, list[common_pb2.FeedEvent], bytes | None]:
        """The caller's next page, as `_feed_page` gives it, plus the serialised
        FetchUpdatesResponse when every event in it is one every member sees alike (then it
        is built once, however many subscribers read it: see _TailCache).

        A page is FEED_PAGE_EVENTS of the caller's own events, or as many as there are up to
        the end of the feed: hub pages are read (each in its own short transaction) until
        then, so where one message ends never tells how many events the caller may not see."""
        events: list[common_pb2.FeedEvent] = []
        frames: list[bytes] | None = []
        cursor = 0
        viewer: Viewer | None = None
        while True:
            page = self._hub_page(after)
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
                        event = _event_for(view, record, viewer, self.hub.codec)
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

    def _hub_page(self, after: int) -> _TailPage:
        """The hub's feed records after `after` (at most FEED_PAGE_EVENTS), from the tail
        cache or read into it."""
        page = self._tail.get(after)
        if page is None:
            # One reader at a time fills the cache: followers woken by the same commit would
            # otherwise all read and build the same new records (a thundering herd).
            with self._tail_fill:
                page = self._tail.get(after)
                if page is None:
                    with self.hub.store.read() as view:
                        records = view.feed(after, FEED_PAGE_EVENTS)
                        page = _TailPage(
                            int(records[-1].event.cursor) if records else 0,
                            [(r, _shared_event(view, r, self.hub.codec)) for r in records],
                        )
                    if records:
                        self._tail.put(after, page)
        return page

    async def GetSignal(
        self,
        request: RawRequest[exchange_pb2.GetSignalRequest],
        metadata: Mapping[str, str | bytes],
    ) -> exchange_pb2.GetSignalResponse:
        caller, message = self.hub.authenticate(
            "/signalhub.v1.Exchange/GetSignal", request, metadata
        )
        sid = message.signal_id.strip().lower()
        if not domain.is_signal_id(sid):
            raise invalid(
                "a signal id is 32 hex digits",
                [("signal_id", f"not a signal id: {message.signal_id[:40]!r}")],
            )
        if message.page_size < 0 or message.page_size > SUBMISSIONS_PAGE_MAX:
            raise invalid(f"page_size is 0-{SUBMISSIONS_PAGE_MAX}", [("page_size", "out of range")])
        token = message.page_token
        after = self.hub.codec.decode_position(token) if token else b""
        size = message.page_size or SUBMISSIONS_PAGE_DEFAULT
        with self.hub.store.read() as view:
            viewer = Viewer.load(view, caller.member_id)
            record = view.signal(sid)
            subs = [] if record is None else [
                s for s in view.submissions(sid) if viewer.sees(s.member_id, s.audience)
            ]  # fmt: skip
            shown = (
                None if record is None
                else view_from(record.signal, subs, visible_opinions(view, sid, subs, viewer))
            )  # fmt: skip
            if record is None or shown is None:  # invisible looks exactly like missing
                raise HubError(grpc.StatusCode.NOT_FOUND, f"no signal {sid}")
            response = exchange_pb2.GetSignalResponse(signal=shown)
            page = [s for s in subs if not token or _position(sid, s) > after]
            envelope_bytes = 0
            last: rec.SubmissionRecord | None = None
            for sub in page:
                entry = view.log_entry(sub.log_sequence)
                envelope = entry.submit.envelope if entry is not None else None
                cost = envelope.ByteSize() if envelope is not None else 0
                full = len(response.submissions) >= size or (
                    response.submissions and envelope_bytes + cost > ENVELOPE_BYTES_PER_PAGE
                )
                if full and last is not None:
                    response.next_page_token = self.hub.codec.encode_position(_position(sid, last))
                    break
                key = view.key(sub.key_id)
                out = response.submissions.add(
                    member_id=sub.member_id, key_id=sub.key_id, batch_id=sub.batch_id,
                    index=sub.index, labels=sub.labels, tags=sub.tags,
                    received_at=sub.received_at, audience=sub.audience,
                    public_key=key.public_key if key else b"", industry=sub.industry,
                    confidence=sub.confidence,
                )  # fmt: skip
                if sub.HasField("expires_at"):
                    out.expires_at.CopyFrom(sub.expires_at)
                if sub.HasField("classifier"):
                    out.classifier.CopyFrom(sub.classifier)
                if sub.incident and caller.member_id in (sub.member_id, domain.OPERATOR_ID):
                    out.incident = sub.incident  # a case reference is its submitter's
                if envelope is not None:
                    out.envelope.CopyFrom(envelope)
                    out.envelope_redacted = entry is not None and entry.HasField("redaction")
                envelope_bytes += cost
                last = sub
        return response

    async def SetOpinion(
        self,
        request: RawRequest[exchange_pb2.SetOpinionRequest],
        metadata: Mapping[str, str | bytes],
    ) -> exchange_pb2.SetOpinionResponse:
        envelope = await asyncio.get_running_loop().run_in_executor(
            None, self._verify, "SetOpinion", request, metadata,
            domain.OPINION_SIGNING_PREFIX, common_pb2.OpinionChange,
        )  # fmt: skip
        entry = self.hub.log_entry(set_opinion=rec.SignedCommand(envelope=envelope))
        applied = await self.hub.log.execute(entry)
        assert isinstance(applied.response, exchange_pb2.SetOpinionResponse)
        return applied.response

    async def RetractSubmission(
        self,
        request: RawRequest[exchange_pb2.RetractSubmissionRequest],
        metadata: Mapping[str, str | bytes],
    ) -> exchange_pb2.RetractSubmissionResponse:
        envelope = await asyncio.get_running_loop().run_in_executor(
            None, self._verify, "RetractSubmission", request, metadata,
            domain.RETRACTION_SIGNING_PREFIX, common_pb2.Retraction,
        )  # fmt: skip
        entry = self.hub.log_entry(retract=rec.SignedCommand(envelope=envelope))
        applied = await self.hub.log.execute(entry)
        assert isinstance(applied.response, exchange_pb2.RetractSubmissionResponse)
        if applied.stored:
            self.hub.metrics.index_signals.labels("pdq").set(len(self.hub.index))
        return applied.response

    def _verify(
        self,
        method: str,
        request: RawRequest[M],
        metadata: Mapping[str, str | bytes],
        prefix: bytes,
        payload_cls: type[Message],
    ) -> common_pb2.SignedEnvelope:
        caller, message = self.hub.authenticate(
            f"/signalhub.v1.Exchange/{method}", request, metadata
        )
        envelope = _envelope_of(message)
        with self.hub.store.read() as view:
            payload = verify_signed_payload(view, envelope, prefix, payload_cls)
        _same_member(caller, getattr(payload, "member_id"))  # noqa: B009
        return envelope

    async def GetMemberReport(
        self,
        request: RawRequest[exchange_pb2.GetMemberReportRequest],
        metadata: Mapping[str, str | bytes],
    ) -> exchange_pb2.GetMemberReportResponse:
        caller, message = self.hub.authenticate(
            "/signalhub.v1.Exchange/GetMemberReport", request, metadata
        )
        first, last = _report_period(message)

        # One report at a time per member, in a process of its own: a report replays the log,
        # and in the hub's threads it would hold the GIL against matching.
        with self.hub.reports.hold(caller.member_id, caller.is_operator):
            text = await self._reports.member_report(caller.member_id, first, last)
        return exchange_pb2.GetMemberReportResponse(report_json=text)

    async def GetAuditHead(
        self,
        request: RawRequest[exchange_pb2.GetAuditHeadRequest],
        metadata: Mapping[str, str | bytes],
    ) -> exchange_pb2.GetAuditHeadResponse:
        self.hub.authenticate("/signalhub.v1.Exchange/GetAuditHead", request, metadata)
        with self.hub.store.read() as view:
            head = view.latest_audit_head()
        return exchange_pb2.GetAuditHeadResponse(head=head)

    async def GetSnapshot(
        self,
        request: RawRequest[exchange_pb2.GetSnapshotRequest],
        metadata: Mapping[str, str | bytes],
    ) -> AsyncIterator[bytes]:
        """A header, the chunks and a signed trailer (exchange.snapshot). The snapshot is built
        whole in a worker thread first; only then is anything sent, hashed as it goes."""
        caller, message = self.hub.authenticate(
            "/signalhub.v1.Exchange/GetSnapshot", request, metadata
        )
        after = self.hub.codec.decode(message.after)
        if message.min_backlog < 0:
            raise invalid("min_backlog is 0 (always send one) or more",
                          [("min_backlog", "negative")])  # fmt: skip
        key = self.hub.hub_key
        if key is None:
            raise HubError(grpc.StatusCode.FAILED_PRECONDITION, "the hub has no signing key")
        with self.hub.snapshots.hold(caller.member_id, caller.is_operator):
            async for part in self._snapshot(caller.member_id, after, message.min_backlog, key):
                yield part

    async def _snapshot(
        self, member_id: str, after: int, min_backlog: int, key: Ed25519PrivateKey
    ) -> AsyncIterator[bytes]:
        """Streams the member's snapshot. Readers of one member at one state share one spool
        (built once, deleted when its last reader ends)."""
        loop = asyncio.get_running_loop()
        store = self.hub.store
        now = now_timestamp()
        if not await loop.run_in_executor(
            None, snapshot.is_needed, store, member_id, after, min_backlog
        ):
            header = exchange_pb2.SnapshotHeader(member_id=member_id, created_at=now,
                                                 not_needed=True)  # fmt: skip
            yield framed(snapshot.HEADER_FIELD, header.SerializeToString())
            return
        state = (member_id, await loop.run_in_executor(None, snapshot.state_of, store))
        shared = self._spools.get(state)
        if shared is None:
            async with self._snapshot_builds:
                built = await loop.run_in_executor(
                    None, snapshot.build, store, member_id, 0, 0, now, self.hub.codec
                )
            state = (member_id, built.log_sequence)
            shared = self._spools.get(state)
            if shared is None:
                shared = self._spools[state] = _SharedSpool(built)
                self.hub.metrics.snapshot_spool_bytes.inc(built.spool_bytes)
            else:  # another reader built the same one meanwhile
                built.close()
        shared.readers += 1
        try:
            async for part in self._stream_snapshot(shared.built, now, key):
                yield part
        finally:
            shared.readers -= 1
            if shared.readers == 0:
                del self._spools[state]
                self.hub.metrics.snapshot_spool_bytes.dec(shared.built.spool_bytes)
                shared.built.close()

    async def _stream_snapshot(
        self, built: snapshot.BuiltSnapshot, now: Timestamp, key: Ed25519PrivateKey
    ) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        own = exchange_pb2.SnapshotHeader()
        own.CopyFrom(built.header)
        own.created_at.CopyFrom(now)  # the spool may be shared; the header is this stream's
        header = own.SerializeToString()
        yield framed(snapshot.HEADER_FIELD, header)
        running = domain.SnapshotDigest()
        running.update(header)
        sent = 0
        while sent < len(built.chunk_sizes):
            chunks = await loop.run_in_executor(
                None, built.read, sent, snapshot.SPOOL_READ_BYTES, running
            )
            for chunk in chunks:
                yield framed(snapshot.CHUNK_FIELD, chunk)
            sent += len(chunks)
        trailer = snapshot.signed_trailer(key, running.digest())
        yield framed(snapshot.TRAILER_FIELD, trailer.SerializeToString())

    async def ListSignalTypes(
        self,
        request: RawRequest[exchange_pb2.ListSignalTypesRequest],
        metadata: Mapping[str, str | bytes],
    ) -> exchange_pb2.ListSignalTypesResponse:
        self.hub.authenticate("/signalhub.v1.Exchange/ListSignalTypes", request, metadata)
        return signal_types_response()


def signal_types_response() -> exchange_pb2.ListSignalTypesResponse:
    """The registry as ListSignalTypes answers it."""
    registry = domain.SIGNAL_TYPES
    response = exchange_pb2.ListSignalTypesResponse(fingerprint=registry.fingerprint())
    for name in sorted(registry):
        t = registry[name]
        response.types.add(
            name=t.name,
            description=t.description,
            match=t.match.value,
            bits=t.bits,
            default_threshold=t.default_threshold,
            max_threshold=t.max_threshold,
            personal=t.personal,
            origin=t.origin,
            pytx_name=t.pytx_name or "",
        )
    return response


MAX_REPORT_DAYS = 366


def _report_period(
    message: exchange_pb2.GetMemberReportRequest | admin_pb2.GetMemberUsageRequest,
) -> tuple[date, date]:
    days: list[date] = []
    violations: list[tuple[str, str]] = []
    for name in ("first_day", "last_day"):
        text = getattr(message, name)
        try:
            if len(text) != 10:
                raise ValueError
            days.append(date.fromisoformat(text))
        except ValueError:
            violations.append((name, f"a day as YYYY-MM-DD is required, got {text[:40]!r}"))
    if not violations:
        first, last = days
        if last < first:
            violations.append(("last_day", "the period ends before it starts"))
        elif (last - first).days >= MAX_REPORT_DAYS:
            violations.append(("last_day", f"a report covers at most {MAX_REPORT_DAYS} days"))
    if violations:
        raise invalid(f"invalid period: {violations[0][0]}: {violations[0][1]}", violations)
    return days[0], days[1]


USAGE_DEFAULT_DAYS = 30
EPOCH = date(1970, 1, 1)


def _usage_period(message: admin_pb2.GetMemberUsageRequest) -> tuple[date, date]:
    """GetMemberUsage's days: as a report's, where an empty last_day is today (UTC) and an
    empty first_day is USAGE_DEFAULT_DAYS days up to last_day."""
    today = datetime.now(UTC).date()
    filled = admin_pb2.GetMemberUsageRequest(
        first_day=message.first_day, last_day=message.last_day or today.isoformat()
    )
    if not filled.first_day:
        try:
            anchor = date.fromisoformat(filled.last_day)
        except ValueError:
            anchor = today  # a bad last_day is refused, naming it alone
        filled.first_day = (anchor - timedelta(days=USAGE_DEFAULT_DAYS - 1)).isoformat()
    return _report_period(filled)


def member_usage(
    view: StoreView, member_id: str, first: date, last: date
) -> admin_pb2.GetMemberUsageResponse:
    """Each member's usage (or one's: NOT_FOUND when unknown) over days first..last, from the
    usage counts (exchange.usage: written every few seconds, so the newest seconds are not
    in them) and the live-submission counters (exchange.store). Costs one walk over the
    period's `s` and `q` records (days x members) plus one lookup per member."""
    if member_id:
        member = view.member(member_id)
        if member is None:
            raise HubError(grpc.StatusCode.NOT_FOUND, f"no member {member_id!r}")
        members = [member]
    else:
        members = view.members("", 1 << 31)
    response = admin_pb2.GetMemberUsageResponse(
        first_day=first.isoformat(), last_day=last.isoformat()
    )
    rows: dict[str, admin_pb2.MemberUsage] = {}
    for m in members:
        row = response.usage.add(
            member_id=m.member_id, live_submissions=view.live_submissions(m.member_id)
        )
        seen = view.stat(usage.last_seen_key(m.member_id))
        if seen is not None:
            row.last_seen.FromMilliseconds(usage.decode_last_seen(seen))
        rows[m.member_id] = row
    first_day, last_day = (first - EPOCH).days, (last - EPOCH).days
    for key, value in view.stats(usage.SUBMISSIONS, first_day, last_day):
        s = usage.decode_submissions(key, value)
        if s.member_id in rows:
            rows[s.member_id].signals_submitted += s.signals
            rows[s.member_id].batches += s.batches
    for key, value in view.stats(usage.QUERIES, first_day, last_day):
        q = usage.decode_queries(key, value)
        if q.member_id in rows:
            rows[q.member_id].queries += q.queries
            rows[q.member_id].queries_with_match += q.matched
    return response


def _position(signal_id: str, sub: rec.SubmissionRecord) -> bytes:
    """A submission's place among a signal's submissions (12 bytes: its log sequence and
    index), handed out only encrypted as a page token (exchange.cursor)."""
    return submission_key(signal_id, sub)[16:]


def _envelope_of(message: Message) -> common_pb2.SignedEnvelope:
    if not message.HasField("envelope"):
        raise invalid("an envelope is required", [("envelope", "required")])
    envelope: common_pb2.SignedEnvelope = getattr(message, "envelope")  # noqa: B009
    return envelope


def _same_member(caller: Caller, member_id: str) -> None:
    """The member who signs the call must be the one who signed the envelope: a captured
    envelope cannot be replayed by anybody else."""
    if caller.member_id != member_id:
        raise permission_denied(
            "the call and the envelope are signed by different members", "envelope_of_other_member"
        )


def _event_for(
    view: StoreView, record: rec.FeedRecord, viewer: Viewer, codec: CursorCodec
) -> common_pb2.FeedEvent | None:
    """The caller's copy of a feed record, or None when it may not see it. Signal events carry
    the caller's view of the signal as it is now, so replaying the feed from any cursor ends
    with exactly what the caller may see; a signal the caller has lost sight of since becomes
    a tombstone, and one removed since is skipped (its tombstone comes later in the feed)."""
    if not event_visible(record, viewer):
        return None
    event = record.event
    out = common_pb2.FeedEvent()
    out.CopyFrom(event)
    out.cursor = codec.encode(int(event.cursor))  # never the sequence itself (exchange.cursor)
    if event.kind in _GONE:
        return out
    stored = view.signal(event.signal.signal_id)
    if stored is None:
        return None
    visible = [s for s in view.submissions(stored.signal.signal_id)
               if viewer.sees(s.member_id, s.audience)]  # fmt: skip
    if stored.restricted:
        opinions = visible_opinions(view, stored.signal.signal_id, visible, viewer)
        shown = view_from(stored.signal, visible, opinions)
    else:
        shown = stored.signal
    if shown is not None and record.log_sequence:
        # Added or updated as this caller sees it: an earlier submission it cannot see must
        # not show through as an "update".
        earlier = any(s.log_sequence < record.log_sequence for s in visible)
        out.kind = (
            common_pb2.EVENT_KIND_SIGNAL_UPDATED if earlier else common_pb2.EVENT_KIND_SIGNAL_ADDED
        )
    if shown is None and not record.withdraws:
        # An older event about a signal the caller no longer sees: not sent, exactly as when
        # the signal is gone (its removal reached the caller as the withdrawal below, or as a
        # tombstone). Sending it as a removal would tell that somebody still holds it.
        return None
    if shown is None:
        out.kind = common_pb2.EVENT_KIND_SIGNAL_REMOVED
        out.signal.CopyFrom(
            common_pb2.Signal(
                signal_id=stored.signal.signal_id,
                type=stored.signal.type,
                value=stored.signal.value,
            )
        )
    else:
        out.signal.CopyFrom(shown)
    return out


class AdminService:
    """signalhub.v1.Admin: operator calls only."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def _operator(
        self, method: str, request: RawRequest[M], metadata: Mapping[str, str | bytes]
    ) -> M:
        caller, message = self.hub.authenticate(method, request, metadata)
        if not caller.is_operator:
            raise permission_denied(
                "only the hub's operator may call the Admin service", "not_operator"
            )
        return message

    async def AddMember(
        self, request: RawRequest[admin_pb2.AddMemberRequest], metadata: Mapping[str, str | bytes]
    ) -> admin_pb2.AddMemberResponse:
        message = self._operator("/signalhub.v1.Admin/AddMember", request, metadata)
        command = rec.AddMemberCommand(
            member_id=message.member_id,
            public_key=message.public_key,
            display_name=message.display_name,
        )
        if message.HasField("contact"):
            command.contact.CopyFrom(message.contact)
        return await self._command(
            self.hub.log_entry(add_member=command), admin_pb2.AddMemberResponse
        )

    async def ListMembers(
        self, request: RawRequest[admin_pb2.ListMembersRequest], metadata: Mapping[str, str | bytes]
    ) -> admin_pb2.ListMembersResponse:
        message = self._operator("/signalhub.v1.Admin/ListMembers", request, metadata)
        if message.page_size < 0:
            raise invalid("page_size is 0 or more", [("page_size", "negative")])
        size = min(message.page_size or LIST_PAGE_DEFAULT, LIST_PAGE_DEFAULT)
        with self.hub.store.read() as view:
            members = view.members(message.page_token, size + 1)
        response = admin_pb2.ListMembersResponse(members=members[:size])
        if len(members) > size:
            response.next_page_token = members[size - 1].member_id
        return response

    async def _command(self, entry: rec.LogEntry, response_cls: type[R]) -> R:
        applied = await self.hub.log.execute(entry)
        assert isinstance(applied.response, response_cls)
        return applied.response

    async def AddKey(
        self, request: RawRequest[admin_pb2.AddKeyRequest], metadata: Mapping[str, str | bytes]
    ) -> admin_pb2.AddKeyResponse:
        m = self._operator("/signalhub.v1.Admin/AddKey", request, metadata)
        command = rec.AddKeyCommand(member_id=m.member_id, public_key=m.public_key)
        entry = self.hub.log_entry(add_key=command)
        return await self._command(entry, admin_pb2.AddKeyResponse)

    async def RevokeKey(
        self, request: RawRequest[admin_pb2.RevokeKeyRequest], metadata: Mapping[str, str | bytes]
    ) -> admin_pb2.RevokeKeyResponse:
        m = self._operator("/signalhub.v1.Admin/RevokeKey", request, metadata)
        command = rec.RevokeKeyCommand(member_id=m.member_id, key_id=m.key_id)
        if m.HasField("compromised_since"):
            if not valid_time(m.compromised_since):
                raise invalid(
                    "compromised_since is not a valid time",
                    [("compromised_since", "a time from 1970 on")],
                )
            command.compromised_since.CopyFrom(m.compromised_since)
        entry = self.hub.log_entry(revoke_key=command)
        return await self._command(entry, admin_pb2.RevokeKeyResponse)

    async def RemoveMember(
        self,
        request: RawRequest[admin_pb2.RemoveMemberRequest],
        metadata: Mapping[str, str | bytes],
    ) -> admin_pb2.RemoveMemberResponse:
        m = self._operator("/signalhub.v1.Admin/RemoveMember", request, metadata)
        command = rec.RemoveMemberCommand(
            member_id=m.member_id, submissions=m.submissions, reason=m.reason
        )
        if m.submissions == admin_pb2.OFFBOARD_SUBMISSIONS_ERASE:
            with self.hub.store.read() as view:
                if view.member(m.member_id) is None:
                    raise HubError(grpc.StatusCode.NOT_FOUND, f"no member {m.member_id!r}")
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(
                None, erasure.entries_of_member, self.hub.store, m.member_id
            )
            command.log_sequences.extend(found)
            theirs = await loop.run_in_executor(
                None, erasure.signals_of_member, self.hub.store, m.member_id
            )
            command.feed_scanned_to, feed = await loop.run_in_executor(
                None, erasure.feed_about, self.hub.store, theirs
            )
            command.feed_sequences.extend(feed)
        entry = self.hub.log_entry(remove_member=command)
        return await self._command(entry, admin_pb2.RemoveMemberResponse)

    async def EraseSignal(
        self,
        request: RawRequest[admin_pb2.EraseSignalRequest],
        metadata: Mapping[str, str | bytes],
    ) -> admin_pb2.EraseSignalResponse:
        m = self._operator("/signalhub.v1.Admin/EraseSignal", request, metadata)
        loop = asyncio.get_running_loop()
        for attempt in range(1, erasure.ERASE_ATTEMPTS + 1):
            command = await loop.run_in_executor(
                None, erasure.erase_command, self.hub.store, m.signal_id, m.reason
            )
            entry = self.hub.log_entry(erase_signal=command)
            try:
                return await self._command(entry, admin_pb2.EraseSignalResponse)
            except HubError as e:
                # ABORTED: a signal carrying the value was stored after the scan looked.
                if e.code is not grpc.StatusCode.ABORTED or attempt == erasure.ERASE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def SetMemberSuspended(
        self,
        request: RawRequest[admin_pb2.SetMemberSuspendedRequest],
        metadata: Mapping[str, str | bytes],
    ) -> admin_pb2.SetMemberSuspendedResponse:
        m = self._operator("/signalhub.v1.Admin/SetMemberSuspended", request, metadata)
        command = rec.SetMemberSuspendedCommand(member_id=m.member_id, suspended=m.suspended)
        entry = self.hub.log_entry(set_member_suspended=command)
        return await self._command(entry, admin_pb2.SetMemberSuspendedResponse)

    async def ListKeys(
        self, request: RawRequest[admin_pb2.ListKeysRequest], metadata: Mapping[str, str | bytes]
    ) -> admin_pb2.ListKeysResponse:
        m = self._operator("/signalhub.v1.Admin/ListKeys", request, metadata)
        with self.hub.store.read() as view:
            member = view.member(m.member_id)
            if member is None:
                raise HubError(grpc.StatusCode.NOT_FOUND, f"no member {m.member_id!r}")
            keys = [view.key(k) for k in member.key_ids]
        return admin_pb2.ListKeysResponse(keys=[key_message(k) for k in keys if k is not None])

    async def AddGroupMembers(
        self,
        request: RawRequest[admin_pb2.AddGroupMembersRequest],
        metadata: Mapping[str, str | bytes],
    ) -> admin_pb2.AddGroupMembersResponse:
        m = self._operator("/signalhub.v1.Admin/AddGroupMembers", request, metadata)
        command = rec.GroupMembersCommand(group_id=m.group_id, member_ids=m.member_ids)
        entry = self.hub.log_entry(add_group_members=command)
        return await self._command(entry, admin_pb2.AddGroupMembersResponse)

    async def RemoveGroupMembers(
        self,
        request: RawRequest[admin_pb2.RemoveGroupMembersRequest],
        metadata: Mapping[str, str | bytes],
    ) -> admin_pb2.RemoveGroupMembersResponse:
        m = self._operator("/signalhub.v1.Admin/RemoveGroupMembers", request, metadata)
        command = rec.GroupMembersCommand(group_id=m.group_id, member_ids=m.member_ids)
        entry = self.hub.log_entry(remove_group_members=command)
        return await self._command(entry, admin_pb2.RemoveGroupMembersResponse)

    async def ListGroups(
        self, request: RawRequest[admin_pb2.ListGroupsRequest], metadata: Mapping[str, str | bytes]
    ) -> admin_pb2.ListGroupsResponse:
        self._operator("/signalhub.v1.Admin/ListGroups", request, metadata)
        with self.hub.store.read() as view:
            return admin_pb2.ListGroupsResponse(groups=view.groups())

    async def SetMemberContact(
        self,
        request: RawRequest[admin_pb2.SetMemberContactRequest],
        metadata: Mapping[str, str | bytes],
    ) -> admin_pb2.SetMemberContactResponse:
        m = self._operator("/signalhub.v1.Admin/SetMemberContact", request, metadata)
        command = rec.SetMemberContactCommand(member_id=m.member_id, contact=m.contact)
        entry = self.hub.log_entry(set_member_contact=command)
        return await self._command(entry, admin_pb2.SetMemberContactResponse)

    async def GetMemberUsage(
        self,
        request: RawRequest[admin_pb2.GetMemberUsageRequest],
        metadata: Mapping[str, str | bytes],
    ) -> admin_pb2.GetMemberUsageResponse:
        m = self._operator("/signalhub.v1.Admin/GetMemberUsage", request, metadata)
        first, last = _usage_period(m)

        def build() -> admin_pb2.GetMemberUsageResponse:
            with self.hub.store.read() as view:
                return member_usage(view, m.member_id, first, last)

        return await asyncio.get_running_loop().run_in_executor(None, build)

    async def SignAuditHead(
        self,
        request: RawRequest[admin_pb2.SignAuditHeadRequest],
        metadata: Mapping[str, str | bytes],
    ) -> admin_pb2.SignAuditHeadResponse:
        self._operator("/signalhub.v1.Admin/SignAuditHead", request, metadata)
        return admin_pb2.SignAuditHeadResponse(head=await self.hub.sign_audit_head())
