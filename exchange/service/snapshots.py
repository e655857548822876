"""GetSnapshot: a member's snapshot (exchange.snapshot builds it) streamed as a header, the
chunks and a signed trailer. Readers of one member at one state share one spool, built once
and deleted when its last reader ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp

from signalhub import domain
from signalhub.v1 import exchange_pb2

from .. import snapshot
from ..auth import Caller
from ..errors import HubError, invalid
from ..snapshot import framed
from ..writer import now_timestamp
from .context import Hub


@dataclass
class _SharedSpool:
    """A built snapshot and how many streams are reading it."""

    built: snapshot.BuiltSnapshot
    readers: int = 0


class SnapshotStreams:
    """The snapshots being streamed: at most snapshot.MAX_CONCURRENT_BUILDS built at once, and
    one spool for all readers of one member at one state."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._builds = asyncio.Semaphore(snapshot.MAX_CONCURRENT_BUILDS)
        self._spools: dict[tuple[str, int], _SharedSpool] = {}

    async def get_snapshot(
        self, caller: Caller, message: exchange_pb2.GetSnapshotRequest
    ) -> AsyncIterator[bytes]:
        """The caller's snapshot stream (one of its snapshot-stream slots held meanwhile)."""
        hub = self.hub
        after = hub.codec.decode(message.after)
        if message.min_backlog < 0:
            raise invalid(
                "min_backlog is 0 (always send one) or more", [("min_backlog", "negative")]
            )
        key = hub.hub_key
        if key is None:
            raise HubError(grpc.StatusCode.FAILED_PRECONDITION, "the hub has no signing key")
        with hub.snapshots.hold(caller.member_id, caller.is_operator):
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
            header = exchange_pb2.SnapshotHeader(
                member_id=member_id, created_at=now, not_needed=True
            )
            yield framed(snapshot.HEADER_FIELD, header.SerializeToString())
            return
        state = (member_id, await loop.run_in_executor(None, snapshot.state_of, store))
        shared = self._spools.get(state)
        if shared is None:
            async with self._builds:
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
            async for part in _stream_snapshot(shared.built, now, key):
                yield part
        finally:
            shared.readers -= 1
            if shared.readers == 0:
                del self._spools[state]
                self.hub.metrics.snapshot_spool_bytes.dec(shared.built.spool_bytes)
                shared.built.close()


async def _stream_snapshot(
    built: snapshot.BuiltSnapshot, now: Timestamp, key: Ed25519PrivateKey
) -> AsyncIterator[bytes]:
    """A built snapshot's frames: this stream's header, the chunks, the signed trailer."""
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
