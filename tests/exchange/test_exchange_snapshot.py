"""Snapshots on the hub's side, without a server: framing, chunking, the digest, and what a
snapshot built from a real LMDB store holds for each member."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from client_sdk.signing import Signer
from exchange import snapshot
from exchange.cursor import CursorCodec
from exchange.ledger import append_and_apply
from exchange.service import _event_for
from exchange.store import Store
from exchange.visibility import Viewer, signal_view
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2, exchange_pb2

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
CODEC = CursorCodec(bytes(16))


def test_snapshot_digest_hashes_the_prefix_and_each_part_behind_its_length() -> None:
    header, chunks = b"header", [b"chunk-1", b"", b"chunk-3"]
    expected = hashlib.sha256(
        b"signalhub.v1.Snapshot\x00"
        + b"".join(struct.pack(">I", len(p)) + p for p in [header, *chunks])
    ).digest()
    assert domain.snapshot_digest(header, chunks) == expected
    running = domain.SnapshotDigest()
    for part in [header, *chunks]:
        running.update(part)
    assert running.digest() == expected
    # the lengths make the framing part of what is signed: moving bytes between parts counts
    assert domain.snapshot_digest(b"header" + b"chunk-1", [b"", b"chunk-3"]) != expected


def test_a_stored_signal_is_framed_as_a_chunk_entry_without_parsing() -> None:
    record = rec.SignalRecord(members=["acme"], pdq_row=300, restricted=True)
    record.signal.signal_id = "ab" * 16
    record.signal.value = "v" * 200  # a two-byte length
    raw = record.SerializeToString()
    end = snapshot.signal_field_end(raw)
    chunk = exchange_pb2.SnapshotChunk.FromString(raw[:end] * 2)
    assert list(chunk.signals) == [record.signal, record.signal]
    assert rec.SignalRecord.FromString(raw[end:]).restricted
    for bad in (b"", b"\x12\x00", b"\x0a", b"\x0a\x05abc", b"\x0a\xff\xff\xff\xff\xff\xff"):
        assert snapshot.signal_field_end(bad) == 0


@given(st.lists(st.binary(min_size=1, max_size=40), max_size=60), st.integers(1, 100))
def test_chunks_keep_every_entry_in_order_near_the_byte_target(
    entries: list[bytes], max_bytes: int
) -> None:
    chunks = list(snapshot.chunks_of(entries, max_bytes))
    assert b"".join(c for c, _ in chunks) == b"".join(entries)
    assert sum(n for _, n in chunks) == len(entries)
    position = 0
    for chunk, n in chunks:
        assert len(chunk) <= max_bytes or n == 1
        position += n
    assert position == len(entries)


def test_a_response_part_is_the_field_framed() -> None:
    header = exchange_pb2.SnapshotHeader(cursor="7", member_id="acme", signals=3)
    raw = snapshot.framed(snapshot.HEADER_FIELD, header.SerializeToString())
    assert exchange_pb2.GetSnapshotResponse.FromString(raw).header == header
    big = exchange_pb2.SnapshotChunk(signals=[common_pb2.Signal(value="x" * 70_000)])
    raw = snapshot.framed(snapshot.CHUNK_FIELD, big.SerializeToString())
    assert raw == exchange_pb2.GetSnapshotResponse(chunk=big).SerializeToString()


def stamp(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "lmdb")
    yield s
    s.close()


def apply(store: Store, **command: object) -> None:
    entry = rec.LogEntry(received_at=stamp(T0), window_seconds=300, **command)  # type: ignore[arg-type]
    applied = store.write(lambda tx: append_and_apply(tx, entry))
    assert applied.stored


def add_member(store: Store, name: str, key: Ed25519PrivateKey) -> None:
    command = rec.AddMemberCommand(member_id=name, public_key=domain.raw_public_key(key))
    apply(store, add_member=command)


def submit(
    store: Store, signer: Signer, batch: str, values: list[str], label: str, audience: list[str]
) -> None:
    signals = [common_pb2.SignalSubmission(type="pdq", value=v, labels=[label]) for v in values]
    envelope = signer.envelope(batch, signals, created_at=T0, audience=audience)
    apply(store, submit=rec.SubmitCommand(envelope=envelope))


@pytest.fixture
def members(store: Store) -> dict[str, Signer]:
    signers = {}
    for name in ("acme", "beta", "gamma"):
        key = Ed25519PrivateKey.generate()
        add_member(store, name, key)
        signers[name] = Signer(name, key)
    group = rec.GroupMembersCommand(group_id="ab", member_ids=["acme", "beta"])
    apply(store, add_group_members=group)
    public = [f"{i:064x}" for i in range(1, 6)]
    submit(store, signers["acme"], "b1", public, "csam", [])
    submit(store, signers["beta"], "b2", [*public[:2], f"{9:064x}"], "ncii", ["ab"])
    submit(store, signers["gamma"], "b3", [f"{10:064x}"], "grooming", [])
    submit(store, signers["beta"], "b4", [f"{11:064x}"], "ncii", ["ab"])  # gamma sees no more
    return signers


def built_signals(built: snapshot.BuiltSnapshot) -> list[common_pb2.Signal]:
    running = domain.SnapshotDigest()
    chunks = built.read(0, 1 << 30, running)
    return [s for c in chunks for s in exchange_pb2.SnapshotChunk.FromString(c).signals]


def test_each_member_gets_its_own_view_at_its_own_last_event(
    store: Store, members: dict[str, Signer]
) -> None:
    now = stamp(T0 + timedelta(minutes=1))
    with store.read() as view:
        head = view.counter("feed_seq")
        expected = {}
        for name in members:
            viewer = Viewer.load(view, name)
            expected[name] = [
                shown
                for _, raw in view.items("signals")
                if (shown := signal_view(view, rec.SignalRecord.FromString(raw), viewer))
            ]
    cursors = {}
    for name in members:
        built = snapshot.build(store, name, 0, 0, now, CODEC)
        try:
            signals = built_signals(built)
        finally:
            built.close()
        assert signals == expected[name]
        assert built.header.signals == len(signals) and built.header.member_id == name
        assert [s.signal_id for s in signals] == sorted(s.signal_id for s in signals)
        cursors[name] = CODEC.decode(built.header.cursor)
    assert len(expected["acme"]) == 8 and len(expected["gamma"]) == 6
    ncii = [s for s in expected["gamma"] if "ncii" in s.labels]
    assert ncii == []  # beta's labels were shared with ab only
    assert cursors["acme"] == cursors["beta"] == head
    assert cursors["gamma"] == head - 1  # beta's last event was for ab


def test_min_backlog_gives_a_header_only(store: Store, members: dict[str, Signer]) -> None:
    with store.read() as view:
        head = view.counter("feed_seq")
    now = stamp(T0)
    close = snapshot.build(store, "acme", head - 3, 3, now, CODEC)
    assert close.header.not_needed and close.spool is None and close.header.signals == 0
    assert close.header.cursor == ""
    assert not snapshot.build(store, "acme", head - 4, 3, now, CODEC).header.not_needed
    assert not snapshot.build(store, "acme", head, 0, now, CODEC).header.not_needed  # 0: always
    # gamma may not see beta's last event (for group ab): the backlog counts what gamma would
    # be sent, never the hub's sequence, which would tell gamma how much it may not see.
    for after in range(head - 6, head):
        with store.read() as view:
            gamma = Viewer.load(view, "gamma")
            sent = sum(1 for r in view.feed(after, 100) if _event_for(view, r, gamma, CODEC))
        built = snapshot.build(store, "gamma", after, 2, now, CODEC)
        assert built.header.not_needed == (sent <= 2)
        built.close()
    assert snapshot.build(store, "gamma", head - 3, 2, now, CODEC).header.not_needed


def test_a_member_that_sees_nothing_stands_at_the_start(store: Store) -> None:
    key = Ed25519PrivateKey.generate()
    add_member(store, "lone", key)
    built = snapshot.build(store, "lone", 0, 0, stamp(T0), CODEC)
    assert built.header.cursor == "" and built.header.signals == 0 and built.chunk_sizes == []


def test_spooled_chunks_read_back_in_pieces_with_the_same_digest(
    store: Store, members: dict[str, Signer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "CHUNK_BYTES", 200)  # several chunks
    built = snapshot.build(store, "acme", 0, 0, stamp(T0), CODEC)
    try:
        assert len(built.chunk_sizes) > 2
        running = domain.SnapshotDigest()
        header = built.header.SerializeToString()
        running.update(header)
        chunks: list[bytes] = []
        while len(chunks) < len(built.chunk_sizes):
            chunks += built.read(len(chunks), 300, running)
        assert [len(c) for c in chunks] == built.chunk_sizes
        assert running.digest() == domain.snapshot_digest(header, chunks)
    finally:
        built.close()
    key = Ed25519PrivateKey.generate()
    trailer = snapshot.signed_trailer(key, running.digest())
    key.public_key().verify(trailer.signature, trailer.digest)
    assert trailer.hub_public_key == domain.raw_public_key(key)
