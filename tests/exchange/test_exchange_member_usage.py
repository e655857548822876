"""The per-member usage view's sources, without a server: the live-submission counters the
store keeps (and recounts once for an older store), and the usage kinds `s` (submissions, added
up) and `l` (last seen, the later time wins)."""

from __future__ import annotations

import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp

from client_sdk.signing import Signer
from exchange import usage
from exchange.ledger import append_and_apply
from exchange.store import LIVE_SUBMISSIONS, LIVE_SUBMISSIONS_COUNTED, Store, StoreTxn
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2


def _stamp() -> Timestamp:
    ts = Timestamp()
    ts.GetCurrentTime()
    return ts


def _submit(store: Store, signer: Signer, values: list[str]) -> None:
    signals = [common_pb2.SignalSubmission(type="md5", value=v) for v in values]
    envelope = signer.envelope(uuid.uuid4().hex, signals)
    entry = rec.LogEntry(received_at=_stamp(), window_seconds=300,
                         submit=rec.SubmitCommand(envelope=envelope))  # fmt: skip
    store.write(lambda tx: append_and_apply(tx, entry))


def _retract(store: Store, signer: Signer, values: list[str]) -> None:
    ids = [domain.signal_id("md5", v) for v in values]
    retraction = common_pb2.Retraction(
        member_id=signer.member_id, request_id=uuid.uuid4().hex, created_at=_stamp(), signal_ids=ids
    )
    payload = retraction.SerializeToString()
    envelope = signer.sign_payload(domain.RETRACTION_SIGNING_PREFIX, payload)
    entry = rec.LogEntry(received_at=_stamp(), window_seconds=300,
                         retract=rec.SignedCommand(envelope=envelope))  # fmt: skip
    store.write(lambda tx: append_and_apply(tx, entry))


def _live(store: Store, *members: str) -> list[int]:
    with store.read() as view:
        return [view.live_submissions(m) for m in members]


def test_live_submissions_follow_submits_and_retractions_and_are_recounted_once(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "lmdb", sync=False)
    try:
        signers = {}
        for name in ("acme", "beta"):
            key = Ed25519PrivateKey.generate()
            signers[name] = Signer(name, key)
            command = rec.AddMemberCommand(member_id=name, public_key=domain.raw_public_key(key))
            entry = rec.LogEntry(received_at=_stamp(), add_member=command)
            store.write(lambda tx, entry=entry: append_and_apply(tx, entry))
        v = [f"{i:032x}" for i in range(5)]
        _submit(store, signers["acme"], [v[0], v[1], v[1], v[2]])  # a repeat is stored once
        _submit(store, signers["acme"], [v[0]])  # a re-submission is a submission of its own
        _submit(store, signers["beta"], [v[0], v[3]])
        assert _live(store, "acme", "beta") == [4, 2]
        _retract(store, signers["acme"], [v[0], v[2]])  # both of acme's v0 and its v2
        assert _live(store, "acme", "beta", "nobody") == [1, 2, 0]

        def forget(tx: StoreTxn) -> None:  # as a store written before the counters existed
            for name in (LIVE_SUBMISSIONS + "acme", LIVE_SUBMISSIONS + "beta",
                         LIVE_SUBMISSIONS_COUNTED):  # fmt: skip
                tx.txn.delete(name.encode(), db=tx.dbs["meta"])

        store.write(forget)
        assert _live(store, "acme", "beta") == [0, 0]
    finally:
        store.close()
    store = Store(tmp_path / "lmdb", sync=False)
    try:
        assert _live(store, "acme", "beta") == [1, 2]
    finally:
        store.close()


def test_submissions_add_up_and_last_seen_keeps_the_later_time(tmp_path: Path) -> None:
    day = 20_000
    t = day * 86_400 + 3600.0
    counter = usage.UsageCounter()
    counter.record_submission("acme", 3, now=t)
    counter.record_submission("acme", 2, now=t + 60)
    counter.record_seen("acme", now=t + 60)
    counter.record_seen("acme", now=t)  # out of order (another thread): the later one stays
    store = Store(tmp_path / "lmdb", sync=False)
    try:
        store.write(lambda tx: tx.add_stats(counter.take()))
        counter.record_seen("acme", now=t + 30)  # older than what is stored
        counter.record_submission("acme", 1, now=t + 86_400)
        taken = counter.take()
        counter.restore(taken)  # a failed write puts them back, unchanged
        assert counter.take() == taken
        store.write(lambda tx: tx.add_stats(taken))
        with store.read() as view:
            rows = [usage.decode_submissions(k, v)
                    for k, v in view.stats(usage.SUBMISSIONS, day, day + 1)]  # fmt: skip
            seen = view.stat(usage.last_seen_key("acme"))
            assert view.stat(usage.last_seen_key("beta")) is None
    finally:
        store.close()
    assert [(r.day, r.member_id, r.signals, r.batches) for r in rows] == [
        (day, "acme", 5, 2), (day + 1, "acme", 1, 1)]  # fmt: skip
    assert seen is not None and usage.decode_last_seen(seen) == int((t + 60) * 1000)
