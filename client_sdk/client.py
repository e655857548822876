"""`Client`: a member's connection to the hub. It signs every call, retries transient failures
with exponential backoff (a retried batch keeps its batch_id, so the hub stores it once), splits
large submissions into batches, and iterates the feed, resuming after a dropped stream.
`AdminClient` (the operator's) is in `admin`.

The machinery lives beside it: the channel, signing, retries and TLS in `connection`, the feed
stream and `Subscription` in `feed`, batching in `batching`; their names are importable from
here as well."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signalhub import domain
from signalhub import warnings as wl
from signalhub.v1 import admin_pb2, coalition_pb2, common_pb2, exchange_pb2
from signalhub.vpdq_format import VpdqFrame, vpdq_text

from .batching import DEFAULT_BATCH_BYTES, DEFAULT_BATCH_SIGNALS, Batcher, split_batches
from .connection import RETRYABLE, R, RetryPolicy, TlsConfig, _Connection, _identity, load_key
from .errors import SignalhubError, error_from_rpc
from .feed import Subscription, fetch_events
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
from .reviews import ReviewCalls, retract_reason
from .signing import Signer
from .snapshot import Snapshot, SnapshotSignals, read_snapshot
from .warnings import ProposedEntry, WarningEntry, WarningLists, verified_lists, wire_entries

DEFAULT_ENDPOINT = "127.0.0.1:50051"
OPINIONS: dict[str, common_pb2.Opinion] = {
    "true_positive": common_pb2.OPINION_TRUE_POSITIVE,
    "false_positive": common_pb2.OPINION_FALSE_POSITIVE,
    "disputed": common_pb2.OPINION_DISPUTED,
    "none": common_pb2.OPINION_UNSPECIFIED,
}


class Client(ReviewCalls):
    """A member platform's client of the hub (its appeal and review calls: `ReviewCalls`).

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
        """Closes the connection."""
        self._conn.close()

    @property
    def key_id(self) -> str:
        """The id of the key this client signs with (derived from its public key)."""
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
        sharing: str = "full",
    ) -> SubmitResult:
        """Submits one batch (all or nothing). Retries keep the batch_id and re-sign with a
        fresh created_at, so a batch the hub already stored returns its first answer. `urgent`
        marks an ongoing abuse situation: followers of the feed see it on the events.
        `sharing` "match-only" lets the audience match against the values without ever
        receiving them (docs/match-only.md); signed with the batch."""
        level = domain.sharing_level(sharing)
        batch_id = batch_id or uuid.uuid4().hex
        wire = [s.to_wire() for s in signals]
        response = self._conn.signed_command(
            "/signalhub.v1.Exchange/SubmitSignals",
            domain.SUBMISSION_SIGNING_PREFIX,
            common_pb2.SubmissionBatch(
                batch_id=batch_id,
                signals=wire,
                audience=audience,
                validate_only=validate_only,
                urgent=urgent,
                sharing=level,  # type: ignore[arg-type]
            ),
            exchange_pb2.SubmitSignalsRequest,
            exchange_pb2.SubmitSignalsResponse,
        )
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
        sharing: str = "full",
    ) -> list[SubmitResult]:
        """Submits any number of signals in batches of at most `max_signals` and about
        `max_bytes`; returns one result per batch."""
        results: list[SubmitResult] = []
        for chunk in split_batches(signals, max_signals, max_bytes):
            results.append(
                self.submit(
                    chunk,
                    validate_only=validate_only,
                    audience=audience,
                    urgent=urgent,
                    sharing=sharing,
                )
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
        exclude_warned: bool = True,
        exclude_quarantined: bool = True,
    ) -> list[MatchResult]:
        """Matches (type, value) queries; one MatchResult per query, in order. The percentages
        apply to vpdq (video) queries; unset, the hub uses 80 and 0 as pytx does.
        `thresholds` gives the largest distance per type for types matched by their own index
        (plug-ins such as tlsh; `signal_types()` lists their defaults). `min_score` keeps only
        signals a classifier scored at least that high. `exclude_warned` (the default, for
        automated actioning) leaves out matches a warning list flags; with False they come back
        with `warning_lists` set. `exclude_quarantined` (the default too) leaves out matches of
        signals in flood quarantine; with False they come back with `quarantined` set."""
        thresholds = thresholds or {}
        request = exchange_pb2.MatchHashesRequest(
            queries=[
                exchange_pb2.MatchQuery(type=t, value=v, max_distance=thresholds[t])
                if t in thresholds
                else exchange_pb2.MatchQuery(type=t, value=v)
                for t, v in queries
            ],
            max_distance=max_distance,
            exclude_warned=exclude_warned,
            exclude_quarantined=exclude_quarantined,
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
            out.append(
                MatchResult(
                    t,
                    v,
                    matches,
                    result.truncated,
                    result.excluded_warned,
                    result.excluded_quarantined,
                )
            )
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
        return fetch_events(self._conn, after, limit, follow=follow, urgent_only=urgent_only)

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
        subscription = Subscription(self._conn, callback, after, urgent_only)
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
        response = self._conn.signed_command(
            "/signalhub.v1.Exchange/SetOpinion",
            domain.OPINION_SIGNING_PREFIX,
            common_pb2.OpinionChange(
                request_id=request_id, signal_id=signal_id, opinion=value, note=note
            ),
            exchange_pb2.SetOpinionRequest,
            exchange_pb2.SetOpinionResponse,
        )
        return SignalInfo.from_wire(response.signal)

    def retract(
        self,
        signal_ids: Sequence[str],
        *,
        reason: str = "",
        note: str = "",
        request_id: str | None = None,
    ) -> list[tuple[str, bool]]:
        """Withdraws this member's own submissions of the signals; returns (signal id, removed)
        where removed means no submission this member may see is left: the signal is gone
        from its view (whether another privacy group still holds it is not said). With
        `reason="false_positive"` every other member that matched them in the review window
        is asked to review its actions (docs/decision-propagation.md); `note` (at most 1000
        characters) stays in the hub's log, never shown to other members."""
        request_id = request_id or uuid.uuid4().hex
        response = self._conn.signed_command(
            "/signalhub.v1.Exchange/RetractSubmission",
            domain.RETRACTION_SIGNING_PREFIX,
            common_pb2.Retraction(
                request_id=request_id,
                signal_ids=signal_ids,
                reason=retract_reason(reason),
                note=note,
            ),
            exchange_pb2.RetractSubmissionRequest,
            exchange_pb2.RetractSubmissionResponse,
        )
        return [(r.signal_id, r.removed) for r in response.results]

    def warning_lists(
        self, if_version_after: int = 0, *, hub_key: bytes | None = None
    ) -> WarningLists:
        """The coalition's warning lists, their digest and hub signature checked (against
        `hub_key` when given). With `if_version_after` at the current version, `unchanged`
        is set and no lists are sent."""
        response = self.warning_lists_wire(if_version_after, hub_key=hub_key)
        lists = verified_lists(response, hub_key)
        if if_version_after and not response.lists and response.version <= if_version_after:
            return replace(lists, unchanged=True)
        return lists

    def warning_lists_wire(
        self, if_version_after: int = 0, *, hub_key: bytes | None = None
    ) -> exchange_pb2.GetWarningListsResponse:
        """GetWarningLists' answer as received, once its digest and signature check out (what
        a local replica stores)."""
        response = self._conn.signed_unary(
            "/signalhub.v1.Exchange/GetWarningLists",
            exchange_pb2.GetWarningListsRequest(if_version_after=if_version_after),
            exchange_pb2.GetWarningListsResponse,
        )
        verified_lists(response, hub_key)
        return response

    def propose_warning_entries(
        self,
        list_name: str,
        entries: Sequence[WarningEntry],
        *,
        withdraw: bool = False,
        request_id: str | None = None,
    ) -> list[ProposedEntry]:
        """Proposes entries for a warning list (or endorses the same entries others proposed);
        with `withdraw`, takes this member's proposal or endorsement back. Signed; idempotent
        by request id. Returns each entry's state."""
        action = (
            coalition_pb2.WARNING_ACTION_WITHDRAW
            if withdraw
            else coalition_pb2.WARNING_ACTION_PROPOSE
        )
        response = self._conn.signed_command(
            "/signalhub.v1.Exchange/ProposeWarningEntries",
            wl.WARNING_PROPOSAL_SIGNING_PREFIX,
            coalition_pb2.WarningProposal(
                request_id=request_id or uuid.uuid4().hex,
                list=list_name,
                action=action,
                entries=wire_entries(entries),
            ),
            exchange_pb2.ProposeWarningEntriesRequest,
            exchange_pb2.ProposeWarningEntriesResponse,
        )
        return [ProposedEntry.from_wire(p) for p in response.entries]

    def warning_proposals(self, list_name: str = "") -> list[ProposedEntry]:
        """This member's own proposals and endorsements (of one list, or all)."""
        response = self._conn.signed_unary(
            "/signalhub.v1.Exchange/ListWarningProposals",
            exchange_pb2.ListWarningProposalsRequest(list=list_name),
            exchange_pb2.ListWarningProposalsResponse,
        )
        return [ProposedEntry.from_wire(p) for p in response.entries]

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

            stream = self._conn.signed_stream(method, raw, _identity)
            try:
                return read_snapshot(stream, self.member_id, hub_key, header, on_signals)
            except grpc.RpcError as e:
                error = error_from_rpc(e)
                delay = None if self._conn.retry.waits_too_long(error) else next(delays, None)
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
        # Imported here: the replica brings lmdb, numpy and the matcher, which a client that
        # never syncs does not need. (client_sdk.local never imports this module.)
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


__all__ = [
    "DEFAULT_BATCH_BYTES",
    "DEFAULT_BATCH_SIGNALS",
    "DEFAULT_ENDPOINT",
    "R",
    "RETRYABLE",
    "Client",
    "RetryPolicy",
    "Subscription",
    "TlsConfig",
    "_Connection",
    "_identity",
    "load_key",
    "split_batches",
]
