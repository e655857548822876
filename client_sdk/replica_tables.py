"""The local replica's storage: the named databases of its LMDB environment, what their keys
and values are, and `ReplicaTables`, the one writer that keeps the signals and the packed tables
the indexes load from in step (client_sdk.local syncs through it, client_sdk.replica_match
reads what it wrote).

| database   | key                          | value                                         |
| ---------- | ---------------------------- | --------------------------------------------- |
| `meta`     | name                         | cursor, member, hub key, row counter, layout  |
| `signals`  | signal id, 16 bytes          | the feed's (or snapshot's) `Signal`, as sent  |
| `pdq`      | row, u64 big-endian          | 32-byte hash + 16-byte signal id              |
| `pdq_rows` | signal id, 16 bytes          | its rows, u64 big-endian each                 |
| `typed`    | type, 0x00, signal id        | value (types matched by an index of their own)|

`pdq` is the packed table the PDQ index loads from (one row per PDQ signal, one per retained
frame of a vpdq video), as the hub's is; it is written in the same transaction as the signals.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lmdb

from signalhub import domain
from signalhub.v1 import common_pb2
from signalhub.vpdq_format import vpdq_frames, vpdq_retained

LAYOUT = b"2"
"""Version of the layout above; a replica written before the packed tables existed gets them
built from its signals when opened."""
U64 = struct.Struct(">Q")
"""A row number (and the `pdq_rows` counter in `meta`)."""


@dataclass(frozen=True)
class ReplicaDbs:
    """The handles of the named databases (see the table above)."""

    meta: Any
    signals: Any
    pdq: Any
    pdq_rows: Any
    typed: Any


def open_dbs(env: lmdb.Environment) -> ReplicaDbs:
    """Opens (creating them if needed) the replica's named databases."""
    with env.begin(write=True) as txn:
        return ReplicaDbs(
            meta=env.open_db(b"meta", txn=txn),
            signals=env.open_db(b"signals", txn=txn),
            pdq=env.open_db(b"pdq", txn=txn),
            pdq_rows=env.open_db(b"pdq_rows", txn=txn),
            typed=env.open_db(b"typed", txn=txn),
        )


def typed_key(type_name: str, key: bytes) -> bytes:
    """The `typed` key of a signal (its 16-byte id) of a type with an index of its own."""
    return type_name.encode() + b"\x00" + key


def _filed_by_type(type_name: str) -> bool:
    """Signals kept in `typed`: of types matched by an index of their own (plug-ins), or that
    may be (photodna with a licensed matcher, a type whose plug-in is not installed here)."""
    if type_name in ("pdq", "vpdq"):
        return False
    spec = domain.SIGNAL_TYPES.get(type_name)
    return spec is None or spec.indexed or spec.replaceable_matching


def _pdq_hashes(signal: common_pb2.Signal) -> list[bytes]:
    """The 32-byte hashes a signal puts in the PDQ table: a photo's, or a video's retained
    frames' in frame order."""
    try:
        if signal.type == "pdq":
            return [bytes.fromhex(signal.value)]
        if signal.type == "vpdq":
            return [bytes.fromhex(f.pdq) for f in vpdq_retained(vpdq_frames(signal.value))]
    except (ValueError, domain.InvalidValue):
        pass  # the hub validated it; a value we cannot read here simply does not match
    return []


class ReplicaTables:
    """Writes signals with their rows in the packed tables, inside one write transaction."""

    def __init__(self, dbs: ReplicaDbs, txn: lmdb.Transaction) -> None:
        self.dbs = dbs
        self.txn = txn
        raw = txn.get(b"pdq_rows", db=dbs.meta)
        self.last_row = 0 if raw is None else U64.unpack(bytes(raw))[0]

    def clear(self) -> None:
        """Empties the signals and tables (a snapshot replaces everything)."""
        for db in (self.dbs.signals, self.dbs.pdq, self.dbs.pdq_rows, self.dbs.typed):
            self.txn.drop(db, delete=False)
        self.last_row = 0

    def rebuild(self) -> None:
        """Builds the packed tables anew from the signals held, and marks the layout current
        (a replica written before the tables existed, or by an older layout)."""
        for db in (self.dbs.pdq, self.dbs.pdq_rows, self.dbs.typed):
            self.txn.drop(db, delete=False)
        self.last_row = 0
        for key, raw in self.txn.cursor(db=self.dbs.signals):
            self.index(bytes(key), common_pb2.Signal.FromString(bytes(raw)))
        self.txn.put(b"layout", LAYOUT, db=self.dbs.meta)

    def put(self, key: bytes, signal: common_pb2.Signal, raw: bytes) -> None:
        """Stores a signal (its serialised form `raw`, as received) and files it."""
        self.txn.put(key, raw, db=self.dbs.signals)
        self.index(key, signal)

    def index(self, key: bytes, signal: common_pb2.Signal) -> None:
        """Files a signal in the packed tables (once: its id fixes its type and value). A
        signal shared with this member match-only comes without its value and is filed
        nowhere: it cannot match here (ask the hub, docs/match-only.md)."""
        if signal.value_withheld or not signal.value:
            return
        if signal.type in ("pdq", "vpdq"):
            if self.txn.get(key, db=self.dbs.pdq_rows) is not None:
                return
            rows = []
            for hash32 in _pdq_hashes(signal):
                self.last_row += 1
                row = U64.pack(self.last_row)
                self.txn.put(row, hash32 + key, db=self.dbs.pdq)
                rows.append(row)
            self.txn.put(key, b"".join(rows), db=self.dbs.pdq_rows)
        elif _filed_by_type(signal.type):
            self.txn.put(typed_key(signal.type, key), signal.value.encode(), db=self.dbs.typed)

    def delete(self, key: bytes, type_name: str) -> None:
        """Removes a signal and its rows."""
        self.txn.delete(key, db=self.dbs.signals)
        rows = self.txn.pop(key, db=self.dbs.pdq_rows)
        if rows is not None:
            rows = bytes(rows)
            for i in range(0, len(rows), 8):
                self.txn.delete(rows[i : i + 8], db=self.dbs.pdq)
        self.txn.delete(typed_key(type_name, key), db=self.dbs.typed)

    def load_chunk(self, signals: Sequence[common_pb2.Signal]) -> None:
        """A snapshot's chunk into emptied tables, in bulk: snapshots come in signal id order,
        so the signals (and the rows, numbered in that order) are appended."""
        items: list[tuple[bytes, bytes]] = []
        rows: list[tuple[bytes, bytes]] = []
        rows_of: list[tuple[bytes, bytes]] = []
        other: list[tuple[bytes, common_pb2.Signal]] = []
        row = self.last_row
        for s in signals:
            key = bytes.fromhex(s.signal_id)
            items.append((key, s.SerializeToString()))
            if s.type == "pdq" and len(s.value) == 64:
                row += 1
                packed = U64.pack(row)
                rows.append((packed, bytes.fromhex(s.value) + key))
                rows_of.append((key, packed))
            else:
                other.append((key, s))
        self.last_row = row
        appended = ((self.dbs.signals, items), (self.dbs.pdq, rows), (self.dbs.pdq_rows, rows_of))
        for db, pairs in appended:
            cursor = self.txn.cursor(db=db)
            _, added = cursor.putmulti(pairs, append=True)
            if added != len(pairs):  # not in key order after all: insert them where they go
                cursor.putmulti(pairs)
        for key, s in other:
            self.index(key, s)

    def finish(self) -> None:
        """Records the row counter; call it last in the transaction."""
        self.txn.put(b"pdq_rows", U64.pack(self.last_row), db=self.dbs.meta)
