"""Snapshots for onboarding (GetSnapshot): every signal one member may see at one cursor, in the
form the feed would give it, signed by the hub. A new member, or a replica far behind, loads
one and follows the feed after its cursor instead of replaying the whole feed.

What a member's replica holds after replaying the feed from cursor 0 is the snapshot's model:
every event carries the signal as the member may see it when read (`visibility.signal_view`),
a signal it may not see (or no longer sees) ends as a tombstone, one it never had an event of
is never stored, and the replica's cursor is that of the last event it was sent — events it
may not see move it not at all. So a snapshot holds `signal_view` of every signal the member
may see and stands at `member_cursor`, not at the hub's feed sequence
(tests/e2e/test_e2e_snapshot.py checks both replicas byte for byte).

The signals and the cursor come from one LMDB read transaction. The snapshot is built in a
worker thread into a temporary file (the spool) and that transaction is closed before the
first byte is sent, so a slow reader never pins the map. While it is open (about a second per
million signals) the map cannot grow: a writer that fills the map waits for it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2, exchange_pb2

from .cursor import CursorCodec
from .store import Store, StoreView, seal_state
from .visibility import Viewer, event_visible, signal_view

log = logging.getLogger("signalhub.snapshot")

CHUNK_BYTES = 1024 * 1024
"""Target size of one SnapshotChunk (one signal larger than this gets a chunk of its own)."""
SPOOL_READ_BYTES = 8 * 1024 * 1024
"""How much of the spool one hop to a worker thread reads (and hashes) while streaming."""
MAX_CONCURRENT_BUILDS = 2
"""Snapshots built at once; more callers wait their turn (a build scans every signal)."""

HEADER_FIELD = 1
CHUNK_FIELD = 2
TRAILER_FIELD = 3
"""Field numbers of GetSnapshotResponse's parts (and SnapshotChunk.signals is field 1)."""


def varint(n: int) -> bytes:
    """Protobuf's base-128 varint of a non-negative integer."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def framed(field_number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field: tag, length, payload. A GetSnapshotResponse with one
    part set serialises to exactly `framed(part_field, part_bytes)`."""
    return bytes(((field_number << 3) | 2,)) + varint(len(payload)) + payload


def signal_field_end(record: bytes) -> int:
    """Where field 1 (the Signal) of a serialised SignalRecord ends when it comes first, as
    protobuf writes it; 0 otherwise. `record[:end]` is then that Signal framed as field 1,
    which is also how SnapshotChunk frames each of its signals."""
    if not record or record[0] != 0x0A:
        return 0
    length = shift = 0
    i = 1
    while i < len(record) and i < 6:
        byte = record[i]
        length |= (byte & 0x7F) << shift
        i += 1
        if byte < 0x80:
            end = i + length
            return end if end <= len(record) else 0
        shift += 7
    return 0


def visible_signals(view: StoreView, viewer: Viewer) -> Iterator[bytes]:
    """Every signal the viewer may see, in signal id order, each framed as an entry of
    SnapshotChunk.signals: the serialised Signal exactly as the feed shows it to the viewer.
    A signal none of whose submissions is restricted is the same for everyone: its stored
    bytes are used as they are, without parsing them, once their seal shows they are the bytes
    written (a record without a valid seal is parsed and checked: HubError(DATA_LOSS) when it
    is corrupt)."""
    parse = rec.SignalRecord.FromString
    for key, value in view.raw_signals():
        if not view.checks or seal_state(key, value):
            end = signal_field_end(value)  # the seal, last, is an unknown field to parse
            if end and not parse(value[end:]).restricted:
                yield value[:end]
                continue
            record = parse(value)
        else:
            record = view.signal_record(key, value)
        shown = signal_view(view, record, viewer)
        if shown is not None:
            yield framed(1, shown.SerializeToString())


BACKLOG_PAGE_RECORDS = 4096


def is_needed(store: Store, member_id: str, after: int, min_backlog: int) -> bool:
    """Whether a snapshot is worth sending: min_backlog 0, or the member's own backlog after
    `after` is more than min_backlog events (`visible_backlog`)."""
    if min_backlog <= 0:
        return True
    with store.read() as view:
        viewer = Viewer.load(view, member_id)
        return visible_backlog(view, viewer, after, min_backlog) > min_backlog


def state_of(store: Store) -> int:
    """The store's state as BuiltSnapshot.log_sequence records it."""
    with store.read() as view:
        return view.counter("log_seq")


def _sent(view: StoreView, record: rec.FeedRecord, viewer: Viewer) -> bool:
    """Would FetchUpdates send this record to the viewer? (as service._event_for decides: it
    may see it, and it is a tombstone or its signal still exists)"""
    if not event_visible(record, viewer):
        return False
    event = record.event
    if event.kind in (
        common_pb2.EVENT_KIND_SIGNAL_REMOVED,
        common_pb2.EVENT_KIND_SIGNAL_ERASED,
        common_pb2.EVENT_KIND_WARNING_LISTS_CHANGED,  # about no signal: sent to everyone
    ):
        return True
    stored = view.signal(event.signal.signal_id)
    if stored is None:
        return False
    return record.withdraws or signal_view(view, stored, viewer) is not None


def visible_backlog(view: StoreView, viewer: Viewer, after: int, most: int) -> int:
    """How many events after `after` the viewer would be sent, counted up to `most` + 1.
    Walks the feed from `after` (hidden events cost the walk, never the count)."""
    count = 0
    while count <= most:
        page = view.feed(after, BACKLOG_PAGE_RECORDS)
        if not page:
            break
        count += sum(1 for record in page if _sent(view, record, viewer))
        after = int(page[-1].event.cursor)
    return count


def member_cursor(view: StoreView, viewer: Viewer) -> int:
    """The cursor a replica of the viewer's feed stands at once it has read the whole feed:
    that of the last event FetchUpdates gives the viewer (0 when none). Events it may not see
    are never sent, so they move no replica's cursor: a snapshot stands at this cursor rather
    than at the hub's feed sequence, and a replica started from it equals one that replayed
    the feed. Mirrors service._event_for: an event is sent when the viewer may see it and it
    is a tombstone or its signal still exists."""
    for record in view.feed_backwards():
        if _sent(view, record, viewer):
            return int(record.event.cursor)
    return 0


def chunks_of(entries: Iterable[bytes], max_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Serialised SnapshotChunks of about `max_bytes` each from framed signal entries, with how
    many signals each holds."""
    batch: list[bytes] = []
    size = 0
    for entry in entries:
        if batch and size + len(entry) > max_bytes:
            yield b"".join(batch), len(batch)
            batch, size = [], 0
        batch.append(entry)
        size += len(entry)
    if batch:
        yield b"".join(batch), len(batch)


def signed_trailer(key: Ed25519PrivateKey, digest: bytes) -> exchange_pb2.SnapshotTrailer:
    """The trailer: the digest, the hub's signature over it and the hub's public key."""
    return exchange_pb2.SnapshotTrailer(
        digest=digest, signature=key.sign(digest), hub_public_key=domain.raw_public_key(key)
    )


@dataclass
class BuiltSnapshot:
    """A snapshot ready to stream: its header and the serialised chunks in a temporary file."""

    header: exchange_pb2.SnapshotHeader
    spool: IO[bytes] | None = None
    chunk_sizes: list[int] = field(default_factory=list)
    log_sequence: int = 0
    """The store's state it was built at: the log entries applied (same member, same
    log_sequence: the same snapshot, so concurrent readers share one spool)."""

    @property
    def spool_bytes(self) -> int:
        """Bytes of the snapshot spooled so far."""
        return sum(self.chunk_sizes)

    def read(self, first: int, max_bytes: int, running: domain.SnapshotDigest) -> list[bytes]:
        """Chunks from number `first` on, about `max_bytes` of them (at least one), added to
        the running digest in order. Call from a worker thread; several readers may read one
        snapshot at once (positional reads)."""
        assert self.spool is not None
        out: list[bytes] = []
        size = 0
        offset = sum(self.chunk_sizes[:first])
        for n in self.chunk_sizes[first:]:
            if out and size + n > max_bytes:
                break
            chunk = os.pread(self.spool.fileno(), n, offset)
            if len(chunk) != n:
                raise OSError("the snapshot's spool file is shorter than written")
            running.update(chunk)
            out.append(chunk)
            offset += n
            size += n
        return out

    def close(self) -> None:
        """Closes the spool (a temporary file: closing it removes it)."""
        if self.spool is not None:
            self.spool.close()
            self.spool = None


def build(
    store: Store,
    member_id: str,
    after: int,
    min_backlog: int,
    now: Timestamp,
    codec: CursorCodec,
) -> BuiltSnapshot:
    """Builds `member_id`'s snapshot in one read transaction (run it in a worker thread). When
    min_backlog > 0 and the member's feed has at most that many events past `after`, only a
    header with not_needed. Only events the member would be sent count: the hub's own count
    would tell it how much it may not see."""
    started = time.perf_counter()
    spool: IO[bytes] | None = None
    try:
        with store.read() as view:
            header = exchange_pb2.SnapshotHeader(member_id=member_id, created_at=now)
            viewer = Viewer.load(view, member_id)
            if min_backlog > 0 and visible_backlog(view, viewer, after, min_backlog) <= min_backlog:
                header.not_needed = True
                return BuiltSnapshot(header)
            cursor = member_cursor(view, viewer)
            header.cursor = codec.encode(cursor)
            log_sequence = view.counter("log_seq")
            # Closed by BuiltSnapshot.close once streamed (deleted by the system on close).
            spool = tempfile.TemporaryFile(prefix="signalhub-snapshot-")  # noqa: SIM115
            sizes: list[int] = []
            for chunk, count in chunks_of(visible_signals(view, viewer), CHUNK_BYTES):
                spool.write(chunk)
                sizes.append(len(chunk))
                header.signals += count
        spool.flush()
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    log.info(
        "snapshot at feed sequence %d: %d signals, %d bytes, built in %.2f s",
        cursor,
        header.signals,
        sum(sizes),
        time.perf_counter() - started,
    )
    return BuiltSnapshot(header, spool, sizes, log_sequence)
