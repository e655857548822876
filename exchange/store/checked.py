"""The checked reads every store view shares: a stored value by its key, its seal checked, a
miss or a prefix scan checked against the records beside it (see the package docstring's
"Integrity"), the meta counters, and raw access for the offline check (exchange.integrity)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

import lmdb
from google.protobuf.message import DecodeError, Message

from ..errors import HubError, data_loss
from .layout import _U64, MAX_KEY_BYTES, SEALED_RECORDS, describe_key
from .seals import SEAL_BYTES, SEAL_TAG, SEALED_DATABASES, open_seal

M = TypeVar("M", bound=Message)
log = logging.getLogger("signalhub.store")


class CheckedReads:
    """Reads inside one LMDB transaction, each record checked as it is read: the base of
    StoreView (the typed reads) and so of StoreTxn."""

    def __init__(
        self,
        txn: lmdb.Transaction,
        dbs: dict[str, lmdb._Database],
        on_corrupt: Callable[[str], None] | None = None,
        checks: bool = True,
    ) -> None:
        self.txn = txn
        self.dbs = dbs
        self.on_corrupt = on_corrupt
        """Called with the table's name when a corrupt record is found (the hub's metric)."""
        self.checks = checks
        """False only to measure what the checks cost (benchmarks/integrity.py)."""
        self._sealed: bool | None = None

    def _get(self, db: str, key: bytes) -> bytes | None:
        """The bytes stored under `key` in table `db`, unchecked, or None."""
        try:
            value = self.txn.get(key, db=self.dbs[db])
        except lmdb.BadValsizeError:
            if 0 < len(key) <= MAX_KEY_BYTES:  # a valid key: the size LMDB read is a page's
                raise self.corrupt(db, key, "LMDB read a damaged page for it") from None
            raise
        return None if value is None else bytes(value)

    def corrupt(self, db: str, key: bytes, problem: str) -> HubError:
        """The DATA_LOSS error for a corrupt record (logged and counted here)."""
        what = describe_key(db, key)
        log.error("corrupt record in the store: %s: %s", what, problem)
        if self.on_corrupt is not None:
            self.on_corrupt(db)
        return data_loss(f"the stored record for {what} is corrupt ({problem})", db)

    def seals_required(self) -> bool:
        """True when every record of a sealed table must carry a seal (SEALED_RECORDS)."""
        if self._sealed is None:
            self._sealed = self._get("meta", SEALED_RECORDS.encode()) is not None
        return self._sealed

    def payload(self, db: str, key: bytes, raw: bytes) -> tuple[bytes, bool]:
        """(a stored value of a sealed table without its seal, whether the seal was checked
        and matched); raises DATA_LOSS when it does not match, or is missing from a store
        whose every record has one."""
        if not self.checks:
            return (raw[:-SEAL_BYTES] if raw[-SEAL_BYTES:-4] == SEAL_TAG else raw), False
        body, sealed = open_seal(key, raw)
        if sealed:
            return body, True
        if self.seals_required():
            raise self.corrupt(
                db, key, "its checksum does not match" if sealed is False else "it has no checksum"
            )
        return raw, False  # written before seals: unchecked

    def record(self, db: str, key: bytes, raw: bytes, cls: type[M]) -> M:
        """A stored record parsed, once its seal (sealed tables) is checked."""
        body = self.payload(db, key, raw)[0] if db in SEALED_DATABASES else raw
        return self._parse(db, key, body, cls)

    def _parse(self, db: str, key: bytes, body: bytes, cls: type[M]) -> M:
        try:
            return cls.FromString(body)
        except DecodeError:
            raise self.corrupt(db, key, "it does not parse") from None

    def _record(self, db: str, key: bytes, cls: type[M]) -> M | None:
        raw = self._lookup(db, key)
        return None if raw is None else self.record(db, key, raw, cls)

    def _lookup(self, db: str, key: bytes) -> bytes | None:
        """The value under `key` of a sealed table, or None, once a miss is shown not to be a
        record whose key changed on disk: LMDB leaves such a record where its key was, so it
        is one of the two records on either side of the gap, and its seal (which covers its
        key) no longer matches."""
        raw = self._get(db, key)
        if raw is None and self.checks:
            cur = self.txn.cursor(db=self.dbs[db])
            if cur.set_range(key):
                if bytes(cur.key()) == key:  # walking finds what searching did not
                    raise self.corrupt(
                        db, key, "LMDB's tree no longer leads to it (a damaged branch page)"
                    )
                self._intact(db, bytes(cur.key()), bytes(cur.value()))
                if cur.prev():
                    self._intact(db, bytes(cur.key()), bytes(cur.value()))
            elif cur.last():
                self._intact(db, bytes(cur.key()), bytes(cur.value()))
        return raw

    def _lookup_many(self, db: str, keys: list[bytes]) -> dict[bytes, bytes | None]:
        """`_lookup` of each key, in key order through one cursor (what a batch of 1,000
        signals reads): the same checks of a miss's neighbours, without a cursor, a search
        and a release of the GIL a key more than the one search needs."""
        cur = self.txn.cursor(db=self.dbs[db])
        out: dict[bytes, bytes | None] = {}
        for key in sorted(set(keys)):
            raw: bytes | None = None
            if cur.set_range(key):
                if cur.key() == key:
                    raw = bytes(cur.value())
                elif self.checks:
                    self._intact(db, bytes(cur.key()), bytes(cur.value()))
                    if cur.prev():
                        self._intact(db, bytes(cur.key()), bytes(cur.value()))
            elif self.checks and cur.last():
                self._intact(db, bytes(cur.key()), bytes(cur.value()))
            out[key] = raw
        return out

    def _intact(self, db: str, key: bytes, raw: bytes) -> None:
        """Raises DATA_LOSS when a record of a sealed table fails its seal."""
        _, sealed = open_seal(key, raw)
        if sealed is False or (sealed is None and self.seals_required()):
            raise self.corrupt(db, key, "its checksum does not match: its key or value changed")

    def _scan(self, db: str, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) of a sealed table whose key starts with `prefix`, in key order.
        The records on either side of the range must pass their seals (as for _lookup: a
        record of the range whose key changed on disk is one of them)."""
        cur = self.txn.cursor(db=self.dbs[db])
        found = cur.set_range(prefix)
        if self.checks:
            if not found:
                if cur.last():
                    self._intact(db, bytes(cur.key()), bytes(cur.value()))
                return
            if cur.prev():
                self._intact(db, bytes(cur.key()), bytes(cur.value()))
                cur.next()
            else:
                cur.first()
        elif not found:
            return
        for key, value in cur:
            key = bytes(key)
            if not key.startswith(prefix):
                if self.checks:
                    self._intact(db, key, bytes(value))
                return
            yield key, bytes(value)

    def counter(self, name: str) -> int:
        """A meta counter (0 when never set)."""
        raw = self._get("meta", name.encode())
        if raw is None:
            return 0
        if len(raw) != 8:
            raise self.corrupt("meta", name.encode(), f"a counter of {len(raw)} bytes, not 8")
        return int(_U64.unpack(raw)[0])

    def meta(self, name: str) -> bytes | None:
        """A meta value by name, or None."""
        return self._get("meta", name.encode())

    def items(self, db: str) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) of a database, in key order."""
        for key, value in self.txn.cursor(db=self.dbs[db]):
            yield bytes(key), bytes(value)

    def stat(self, key: bytes) -> bytes | None:
        """One usage record of the `stats` database by its whole key (exchange.usage)."""
        return self._get("stats", key)

    def entries(self, db: str) -> int:
        """The number of records of a table."""
        return int(self.txn.stat(self.dbs[db])["entries"])

    def raw(self, db: str, key: bytes) -> bytes | None:
        """The bytes stored under `key` in table `db` as they are (seal and all), unchecked, or
        None: for the checks that inspect stored bytes themselves (exchange.integrity)."""
        return self._get(db, key)

    def lookup_finds(self, db: str, key: bytes) -> bool:
        """Whether a lookup of `key` in table `db` finds a record (a walk may find one that a
        lookup misses: a damaged branch page)."""
        return self.txn.get(key, db=self.dbs[db]) is not None

    def tables(self) -> list[str]:
        """The names of the tables this store has, sorted (an old store lacks the later ones)."""
        return sorted(self.dbs)

    def has_table(self, db: str) -> bool:
        """Whether this store has table `db` (one written before it existed does not)."""
        return db in self.dbs

    def read_edges(self, db: str) -> None:
        """Reads the first and last record of a table: the pages on both edges of its tree
        (a damaged root or edge page raises lmdb.Error here)."""
        cur = self.txn.cursor(db=self.dbs[db])
        if cur.first():
            cur.last()

    def last_key(self, db: str) -> bytes | None:
        """The last key of a table, or None when it is empty."""
        cur = self.txn.cursor(db=self.dbs[db])
        return bytes(cur.key()) if cur.last() else None

    def end(self) -> None:
        """Ends this view's read transaction (one begun by Store.begin_view)."""
        self.txn.abort()
