"""`Client`: a member's connection to the hub. It signs every call, retries transient failures
with exponential backoff (a retried batch keeps its batch_id, so the hub stores it once), splits
large submissions into batches, and iterates the feed, resuming after a dropped stream.
`AdminClient` is the same for the hub's operator."""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from signalhub import domain
from signalhub.signal_types import VpdqFrame, vpdq_text
from signalhub.v1 import admin_pb2, common_pb2, exchange_pb2

from .errors import SignalhubError, error_from_rpc
from .impact import DEFAULT_WEEKS, impact_period, impact_view
from .models import (
    FeedEvent,
    Match,
    MatchResult,
    Signal,
    SignalDetail,
    SignalInfo,
    SignalTypeInfo,
    SubmitResult,
)
from .signing import Signer
from .snapshot import Snapshot, SnapshotSignals, read_snapshot

if TYPE_CHECKING:
    from .batching import Batcher

R = TypeVar("R", bound=Message)
DEFAULT_ENDPOINT = "127.0.0.1:50051"
DEFAULT_BATCH_SIGNALS = 1000
DEFAULT_BATCH_BYTES = 1024 * 1024
OPINIONS: dict[str, common_pb2.Opinion] = {
    "true_positive": common_pb2.OPINION_TRUE_POSITIVE,
    "false_positive": common_pb2.OPINION_FALSE_POSITIVE,
    "disputed": common_pb2.OPINION_DISPUTED,
    "none": common_pb2.OPINION_UNSPECIFIED,
}
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried: exponential backoff with full jitter."""

    attempts: int = 5
    initial_backoff_seconds: float = 0.2
    max_backoff_seconds: float = 5.0
    multiplier: float = 2.0

    def delays(self) -> Iterator[float]:
        """Sleeps before attempt 2, 3, ... (one fewer than attempts)."""
        backoff = self.initial_backoff_seconds
        for _ in range(self.attempts - 1):
            yield random.uniform(0, backoff)
            backoff = min(backoff * self.multiplier, self.max_backoff_seconds)


def _identity(data: bytes) -> bytes:
    return data


def load_key(key: Ed25519PrivateKey | str | Path) -> Ed25519PrivateKey:
    """A private key object, or one read from a key file."""
    if isinstance(key, Ed25519PrivateKey):
        return key
    try:
        return domain.read_private_key(Path(key))
    except FileNotFoundError:
        raise SignalhubError(f"no key file at {key}") from None
    except domain.InvalidValue as e:
        raise SignalhubError(str(e)) from None


@dataclass(frozen=True)
class TlsConfig:
    """TLS to the hub: the CA that issued its certificate and, for mTLS, this client's
    certificate and key (PEM files)."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        if (self.cert is None) != (self.key is None):
            raise SignalhubError("a client certificate needs both its certificate and its key")
        try:
            return grpc.ssl_channel_credentials(
                root_certificates=self.ca.read_bytes() if self.ca else None,
                private_key=self.key.read_bytes() if self.key else None,
                certificate_chain=self.cert.read_bytes() if self.cert else None,
            )
        except OSError as e:
            raise SignalhubError(f"cannot read a TLS file: {e}") from None


class _Connection:
    """A channel plus signed, retried calls."""

    def __init__(
        self,
        endpoint: str,
        signer: Signer,
        timeout_seconds: float,
        retry: RetryPolicy,
        tls: TlsConfig | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.signer = signer
        self.timeout_seconds = timeout_seconds
        self.retry = retry
        options = [
            ("grpc.max_receive_message_length", domain.MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", domain.MAX_MESSAGE_BYTES),
        ]
        if tls is None:
            self.channel = grpc.insecure_channel(endpoint, options=options)
        else:
            self.channel = grpc.secure_channel(endpoint, tls.credentials(), options=options)

    def with_retries(self, attempt: Callable[[], R]) -> R:
        """Runs `attempt` until it succeeds, fails for good, or the attempts run out."""
        delays = self.retry.delays()
        while True:
            try:
                return attempt()
            except grpc.RpcError as e:
                error = error_from_rpc(e)
                if error.code not in RETRYABLE:
                    raise error from None
                delay = next(delays, None)
                if delay is None:
                    raise error from None
                # The hub's RetryInfo (rate limit, full disk) says how long to wait at least.
                time.sleep(max(delay, error.retry_after_seconds or 0.0))

    def signed_unary(self, method: str, request: Message, response_cls: type[R]) -> R:
        """A metadata-signed unary call; each attempt is signed afresh (new nonce)."""
        raw = request.SerializeToString()
        call = self.channel.unary_unary(
            method, request_serializer=_identity, response_deserializer=response_cls.FromString
        )

        def attempt() -> R:
            result: R = call(
                raw, metadata=self.signer.call_metadata(method, raw), timeout=self.timeout_seconds
            )
            return result

        return self.with_retries(attempt)

    def close(self) -> None:
        self.channel.close()


class Client:
    """A member platform's client of the hub.

    >>> with Client("127.0.0.1:50051", "acme", "acme.key") as hub:   # doctest: +SKIP
    ...     hub.submit([Signal("pdq", "f8f8...")])
    """

    def __init__(
        self,
        endpoint: str,
        member_id: str,
        key: Ed25519PrivateKey | str | Path,
        *,
        timeout_seconds: float = 30.0,
        retry: RetryPolicy | None = None,
        tls: TlsConfig | None = None,
    ) -> None:
        self.member_id = member_id
        self._conn = _Connection(
            endpoint,
            Signer(member_id, load_key(key)),
            timeout_seconds,
            retry or RetryPolicy(),
            tls,
        )

    @classmethod
    def from_env(cls, **kwargs: object) -> Client:
        """A client configured by SIGNALHUB_ENDPOINT, SIGNALHUB_MEMBER and SIGNALHUB_KEY."""
        member = os.environ.get("SIGNALHUB_MEMBER")
        key = os.environ.get("SIGNALHUB_KEY")
        if not member or not key:
            raise SignalhubError("set SIGNALHUB_MEMBER and SIGNALHUB_KEY (path of the key file)")
        return cls(os.environ.get("SIGNALHUB_ENDPOINT", DEFAULT_ENDPOINT), member, key, **kwargs)  # type: ignore[arg-type]

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    @property
    def key_id(self) -> str:
        return self._conn.signer.key_id

    # --- submissions ---------------------------------------------------------------------------
    def submit(
        self,
        signals: Sequence[Signal],
        *,
        batch_id: str | None = None,
        validate_only: bool = False,
        audience: Sequence[str] = (),
        urgent: bool = False,
    ) -> SubmitResult:
        """Submits one batch (all or nothing). Retries keep the batch_id and re-sign with a
        fresh created_at, so a batch the hub already stored returns its first answer. `urgent`
        marks an ongoing abuse situation: followers of the feed see it on the events."""
        batch_id = batch_id or uuid.uuid4().hex
        wire = [s.to_wire() for s in signals]
        response = self._signed_command(
            "/signalhub.v1.Exchange/SubmitSignals",
            domain.SUBMISSION_SIGNING_PREFIX,
            lambda now: common_pb2.SubmissionBatch(
                member_id=self.member_id, batch_id=batch_id, created_at=now, signals=wire,
                audience=audience, validate_only=validate_only, urgent=urgent,
            ),
            exchange_pb2.SubmitSignalsRequest,
            exchange_pb2.SubmitSignalsResponse,
        )  # fmt: skip
        return SubmitResult.from_wire(response)

    def submit_all(
        self,
        signals: Iterable[Signal],
        *,
        max_signals: int = DEFAULT_BATCH_SIGNALS,
        max_bytes: int = DEFAULT_BATCH_BYTES,
        validate_only: bool = False,
        audience: Sequence[str] = (),
        urgent: bool = False,
    ) -> list[SubmitResult]:
        """Submits any number of signals in batches of at most `max_signals` and about
        `max_bytes`; returns one result per batch."""
        results: list[SubmitResult] = []
        for chunk in split_batches(signals, max_signals, max_bytes):
            results.append(
                self.submit(chunk, validate_only=validate_only, audience=audience, urgent=urgent)
            )
        return results

    def batcher(
        self,
        *,
        max_signals: int = DEFAULT_BATCH_SIGNALS,
        max_bytes: int = DEFAULT_BATCH_BYTES,
        linger_seconds: float = 0.5,
    ) -> Batcher:
        """A Batcher that groups signals added one at a time into batches."""
        from .batching import Batcher

        return Batcher(
            self.submit, max_signals=max_signals, max_bytes=max_bytes, linger_seconds=linger_seconds
        )

    # --- reads ---------------------------------------------------------------------------------
    def match(
        self,
        queries: Sequence[tuple[str, str]],
        max_distance: int = domain.DEFAULT_PDQ_MAX_DISTANCE,
        *,
        min_query_match_percent: float | None = None,
        min_compared_match_percent: float | None = None,
        thresholds: Mapping[str, int] | None = None,
        min_score: float | None = None,
    ) -> list[MatchResult]:
        """Matches (type, value) queries; one MatchResult per query, in order. The percentages
        apply to vpdq (video) queries; unset, the hub uses 80 and 0 as pytx does.
        `thresholds` gives the largest distance per type for types matched by their own index
        (plug-ins such as tlsh; `signal_types()` lists their defaults). `min_score` keeps only
        signals a classifier scored at least that high."""
        thresholds = thresholds or {}
        request = exchange_pb2.MatchHashesRequest(
            queries=[
                exchange_pb2.MatchQuery(type=t, value=v, max_distance=thresholds[t])
                if t in thresholds
                else exchange_pb2.MatchQuery(type=t, value=v)
                for t, v in queries
            ],
            max_distance=max_distance,
        )
        if min_query_match_percent is not None:
            request.min_query_match_percent = min_query_match_percent
        if min_compared_match_percent is not None:
            request.min_compared_match_percent = min_compared_match_percent
        response = self._conn.signed_unary(
            "/signalhub.v1.Exchange/MatchHashes", request, exchange_pb2.MatchHashesResponse
        )
        out = []
        for (t, v), result in zip(queries, response.results, strict=True):
            matches = tuple(Match.from_wire(m) for m in result.matches)
            if min_score is not None:
                matches = tuple(m for m in matches if m.signal.scored_at_least(min_score))
            out.append(MatchResult(t, v, matches, result.truncated))
        return out

    def signal_types(self) -> list[SignalTypeInfo]:
        """The signal types the hub accepts (built-ins and its plug-ins), sorted by name."""
        response = self._conn.signed_unary(
            "/signalhub.v1.Exchange/ListSignalTypes",
            exchange_pb2.ListSignalTypesRequest(),
            exchange_pb2.ListSignalTypesResponse,
        )
        return [SignalTypeInfo.from_wire(t) for t in response.types]

    def match_video(
        self,
        frames: Sequence[VpdqFrame],
        max_distance: int = domain.DEFAULT_PDQ_MAX_DISTANCE,
        *,
        min_query_match_percent: float | None = None,
        min_compared_match_percent: float | None = None,
    ) -> MatchResult:
        """Stored videos sharing enough frames with a video (its vPDQ frames, e.g. from
        `hash_video`), best first, each with its query and compared match percent."""
        (result,) = self.match(
            [("vpdq", vpdq_text(list(frames)))],
            max_distance,
            min_query_match_percent=min_query_match_percent,
            min_compared_match_percent=min_compared_match_percent,
        )
        return result

    def match_pdq(self, hashes: Sequence[str], max_distance: int = 31) -> list[MatchResult]:
        """Matches PDQ hashes (64 hex digits each)."""
        return self.match([("pdq", h) for h in hashes], max_distance)

    def fetch(self, after: str = "", limit: int = 0) -> Iterator[FeedEvent]:
        """Feed events after the cursor `after` (exclusive; "" = from the start), oldest first.
        A stream dropped by a transient failure is resumed from the last event received."""
        for event in self.fetch_wire(after, limit):
            yield FeedEvent.from_wire(event)

    def fetch_wire(
        self,
        after: str = "",
        limit: int = 0,
        *,
        follow: bool = False,
        urgent_only: bool = False,
    ) -> Iterator[common_pb2.FeedEvent]:
        """The same as `fetch`, as the wire messages (cheaper for bulk copies). With `follow`,
        the stream stays open after the backlog and yields each new event as it commits; a
        dropped stream (the hub restarting, or letting a subscriber go that stopped reading)
        is reopened after the last event yielded, so nothing is missed or repeated. It ends
        only when the retry policy gives up on a hub that stays away, or on a lasting error."""
        method = "/signalhub.v1.Exchange/FetchUpdates"
        call = self._conn.channel.unary_stream(
            method,
            request_serializer=_identity,
            response_deserializer=exchange_pb2.FetchUpdatesResponse.FromString,
        )
        cursor, remaining = after, limit
        delays = self._conn.retry.delays()
        retryable = RETRYABLE | {grpc.StatusCode.RESOURCE_EXHAUSTED} if follow else RETRYABLE
        while True:
            raw = exchange_pb2.FetchUpdatesRequest(
                after=cursor, limit=remaining, follow=follow, urgent_only=urgent_only
            ).SerializeToString()
            try:
                for message in call(raw, metadata=self._conn.signer.call_metadata(method, raw)):
                    for event in message.events:
                        cursor = event.cursor
                        yield event
                        if limit:
                            remaining -= 1
                    if follow:  # the stream works: a later drop gets the full retry budget
                        delays = self._conn.retry.delays()
                return
            except grpc.RpcError as e:
                error = error_from_rpc(e)
                delay = next(delays, None)
                if error.code not in retryable or delay is None:
                    raise error from None
                time.sleep(delay)

    def follow(self, after: str = "", *, urgent_only: bool = False) -> Iterator[FeedEvent]:
        """Every feed event after `after`, then each new one as it commits, for as long as the
        caller iterates (see `fetch_wire` for reconnection)."""
        for event in self.fetch_wire(after, follow=True, urgent_only=urgent_only):
            yield FeedEvent.from_wire(event)

    def subscribe(
        self,
        callback: Callable[[FeedEvent], None],
        after: str = "",
        *,
        urgent_only: bool = False,
    ) -> Subscription:
        """Calls `callback` with every event after `after` and each new one as it commits, on
        a background thread, until `Subscription.stop()`. After a disconnect it resumes from
        the last event delivered: no event is missed, and none reaches the callback twice.
        A callback that raises stops the subscription (the error is kept in `.error`)."""
        subscription = Subscription(self, callback, after, urgent_only)
        subscription.start()
        return subscription

    def member_report(self, first_day: date | str, last_day: date | str) -> dict[str, Any]:
        """Your own contribution and use from first_day to last_day (UTC, both included): your
        signals, how often they matched at other members (counts by label and week, never
        who), your queries, and the opinions others gave on your signals. See docs/report.md."""
        request = exchange_pb2.GetMemberReportRequest(
            first_day=str(first_day), last_day=str(last_day)
        )
        response = self._conn.signed_unary(
            "/signalhub.v1.Exchange/GetMemberReport", request, exchange_pb2.GetMemberReportResponse
        )
        body: dict[str, Any] = json.loads(response.report_json)
        return body

    def impact(self, weeks: int = DEFAULT_WEEKS, today: date | None = None) -> dict[str, Any]:
        """How often your signals matched at other members over the last `weeks` ISO weeks
        (counts by label and week, never who) and which of them others called false positive
        or disputed: `signalhub stats --mine`, read from your member report."""
        first, last = impact_period(weeks, today or datetime.now(UTC).date())
        return impact_view(self.member_report(first, last), weeks)

    def get_signal(self, signal_id: str) -> SignalDetail:
        """A signal with every submission of it and the signed envelopes (provenance)."""
        response = exchange_pb2.GetSignalResponse()
        token = ""
        while True:  # submissions come in pages (their envelopes can be large)
            page = self._conn.signed_unary(
                "/signalhub.v1.Exchange/GetSignal",
                exchange_pb2.GetSignalRequest(signal_id=signal_id, page_token=token),
                exchange_pb2.GetSignalResponse,
            )
            response.signal.CopyFrom(page.signal)
            response.submissions.extend(page.submissions)
            token = page.next_page_token
            if not token:
                return SignalDetail.from_wire(response)

    def set_opinion(
        self, signal_id: str, opinion: str, note: str = "", *, request_id: str | None = None
    ) -> SignalInfo:
        """Sets this member's opinion of a signal: "true_positive", "false_positive",
        "disputed", or "none" to clear it. Signed; a retry keeps the request id."""
        value = OPINIONS.get(opinion.lower().replace("-", "_"))
        if value is None:
            raise SignalhubError(
                f"unknown opinion {opinion!r}: true_positive, false_positive, disputed or none"
            )
        request_id = request_id or uuid.uuid4().hex
        response = self._signed_command(
            "/signalhub.v1.Exchange/SetOpinion",
            domain.OPINION_SIGNING_PREFIX,
            lambda now: common_pb2.OpinionChange(
                member_id=self.member_id, request_id=request_id, created_at=now,
                signal_id=signal_id, opinion=value, note=note,
            ),
            exchange_pb2.SetOpinionRequest,
            exchange_pb2.SetOpinionResponse,
        )  # fmt: skip
        return SignalInfo.from_wire(response.signal)

    def retract(
        self, signal_ids: Sequence[str], *, request_id: str | None = None
    ) -> list[tuple[str, bool]]:
        """Withdraws this member's own submissions of the signals; returns (signal id, removed)
        where removed means no submission this member may see is left: the signal is gone
        from its view (whether another privacy group still holds it is not said)."""
        request_id = request_id or uuid.uuid4().hex
        response = self._signed_command(
            "/signalhub.v1.Exchange/RetractSubmission",
            domain.RETRACTION_SIGNING_PREFIX,
            lambda now: common_pb2.Retraction(
                member_id=self.member_id, request_id=request_id, created_at=now,
                signal_ids=signal_ids,
            ),
            exchange_pb2.RetractSubmissionRequest,
            exchange_pb2.RetractSubmissionResponse,
        )  # fmt: skip
        return [(r.signal_id, r.removed) for r in response.results]

    def _signed_command(
        self,
        method: str,
        prefix: bytes,
        payload: Callable[[Timestamp], Message],
        request_cls: type[Message],
        response_cls: type[R],
    ) -> R:
        call = self._conn.channel.unary_unary(
            method, request_serializer=_identity, response_deserializer=response_cls.FromString
        )

        def attempt() -> R:
            # Re-signed on every attempt: a fresh created_at (the same request id, so the hub
            # answers a retry from its first answer) and fresh call metadata.
            signer = self._conn.signer
            envelope = signer.sign_payload(prefix, payload(signer.now()).SerializeToString())
            request = request_cls()
            getattr(request, "envelope").CopyFrom(envelope)  # noqa: B009 (any request class)
            raw = request.SerializeToString()
            metadata = signer.call_metadata(method, raw)
            result: R = call(raw, metadata=metadata, timeout=self._conn.timeout_seconds)
            return result

        return self._conn.with_retries(attempt)

    def snapshot(
        self,
        after: str = "",
        *,
        min_backlog: int = 0,
        hub_key: bytes | None = None,
        on_header: Callable[[Snapshot], None] | None = None,
        on_signals: SnapshotSignals | None = None,
    ) -> Snapshot:
        """A signed snapshot of every signal this member may see, at one cursor (follow the
        feed after `Snapshot.cursor`). With `min_backlog` > 0 the hub sends one only when the
        feed is more than that many events past `after` (else `not_needed`).

        The hub's signature over the digest of the bytes received is checked after the last
        chunk (SnapshotRejected otherwise): against `hub_key` (raw 32 bytes, e.g. read from
        the operator's hub.key.pub with signalhub.domain.read_public_key) when given, else
        against the key the hub names, which `Snapshot.hub_public_key` returns for the caller
        to pin. `on_signals` receives each chunk's signals as they arrive (else they are
        collected into `Snapshot.signals`): keep them only once this returns. A transient
        failure before the header arrived is retried."""
        method = "/signalhub.v1.Exchange/GetSnapshot"
        call = self._conn.channel.unary_stream(
            method, request_serializer=_identity, response_deserializer=_identity
        )
        raw = exchange_pb2.GetSnapshotRequest(
            after=after, min_backlog=min_backlog
        ).SerializeToString()
        delays = self._conn.retry.delays()
        while True:
            started = False

            def header(info: Snapshot) -> None:
                nonlocal started
                started = True
                if on_header is not None:
                    on_header(info)

            stream = call(raw, metadata=self._conn.signer.call_metadata(method, raw))
            try:
                return read_snapshot(stream, self.member_id, hub_key, header, on_signals)
            except grpc.RpcError as e:
                error = error_from_rpc(e)
                delay = next(delays, None)
                if started or error.code not in RETRYABLE or delay is None:
                    raise error from None
                time.sleep(max(delay, error.retry_after_seconds or 0.0))
            finally:
                stream.cancel()  # ends the call when reading stopped early; no-op otherwise

    def sync(
        self,
        path: str | Path,
        *,
        snapshot: bool = True,
        snapshot_min_backlog: int | None = None,
        hub_key: bytes | None = None,
    ) -> int:
        """Brings the local replica at `path` up to date (creating it if needed): from a signed
        snapshot when it is far behind, then from the feed; returns how many feed events were
        applied. The arguments are LocalReplica.sync's."""
        from .local import LocalReplica

        with LocalReplica(Path(path)) as replica:
            return replica.sync(
                self, snapshot=snapshot, snapshot_min_backlog=snapshot_min_backlog, hub_key=hub_key
            )

    def audit_head(self) -> admin_pb2.AuditHead | None:
        """The hub's newest signed audit head (None before anything was logged)."""
        response = self._conn.signed_unary(
            "/signalhub.v1.Exchange/GetAuditHead",
            exchange_pb2.GetAuditHeadRequest(),
            exchange_pb2.GetAuditHeadResponse,
        )
        return response.head if response.HasField("head") else None


class Subscription:
    """A background thread following the feed for `Client.subscribe`."""

    def __init__(
        self,
        client: Client,
        callback: Callable[[FeedEvent], None],
        after: str,
        urgent_only: bool,
    ) -> None:
        self._client = client
        self._callback = callback
        self._urgent_only = urgent_only
        self.cursor = after
        """The cursor of the last event delivered to the callback."""
        self.error: BaseException | None = None
        """Why the subscription ended on its own (None while running or after stop())."""
        self._stopped = threading.Event()
        self._call: Any = None
        self._thread = threading.Thread(target=self._run, name="signalhub-subscription",
                                        daemon=True)  # fmt: skip

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Ends the subscription and waits for its thread."""
        self._stopped.set()
        call = self._call
        if call is not None:
            call.cancel()
        self._thread.join(timeout)

    def join(self, timeout: float | None = None) -> None:
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
        method = "/signalhub.v1.Exchange/FetchUpdates"
        conn = self._client._conn
        raw = exchange_pb2.FetchUpdatesRequest(
            after=self.cursor, follow=True, urgent_only=self._urgent_only
        ).SerializeToString()
        call = conn.channel.unary_stream(
            method,
            request_serializer=_identity,
            response_deserializer=exchange_pb2.FetchUpdatesResponse.FromString,
        )(raw, metadata=conn.signer.call_metadata(method, raw))
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


class AdminClient:
    """The operator's client: calls of the Admin service, signed with the operator key."""

    def __init__(
        self,
        endpoint: str,
        operator_key: Ed25519PrivateKey | str | Path,
        *,
        timeout_seconds: float = 30.0,
        retry: RetryPolicy | None = None,
        tls: TlsConfig | None = None,
    ) -> None:
        self._conn = _Connection(
            endpoint,
            Signer(domain.OPERATOR_ID, load_key(operator_key)),
            timeout_seconds,
            retry or RetryPolicy(),
            tls,
        )

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def add_member(
        self,
        member_id: str,
        public_key: bytes,
        display_name: str = "",
        contact: admin_pb2.MemberContact | None = None,
    ) -> admin_pb2.AddMemberResponse:
        """Registers a member with its first Ed25519 public key (raw 32 bytes) and, optionally,
        who the operator contacts about it."""
        request = admin_pb2.AddMemberRequest(
            member_id=member_id, public_key=public_key, display_name=display_name
        )
        if contact is not None:
            request.contact.CopyFrom(contact)
        return self._call("AddMember", request, admin_pb2.AddMemberResponse)

    def set_member_contact(
        self, member_id: str, contact: admin_pb2.MemberContact
    ) -> admin_pb2.Member:
        """Replaces a member's contact details (all fields empty: removes them)."""
        request = admin_pb2.SetMemberContactRequest(member_id=member_id, contact=contact)
        return self._call("SetMemberContact", request, admin_pb2.SetMemberContactResponse).member

    def member_usage(
        self, member_id: str = "", first_day: date | str = "", last_day: date | str = ""
    ) -> admin_pb2.GetMemberUsageResponse:
        """Per-member usage over UTC days first_day..last_day (default: the last 30 days):
        signals and batches submitted, queries, last call, submissions in force now. Every
        member, or one. Counts reach the hub's store every 5 s."""
        request = admin_pb2.GetMemberUsageRequest(
            member_id=member_id, first_day=str(first_day), last_day=str(last_day)
        )
        return self._call("GetMemberUsage", request, admin_pb2.GetMemberUsageResponse)

    def _call(self, method: str, request: Message, response_cls: type[R]) -> R:
        return self._conn.signed_unary(f"/signalhub.v1.Admin/{method}", request, response_cls)

    def add_key(self, member_id: str, public_key: bytes) -> str:
        """Adds a key to a member; returns its id."""
        request = admin_pb2.AddKeyRequest(member_id=member_id, public_key=public_key)
        return self._call("AddKey", request, admin_pb2.AddKeyResponse).key_id

    def revoke_key(self, member_id: str, key_id: str) -> admin_pb2.Key:
        """Revokes a member's key from now on."""
        request = admin_pb2.RevokeKeyRequest(member_id=member_id, key_id=key_id)
        return self._call("RevokeKey", request, admin_pb2.RevokeKeyResponse).key

    def revoke_compromised_key(
        self, member_id: str, key_id: str, compromised_since: datetime
    ) -> admin_pb2.RevokeKeyResponse:
        """Revokes a compromised key (or one already revoked) and retracts every submission
        the hub received signed with it at or after `compromised_since`."""
        request = admin_pb2.RevokeKeyRequest(member_id=member_id, key_id=key_id)
        request.compromised_since.FromDatetime(compromised_since)
        return self._call("RevokeKey", request, admin_pb2.RevokeKeyResponse)

    def remove_member(
        self, member_id: str, submissions: str, reason: str = ""
    ) -> admin_pb2.RemoveMemberResponse:
        """Offboards a member; `submissions` is "keep", "retract" or "erase" (see RemoveMember)."""
        fate = f"OFFBOARD_SUBMISSIONS_{submissions.upper()}"
        request = admin_pb2.RemoveMemberRequest(
            member_id=member_id, reason=reason, submissions=fate
        )
        return self._call("RemoveMember", request, admin_pb2.RemoveMemberResponse)

    def erase_signal(self, signal_id: str, reason: str) -> admin_pb2.EraseSignalResponse:
        """Erases a signal on legal request (see EraseSignal): its value is scrubbed from the
        hub, a tombstone with `reason` is left, and it can never be submitted again."""
        request = admin_pb2.EraseSignalRequest(signal_id=signal_id, reason=reason)
        return self._call("EraseSignal", request, admin_pb2.EraseSignalResponse)

    def set_member_suspended(self, member_id: str, suspended: bool) -> admin_pb2.Member:
        """Suspends (True) or reinstates (False) a member."""
        request = admin_pb2.SetMemberSuspendedRequest(member_id=member_id, suspended=suspended)
        return self._call(
            "SetMemberSuspended", request, admin_pb2.SetMemberSuspendedResponse
        ).member

    def list_keys(self, member_id: str) -> list[admin_pb2.Key]:
        """A member's keys, revoked ones included."""
        request = admin_pb2.ListKeysRequest(member_id=member_id)
        return list(self._call("ListKeys", request, admin_pb2.ListKeysResponse).keys)

    def add_group_members(self, group_id: str, member_ids: Sequence[str]) -> admin_pb2.PrivacyGroup:
        """Creates a privacy group or adds members to it."""
        request = admin_pb2.AddGroupMembersRequest(group_id=group_id, member_ids=member_ids)
        return self._call("AddGroupMembers", request, admin_pb2.AddGroupMembersResponse).group

    def remove_group_members(
        self, group_id: str, member_ids: Sequence[str] = ()
    ) -> admin_pb2.PrivacyGroup:
        """Removes members from a group (all of them when none is named)."""
        request = admin_pb2.RemoveGroupMembersRequest(group_id=group_id, member_ids=member_ids)
        return self._call("RemoveGroupMembers", request, admin_pb2.RemoveGroupMembersResponse).group

    def list_groups(self) -> list[admin_pb2.PrivacyGroup]:
        """Every privacy group and its members."""
        request = admin_pb2.ListGroupsRequest()
        return list(self._call("ListGroups", request, admin_pb2.ListGroupsResponse).groups)

    def sign_audit_head(self) -> admin_pb2.AuditHead | None:
        """Has the hub sign the audit log's current head now."""
        response = self._call(
            "SignAuditHead", admin_pb2.SignAuditHeadRequest(), admin_pb2.SignAuditHeadResponse
        )
        return response.head if response.HasField("head") else None

    def list_members(self) -> list[admin_pb2.Member]:
        """Every registered member, by name."""
        out: list[admin_pb2.Member] = []
        token = ""
        while True:
            page = self._conn.signed_unary(
                "/signalhub.v1.Admin/ListMembers",
                admin_pb2.ListMembersRequest(page_token=token),
                admin_pb2.ListMembersResponse,
            )
            out.extend(page.members)
            token = page.next_page_token
            if not token:
                return out


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


__all__ = ["AdminClient", "Client", "RetryPolicy", "TlsConfig", "split_batches"]
