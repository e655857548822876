"""What every servicer shares: the hub context (`Hub`: store, writer, index, auth, limits and
metrics), requests as received (`RawRequest`), the notifier that wakes following streams, and
the small request checks several RPC families use (parsing, envelopes, page sizes)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import grpc
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import DecodeError, Message
from numpy.typing import NDArray

from signalhub import domain
from signalhub.normalisation import NORMALISATION_RULE
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, common_pb2

from ..auth import Caller, CallVerifier
from ..cluster import CommandLog, LocalLog
from ..cursor import CursorCodec
from ..errors import HubError, invalid, permission_denied
from ..extraction import ExtractionLimits
from ..index import SignalIndex
from ..ledger.reviews import DEFAULT_REVIEW_WINDOW_DAYS
from ..limits import CostLimiter, MemberSlots, RateLimiter
from ..match_counts import MatchTally, QuarantineSettings
from ..metrics import HubMetrics
from ..store import Store, StoreTxn
from ..usage import UsageCounter
from ..writer import Writer, now_timestamp
from .warning_index import WarningCache

M = TypeVar("M", bound=Message)


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
        """The parsed request, or None when its bytes do not parse."""
        if not self._parsed:
            self._parsed = True
            assert self._cls is not None
            try:
                self._message = self._cls.FromString(self.raw)
            except DecodeError:
                self._message = None
        return self._message


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
        """Attaches the notifier to the event loop its streams run on."""
        self._loop = loop
        self._event = asyncio.Event()

    def changed(self) -> asyncio.Event:
        """The event the next `notify` sets (take it before reading the feed)."""
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
        """Waits until `changed` is set or `timeout` seconds pass."""
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
    warnings: WarningCache = field(default_factory=WarningCache)
    """The warning lists' index the match path flags matches with."""
    extraction: ExtractionLimits = field(default_factory=ExtractionLimits)
    """Match budgets and the sweep detector (exchange.extraction)."""
    tally: MatchTally = field(default_factory=MatchTally)
    """Matches answered since they were last logged (exchange.match_counts)."""
    quarantine: QuarantineSettings = field(default_factory=QuarantineSettings)
    """Flood quarantine's thresholds, logged with the match counts."""
    review_window_days: int = 90
    """Logged with every entry: how far back review notices count matches."""
    """Long calls one member may hold at once: each stream holds memory and a spool or a
    subscription, each report replays the log."""

    def __post_init__(self) -> None:
        if self.cursors is None:
            key = self.hub_key if self.hub_key is not None else Ed25519PrivateKey.generate()
            self.cursors = CursorCodec.from_hub_key(key)

    @property
    def codec(self) -> CursorCodec:
        """Encrypts and decrypts members' cursors and page tokens."""
        assert self.cursors is not None
        return self.cursors

    @property
    def log(self) -> CommandLog:
        """Where commands go: the cluster's stream, or the local writer."""
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
            review_window_days=(
                0
                if self.review_window_days == DEFAULT_REVIEW_WINDOW_DAYS
                else self.review_window_days
            ),
            **command,  # type: ignore[arg-type]
        )

    def check_ready(self) -> None:
        """Refuses (UNAVAILABLE) while the index loads."""
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
    """The parsed request, or INVALID_ARGUMENT when its bytes do not parse."""
    if request.message is None:
        raise invalid(
            "the request is not a valid protobuf message of this method's type",
            [("request", "could not be parsed")],
        )
    return request.message


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


def envelope_of(message: Message) -> common_pb2.SignedEnvelope:
    """The request's `envelope` field, or INVALID_ARGUMENT when it has none."""
    if not message.HasField("envelope"):
        raise invalid("an envelope is required", [("envelope", "required")])
    envelope: common_pb2.SignedEnvelope = getattr(message, "envelope")  # noqa: B009
    return envelope


def same_member(caller: Caller, member_id: str) -> None:
    """The member who signs the call must be the one who signed the envelope: a captured
    envelope cannot be replayed by anybody else."""
    if caller.member_id != member_id:
        raise permission_denied(
            "the call and the envelope are signed by different members", "envelope_of_other_member"
        )
