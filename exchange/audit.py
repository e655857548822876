"""Offline audit of a data directory: `signalhub audit verify --data-dir DIR`.

Three checks, each naming the first thing that is wrong:
1. the hash chain: every log entry's stored bytes must hash to its audit link, and each link
   must chain to the previous one;
2. the signed heads: each must carry a valid hub signature over a chain hash that the log
   really reaches at that sequence (so rewriting the log and re-chaining it is caught too);
3. the state: replaying the whole log through the same deterministic apply must rebuild every
   state table byte for byte (so an edited signal, key or member record is caught).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

from google.protobuf.message import DecodeError

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec

from .auth import verify_signature
from .errors import HubError
from .ledger import append_and_apply
from .store import (
    GENESIS_HASH,
    STATE_DATABASES,
    Store,
    StoreTxn,
    StoreView,
    audit_link,
    unsealed,
)

REPLAY_GROUP_ENTRIES = 512


@dataclass
class AuditReport:
    """What `verify_store` found."""

    entries: int = 0
    heads: int = 0
    covered: int = 0
    """Sequence of the newest valid signed head."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the audit found nothing wrong."""
        return not self.problems


def verify_data_dir(data_dir: Path) -> AuditReport:
    """Runs every check on the data directory's store, opened read-only."""
    store = Store(Path(data_dir) / "lmdb", readonly=True)
    try:
        return verify_store(store)
    finally:
        store.close()


def verify_store(store: Store) -> AuditReport:
    """Audits an open store: its hash chain, its signed heads, and a replay of its log."""
    report = AuditReport()
    try:
        chain = _check_chain(store, report)
        _check_heads(store, chain, report)
        if report.ok:
            _check_replay(store, report)
    except HubError as e:  # a corrupt record (DATA_LOSS): `admin check` lists them all
        report.problems.append(e.message)
    return report


def _check_chain(store: Store, report: AuditReport) -> dict[int, bytes]:
    """Recomputes the chain from the log's bytes; returns sequence -> recomputed chain hash."""
    chain: dict[int, bytes] = {}
    previous = GENESIS_HASH
    with store.read() as view:
        last = view.counter("log_seq")
        report.entries = last
        for sequence in range(1, last + 1):
            raw = view.raw_log_entry(sequence)
            stored = view.audit(sequence)
            if raw is None or stored is None:
                report.problems.append(f"log entry {sequence}: missing from the log or the chain")
                break
            try:
                entry = rec.LogEntry.FromString(raw)
            except DecodeError:
                report.problems.append(f"log entry {sequence}: does not parse (it is corrupt)")
                break
            # A redacted entry (a legal erasure scrubbed a value out of it) keeps the hash of
            # its original bytes; the erasure itself is a later entry of the chain.
            original = entry.redaction.original_entry_hash if entry.HasField("redaction") else None
            link = audit_link(previous, sequence, raw, original)
            if link.entry_hash != stored.entry_hash:
                report.problems.append(
                    f"log entry {sequence}: its bytes do not match the audit chain "
                    "(the entry was altered)"
                )
                break
            if link.chain_hash != stored.chain_hash:
                report.problems.append(
                    f"audit entry {sequence}: its chain hash does not follow from entry "
                    f"{sequence - 1} (the audit record was altered)"
                )
                break
            chain[sequence] = link.chain_hash
            previous = link.chain_hash
    return chain


def chain_problems(store: Store) -> tuple[int, list[str]]:
    """(entries, problems) of the audit hash chain alone (for `signalhub admin check`)."""
    report = AuditReport()
    _check_chain(store, report)
    return report.entries, report.problems


def _check_heads(store: Store, chain: dict[int, bytes], report: AuditReport) -> None:
    with store.read() as view:
        hub_key = view.meta("hub_public_key")
        heads = view.audit_heads()
    report.heads = len(heads)
    for head in heads:
        signed = domain.audit_head_signing_bytes(
            head.sequence, head.chain_hash, head.signed_at.ToMilliseconds()
        )
        if hub_key is None or head.hub_public_key != hub_key:
            report.problems.append(f"signed head {head.sequence}: not signed with the hub's key")
        elif not verify_signature(hub_key, head.signature, signed):
            report.problems.append(f"signed head {head.sequence}: the signature does not verify")
        elif head.sequence in chain and chain[head.sequence] != head.chain_hash:
            report.problems.append(
                f"signed head {head.sequence}: the log no longer reaches the signed chain hash "
                "(history was rewritten after it was signed)"
            )
        elif head.sequence in chain:
            report.covered = max(report.covered, head.sequence)


def _check_replay(store: Store, report: AuditReport) -> None:
    with tempfile.TemporaryDirectory(prefix="signalhub-audit-") as tmp:
        replica = Store(Path(tmp) / "lmdb", sync=False)
        try:
            with store.read() as view:
                meta = {name: view.meta(name) for name in ("hub_public_key", "operator_public_key")}

            def seed(tx: StoreTxn) -> None:
                for name, value in meta.items():
                    if value is not None:
                        tx.set_meta(name, value)

            replica.write(seed)
            for group in _log_groups(store, report.entries):

                def apply(tx: StoreTxn, entries: list[rec.LogEntry] = group) -> None:
                    for entry in entries:
                        # a refused entry leaves no trace, as it did at the hub
                        with contextlib.suppress(HubError):
                            append_and_apply(tx, entry)

                replica.write(apply)
            for name in STATE_DATABASES:
                problem = _first_difference(store, replica, name)
                if problem:
                    report.problems.append(problem)
                    return
        finally:
            replica.close()


def _log_groups(store: Store, last: int) -> Iterator[list[rec.LogEntry]]:
    for start in range(1, last + 1, REPLAY_GROUP_ENTRIES):
        with store.read() as view:
            entries = [
                view.log_entry(n)
                for n in range(start, min(last, start + REPLAY_GROUP_ENTRIES - 1) + 1)
            ]
        yield [e for e in entries if e is not None]


def _first_difference(store: Store, replica: Store, db: str) -> str | None:
    with store.read() as a, replica.read() as b:
        # Compared without their seals: a store written before seals verifies as well.
        ours = ((k, unsealed(db, k, v)) for k, v in a.items(db))
        theirs = ((k, unsealed(db, k, v)) for k, v in b.items(db))
        for left, right in zip_longest(ours, theirs):
            if left == right:
                continue
            key = (left or right)[0]
            what = _describe(db, key)
            writer = _writer_of(a, db, key)
            by = f" (written by log entry {writer})" if writer else ""
            if left is None:
                return f"{what}: missing from the store but produced by the log{by}"
            if right is None:
                return f"{what}: in the store but not produced by the log"
            return f"{what}: differs from what the log produces{by}"
    return None


def _describe(db: str, key: bytes) -> str:
    if db in ("signals",):
        return f"signal {key.hex()}"
    if db == "submissions":
        return f"submission of signal {key[:16].hex()}"
    if db in ("log", "feed", "audit", "pdq"):
        return f"{db} entry {int.from_bytes(key[:8], 'big')}"
    return f"{db} record {key.decode(errors='replace')!r}"


def _writer_of(view: StoreView, db: str, key: bytes) -> int | None:
    if db == "signals":
        subs = view.submissions(key.hex())
        return subs[-1].log_sequence if subs else None
    if db == "submissions":
        return int.from_bytes(key[16:24], "big")
    if db in ("log", "audit"):
        return int.from_bytes(key[:8], "big")
    return None
