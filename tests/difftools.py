"""Differential visibility testing (tests/e2e/test_e2e_differential.py): two hubs served in this
process over real LMDB stores, stamped by one clock the test sets, and a member's answers from
each, canonicalised and compared byte for byte.

What cannot be byte-identical by nature, and how it is handled here:
- Opaque tokens (feed cursors, GetSignal page tokens) are per hub: each is replaced by its name
  in the order it first appeared in that hub's transcript (`<cursor 1>`, `<cursor 2>`, ...);
  a request naming one is sent with that hub's own token. The names are compared, so the same
  token coming back twice (or not) must happen alike on both hubs.
- A snapshot's trailer signs a digest over the header (which carries a cursor): the trailer is
  verified here, against the bytes received and the hub key, and compared as "verified".
- The request id (x-signalhub-request-id trailer) is random per call: not compared.
- Times: both hubs read one `HubClock` (see `hub_clock` for where the hub reads the clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import hashlib
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import grpc
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from google.protobuf import text_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2

from client_sdk.signing import Signer
from client_sdk.snapshot import response_part
from exchange import server as hub_server
from exchange import usage as hub_usage
from exchange import writer as hub_writer
from exchange.server import HubServer, ServerConfig, flush_stats
from exchange.service import context as hub_context
from exchange.service import snapshots as hub_snapshots
from signalhub import domain
from signalhub.v1 import common_pb2, exchange_pb2

EXCHANGE = "/signalhub.v1.Exchange/"
SETTLE_SECONDS = 20.0
"""How long a hub may take to deliver what it committed to a follower (a failure otherwise)."""


def member_key(name: str) -> Ed25519PrivateKey:
    """The same private key for `name` in every hub and every run."""
    return Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"difftools\x00" + name.encode()).digest()
    )


# --- the clock -------------------------------------------------------------------------------
class HubClock:
    """The time both hubs stamp on what they store and answer, set by the test (ms)."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def timestamp(self) -> Timestamp:
        stamp = Timestamp()
        stamp.FromMilliseconds(self.ms)
        return stamp

    def time(self) -> float:
        return self.ms / 1000


@contextlib.contextmanager
def hub_clock(clock: HubClock) -> Iterator[None]:
    """Makes every place where the hub reads the clock for something that reaches a member's
    answer read `clock`: the receive time of log entries (`Hub.log_entry` and the expiry tick,
    through `now_timestamp`), a snapshot's created_at (`now_timestamp` in the service) and the
    day usage is counted under (exchange.usage's `time.time`). Left real: the call verifier's
    clock (signed call metadata carries the real time and must pass the replay window), the
    audit head's signed_at (audit heads are not compared), the tail cache's monotonic clock
    and follow-propagation metrics (neither reaches an answer)."""
    shim = SimpleNamespace(time=clock.time)
    with (
        mock.patch.object(hub_context, "now_timestamp", clock.timestamp),
        mock.patch.object(hub_snapshots, "now_timestamp", clock.timestamp),
        mock.patch.object(hub_server, "now_timestamp", clock.timestamp),
        mock.patch.object(hub_writer, "now_timestamp", clock.timestamp),
        mock.patch.object(hub_usage, "time", shim),
    ):
        yield


# --- answers ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """What a member got from one call: the response messages (canonical bytes; a feed stream's
    events one by one) or the error (code, message and google.rpc.Status details)."""

    messages: tuple[bytes, ...] = ()
    code: str = "OK"
    message: str = ""
    details: bytes = b""
    readable: str = ""

    @property
    def key(self) -> tuple[object, ...]:
        return (self.messages, self.code, self.message, self.details)

    @property
    def ok(self) -> bool:
        return self.code == "OK"

    def ended_by(self, error: Answer) -> Answer:
        """These messages, then the error that ended the stream (both count)."""
        return Answer(self.messages, error.code, error.message, error.details,
                      self.readable + error.readable)  # fmt: skip


@dataclass(frozen=True)
class Difference:
    """One call whose answers differ between the two hubs."""

    step: str
    rpc: str
    request: str
    a: Answer
    b: Answer

    def report(self) -> str:
        diff = difflib.unified_diff(
            self.a.readable.splitlines(),
            self.b.readable.splitlines(),
            "hub A (visible history only)",
            "hub B (with hidden activity)",
            lineterm="",
            n=4,
        )
        text = "\n".join(diff)
        if not text:  # the same text, other bytes (e.g. an empty message set or not)
            text = "the texts are equal; the serialised bytes differ:\n" + "\n".join(
                f"  message {i}: A {x.hex()}\n             B {y.hex()}"
                for i, (x, y) in enumerate(zip(self.a.messages, self.b.messages, strict=False))
                if x != y
            )
        return f"at {self.step}: {self.rpc}\n  request: {self.request}\n{text}"


def readable(message: Message) -> str:
    return text_format.MessageToString(message) or "(empty message)\n"


def _readable_response(message: Message) -> str:
    if isinstance(message, exchange_pb2.GetMemberReportResponse):  # JSON: one line a field
        body = json.loads(message.report_json)
        body.pop("method", None)  # fixed prose
        return json.dumps(body, indent=1, sort_keys=True) + "\n"
    return readable(message)


def _unquote(text: str, echoes: dict[str, str]) -> str:
    """`text` with the tokens a request carried (and their first 40 characters, as the hub
    quotes them) put back as their names."""
    for raw, name in sorted(echoes.items(), key=lambda e: -len(e[0])):
        text = text.replace(raw, name).replace(repr(raw[:40]), repr(name))
    return text


def _error_text(code: str, message: str, details: bytes) -> str:
    status = status_pb2.Status.FromString(details) if details else status_pb2.Status()
    return f"error {code}: {message!r}\n{text_format.MessageToString(status)}"


# --- opaque tokens ---------------------------------------------------------------------------
_NAMED = re.compile(r"<(tampered )?(cursor|page) (\d+)>")


class Tokens:
    """Opaque tokens one hub handed the observer, named by order of first appearance."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.names: dict[str, str] = {}
        self.raws: dict[str, str] = {}

    def name(self, raw: str) -> str:
        if not raw:
            return ""
        if raw not in self.names:
            name = f"<{self.kind} {len(self.names) + 1}>"
            self.names[raw] = name
            self.raws[name] = raw
        return self.names[raw]

    def resolve(self, text: str) -> str:
        """This hub's token for a name (`<tampered cursor 3>`: its token with the last character
        changed); anything else is sent as it is."""
        found = _NAMED.fullmatch(text)
        if found is None or found.group(2) != self.kind:
            return text
        raw = self.raws.get(f"<{self.kind} {found.group(3)}>")
        if raw is None:
            return text  # a name this hub never gave: sent literally (a difference already)
        if found.group(1):
            return raw[:-1] + ("A" if raw[-1] != "A" else "B")
        return raw


# --- one hub ---------------------------------------------------------------------------------
@dataclass
class Failure:
    code: str
    message: str
    details: bytes


def _failure(e: grpc.aio.AioRpcError) -> Failure:
    details = b""
    for key, value in e.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            details = value
    return Failure(e.code().name, e.details() or "", details)


class HubUnderTest:
    """A hub (HubServer, in this process, on a free loopback port) and raw signed calls to it.
    Answers are canonicalised as the module docstring says."""

    def __init__(self, name: str, data_dir: Path, signers: dict[str, Signer]) -> None:
        self.name = name
        self.data_dir = data_dir
        self.signers = signers
        self._tokens: dict[str, tuple[Tokens, Tokens]] = {}
        self._server: HubServer | None = None
        self._channel: grpc.aio.Channel | None = None
        self.hub_public_key = domain.raw_public_key(domain.read_private_key(data_dir / "hub.key"))

    def cursors(self, who: str) -> Tokens:
        """The cursors this hub gave `who` (each member's transcript is its own)."""
        return self._tokens.setdefault(who, (Tokens("cursor"), Tokens("page")))[0]

    def pages(self, who: str) -> Tokens:
        """The GetSignal page tokens this hub gave `who`."""
        return self._tokens.setdefault(who, (Tokens("cursor"), Tokens("page")))[1]

    @property
    def server(self) -> HubServer:
        assert self._server is not None
        return self._server

    @property
    def channel(self) -> grpc.aio.Channel:
        assert self._channel is not None
        return self._channel

    async def start(self) -> None:
        config = ServerConfig(
            data_dir=self.data_dir,
            listen="127.0.0.1:0",
            metrics_listen=None,
            audit_head_interval_seconds=3600,
            expiry_interval_seconds=3600,  # the test appends expiry ticks itself
            rate_limit=0,
        )
        self._server = HubServer(config)
        await self._server.start()
        self._channel = grpc.aio.insecure_channel(f"127.0.0.1:{self._server.port}")

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        if self._server is not None:
            await self._server.stop(0)

    def metadata(self, who: str, method: str, raw: bytes) -> tuple[tuple[str, str | bytes], ...]:
        return self.signers[who].call_metadata(method, raw)

    async def unary(self, who: str, method: str, raw: bytes) -> bytes | Failure:
        call = self.channel.unary_unary(
            method, request_serializer=_same, response_deserializer=_same
        )
        try:
            response: bytes = await call(raw, metadata=self.metadata(who, method, raw), timeout=60)
        except grpc.aio.AioRpcError as e:
            return _failure(e)
        return response

    async def stream(
        self, who: str, method: str, raw: bytes, stop_after_events: int | None = None
    ) -> tuple[list[bytes], Failure | None]:
        """The messages of a server stream until it ends; with `stop_after_events` (a following
        feed), until that many events came, then cancelled."""
        call = self.channel.unary_stream(
            method, request_serializer=_same, response_deserializer=_same
        )
        stream = call(raw, metadata=self.metadata(who, method, raw), timeout=60)
        out: list[bytes] = []
        events = 0

        async def read() -> Failure | None:
            nonlocal events
            try:
                async for message in stream:
                    out.append(message)
                    if stop_after_events is not None:
                        events += len(exchange_pb2.FetchUpdatesResponse.FromString(message).events)
                        if events >= stop_after_events:
                            stream.cancel()
                            return None
            except grpc.aio.AioRpcError as e:
                return _failure(e)
            return None

        failure = await asyncio.wait_for(read(), SETTLE_SECONDS)
        return out, failure

    # --- canonical answers
    def answer(
        self, who: str, response_cls: type[Message], result: bytes | list[bytes] | Failure
    ) -> Answer:
        """`who`'s answer, canonical: its tokens named, a snapshot's trailer verified."""
        if isinstance(result, Failure):
            return self._error(result)
        if isinstance(result, bytes):
            result = [result]
        if response_cls is exchange_pb2.FetchUpdatesResponse:
            events = [
                e
                for raw in result
                for e in exchange_pb2.FetchUpdatesResponse.FromString(raw).events
            ]
            return self.events_answer(who, events)
        if response_cls is exchange_pb2.GetSnapshotResponse:
            return self._snapshot_answer(who, result)
        messages = []
        for raw in result:
            message = response_cls.FromString(raw)
            if isinstance(message, exchange_pb2.SubmitSignalsResponse):
                message.cursor = self.cursors(who).name(message.cursor)
            elif isinstance(message, exchange_pb2.GetSignalResponse):
                message.next_page_token = self.pages(who).name(message.next_page_token)
            messages.append(message)
        return Answer(
            tuple(m.SerializeToString() for m in messages),
            readable="".join(_readable_response(m) for m in messages),
        )

    def _error(self, failure: Failure, echoes: dict[str, str] | None = None) -> Answer:
        message, details = failure.message, failure.details
        if echoes:
            message = _unquote(message, echoes)
            status = status_pb2.Status.FromString(details)
            for detail in status.details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    for violation in bad.field_violations:
                        violation.description = _unquote(violation.description, echoes)
                    detail.Pack(bad)
            status.message = _unquote(status.message, echoes)
            details = status.SerializeToString()
        return Answer(
            (), failure.code, message, details, _error_text(failure.code, message, details)
        )

    def events_answer(self, who: str, events: list[common_pb2.FeedEvent]) -> Answer:
        """A feed stream's answer: its events in order, cursors named (how the hub split them
        into messages is not compared: it follows the hub's tail cache and its timing)."""
        out = []
        for event in events:
            copy = common_pb2.FeedEvent()
            copy.CopyFrom(event)
            copy.cursor = self.cursors(who).name(copy.cursor)
            out.append(copy)
        text = "".join(f"event {i}:\n{readable(e)}" for i, e in enumerate(out)) or "(no events)\n"
        return Answer(tuple(e.SerializeToString() for e in out), readable=text)

    def _snapshot_answer(self, who: str, raws: list[bytes]) -> Answer:
        messages: list[exchange_pb2.GetSnapshotResponse] = []
        digest = domain.SnapshotDigest()
        for raw in raws:
            number, payload = response_part(raw)  # the SDK's reading of a part
            message = exchange_pb2.GetSnapshotResponse.FromString(raw)
            if number in (1, 2):  # header, chunk: hashed as sent
                digest.update(payload)
            if message.HasField("header"):
                message.header.cursor = self.cursors(who).name(message.header.cursor)
            if message.HasField("trailer"):
                trailer = message.trailer
                verdict = b"verified"
                try:
                    if trailer.hub_public_key != self.hub_public_key:
                        raise InvalidSignature
                    if trailer.digest != digest.digest():
                        raise InvalidSignature
                    Ed25519PublicKey.from_public_bytes(trailer.hub_public_key).verify(
                        trailer.signature, trailer.digest
                    )
                except InvalidSignature:
                    verdict = b"DOES NOT VERIFY"
                trailer.digest = verdict
                trailer.signature = verdict
            messages.append(message)
        return Answer(
            tuple(m.SerializeToString() for m in messages),
            readable="".join(readable(m) for m in messages),
        )

    def resolve(self, who: str, request: Message) -> Message:
        """The request as `who` sends it to this hub: token names replaced by its tokens."""
        out = type(request)()
        out.CopyFrom(request)
        if isinstance(out, exchange_pb2.FetchUpdatesRequest | exchange_pb2.GetSnapshotRequest):
            out.after = self.cursors(who).resolve(out.after)
        elif isinstance(out, exchange_pb2.GetSignalRequest):
            out.page_token = self.pages(who).resolve(out.page_token)
        return out

    async def send(self, who: str, rpc: str, request: Message) -> bytes | list[bytes] | Failure:
        """A call whose answer is nobody's transcript (a hidden member's, the test's own)."""
        raw = request.SerializeToString()
        method = EXCHANGE + rpc if not rpc.startswith("/") else rpc
        if rpc.endswith(("FetchUpdates", "GetSnapshot")):
            messages, failure = await self.stream(who, method, raw)
            return failure if failure is not None else messages
        return await self.unary(who, method, raw)

    async def ask(
        self,
        who: str,
        rpc: str,
        request: Message,
        response_cls: type[Message],
        stop_after_events: int | None = None,
    ) -> Answer:
        """`who`'s canonical answer to `request` (token names in it replaced by this hub's
        tokens; where an error message quotes such a token back, by its name again)."""
        resolved = self.resolve(who, request)
        echoes = {
            getattr(resolved, name): getattr(request, name)
            for name in ("after", "page_token")
            if hasattr(request, name) and getattr(resolved, name) != getattr(request, name)
        }
        raw = resolved.SerializeToString()
        method = EXCHANGE + rpc if not rpc.startswith("/") else rpc
        if response_cls in (exchange_pb2.FetchUpdatesResponse, exchange_pb2.GetSnapshotResponse):
            messages, failure = await self.stream(who, method, raw, stop_after_events)
            if failure is None:
                return self.answer(who, response_cls, messages)
            answer = self._error(failure, echoes)
            if messages:  # what came before the error counts too
                answer = self.answer(who, response_cls, messages).ended_by(answer)
            return answer
        result = await self.unary(who, method, raw)
        if isinstance(result, Failure):
            return self._error(result, echoes)
        return self.answer(who, response_cls, result)

    # --- synchronisation
    async def feed_events_after(self, who: str, after: str) -> list[common_pb2.FeedEvent]:
        """The member's feed after a raw cursor (not part of any transcript)."""
        raw = exchange_pb2.FetchUpdatesRequest(after=after).SerializeToString()
        messages, failure = await self.stream(who, EXCHANGE + "FetchUpdates", raw)
        assert failure is None, f"{self.name}: reading the feed failed: {failure}"
        return [e for m in messages for e in exchange_pb2.FetchUpdatesResponse.FromString(m).events]

    async def settle(self) -> None:
        """Waits until the hub's feed tail (read after each commit into a cache that following
        and fetching streams share) holds every committed record, so that what a read answers
        no longer depends on how far that thread got."""
        deadline = time.monotonic() + SETTLE_SECONDS
        exchange = self.server.exchange
        while True:
            store = self.server.store
            assert store is not None and exchange is not None
            with store.read() as view:
                head = view.counter("feed_seq")
            if exchange.tail._filled >= head:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: the feed tail did not catch up")
            await asyncio.sleep(0.002)

    async def flush_usage(self) -> None:
        """Writes the usage counts (normally every few seconds) so that reports include them."""
        assert self.server.hub is not None
        await flush_stats(self.server.hub)


def _same(data: bytes) -> bytes:
    return data


class Follower:
    """A member's FetchUpdates(follow) stream held open on one hub across the whole history."""

    def __init__(self, hub: HubUnderTest, who: str) -> None:
        self.hub = hub
        self.who = who
        self.received: list[common_pb2.FeedEvent] = []
        self.taken = 0
        self.last_cursor = ""
        self.failure: Failure | None = None
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        method = EXCHANGE + "FetchUpdates"
        raw = exchange_pb2.FetchUpdatesRequest(follow=True).SerializeToString()
        call = self.hub.channel.unary_stream(
            method, request_serializer=_same, response_deserializer=_same
        )
        try:
            async for message in call(raw, metadata=self.hub.metadata(self.who, method, raw)):
                events = exchange_pb2.FetchUpdatesResponse.FromString(message).events
                self.received.extend(events)
                if events:
                    self.last_cursor = events[-1].cursor
                self._progress.set()
        except grpc.aio.AioRpcError as e:
            self.failure = _failure(e)
            self._progress.set()

    async def settle(self) -> None:
        """Waits until the stream has delivered every event the member's feed holds now."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            if self.failure is not None:
                return
            pending = await self.hub.feed_events_after(self.who, self.last_cursor)
            if not pending:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{self.hub.name}: the following stream did not deliver {len(pending)} "
                    "events of the feed"
                )
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), min(left, 0.5))

    def take(self) -> Answer:
        """The events delivered since the last take (with the stream's error, if it ended)."""
        events = self.received[self.taken :]
        self.taken = len(self.received)
        answer = self.hub.events_answer(self.who, events)
        if self.failure is not None:
            answer = answer.ended_by(self.hub._error(self.failure))
        return answer

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# --- the pair --------------------------------------------------------------------------------
def describe(request: Message) -> str:
    """A request in one line; a signed envelope's payload decoded beside it."""
    text = text_format.MessageToString(request, as_one_line=True) or "(empty request)"
    envelope = getattr(request, "envelope", None)
    if envelope is not None and envelope.payload:
        for cls in (common_pb2.SubmissionBatch, common_pb2.OpinionChange, common_pb2.Retraction):
            if isinstance(request, _PAYLOAD_OF.get(cls, ())):
                payload = cls.FromString(envelope.payload)
                text = "envelope over " + text_format.MessageToString(payload, as_one_line=True)
    return text[:2000]


_PAYLOAD_OF: dict[type[Message], tuple[type[Message], ...]] = {
    common_pb2.SubmissionBatch: (exchange_pb2.SubmitSignalsRequest,),
    common_pb2.OpinionChange: (exchange_pb2.SetOpinionRequest,),
    common_pb2.Retraction: (exchange_pb2.RetractSubmissionRequest,),
}


@dataclass
class Twin:
    """Hub A (the visible history) and hub B (the same, with hidden activity), and every
    difference found between the answers a member got from them."""

    a: HubUnderTest
    b: HubUnderTest
    step: str = "setup"
    differences: list[Difference] = field(default_factory=list)
    secrets: Mapping[str, tuple[bytes, ...]] = field(default_factory=dict)
    """Bytes that no answer to a member may contain, by member (match-only values of others:
    `leaked`)."""

    @property
    def hubs(self) -> tuple[HubUnderTest, HubUnderTest]:
        return self.a, self.b

    def compare(self, rpc: str, request: str, a: Answer, b: Answer, who: str = "") -> bool:
        self.leaked(who, rpc, request, a, b)
        if a.key == b.key:
            return True
        self.differences.append(Difference(self.step, rpc, request, a, b))
        return False

    def leaked(self, who: str, rpc: str, request: str, a: Answer, b: Answer) -> None:
        """Records a difference when either answer carries one of `who`'s secrets, in any of
        its bytes (messages, error message or details)."""
        for hub, answer in (("A", a), ("B", b)):
            carried = b"\x00".join((*answer.messages, answer.message.encode(), answer.details))
            found = [s for s in self.secrets.get(who, ()) if s in carried]
            if found:
                note = Answer(readable=f"hub {hub} sent a match-only value: {found[0]!r}\n")
                leak = Difference(self.step, rpc + " (leaks a value)", request, note, answer)
                self.differences.append(leak)

    async def ask(
        self,
        who: str,
        rpc: str,
        request: Message,
        response_cls: type[Message],
        stop_after_events: Mapping[str, int] | None = None,
        label: str = "",
        text: str = "",
    ) -> tuple[Answer, Answer]:
        """Asks both hubs the same (each with its own tokens), compares, returns both answers.
        `label` names the call in a report, `text` the request (else it is printed);
        `stop_after_events` (by hub name): a following feed is read until that many events."""
        answers = [
            await hub.ask(
                who,
                rpc,
                request,
                response_cls,
                stop_after_events[hub.name] if stop_after_events else None,
            )
            for hub in self.hubs
        ]
        a, b = answers
        self.compare(label or rpc, f"as {who}: {text or describe(request)}", a, b, who)
        return a, b


def signed_request(
    signer: Signer, prefix: bytes, payload: Message, request_cls: type[Message]
) -> Any:
    """A request carrying an envelope over `payload`, signed by the member (client_sdk)."""
    envelope = signer.sign_payload(prefix, payload.SerializeToString())
    request = request_cls()
    getattr(request, "envelope").CopyFrom(envelope)  # noqa: B009 (any request class)
    return request
