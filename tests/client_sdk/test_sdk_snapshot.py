"""Snapshots on the member's side, without a server: reading and verifying a signed stream, and
a local replica loaded from one (it equals one fed the same signals as feed events, matches
alike, and keeps its index across calls until it changes)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import lmdb
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_sdk.errors import SignalhubError, SnapshotRejected
from client_sdk.local import LocalReplica
from client_sdk.snapshot import Snapshot, read_snapshot, response_part
from exchange.snapshot import CHUNK_FIELD, HEADER_FIELD, TRAILER_FIELD, framed, signed_trailer
from signalhub import domain
from signalhub.v1 import common_pb2, exchange_pb2
from signalhub.vpdq_format import VpdqFrame, vpdq_text

HUB_KEY = Ed25519PrivateKey.generate()


def query(seed: int) -> str:
    return f"{random.Random(-seed).getrandbits(256):064x}"


def near(value: str, bits: int) -> str:
    return f"{int(value, 16) ^ ((1 << bits) - 1):064x}"


def make_signals(seed: int, n: int = 30) -> list[common_pb2.Signal]:
    """Signals as a hub shows them, sorted by id: PDQ photos, a video and an md5. Two photos
    and the video's first frame are near `query(seed)`."""
    rng = random.Random(seed)
    values = [f"{rng.getrandbits(256):064x}" for _ in range(n)]
    values[0], values[1] = query(seed), near(query(seed), 3)
    out = [common_pb2.Signal(signal_id=domain.signal_id("pdq", v), type="pdq", value=v,
                             labels=["csam"], corroboration=1) for v in values]  # fmt: skip
    frames = [VpdqFrame(near(values[0], 5), 90, 0.0),
              VpdqFrame(f"{rng.getrandbits(256):064x}", 90, 1.0)]  # fmt: skip
    text = vpdq_text(frames)
    out.append(common_pb2.Signal(signal_id=domain.signal_id("vpdq", text), type="vpdq", value=text))
    md5 = "d41d8cd98f00b204e9800998ecf8427e"
    out.append(common_pb2.Signal(signal_id=domain.signal_id("md5", md5), type="md5", value=md5))
    out[0].opinions.false_positive = 1
    return sorted(out, key=lambda s: s.signal_id)


def signed_stream(
    signals: Sequence[common_pb2.Signal],
    member: str = "acme",
    cursor: str = "42",
    per_chunk: int = 7,
    key: Ed25519PrivateKey = HUB_KEY,
) -> list[bytes]:
    """The messages of a GetSnapshot stream, as the hub frames and signs them."""
    header = exchange_pb2.SnapshotHeader(cursor=cursor, member_id=member, signals=len(signals))
    raw_header = header.SerializeToString()
    chunks = [
        exchange_pb2.SnapshotChunk(signals=signals[i : i + per_chunk]).SerializeToString()
        for i in range(0, len(signals), per_chunk)
    ]
    trailer = signed_trailer(key, domain.snapshot_digest(raw_header, chunks))
    return [
        framed(HEADER_FIELD, raw_header),
        *(framed(CHUNK_FIELD, c) for c in chunks),
        framed(TRAILER_FIELD, trailer.SerializeToString()),
    ]


def test_a_signed_snapshot_reads_back_its_signals_and_key() -> None:
    signals = make_signals(1)
    got = read_snapshot(signed_stream(signals), "acme")
    assert (got.cursor, got.count, got.member_id, got.not_needed) == ("42", len(signals), "acme",
                                                                       False)  # fmt: skip
    assert got.hub_public_key == domain.raw_public_key(HUB_KEY)
    assert [s.signal_id for s in got.signals] == [s.signal_id for s in signals]
    pinned = read_snapshot(signed_stream(signals), "acme", domain.raw_public_key(HUB_KEY))
    assert pinned.count == len(signals)


def _flip_byte(messages: list[bytes], index: int) -> list[bytes]:
    out = list(messages)
    raw = bytearray(out[index])
    raw[len(raw) // 2] ^= 1
    out[index] = bytes(raw)
    return out


def _header(**changes: object) -> Callable[[list[bytes]], list[bytes]]:
    """The stream with a header changed (and re-signed by the hub: only the content is off)."""

    def tamper(messages: list[bytes]) -> list[bytes]:
        header = exchange_pb2.SnapshotHeader.FromString(response_part(messages[0])[1])
        for name, value in changes.items():
            setattr(header, name, value)
        raw = header.SerializeToString()
        chunks = [response_part(m)[1] for m in messages[1:-1]]
        trailer = signed_trailer(HUB_KEY, domain.snapshot_digest(raw, chunks))
        return [framed(HEADER_FIELD, raw), *messages[1:-1],
                framed(TRAILER_FIELD, trailer.SerializeToString())]  # fmt: skip

    return tamper


REFUSED: dict[str, tuple[Callable[[list[bytes]], list[bytes]], str]] = {
    "a chunk byte": (lambda m: _flip_byte(m, 1), "digest|parse"),
    "the header": (lambda m: _flip_byte(m, 0), "digest|parse|built for"),
    "chunks swapped": (lambda m: [m[0], m[2], m[1], *m[3:]], "digest"),
    "a chunk dropped": (lambda m: [m[0], *m[2:]], "digest"),
    "the trailer dropped": (lambda m: m[:-1], "before its trailer"),
    "a second header": (lambda m: [m[0], m[0], *m[1:]], "one header"),
    "bytes after the trailer": (lambda m: [*m, m[1]], "after its trailer"),
    "another member's": (_header(member_id="beta"), "built for 'beta'"),
    "a count too low": (_header(signals=3), "more signals than"),
    "a count too high": (_header(signals=1000), "its header says 1000"),
    "two parts in a message": (lambda m: [m[0] + m[1], *m[2:]], "exactly one part"),
    "a signature by another key": (
        lambda m: signed_stream(make_signals(1), key=Ed25519PrivateKey.generate()),
        "not by the trusted",
    ),
}


@pytest.mark.parametrize("what", sorted(REFUSED))
def test_a_snapshot_that_does_not_verify_is_refused(what: str) -> None:
    tamper, reason = REFUSED[what]
    messages = tamper(signed_stream(make_signals(1)))
    with pytest.raises(SnapshotRejected, match=reason):
        read_snapshot(messages, "acme", domain.raw_public_key(HUB_KEY), on_signals=lambda s: None)


def test_not_needed_is_a_header_alone() -> None:
    header = exchange_pb2.SnapshotHeader(member_id="acme", not_needed=True)
    only = [framed(HEADER_FIELD, header.SerializeToString())]
    assert read_snapshot(only, "acme").not_needed
    with pytest.raises(SnapshotRejected, match="carries nothing"):
        read_snapshot([*only, only[0]], "acme")
    for bad in (b"", b"\x0a", b"\x08\x01", b"\x0a\x05ab"):
        with pytest.raises(SnapshotRejected):
            response_part(bad)


class FakeHub:
    """What LocalReplica.sync asks of a Client: a snapshot and the feed after a cursor."""

    def __init__(self, signals: list[common_pb2.Signal], events: list[common_pb2.FeedEvent],
                 tamper: Callable[[list[bytes]], list[bytes]] | None = None) -> None:  # fmt: skip
        self.member_id = "acme"
        self.signals = signals
        self.events = events
        self.tamper = tamper
        self.snapshots = 0
        self.asked_backlog: list[int] = []

    def snapshot(
        self,
        after: str = "",
        *,
        min_backlog: int = 0,
        hub_key: bytes | None = None,
        on_header: Callable[[Snapshot], None] | None = None,
        on_signals: Callable[[Sequence[common_pb2.Signal]], None] | None = None,
    ) -> Snapshot:
        self.snapshots += 1
        self.asked_backlog.append(min_backlog)
        head = seq(self.events[-1].cursor) if self.events else 0
        if min_backlog and head - seq(after) <= min_backlog:
            header = exchange_pb2.SnapshotHeader(member_id="acme", not_needed=True)
            messages = [framed(HEADER_FIELD, header.SerializeToString())]
        else:
            messages = signed_stream(self.signals, cursor=tok(head))
            if self.tamper is not None:
                messages = self.tamper(messages)
        return read_snapshot(messages, "acme", hub_key, on_header, on_signals)

    def fetch_wire(self, after: str = "") -> Iterator[common_pb2.FeedEvent]:
        yield from (e for e in self.events if seq(e.cursor) > seq(after))


def tok(sequence: int) -> str:
    """A cursor as hubs hand them out: an opaque token, not a decimal sequence (a replica
    holding a decimal one starts over from a snapshot)."""
    return f"c{sequence:031x}"


def seq(cursor: str) -> int:
    return int(cursor[1:], 16) if cursor else 0


def added(signals: list[common_pb2.Signal], first: int = 1) -> list[common_pb2.FeedEvent]:
    return [common_pb2.FeedEvent(cursor=tok(first + i), kind=common_pb2.EVENT_KIND_SIGNAL_ADDED,
                                 signal=s) for i, s in enumerate(signals)]  # fmt: skip


def replica_items(replica: LocalReplica) -> tuple[str, list[tuple[bytes, bytes]]]:
    with replica.env.begin() as txn:
        return replica.cursor, [(bytes(k), bytes(v)) for k, v in txn.cursor(db=replica._signals)]


def queries_for(signals: list[common_pb2.Signal], seed: int) -> list[tuple[str, str]]:
    pdq = [s.value for s in signals if s.type == "pdq"]
    video = next(s.value for s in signals if s.type == "vpdq")
    return [("pdq", query(seed)), *(("pdq", v) for v in pdq[:4]), ("vpdq", video),
            ("md5", "d41d8cd98f00b204e9800998ecf8427e")]  # fmt: skip


def test_a_replica_from_a_snapshot_equals_one_fed_the_same_signals(tmp_path: Path) -> None:
    signals = make_signals(2)
    rng = random.Random(3)
    hub = FakeHub(signals, added(rng.sample(signals, len(signals))))  # the feed in any order
    with LocalReplica(tmp_path / "fed") as fed, LocalReplica(tmp_path / "snap") as snap:
        assert fed.sync(hub, snapshot=False) == len(signals)  # type: ignore[arg-type]
        assert snap.sync(hub, snapshot_min_backlog=0) == 0  # type: ignore[arg-type]
        assert snap.last_snapshot is not None and snap.last_snapshot.count == len(signals)
        assert replica_items(fed) == replica_items(snap)
        assert snap.hub_key == domain.raw_public_key(HUB_KEY)
        queries = queries_for(signals, 2)
        assert fed.match(queries) == snap.match(queries)
        found = snap.match(queries)[0].matches
        assert [(m.signal.type, m.distance) for m in found] == [("pdq", 0), ("pdq", 3), ("vpdq", 5)]
        assert found[2].frame_timestamp == 0.0
        # more events reach both the same way
        more = make_signals(4, n=5)
        hub.events += added(more, first=len(hub.events) + 1)
        gone = common_pb2.Signal(signal_id=signals[0].signal_id, type=signals[0].type,
                                 value=signals[0].value)  # fmt: skip
        removed = common_pb2.EVENT_KIND_SIGNAL_REMOVED
        hub.events.append(
            common_pb2.FeedEvent(cursor=tok(len(hub.events) + 1), kind=removed, signal=gone)
        )
        fed.sync(hub)  # type: ignore[arg-type]
        snap.sync(hub)  # type: ignore[arg-type]
        assert snap.last_snapshot is None  # a small backlog: the feed
        assert replica_items(fed) == replica_items(snap)
        assert fed.match(queries) == snap.match(queries)


def test_a_tampered_snapshot_leaves_the_replica_as_it_was(tmp_path: Path) -> None:
    signals = make_signals(5)
    hub = FakeHub(signals, added(signals))
    with LocalReplica(tmp_path / "r") as replica:
        replica.sync(hub, snapshot=False)  # type: ignore[arg-type]
        before = replica_items(replica)
        hub.tamper = lambda m: _flip_byte(m, 2)
        hub.signals = make_signals(6)
        with pytest.raises(SnapshotRejected):
            replica.sync(hub, snapshot_min_backlog=0)  # type: ignore[arg-type]
        assert replica_items(replica) == before
        assert replica.hub_key is None
        assert replica.match(queries_for(signals, 5))[0].matches  # its index is intact too


def test_the_index_is_kept_between_matches_until_the_replica_changes(tmp_path: Path) -> None:
    signals = make_signals(7)
    query_of_7 = query(7)
    first_ids = {domain.signal_id("pdq", query_of_7)}
    hub = FakeHub(signals, added([s for s in signals if s.signal_id not in first_ids]))
    with LocalReplica(tmp_path / "r") as replica:
        replica.sync(hub, snapshot=False)  # type: ignore[arg-type]
        asked = [("pdq", near(query_of_7, 1))]
        replica.match(asked)
        first = replica._index
        replica.match(asked)
        assert replica._index is first and first is not None
        missing = [s for s in signals if s.signal_id in first_ids]
        hub.events += added(missing, first=len(hub.events) + 1)
        replica.sync(hub, snapshot=False)  # type: ignore[arg-type]
        assert replica._index is None  # the sync dropped it
        assert [m.distance for m in replica.match(asked)[0].matches][:2] == [1, 2]
        assert replica._index is not first
        # a sync by another process moves the cursor: the next match reloads
        loaded = replica._index
        with replica.env.begin(write=True) as txn:
            txn.put(b"cursor", tok(999).encode(), db=replica._meta)
        replica.match(asked)
        assert replica._index is not loaded


def test_a_replica_written_before_the_packed_table_gets_one_when_opened(tmp_path: Path) -> None:
    signals = make_signals(8)
    with LocalReplica(tmp_path / "r") as replica:
        replica.sync(FakeHub(signals, added(signals)), snapshot=False)  # type: ignore[arg-type]
        expected = replica.match(queries_for(signals, 8))
        assert expected[0].matches
        with replica.env.begin(write=True) as txn:  # as the first layout left it
            for db in (replica._pdq, replica._pdq_rows, replica._typed):
                txn.drop(db, delete=False)
            txn.delete(b"layout", db=replica._meta)
            txn.delete(b"pdq_rows", db=replica._meta)
    with LocalReplica(tmp_path / "r") as replica:
        assert replica.match(queries_for(signals, 8)) == expected


def test_a_snapshot_larger_than_the_map_is_fetched_again_with_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import client_sdk.local as local

    monkeypatch.setattr(local, "SNAPSHOT_MAP_BYTES_PER_SIGNAL", 1)
    monkeypatch.setattr(local, "INITIAL_MAP_BYTES", 64 * 1024)
    signals = make_signals(9, n=3000)
    hub = FakeHub(signals, added(signals))
    with LocalReplica(tmp_path / "r") as replica:
        replica.sync(hub, snapshot_min_backlog=0)  # type: ignore[arg-type]
        assert hub.snapshots >= 2 and replica.count() == len(signals)
    with pytest.raises(lmdb.MapFullError), LocalReplica(tmp_path / "never") as replica:
        monkeypatch.setattr(local, "SNAPSHOT_MAP_BYTES_PER_SIGNAL", 0)
        monkeypatch.setattr(LocalReplica, "_reserve", lambda self, extra: None)
        replica.sync(hub, snapshot_min_backlog=0)  # type: ignore[arg-type]


def test_a_large_replica_asks_for_a_snapshot_only_far_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import client_sdk.local as local

    monkeypatch.setattr(local, "SNAPSHOT_MIN_BACKLOG_EVENTS", 5)
    signals = make_signals(10, n=200)
    hub = FakeHub(signals, added(signals))
    with LocalReplica(tmp_path / "r") as replica:
        replica.sync(hub)  # type: ignore[arg-type]
        assert replica.last_snapshot is not None  # empty: 200 events behind, more than 5
        replica.sync(hub)  # type: ignore[arg-type]
        replica.sync(hub, snapshot_min_backlog=0)  # type: ignore[arg-type]
        # 202 signals held: a snapshot is worth it only a tenth of that behind (20 events)
        assert hub.asked_backlog == [5, len(signals) // local.FEED_EVENT_COST_IN_SIGNALS, 0]


def test_a_replica_at_a_decimal_cursor_of_the_old_form_starts_over_from_a_snapshot(
    tmp_path: Path,
) -> None:
    signals = make_signals(9)
    hub = FakeHub(signals, added(signals))
    with LocalReplica(tmp_path / "old") as replica:
        replica.sync(hub, snapshot=False)  # type: ignore[arg-type]
        with replica.env.begin(write=True) as txn:
            txn.put(b"cursor", b"37", db=replica._meta)  # as hubs gave them before issue 19
        before = replica_items(replica)
        with pytest.raises(SignalhubError, match="decimal cursor of the old form"):
            replica.sync(hub, snapshot=False)  # type: ignore[arg-type]
        assert replica_items(replica) == before and replica.cursor == "37"  # nothing changed
        replica.sync(hub)  # type: ignore[arg-type]
        assert hub.asked_backlog[-1] == 0  # a full snapshot, whatever the backlog
        assert replica.last_snapshot is not None
        assert replica.cursor == tok(len(signals))
        assert replica.count() == len(signals)
