"""Submissions, opinions and retractions: a member's signed envelope is verified (off the event
loop: signature checks and validating thousands of values are CPU work), turned into a log
entry and handed to the command log (the writer, or the cluster's stream), which applies it
(exchange.ledger) and answers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from signalhub import domain
from signalhub import reviews as rv
from signalhub import warnings as wl
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import coalition_pb2, common_pb2, exchange_pb2

from ..auth import verify_envelope, verify_signed_payload
from ..errors import invalid
from ..ledger import Applied, PreparedBatch
from .context import Hub, RawRequest, envelope_of, same_member

M = TypeVar("M", bound=Message)
Metadata = Mapping[str, str | bytes]


async def submit_signals(
    hub: Hub, request: RawRequest[exchange_pb2.SubmitSignalsRequest], metadata: Metadata
) -> exchange_pb2.SubmitSignalsResponse:
    """Verifies a batch, has it applied and counts what was stored; the answer's cursor is
    the member's (encrypted) cursor of the batch's last feed event."""
    loop = asyncio.get_running_loop()
    # Signature checks and validating thousands of values are CPU work: off the loop.
    envelope, prepared = await loop.run_in_executor(None, precheck, hub, request, metadata)
    entry = hub.log_entry(submit=rec.SubmitCommand(envelope=envelope))
    applied = await hub.log.execute(entry, prepared)
    response = applied.response
    assert isinstance(response, exchange_pb2.SubmitSignalsResponse)
    if applied.stored:
        record_submitted(hub, prepared, response)
    if response.cursor:  # stored as the sequence; the member gets its cursor
        response.cursor = hub.codec.encode(int(response.cursor))
    return response


def record_submitted(
    hub: Hub, prepared: PreparedBatch, response: exchange_pb2.SubmitSignalsResponse
) -> None:
    """Counts a stored batch in the usage counts and the metrics (by type and status)."""
    batch = prepared.batch
    distinct = len({r.signal_id for r in response.results})
    hub.usage.record_submission(batch.member_id, distinct)
    counts: dict[tuple[str, int], int] = {}
    for result, signal in zip(response.results, batch.signals, strict=True):
        counts[(signal.type, result.status)] = counts.get((signal.type, result.status), 0) + 1
    for (type_name, status), n in counts.items():
        name = exchange_pb2.SubmitStatus.Name(status).removeprefix("SUBMIT_STATUS_")
        hub.metrics.signals_submitted.labels(type_name, name.lower()).inc(n)
    if response.cursor:
        hub.metrics.feed_sequence.set(int(response.cursor))
    hub.metrics.index_signals.labels("pdq").set(len(hub.index))


def precheck(
    hub: Hub, request: RawRequest[exchange_pb2.SubmitSignalsRequest], metadata: Metadata
) -> tuple[common_pb2.SignedEnvelope, PreparedBatch]:
    """Authenticates the call and verifies its envelope and batch (in a worker thread)."""
    caller, message = hub.authenticate("/signalhub.v1.Exchange/SubmitSignals", request, metadata)
    envelope = envelope_of(message)
    with hub.store.read() as view:
        batch, _ = verify_envelope(view, envelope)
    same_member(caller, batch.member_id)
    if len(batch.signals) > hub.max_batch_signals:
        raise invalid(
            f"at most {hub.max_batch_signals} signals a batch on this hub",
            [("signals", f"at most {hub.max_batch_signals}, got {len(batch.signals)}")],
        )
    return envelope, PreparedBatch.of(envelope.payload, batch)


R = TypeVar("R", bound=Message)


@dataclass(frozen=True)
class SignedCommand(Generic[R]):
    """A command a member signs (its envelope's payload), how it is logged and what it
    answers."""

    method: str
    prefix: bytes
    """The signing prefix of its payload (signalhub.domain)."""
    payload_cls: type[Message]
    field: str
    """The LogEntry field that carries it."""
    response_cls: type[R]


OPINION = SignedCommand(
    "SetOpinion",
    domain.OPINION_SIGNING_PREFIX,
    common_pb2.OpinionChange,
    "set_opinion",
    exchange_pb2.SetOpinionResponse,
)
WARNING_PROPOSAL = SignedCommand(
    "ProposeWarningEntries",
    wl.WARNING_PROPOSAL_SIGNING_PREFIX,
    coalition_pb2.WarningProposal,
    "propose_warning_entries",
    exchange_pb2.ProposeWarningEntriesResponse,
)
APPEAL = SignedCommand(
    "RecordAppeal",
    rv.APPEAL_SIGNING_PREFIX,
    coalition_pb2.Appeal,
    "record_appeal",
    exchange_pb2.RecordAppealResponse,
)
REVIEW_DONE = SignedCommand(
    "MarkReviewed",
    rv.REVIEW_DONE_SIGNING_PREFIX,
    coalition_pb2.ReviewDone,
    "mark_reviewed",
    exchange_pb2.MarkReviewedResponse,
)
RETRACTION = SignedCommand(
    "RetractSubmission",
    domain.RETRACTION_SIGNING_PREFIX,
    common_pb2.Retraction,
    "retract",
    exchange_pb2.RetractSubmissionResponse,
)


async def run_signed(
    hub: Hub, kind: SignedCommand[R], request: RawRequest[Any], metadata: Metadata
) -> R:
    """Verifies a member's signed command (an opinion, a warning-list proposal, an appeal, a
    review done) and has it applied; its answer."""
    applied = await _execute_signed(hub, kind, request, metadata)
    assert isinstance(applied.response, kind.response_cls)
    return applied.response


async def retract_submission(
    hub: Hub, request: RawRequest[exchange_pb2.RetractSubmissionRequest], metadata: Metadata
) -> exchange_pb2.RetractSubmissionResponse:
    """Verifies a signed retraction and has it applied."""
    response = await run_signed(hub, RETRACTION, request, metadata)
    hub.metrics.index_signals.labels("pdq").set(len(hub.index))
    return response


async def _execute_signed(
    hub: Hub, kind: SignedCommand[Any], request: RawRequest[Any], metadata: Metadata
) -> Applied:
    """Verifies a signed command off the event loop, then has it applied."""
    envelope = await asyncio.get_running_loop().run_in_executor(
        None, verify_signed, hub, kind.method, request, metadata, kind.prefix, kind.payload_cls
    )
    entry = hub.log_entry(**{kind.field: rec.SignedCommand(envelope=envelope)})
    return await hub.log.execute(entry)


def verify_signed(
    hub: Hub,
    method: str,
    request: RawRequest[M],
    metadata: Metadata,
    prefix: bytes,
    payload_cls: type[Message],
) -> common_pb2.SignedEnvelope:
    """Authenticates the call and verifies its envelope's signed payload (in a worker thread);
    the envelope must be signed by the member who signs the call."""
    caller, message = hub.authenticate(f"/signalhub.v1.Exchange/{method}", request, metadata)
    envelope = envelope_of(message)
    with hub.store.read() as view:
        payload = verify_signed_payload(view, envelope, prefix, payload_cls)
    same_member(caller, getattr(payload, "member_id"))  # noqa: B009
    return envelope
