"""Reading a hub's signed snapshot (GetSnapshot): a header, chunks of signals and a trailer with
the hub's Ed25519 signature over the digest of the exact bytes received (signalhub.domain.
SnapshotDigest). `read_snapshot` checks the shape, the digest, the signature and the hub key,
and hands each chunk's signals to the caller as they arrive: the caller keeps them only once it
returns (a replica writes them into one LMDB transaction and commits it after that).

Which hub key to trust is the caller's choice: `hub_key` when given (the operator publishes
`DATA_DIR/hub.key.pub`), else any key whose signature verifies, which the caller then pins
(client_sdk.local records it in the replica on first use).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf.message import DecodeError, Message

from signalhub import domain
from signalhub.v1 import common_pb2, exchange_pb2

from .errors import SnapshotRejected
from .models import SignalInfo, _time

HEADER_FIELD = 1
CHUNK_FIELD = 2
TRAILER_FIELD = 3
"""Field numbers of GetSnapshotResponse's parts."""


@dataclass(frozen=True)
class Snapshot:
    """A snapshot's header and, once verified, the hub key that signed it."""

    cursor: str
    """Follow the feed after this cursor."""
    member_id: str
    count: int
    """How many signals it holds."""
    created_at: str | None
    not_needed: bool
    """The hub found the backlog small: no signals came, follow the feed instead."""
    hub_public_key: bytes = b""
    """The raw Ed25519 key whose signature verified (empty when not_needed)."""
    signals: tuple[SignalInfo, ...] = ()
    """The signals, when no `on_signals` callback took them."""


SnapshotSignals = Callable[[Sequence[common_pb2.Signal]], None]


MAX_CURSOR_CHARS = 64
"""The longest cursor a replica accepts from a snapshot (the hub's are 32 hex digits)."""


def response_part(raw: bytes) -> tuple[int, bytes]:
    """(field number, payload) of a serialised GetSnapshotResponse holding one part. The
    payload is the bytes as received, never re-serialised: the digest covers them."""
    if len(raw) < 2 or raw[0] & 7 != 2 or raw[0] >> 3 not in (1, 2, 3):
        raise SnapshotRejected("a snapshot message is not one header, chunk or trailer")
    length = shift = 0
    i = 1
    while True:
        if i >= len(raw) or i > 5:
            raise SnapshotRejected("a snapshot message is truncated")
        byte = raw[i]
        length |= (byte & 0x7F) << shift
        i += 1
        if byte < 0x80:
            break
        shift += 7
    if i + length != len(raw):
        raise SnapshotRejected("a snapshot message is not exactly one part")
    return raw[0] >> 3, raw[i:]


def verify_trailer(
    trailer: exchange_pb2.SnapshotTrailer, digest: bytes, hub_key: bytes | None
) -> bytes:
    """Checks the trailer against the digest computed from the bytes received and, when given,
    the trusted hub key; returns the key that signed."""
    if trailer.digest != digest:
        raise SnapshotRejected("the snapshot's content does not match its digest")
    if hub_key is not None and trailer.hub_public_key != hub_key:
        raise SnapshotRejected(
            f"the snapshot is signed by hub key {domain.key_id(trailer.hub_public_key)}, not by "
            f"the trusted {domain.key_id(hub_key)}"
        )
    try:
        Ed25519PublicKey.from_public_bytes(trailer.hub_public_key).verify(trailer.signature, digest)
    except (InvalidSignature, ValueError):
        raise SnapshotRejected("the snapshot's signature does not verify") from None
    return bytes(trailer.hub_public_key)


def read_snapshot(
    messages: Iterable[bytes],
    member_id: str,
    hub_key: bytes | None = None,
    on_header: Callable[[Snapshot], None] | None = None,
    on_signals: SnapshotSignals | None = None,
) -> Snapshot:
    """Reads a GetSnapshot stream (each message as its raw bytes) and returns the verified
    snapshot; raises SnapshotRejected when anything does not verify, after the last chunk at
    the latest. `on_header` sees the header before any chunk; `on_signals` each chunk's signals
    (without it they are collected into the result)."""
    stream = iter(messages)
    header, payload = _read_header(next(stream, None), member_id)
    info = Snapshot(
        cursor=header.cursor,
        member_id=header.member_id,
        count=header.signals,
        created_at=_time(header.created_at),
        not_needed=header.not_needed,
    )
    if on_header is not None:
        on_header(info)
    if header.not_needed:
        if next(stream, None) is not None:
            raise SnapshotRejected("a snapshot that is not needed carries nothing")
        return info
    running = domain.SnapshotDigest()
    running.update(payload)
    received = 0
    collected: list[SignalInfo] = []
    for raw in stream:
        field, payload = response_part(raw)
        if field == CHUNK_FIELD:
            running.update(payload)
            chunk = _parse(exchange_pb2.SnapshotChunk, payload, "a snapshot chunk")
            received += len(chunk.signals)
            if received > header.signals:
                raise SnapshotRejected("the snapshot holds more signals than its header says")
            if on_signals is not None:
                on_signals(chunk.signals)
            else:
                collected.extend(SignalInfo.from_wire(s) for s in chunk.signals)
        elif field == TRAILER_FIELD:
            trailer = _parse(exchange_pb2.SnapshotTrailer, payload, "the snapshot's trailer")
            key = verify_trailer(trailer, running.digest(), hub_key)
            if received != header.signals:
                raise SnapshotRejected(
                    f"the snapshot holds {received} signals, its header says {header.signals}"
                )
            if next(stream, None) is not None:
                raise SnapshotRejected("the snapshot goes on after its trailer")
            return replace(info, hub_public_key=key, signals=tuple(collected))
        else:
            raise SnapshotRejected("a snapshot has one header")
    raise SnapshotRejected("the snapshot ended before its trailer")


_M = TypeVar("_M", bound=Message)


def _parse(message_cls: type[_M], payload: bytes, what: str) -> _M:
    """`payload` parsed as `message_cls`; SnapshotRejected naming `what` when it does not."""
    try:
        return message_cls.FromString(payload)
    except DecodeError:
        raise SnapshotRejected(f"{what} does not parse") from None


def _read_header(first: bytes | None, member_id: str) -> tuple[exchange_pb2.SnapshotHeader, bytes]:
    """The header of a snapshot stream's first message, and its bytes as received; refuses a
    header built for another member or carrying something other than a cursor."""
    if first is None:
        raise SnapshotRejected("the snapshot stream is empty")
    field, payload = response_part(first)
    if field != HEADER_FIELD:
        raise SnapshotRejected("a snapshot starts with its header")
    header = _parse(exchange_pb2.SnapshotHeader, payload, "the snapshot's header")
    if header.member_id != member_id:
        raise SnapshotRejected(
            f"the snapshot was built for {header.member_id!r}, not {member_id!r}"
        )
    if header.cursor and not (
        len(header.cursor) <= MAX_CURSOR_CHARS
        and header.cursor.isascii()
        and header.cursor.isalnum()
    ):  # opaque to members, but a token of letters and digits
        raise SnapshotRejected("the snapshot's cursor is not a cursor")
    return header, payload
