"""Onboarding from a signed snapshot against a real hub: a replica started from a snapshot
equals one that replayed the feed from cursor 0 (every signal byte for byte, the same cursor),
before and after more changes; a snapshot holds exactly what its member may see; min_backlog;
a tampered snapshot is refused with nothing written; `sync --local` picks a snapshot by itself;
bad requests are refused and store nothing.

The history is not trivial on purpose: five members, two privacy groups, corroborations with
other labels inside a group (views of one signal differ per member), a video, a classifier
verdict, opinions, retractions, expiries, group changes, and a tail of events some members may
not see (their replicas' cursors stop before the hub's feed sequence)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from hubtools import HubProcess, cursor_at, feed_sequence, new_hub, run_cli, store_fingerprint

from client_sdk import Client, MatchResult, NotFound, Signal, SignalhubError
from client_sdk.errors import SnapshotRejected
from client_sdk.local import LocalReplica
from client_sdk.snapshot import (
    CHUNK_FIELD,
    TRAILER_FIELD,
    Snapshot,
    SnapshotSignals,
    read_snapshot,
    response_part,
)
from exchange.server import lmdb_path
from exchange.store import Store
from signalhub import domain
from signalhub.v1 import exchange_pb2
from signalhub.vpdq_format import VpdqFrame, vpdq_text

MEMBERS = ("acme", "beta", "gamma", "delta", "echo")
TAIL_CACHE_SECONDS = 2.2
"""The hub shares feed events it read in the last 2 s between subscribers, showing their
signal as it was then (exchange.service.feed._TailCache): a feed replayed within that time of a
change can show a view up to 2 s old. The comparisons wait it out."""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = new_hub(tmp_path_factory.mktemp("snapshot"), extra=("--expiry-interval", "0.3"))
    yield process
    if process.proc is not None:
        process.stop()


@pytest.fixture(scope="module")
def keys(hub: HubProcess, keys_dir: Path) -> dict[str, Path]:
    return {name: hub.add_member(name, keys_dir) for name in MEMBERS}


def client(hub: HubProcess, keys: dict[str, Path], name: str) -> Client:
    return hub.client(name, keys[name])


@dataclass
class History:
    signal_ids: set[str] = field(default_factory=set)
    queries: list[tuple[str, str]] = field(default_factory=list)
    cg_only: list[str] = field(default_factory=list)
    """Signals only the group cg may see."""
    shared_in_ab: list[str] = field(default_factory=list)
    """Public signals of acme's that beta also shared with ab under another label."""


def _flip(hex_hash: str, bits: int, rng: random.Random) -> str:
    value = int(hex_hash, 16)
    for b in rng.sample(range(256), bits):
        value ^= 1 << b
    return f"{value:064x}"


def _wait_until(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _gone(c: Client, sid: str) -> bool:
    try:
        c.get_signal(sid)
    except NotFound:
        return True
    return False


@pytest.fixture(scope="module")
def history(hub: HubProcess, keys: dict[str, Path]) -> History:
    rng = random.Random(14)
    out = History()

    def pdq() -> str:
        return f"{rng.getrandbits(256):064x}"

    with hub.admin() as admin:
        admin.add_group_members("ab", ["acme", "beta"])
        admin.add_group_members("cg", ["gamma", "delta"])
    a, b, g, d = (client(hub, keys, n) for n in ("acme", "beta", "gamma", "delta"))
    try:
        base = pdq()
        acme_values = [pdq() for _ in range(36)] + [_flip(base, n, rng) for n in (0, 6, 12, 40)]
        frames = [VpdqFrame(pdq(), 80, float(t)) for t in range(6)]
        verdict = domain.validate_verdict("acme-csam-v3", 0.93, True)
        acme_signals = [Signal("pdq", v, labels=("csam",), tags=("t1",)) for v in acme_values]
        acme_signals[5] = Signal("pdq", acme_values[5], labels=("csam",), classifier=verdict)
        acme_signals += [
            Signal("md5", "d41d8cd98f00b204e9800998ecf8427e", labels=("csam",)),
            Signal("url", "https://bad.example.com/x", labels=("grooming",)),
            Signal("vpdq", vpdq_text(frames), labels=("csam",)),
        ]
        ids = [r.signal_id for r in a.submit(acme_signals).items]
        out.signal_ids.update(ids)
        # beta corroborates some publicly, shares new ones and some of acme's with ab only
        b.submit([Signal("pdq", v, labels=("ncii",)) for v in acme_values[:8]])
        ab_new = [pdq() for _ in range(8)]
        shared = b.submit(
            [Signal("pdq", v, labels=("sextortion",)) for v in ab_new + acme_values[8:13]],
            audience=["ab"],
        )
        out.signal_ids.update(r.signal_id for r in shared.items)
        out.shared_in_ab = ids[8:13]
        # gamma and delta share with cg
        cg_new = [pdq() for _ in range(6)]
        result = g.submit(
            [Signal("pdq", v, labels=("grooming",)) for v in cg_new + acme_values[13:16]],
            audience=["cg"],
        )
        out.cg_only = [r.signal_id for r in result.items[:6]]
        out.signal_ids.update(out.cg_only)
        # delta's expiring signals: two of them beta keeps
        soon = datetime.now(UTC) + timedelta(seconds=1.5)
        expiring = [pdq() for _ in range(4)]
        result = d.submit([Signal("pdq", v, labels=("ncii",), expires_at=soon) for v in expiring])
        expiring_ids = [r.signal_id for r in result.items]
        out.signal_ids.update(expiring_ids)
        b.submit([Signal("pdq", v, labels=("ncii",)) for v in expiring[:2]])
        # opinions
        g.set_opinion(ids[0], "false_positive")
        b.set_opinion(ids[0], "true_positive")
        d.set_opinion(out.cg_only[0], "disputed")
        a.set_opinion(shared.items[0].signal_id, "true_positive")
        # retractions: one corroborated (stays, with beta's labels), two removed
        a.retract([ids[1], ids[20], ids[21]])
        # group changes
        with hub.admin() as admin:
            admin.add_group_members("ab", ["echo"])
            admin.remove_group_members("cg", ["delta"])
        _wait_until(lambda: all(_gone(a, sid) for sid in expiring_ids[2:]))
        # a tail only cg may see: acme's, beta's and echo's cursors stop before the hub's
        tail = g.submit([Signal("pdq", pdq(), labels=("grooming",)) for _ in range(3)],
                        audience=["cg"])  # fmt: skip
        out.cg_only += [r.signal_id for r in tail.items]
        out.signal_ids.update(out.cg_only)
    finally:
        for c in (a, b, g, d):
            c.close()
    out.queries = [("pdq", v) for v in acme_values[:3] + acme_values[-4:] + ab_new[:2] + cg_new[:2]]
    out.queries += [
        ("pdq", _flip(acme_values[2], 9, rng)),
        ("pdq", frames[3].pdq),
        ("vpdq", vpdq_text(frames[1:5])),
        ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
        ("url", "https://bad.example.com/x"),
    ]
    return out


def replica_signals(path: Path) -> tuple[str, dict[bytes, bytes]]:
    """(cursor, every stored signal's raw bytes by key), read from the replica's LMDB."""
    with LocalReplica(path) as replica, replica.env.begin() as txn:
        signals = {bytes(k): bytes(v) for k, v in txn.cursor(db=replica._signals)}
        return replica.cursor, signals


def replica_bytes(path: Path) -> dict[bytes, list[tuple[bytes, bytes]]]:
    """Every database of a replica, key and value: equal means nothing was written."""
    with LocalReplica(path) as replica, replica.env.begin() as txn:
        out = {b"meta": [(bytes(k), bytes(v)) for k, v in txn.cursor(db=replica._meta)]}
        for name, db in ((b"signals", replica._signals), (b"pdq", replica._pdq),
                         (b"pdq_rows", replica._pdq_rows), (b"typed", replica._typed)):  # fmt: skip
            out[name] = [(bytes(k), bytes(v)) for k, v in txn.cursor(db=db)]
        return out


def hub_feed_sequence(hub: HubProcess) -> int:
    store = Store(lmdb_path(hub.data_dir), readonly=True)
    try:
        with store.read() as view:
            return view.counter("feed_seq")
    finally:
        store.close()


Answers = list[list[tuple[object, ...]]]


def answers_of(results: list[MatchResult]) -> Answers:
    """Match results in a comparable form: the hub ranks equally distant matches by its row
    order, a replica by signal id, so each query's matches are compared as a sorted list."""
    return [
        sorted((m.signal.signal_id, json.dumps(m.signal.to_json(), sort_keys=True), m.distance,
                m.frame_timestamp, m.query_match_percent, m.compared_match_percent)
               for m in r.matches)
        for r in results
    ]  # fmt: skip


def local_answers(path: Path, queries: list[tuple[str, str]]) -> Answers:
    with LocalReplica(path) as replica:
        return answers_of(replica.match(queries))


def test_snapshot_started_replica_equals_one_replayed_from_cursor_zero(
    hub: HubProcess, keys: dict[str, Path], history: History, tmp_path: Path
) -> None:
    time.sleep(TAIL_CACHE_SECONDS)
    head = hub_feed_sequence(hub)
    behind = []
    for name in MEMBERS:
        with client(hub, keys, name) as c:
            with LocalReplica(tmp_path / f"{name}-feed") as fed:
                fed.sync(c, snapshot=False)
                assert fed.last_snapshot is None
            with LocalReplica(tmp_path / f"{name}-snap") as snap:
                snap.sync(c, snapshot_min_backlog=0)
                assert snap.last_snapshot is not None
                assert snap.last_snapshot.cursor == snap.cursor
            fed_cursor, fed_signals = replica_signals(tmp_path / f"{name}-feed")
            snap_cursor, snap_signals = replica_signals(tmp_path / f"{name}-snap")
            assert fed_cursor == snap_cursor, name
            assert fed_signals == snap_signals, name  # byte for byte
            assert len(fed_signals) > 0
            if feed_sequence(hub.data_dir, fed_cursor) < head:
                behind.append(name)
            answers = local_answers(tmp_path / f"{name}-snap", history.queries)
            assert answers == local_answers(tmp_path / f"{name}-feed", history.queries)
            assert answers == answers_of(c.match(history.queries)), name  # the hub's answers
    assert set(behind) == {"acme", "beta", "delta", "echo"}  # the cg tail moved no cursor

    # More changes; both replicas follow the feed (the backlog is small) and stay equal.
    rng = random.Random(99)
    with client(hub, keys, "acme") as a, client(hub, keys, "beta") as b:
        new = a.submit([Signal("pdq", f"{rng.getrandbits(256):064x}") for _ in range(4)])
        a.submit([Signal("pdq", f"{rng.getrandbits(256):064x}")], audience=["ab"])
        b.retract([history.shared_in_ab[0]])
        b.set_opinion(new.items[0].signal_id, "disputed")
    with hub.admin() as admin:
        admin.remove_group_members("ab", ["echo"])
        admin.add_group_members("cg", ["echo"])
    time.sleep(TAIL_CACHE_SECONDS)
    for name in MEMBERS:
        with client(hub, keys, name) as c:
            for kind in ("feed", "snap"):
                with LocalReplica(tmp_path / f"{name}-{kind}") as replica:
                    replica.sync(c)
                    assert replica.last_snapshot is None
        assert replica_signals(tmp_path / f"{name}-feed") == replica_signals(
            tmp_path / f"{name}-snap"
        ), name
        assert local_answers(tmp_path / f"{name}-feed", history.queries) == local_answers(
            tmp_path / f"{name}-snap", history.queries
        )


def test_a_snapshot_holds_exactly_what_the_member_may_see(
    hub: HubProcess, keys: dict[str, Path], history: History
) -> None:
    views: dict[str, dict[str, tuple[str, ...]]] = {}
    for name in MEMBERS:
        with client(hub, keys, name) as c:
            snapshot = c.snapshot()
            assert snapshot.count == len(snapshot.signals) and not snapshot.not_needed
            got = {s.signal_id: s for s in snapshot.signals}
            for sid in history.signal_ids:
                try:
                    remote = c.get_signal(sid).signal
                except NotFound:
                    assert sid not in got, (name, sid)
                    continue
                assert got[sid].to_json() == remote.to_json(), (name, sid)
            views[name] = {sid: s.labels for sid, s in got.items()}
    for name in ("acme", "beta"):  # never in cg
        assert not set(history.cg_only) & set(views[name])
    assert set(history.cg_only) <= set(views["gamma"])
    # one signal, two views: ab's label shows to ab's members only
    sid = history.shared_in_ab[-1]
    assert "sextortion" in views["acme"][sid] and "sextortion" in views["beta"][sid]
    assert views["gamma"][sid] == ("csam",)


def test_min_backlog_answers_not_needed_when_the_feed_is_close(
    hub: HubProcess, keys: dict[str, Path], history: History
) -> None:
    with client(hub, keys, "acme") as c:
        full = c.snapshot(min_backlog=1)
        assert not full.not_needed and full.count > 0 and full.cursor
        head = hub_feed_sequence(hub)
        sent = len(list(c.fetch()))  # the backlog counts the events acme would be sent
        assert 0 < sent < head  # acme may not see every event
        at_head = cursor_at(hub.data_dir, head)
        for after, backlog in ((full.cursor, 1000), ("", sent), (at_head, 1)):
            close = c.snapshot(after=after, min_backlog=backlog)
            assert close.not_needed and close.count == 0 and close.signals == ()
            assert close.hub_public_key == b""
        again = c.snapshot(after="", min_backlog=sent - 1)
        assert not again.not_needed and again.count == full.count
        assert c.snapshot(after=at_head, min_backlog=0).count == full.count  # 0: always


class TamperingClient(Client):
    """A client whose snapshots pass through `tamper` (the messages as raw bytes) before the
    SDK reads them: a test-only stand-in for anything between the hub and the member."""

    def __init__(
        self, hub: HubProcess, member: str, key: Path, tamper: Callable[[list[bytes]], list[bytes]]
    ) -> None:
        super().__init__(hub.endpoint, member, key)
        self.tamper = tamper

    def snapshot(
        self,
        after: str = "",
        *,
        min_backlog: int = 0,
        hub_key: bytes | None = None,
        on_header: Callable[[Snapshot], None] | None = None,
        on_signals: SnapshotSignals | None = None,
    ) -> Snapshot:
        method = "/signalhub.v1.Exchange/GetSnapshot"
        body = exchange_pb2.GetSnapshotRequest(after=after, min_backlog=min_backlog)
        raw = body.SerializeToString()
        call = self._conn.channel.unary_stream(
            method, request_serializer=lambda b: b, response_deserializer=lambda b: b
        )
        messages = list(call(raw, metadata=self._conn.signer.call_metadata(method, raw)))
        return read_snapshot(self.tamper(messages), self.member_id, hub_key, on_header,
                             on_signals)  # fmt: skip


def _edit_chunk(messages: list[bytes]) -> list[bytes]:
    """One label of one signal changed inside the first chunk (same length)."""
    out = list(messages)
    for i, raw in enumerate(out):
        field_number, payload = response_part(raw)
        if field_number == CHUNK_FIELD:
            assert b"csam" in payload
            out[i] = raw.replace(b"csam", b"ncii", 1)
            return out
    raise AssertionError("no chunk")


def _redigest(messages: list[bytes], key: object | None = None) -> list[bytes]:
    """The edited chunk with a trailer whose digest matches it (and, with `key`, re-signed by
    that key): the hub's signature no longer fits."""
    from exchange.snapshot import framed, signed_trailer

    out = _edit_chunk(messages)
    digest = domain.SnapshotDigest()
    for raw in out[:-1]:
        digest.update(response_part(raw)[1])
    field_number, payload = response_part(out[-1])
    assert field_number == TRAILER_FIELD
    trailer = exchange_pb2.SnapshotTrailer.FromString(payload)
    if key is None:
        trailer.digest = digest.digest()
    else:
        trailer.CopyFrom(signed_trailer(key, digest.digest()))  # type: ignore[arg-type]
    out[-1] = framed(TRAILER_FIELD, trailer.SerializeToString())
    return out


TAMPERINGS: dict[str, tuple[Callable[[list[bytes]], list[bytes]], str]] = {
    "edited signal": (_edit_chunk, "does not match its digest"),
    "edited signal, digest recomputed": (_redigest, "signature does not verify"),
    "re-signed by another key": (
        lambda m: _redigest(m, domain.new_private_key()),
        "not by the trusted",
    ),
    "chunk dropped": (lambda m: m[:1] + m[2:], "does not match its digest"),
    "trailer dropped": (lambda m: m[:-1], "ended before its trailer"),
}


@pytest.mark.parametrize("how", sorted(TAMPERINGS))
def test_tampered_snapshot_is_refused_and_writes_nothing(
    hub: HubProcess, keys: dict[str, Path], history: History, tmp_path: Path, how: str
) -> None:
    tamper, reason = TAMPERINGS[how]
    hub_key = domain.read_public_key(Path(f"{hub.data_dir / 'hub.key'}.pub"))
    with TamperingClient(hub, "beta", keys["beta"], tamper) as tampering:
        with client(hub, keys, "beta") as genuine, LocalReplica(tmp_path / "held") as held:
            held.sync(genuine, snapshot_min_backlog=0)  # its hub key pinned now
            assert held.hub_key == hub_key and held.count() > 0
        # a replica holding that snapshot (trusting its pinned key), and an empty one given the
        # hub's key explicitly
        for path, explicit in ((tmp_path / "held", None), (tmp_path / "empty", hub_key)):
            LocalReplica(path).close()
            before = replica_bytes(path)
            with LocalReplica(path) as replica, pytest.raises(SnapshotRejected, match=reason):
                replica.sync(tampering, snapshot_min_backlog=0, hub_key=explicit)
            assert replica_bytes(path) == before
    with LocalReplica(tmp_path / "empty") as replica:
        assert replica.count() == 0 and replica.cursor == "" and replica.hub_key is None


def test_sync_local_starts_from_a_snapshot_when_far_behind(
    hub: HubProcess, keys: dict[str, Path], history: History, tmp_path: Path
) -> None:
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "delta",
           "SIGNALHUB_KEY": str(keys["delta"])}  # fmt: skip
    hub_pub = f"{hub.data_dir / 'hub.key'}.pub"

    def sync(*args: str) -> dict[str, Any]:
        out = run_cli("sync", *args, "--json", env=env, check=True)
        result: dict[str, Any] = json.loads(out.stdout)
        return result

    far = sync("--local", str(tmp_path / "far"), "--snapshot-min-backlog", "20",
               "--hub-key", hub_pub)  # fmt: skip
    snapshot = far["snapshot"]
    assert isinstance(snapshot, dict) and snapshot["signals"] == far["signals"] > 0
    assert snapshot["cursor"] == far["cursor"]
    assert snapshot["hub_key_id"] == domain.key_id(domain.read_public_key(Path(hub_pub)))
    close = sync("--local", str(tmp_path / "far"), "--snapshot-min-backlog", "20")
    assert close == {**far, "applied": 0, "snapshot": None}
    fed = sync("--local", str(tmp_path / "fed"), "--no-snapshot")
    assert fed["snapshot"] is None and fed["applied"] > 0
    assert (fed["cursor"], fed["signals"]) == (far["cursor"], far["signals"])
    default = sync("--local", str(tmp_path / "default"))  # a small hub: the feed is quicker
    assert default["snapshot"] is None and default["signals"] == far["signals"]
    assert replica_signals(tmp_path / "far") == replica_signals(tmp_path / "fed")
    # a key other than the hub's: refused, nothing written
    wrong = run_cli("sync", "--local", str(tmp_path / "wrong"), "--snapshot-min-backlog", "0",
                    "--hub-key", f"{keys['acme']}.pub", env=env)  # fmt: skip
    assert wrong.returncode == 1 and "not by the trusted" in wrong.stderr
    with LocalReplica(tmp_path / "wrong") as replica:
        assert replica.count() == 0 and replica.cursor == ""
    bad = run_cli("sync", "--local", str(tmp_path / "x"), "--snapshot-min-backlog", "-1", env=env)
    assert bad.returncode == 1 and "--snapshot-min-backlog" in bad.stderr
    match = run_cli("match", "--pdq", history.queries[0][1], "--local", str(tmp_path / "far"),
                    "--json", check=True)  # fmt: skip
    fed_match = run_cli("match", "--pdq", history.queries[0][1], "--local", str(tmp_path / "fed"),
                        "--json", check=True)  # fmt: skip
    assert json.loads(match.stdout) == json.loads(fed_match.stdout)
    assert json.loads(match.stdout)["matches"]


@pytest.mark.parametrize(
    ("after", "min_backlog", "field_name"),
    [("abc", 0, "after"), ("-1", 0, "after"), ("1.5", 0, "after"), (" 7", 0, "after"),
     ("9" * 20, 0, "after"), ("", -1, "min_backlog")],
)  # fmt: skip
def test_bad_after_or_min_backlog_is_refused_and_stores_nothing(
    hub: HubProcess,
    keys: dict[str, Path],
    history: History,
    after: str,
    min_backlog: int,
    field_name: str,
) -> None:
    before = store_fingerprint(hub.data_dir)
    with client(hub, keys, "echo") as c, pytest.raises(SignalhubError) as info:
        c.snapshot(after=after, min_backlog=min_backlog)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.violations[0][0] == field_name
    assert store_fingerprint(hub.data_dir) == before
