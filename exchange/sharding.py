"""Sharded matching in cluster mode.

With --shard I/K a node indexes only the PDQ-table rows whose number is I modulo K (row
numbers come from apply, so they are the same on every node) and answers the shard's match
requests on NATS (subject signalhub.match.I, queue group shard-I: replicas of a shard share
the load and stand in for each other). Every node still holds the whole LMDB state, so after
gathering (row, distance) from every shard it resolves rows and visibility itself: the answer
is the single-node answer. A shard without a live node fails the call (UNAVAILABLE).
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
import numpy as np
from numpy.typing import NDArray

from .errors import HubError
from .index import SignalIndex


class _Connected(Protocol):
    """What the router uses of the cluster's log (`cluster.ClusterLog`): its NATS
    connection."""

    _nc: Any


MATCH_SUBJECT = "signalhub.match.{}"
SHARD_TIMEOUT_SECONDS = 10.0
_I64 = np.dtype("<i8")
_U64 = np.dtype("<u8")
_I32 = np.dtype("<i4")


def encode_search(hashes: NDArray[np.uint8], max_distance: int) -> bytes:
    """A shard's search request: the max distance, the count, then the 32-byte hashes."""
    return struct.pack("<HI", max_distance, hashes.shape[0]) + hashes.tobytes()


def decode_search(data: bytes) -> tuple[NDArray[np.uint8], int]:
    """(hashes, max distance) of an `encode_search` request."""
    max_distance, n = struct.unpack_from("<HI", data)
    hashes = np.frombuffer(data, dtype=np.uint8, offset=6, count=n * 32).reshape(n, 32)
    return hashes, max_distance


def encode_answer(lims: NDArray[Any], rows: NDArray[Any], distances: NDArray[Any]) -> bytes:
    """A shard's answer: per-query limits, then the matched rows and their distances."""
    return (
        struct.pack("<II", len(lims), len(rows))
        + np.asarray(lims, dtype=_I64).tobytes()
        + np.asarray(rows, dtype=_U64).tobytes()
        + np.asarray(distances, dtype=_I32).tobytes()
    )


def decode_answer(data: bytes) -> tuple[NDArray[np.int64], NDArray[np.uint64], NDArray[np.int32]]:
    """(lims, rows, distances) of an `encode_answer` answer, as the index's search returns."""
    n_lims, n_rows = struct.unpack_from("<II", data)
    offset = 8
    lims = np.frombuffer(data, dtype=_I64, offset=offset, count=n_lims).astype(np.int64)
    offset += 8 * n_lims
    rows = np.frombuffer(data, dtype=_U64, offset=offset, count=n_rows).astype(np.uint64)
    offset += 8 * n_rows
    distances = np.frombuffer(data, dtype=_I32, offset=offset, count=n_rows).astype(np.int32)
    return lims, rows, distances


def merge_answers(
    parts: list[tuple[NDArray[np.int64], NDArray[np.uint64], NDArray[np.int32]]], n: int
) -> tuple[NDArray[np.int64], NDArray[np.uint64], NDArray[np.int32]]:
    """One answer from every shard's answer to the same n queries: per query, the union of the
    shards' matches ordered by distance then row, as a single index orders them."""
    query_of = [np.repeat(np.arange(n), np.diff(p[0])) for p in parts]
    q = np.concatenate(query_of) if parts else np.zeros(0, dtype=np.int64)
    rows = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.uint64)
    dist = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, dtype=np.int32)
    order = np.lexsort((rows, dist, q))
    counts = np.bincount(q, minlength=n) if len(q) else np.zeros(n, dtype=np.int64)
    lims = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return lims, rows[order], dist[order]


@dataclass
class ShardRouter:
    """Scatter-gather of PDQ searches over the cluster's shards (see the module's docstring)."""

    cluster: _Connected
    index: SignalIndex
    shards: int
    metrics: Any = None
    """HubMetrics: scatter time and shard coverage."""
    loop: asyncio.AbstractEventLoop | None = None
    _sub: Any = None

    async def serve_shard(self, shard: int) -> None:
        """Answers this node's shard's searches (call once the node is caught up)."""
        self.loop = asyncio.get_running_loop()
        nc = self.cluster._nc

        async def answer(msg: Any) -> None:
            hashes, max_distance = decode_search(msg.data)
            lims, rows, distances = await asyncio.get_running_loop().run_in_executor(
                None, self.index.search, hashes, max_distance
            )
            await msg.respond(encode_answer(lims, rows, distances))

        self._sub = await nc.subscribe(
            MATCH_SUBJECT.format(shard), queue=f"shard-{shard}", cb=answer
        )

    def search(
        self, hashes: NDArray[np.uint8], max_distance: int
    ) -> tuple[NDArray[np.int64], NDArray[np.uint64], NDArray[np.int32]]:
        """From a worker thread: asks every shard and merges their answers."""
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(self._gather(hashes, max_distance), self.loop)
        return future.result(SHARD_TIMEOUT_SECONDS + 5)

    async def _gather(
        self, hashes: NDArray[np.uint8], max_distance: int
    ) -> tuple[NDArray[np.int64], NDArray[np.uint64], NDArray[np.int32]]:
        from nats.errors import Error as NatsError

        payload = encode_search(hashes, max_distance)
        nc = self.cluster._nc

        async def ask(shard: int) -> bytes:
            try:
                reply = await nc.request(
                    MATCH_SUBJECT.format(shard), payload, timeout=SHARD_TIMEOUT_SECONDS
                )
            except (NatsError, TimeoutError) as e:
                raise HubError(
                    grpc.StatusCode.UNAVAILABLE,
                    f"match shard {shard} of {self.shards} has no live node "
                    f"({type(e).__name__}); the answer would be incomplete",
                    retry_after_seconds=5,
                ) from None
            return bytes(reply.data)

        started = asyncio.get_running_loop().time()
        replies = await asyncio.gather(
            *(ask(s) for s in range(self.shards)), return_exceptions=True
        )
        answered = [r for r in replies if isinstance(r, bytes)]
        if self.metrics is not None:
            self.metrics.shards_answering.set(len(answered) / self.shards)
            self.metrics.shard_scatter.observe(asyncio.get_running_loop().time() - started)
        for r in replies:
            if isinstance(r, BaseException):
                raise r
        return merge_answers([decode_answer(r) for r in answered], hashes.shape[0])
