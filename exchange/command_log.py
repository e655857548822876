"""The command log as the services see it: `CommandLog.execute(entry)` appends an entry and
returns its outcome once it is durable and applied. Single node: `LocalLog`, the writer
appending to the LMDB log. Cluster mode: `cluster.ClusterLog` (a NATS JetStream stream).

`preview` answers an entry without keeping anything it wrote (the cluster's answer to a
duplicate publish)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from signalhub.storage.v1 import records_pb2 as rec

from .ledger import Applied, PreparedBatch, apply_in_savepoint
from .store import StoreTxn
from .writer import Writer


class CommandLog(Protocol):
    """Where the services send commands: a log that appends, then applies, each entry."""

    async def execute(self, entry: rec.LogEntry, hint: PreparedBatch | None = None) -> Applied:
        """Appends `entry` to the log and applies it; the outcome once it is durable."""
        ...


@dataclass
class LocalLog:
    """Single node: the writer appends to the LMDB log and applies in one transaction."""

    writer: Writer

    async def execute(self, entry: rec.LogEntry, hint: PreparedBatch | None = None) -> Applied:
        """Appends and applies `entry` on the writer thread; its outcome once committed."""
        return await self.writer.execute(entry, hint)


def preview(tx: StoreTxn, entry: rec.LogEntry) -> Applied:
    """What applying `entry` now would answer, with everything it wrote undone: the answer to
    a request JetStream dropped as a duplicate (apply decides replays itself), without this node
    storing anything the others do not."""
    return apply_in_savepoint(tx, entry, keep=False)
