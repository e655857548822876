"""What each RPC means. The servicers take parsed requests (with their raw bytes, which the
per-call signature covers), ask `auth` who is calling, and read the store, search the index or
hand a command to the writer. Errors are raised as HubError; `server` turns them into statuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import grpc
import numpy as np
from google.protobuf.message import Message

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, common_pb2, exchange_pb2

from .auth import Caller, CallVerifier, verify_envelope
from .errors import HubError, invalid, permission_denied
from .index import SignalIndex
from .ledger import canonical_batch
from .metrics import HubMetrics
from .store import Store, StoreView
from .writer import Writer, now_timestamp

M = TypeVar("M", bound=Message)
FEED_PAGE_EVENTS = 512
LIST_PAGE_DEFAULT = 1000


@dataclass
class RawRequest(Generic[M]):
    """A request as received: its exact bytes and the parsed message (None when the bytes are
    not a valid message of the method's type)."""

    raw: bytes
    message: M | None


@dataclass
class Hub:
    """What the servicers share: the store, the writer, the index, auth and metrics."""

    store: Store
    writer: Writer
    index: SignalIndex
    verifier: CallVerifier
    metrics: HubMetrics
    ready: bool = False
    """False while the index loads: matches would be incomplete, so reads answer UNAVAILABLE."""

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
        return caller, parsed(request)


def parsed(request: RawRequest[M]) -> M:
    if request.message is None:
        raise invalid(
            "the request is not a valid protobuf message of this method's type",
            [("request", "could not be parsed")],
        )
    return request.message


def _signal_view(view: StoreView, signal_id: str) -> common_pb2.Signal | None:
    record = view.signal(signal_id)
    return None if record is None else record.signal


class ExchangeService:
    """signalhub.v1.Exchange."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def SubmitSignals(
        self,
        request: RawRequest[exchange_pb2.SubmitSignalsRequest],
        metadata: Mapping[str, str | bytes],
    ) -> exchange_pb2.SubmitSignalsResponse:
        message = parsed(request)
        if not message.HasField("envelope"):
            raise invalid("an envelope is required", [("envelope", "required")])
        loop = asyncio.get_running_loop()
        # Signature checks and validating thousands of values are CPU work: off the loop.
        await loop.run_in_executor(None, self._precheck, message.envelope)
        entry = rec.LogEntry(
            received_at=now_timestamp(), submit=rec.SubmitCommand(envelope=message.envelope)
        )
        applied = await self.hub.writer.execute(entry, message.validate_only)
        response = applied.response
        assert isinstance(response, exchange_pb2.SubmitSignalsResponse)
        if applied.stored and not message.validate_only:
            batch = common_pb2.SubmissionBatch.FromString(message.envelope.payload)
            for result, signal in zip(response.results, batch.signals, strict=True):
                self.hub.metrics.signals_submitted.labels(
                    signal.type,
                    exchange_pb2.SubmitStatus.Name(result.status)
                    .removeprefix("SUBMIT_STATUS_")
                    .lower(),
                ).inc()
            if response.cursor:
                self.hub.metrics.feed_sequence.set(int(response.cursor))
            self.hub.metrics.index_signals.labels("pdq").set(len(self.hub.index))
        return response

    def _precheck(self, envelope: common_pb2.SignedEnvelope) -> None:
        with self.hub.store.read() as view:
            batch, _ = verify_envelope(view, envelope)
        canonical_batch(batch)

    async def MatchHashes(
        self,
        request: RawRequest[exchange_pb2.MatchHashesRequest],
        metadata: Mapping[str, str | bytes],
    ) -> exchange_pb2.MatchHashesResponse:
        _, message = self.hub.authenticate("/signalhub.v1.Exchange/MatchHashes", request, metadata)
        max_distance = (
            message.max_distance
            if message.HasField("max_distance")
            else domain.DEFAULT_PDQ_MAX_DISTANCE
        )
        if not 0 <= max_distance <= 64:
            raise invalid(
                "max_distance is 0-64 bits",
                [("max_distance", f"0-64 required, got {max_distance}")],
            )
        if len(message.queries) > domain.MAX_MATCH_QUERIES:
            raise invalid(
                f"at most {domain.MAX_MATCH_QUERIES} queries a call",
                [("queries", f"got {len(message.queries)}")],
            )
        canonical: list[tuple[str, str]] = []
        violations: list[tuple[str, str]] = []
        for i, q in enumerate(message.queries):
            try:
                canonical.append((q.type, domain.canonical_value(q.type, q.value)))
            except domain.InvalidValue as e:
                field = "type" if q.type not in domain.SIGNAL_TYPES else "value"
                violations.append((f"queries[{i}].{field}", str(e)))
        if violations:
            raise invalid(f"invalid query: {violations[0][0]}: {violations[0][1]}", violations)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._match, canonical, max_distance)

    def _match(
        self, queries: list[tuple[str, str]], max_distance: int
    ) -> exchange_pb2.MatchHashesResponse:
        response = exchange_pb2.MatchHashesResponse()
        pdq_positions = [
            i
            for i, (t, _) in enumerate(queries)
            if domain.SIGNAL_TYPES[t].match is domain.MatchKind.HAMMING
        ]
        found: dict[int, list[tuple[int, int]]] = {}  # query position -> [(row, distance)]
        if pdq_positions:
            hashes = np.frombuffer(
                b"".join(bytes.fromhex(queries[i][1]) for i in pdq_positions), dtype=np.uint8
            ).reshape(-1, 32)
            lims, rows, distances = self.hub.index.search(hashes, max_distance)
            for j, position in enumerate(pdq_positions):
                lo, hi = int(lims[j]), int(lims[j + 1])
                found[position] = list(
                    zip(rows[lo:hi].tolist(), distances[lo:hi].tolist(), strict=True)
                )
        with self.hub.store.read() as view:
            for i, (type_name, value) in enumerate(queries):
                result = response.results.add(query_index=i)
                if i in found:
                    for row, distance in found[i]:
                        entry = view.pdq_row(row)
                        signal = None if entry is None else _signal_view(view, entry[1])
                        if signal is not None:
                            result.matches.add(signal=signal, distance=distance)
                else:
                    signal = _signal_view(view, domain.signal_id(type_name, value))
                    if signal is not None:
                        result.matches.add(signal=signal, distance=0)
                if result.matches:
                    self.hub.metrics.matches.labels(type_name).inc(len(result.matches))
        return response

    async def FetchUpdates(
        self,
        request: RawRequest[exchange_pb2.FetchUpdatesRequest],
        metadata: Mapping[str, str | bytes],
    ) -> AsyncIterator[exchange_pb2.FetchUpdatesResponse]:
        _, message = self.hub.authenticate("/signalhub.v1.Exchange/FetchUpdates", request, metadata)
        if message.after and not message.after.isdigit():
            raise invalid(
                "after is a cursor from a feed event (a decimal number) or empty",
                [("after", f"not a cursor: {message.after[:40]!r}")],
            )
        if message.limit < 0:
            raise invalid("limit is 0 (no limit) or more", [("limit", "negative")])
        after = int(message.after or "0")
        remaining = message.limit or -1
        while remaining != 0:
            page = FEED_PAGE_EVENTS if remaining < 0 else min(remaining, FEED_PAGE_EVENTS)
            with self.hub.store.read() as view:  # closed before the first await below
                events = view.feed(after, page)
            if not events:
                return
            for event in events:
                yield exchange_pb2.FetchUpdatesResponse(event=event)
            after = int(events[-1].cursor)
            if remaining > 0:
                remaining -= len(events)

    async def GetSignal(
        self,
        request: RawRequest[exchange_pb2.GetSignalRequest],
        metadata: Mapping[str, str | bytes],
    ) -> exchange_pb2.GetSignalResponse:
        _, message = self.hub.authenticate("/signalhub.v1.Exchange/GetSignal", request, metadata)
        sid = message.signal_id.strip().lower()
        if not domain.is_signal_id(sid):
            raise invalid(
                "a signal id is 32 hex digits",
                [("signal_id", f"not a signal id: {message.signal_id[:40]!r}")],
            )
        with self.hub.store.read() as view:
            record = view.signal(sid)
            if record is None:
                raise HubError(grpc.StatusCode.NOT_FOUND, f"no signal {sid}")
            response = exchange_pb2.GetSignalResponse(signal=record.signal)
            for sub in view.submissions(sid):
                entry = view.log_entry(sub.log_sequence)
                out = response.submissions.add(
                    member_id=sub.member_id,
                    key_id=sub.key_id,
                    batch_id=sub.batch_id,
                    index=sub.index,
                    labels=sub.labels,
                    tags=sub.tags,
                    received_at=sub.received_at,
                )
                if entry is not None:
                    out.envelope.CopyFrom(entry.submit.envelope)
        return response


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
        entry = rec.LogEntry(
            received_at=now_timestamp(),
            add_member=rec.AddMemberCommand(
                member_id=message.member_id,
                public_key=message.public_key,
                display_name=message.display_name,
            ),
        )
        applied = await self.hub.writer.execute(entry)
        assert isinstance(applied.response, admin_pb2.AddMemberResponse)
        return applied.response

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
