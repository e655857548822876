"""The deterministic write path, without a server: apply entries to a real LMDB store."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp

from client_sdk.signing import Signer
from exchange.errors import HubError
from exchange.ledger import Applied, PreparedBatch, append_and_apply
from exchange.store import Store
from exchange.writer import _apply_group, _Pending
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2, exchange_pb2

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def stamp(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "lmdb")
    yield s
    s.close()


def apply(store: Store, entry: rec.LogEntry) -> Applied:
    """Appends and applies one entry as the writer does (savepoint per entry)."""
    return store.write(lambda tx: append_and_apply(tx, entry))


def add_member(store: Store, name: str, key: Ed25519PrivateKey, when: datetime = T0) -> None:
    apply(
        store,
        rec.LogEntry(
            received_at=stamp(when),
            add_member=rec.AddMemberCommand(member_id=name, public_key=domain.raw_public_key(key)),
        ),
    )


def submit_entry(
    signer: Signer,
    batch_id: str,
    values: list[str],
    created: datetime = T0,
    received: datetime = T0,
    labels: tuple[str, ...] = (),
) -> rec.LogEntry:
    signals = [common_pb2.SignalSubmission(type="pdq", value=v, labels=labels) for v in values]
    envelope = signer.envelope(batch_id, signals, created_at=created)
    return rec.LogEntry(received_at=stamp(received), submit=rec.SubmitCommand(envelope=envelope))


def statuses(applied: Applied) -> list[str]:
    response = applied.response
    assert isinstance(response, exchange_pb2.SubmitSignalsResponse)
    return [
        exchange_pb2.SubmitStatus.Name(r.status).removeprefix("SUBMIT_STATUS_").lower()
        for r in response.results
    ]


def fingerprint(store: Store) -> str:
    h = hashlib.sha256()
    with store.read() as view:
        for name, db in sorted(store.dbs.items()):
            for key, value in view.txn.cursor(db=db):
                h.update(name.encode() + bytes(key) + bytes(value))
    return h.hexdigest()


@pytest.fixture
def acme(store: Store) -> Signer:
    key = domain.new_private_key()
    add_member(store, "acme", key)
    return Signer("acme", key)


@pytest.fixture
def beta(store: Store) -> Signer:
    key = domain.new_private_key()
    add_member(store, "beta", key)
    return Signer("beta", key)


def test_new_corroborated_duplicate_and_in_batch_duplicate(
    store: Store, acme: Signer, beta: Signer
) -> None:
    a, b = "aa" * 32, "bb" * 32
    assert statuses(apply(store, submit_entry(acme, "1", [a, b, a]))) == [
        "new", "new", "duplicate"]  # fmt: skip
    assert statuses(apply(store, submit_entry(beta, "2", [a]))) == ["corroborated"]
    assert statuses(apply(store, submit_entry(acme, "3", [b]))) == ["duplicate"]
    with store.read() as view:
        record = view.signal(domain.signal_id("pdq", a))
        assert record is not None
        assert list(record.members) == ["acme", "beta"] and record.signal.corroboration == 2
        assert len(view.submissions(domain.signal_id("pdq", a))) == 2
        assert [r.event.cursor for r in view.feed(0, 100)] == ["1", "2", "3", "4"]
        assert view.counter("pdq_rows") == 2


def test_replay_returns_first_answer_even_after_the_window(store: Store, acme: Signer) -> None:
    first = apply(store, submit_entry(acme, "r", ["cc" * 32]))
    before = fingerprint(store)
    late = T0 + timedelta(hours=5)
    again = apply(store, submit_entry(acme, "r", ["cc" * 32], created=late, received=late))
    assert not again.stored and again.response.replayed  # type: ignore[union-attr]
    assert list(again.response.results) == list(first.response.results)  # type: ignore[union-attr]
    assert fingerprint(store) == before


def test_same_batch_id_other_content_is_already_exists(store: Store, acme: Signer) -> None:
    apply(store, submit_entry(acme, "x", ["cc" * 32]))
    before = fingerprint(store)
    with pytest.raises(HubError) as info:
        apply(store, submit_entry(acme, "x", ["dd" * 32]))
    assert info.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert fingerprint(store) == before


def test_stale_batch_is_refused_by_the_recorded_receive_time(store: Store, acme: Signer) -> None:
    before = fingerprint(store)
    late = T0 + timedelta(seconds=domain.REPLAY_WINDOW_SECONDS + 1)
    with pytest.raises(HubError) as info:
        apply(store, submit_entry(acme, "s", ["ee" * 32], created=T0, received=late))
    assert (info.value.code, info.value.auth_reason) == (grpc.StatusCode.UNAUTHENTICATED, "stale")
    assert fingerprint(store) == before


def test_group_commit_keeps_each_batch_all_or_nothing(store: Store, acme: Signer) -> None:
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        entries = [
            submit_entry(acme, "g1", ["01" * 32]),
            submit_entry(acme, "g2", ["02" * 32, "zz"]),  # bad item: whole batch refused
            submit_entry(acme, "g3", ["03" * 32]),
        ]
        group = [_Pending(e, loop.create_future(), loop) for e in entries]
        outcomes = store.write(lambda tx: _apply_group(tx, group=group))
    finally:
        loop.close()
    assert isinstance(outcomes[0], Applied) and isinstance(outcomes[2], Applied)
    assert isinstance(outcomes[1], HubError)
    assert outcomes[1].violations[0][0] == "signals[1].value"
    with store.read() as view:
        assert view.signal(domain.signal_id("pdq", "02" * 32)) is None
        assert view.batch("acme", "g2") is None
        assert view.counter("log_seq") == 3  # acme's registration, g1, g3
        assert [r.event.signal.value for r in view.feed(0, 10)] == ["01" * 32, "03" * 32]


def test_replaying_the_log_rebuilds_identical_state(
    store: Store, acme: Signer, beta: Signer, tmp_path: Path
) -> None:
    values = [f"{i:064x}" for i in range(30)]
    for i in range(10):
        signer = acme if i % 2 else beta
        chosen = values[i : i + 5]
        apply(store, submit_entry(signer, f"b{i}", chosen, labels=("csam",) if i % 3 else ()))
    apply(store, submit_entry(acme, "b1", values[1:6], labels=("csam",)))  # replay: not logged
    with store.read() as view:
        log = [view.log_entry(n) for n in range(1, view.counter("log_seq") + 1)]
    replica = Store(tmp_path / "replica")
    try:
        for entry in log:
            assert entry is not None
            apply(replica, entry)
        assert fingerprint(replica) == fingerprint(store)
    finally:
        replica.close()


def test_the_prechecks_hint_changes_nothing_and_a_foreign_hint_is_ignored(
    store: Store, acme: Signer, beta: Signer, tmp_path: Path
) -> None:
    """The server hands apply the precheck's validation of a payload; the state must be exactly
    what apply computes on its own, and a hint of another payload must not be used."""
    values = [f"{i:064x}" for i in range(12)]
    entries = [
        submit_entry(acme, "h1", values[:6], labels=("csam",)),
        submit_entry(beta, "h2", values[3:9]),  # corroborates three
        submit_entry(acme, "h3", [values[9], values[9], values[10]]),  # in-batch duplicate
    ]
    extra = common_pb2.SignalSubmission(
        type="url", value="HTTPS://Example.COM/a", tags=("t",), industry="social", confidence=70
    )
    entries.append(
        rec.LogEntry(
            received_at=stamp(T0),
            submit=rec.SubmitCommand(envelope=acme.envelope("h4", [extra], created_at=T0)),
        )
    )
    for entry in entries:
        apply(store, entry)
    hinted = Store(tmp_path / "hinted")
    try:
        add_member(hinted, "acme", acme.private_key)
        add_member(hinted, "beta", beta.private_key)
        for entry in entries:
            hint = PreparedBatch.of(entry.submit.envelope.payload)
            hinted.write(lambda tx, e=entry, h=hint: append_and_apply(tx, e, h))
        assert fingerprint(hinted) == fingerprint(store)
        # A hint of another payload: apply validates the entry itself and refuses the bad value.
        bad = submit_entry(acme, "h5", ["zz"])
        foreign = PreparedBatch.of(entries[0].submit.envelope.payload)
        before = fingerprint(hinted)
        with pytest.raises(HubError) as info:
            hinted.write(lambda tx: append_and_apply(tx, bad, foreign))
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert fingerprint(hinted) == before
    finally:
        hinted.close()


def test_store_grows_its_map_instead_of_failing(tmp_path: Path) -> None:
    small = Store(tmp_path / "small", map_bytes=256 * 1024)
    try:
        key = domain.new_private_key()
        add_member(small, "acme", key)
        signer = Signer("acme", key)
        for i in range(20):
            apply(small, submit_entry(signer, f"m{i}", [f"{i:04x}{j:060x}" for j in range(50)]))
        used, size = small.map_bytes()
        assert size > 256 * 1024 and used <= size
        with small.read() as view:
            assert view.entries("signals") == 1000
    finally:
        small.close()


def test_random_history_with_groups_keys_and_audiences_replays_identically(
    store: Store, tmp_path: Path
) -> None:
    """Every kind of entry, in a random order, rebuilds byte-identical state on replay."""
    import random

    from exchange.audit import verify_store

    rng = random.Random(7)
    names = ["m1", "m2", "m3"]
    signers: dict[str, Signer] = {}
    for n in names:
        key = domain.new_private_key()
        add_member(store, n, key)
        signers[n] = Signer(n, key)
    when = T0

    def entry(**command: object) -> rec.LogEntry:
        return rec.LogEntry(received_at=stamp(when), **command)  # type: ignore[arg-type]

    for step in range(120):
        when = T0 + timedelta(seconds=step)
        roll = rng.random()
        if roll < 0.15:
            members = rng.sample(names, rng.randint(1, 3))
            command = rec.GroupMembersCommand(group_id=rng.choice(["g1", "g2"]), member_ids=members)
            which = "add_group_members" if rng.random() < 0.7 else "remove_group_members"
            with contextlib.suppress(HubError):  # removing from a group not created yet
                apply(store, entry(**{which: command}))
        elif roll < 0.2:
            new = domain.new_private_key()
            who = rng.choice(names)
            added = rec.AddKeyCommand(member_id=who, public_key=domain.raw_public_key(new))
            apply(store, entry(add_key=added))
            old = signers[who].key_id
            apply(store, entry(revoke_key=rec.RevokeKeyCommand(member_id=who, key_id=old)))
            signers[who] = Signer(who, new)
        else:
            who = rng.choice(names)
            with store.read() as view:
                member = view.member(who)
                groups = list(member.group_ids) if member else []
            audience = rng.sample(groups, rng.randint(0, len(groups)))
            values = [f"{rng.randrange(40):064x}" for _ in range(rng.randint(1, 4))]
            signals = [common_pb2.SignalSubmission(type="pdq", value=v) for v in values]
            envelope = signers[who].envelope(
                f"b{step}", signals, created_at=when, audience=audience
            )
            apply(store, entry(submit=rec.SubmitCommand(envelope=envelope)))
    report = verify_store(store)  # chain + replay of the whole log into a fresh store
    assert report.ok, report.problems
    assert report.entries > 120
    with store.read() as view:
        assert view.entries("group_signals") > 0 and view.entries("feed") > 100


def test_an_erasure_overtaken_by_a_video_carrying_the_hash_is_refused_until_scanned_again(
    store: Store, acme: Signer
) -> None:
    """The scan for signals carrying an erased value runs before the command is appended; a
    video stored in between with the hash as a frame makes apply refuse (ABORTED, nothing
    written), and a new scan erases it too."""
    from exchange.erasure import erase_command
    from signalhub.vpdq_format import VpdqFrame, vpdq_text

    hash_ = "3c" * 32
    sid = domain.signal_id("pdq", hash_)
    apply(store, submit_entry(acme, "b1", [hash_]))
    stale = erase_command(store, sid, "court order")
    video = vpdq_text([VpdqFrame("4d" * 32, 90, 0.0), VpdqFrame(hash_, 90, 1.0)])
    envelope = acme.envelope("b2", [common_pb2.SignalSubmission(type="vpdq", value=video)],
                             created_at=T0)  # fmt: skip
    apply(store, rec.LogEntry(received_at=stamp(T0), submit=rec.SubmitCommand(envelope=envelope)))

    def erase(command: rec.EraseSignalCommand) -> Applied:
        return apply(store, rec.LogEntry(received_at=stamp(T0), erase_signal=command))

    before = fingerprint(store)
    with pytest.raises(HubError) as refused:
        erase(stale)
    assert refused.value.code is grpc.StatusCode.ABORTED
    assert fingerprint(store) == before
    applied = erase(erase_command(store, sid, "court order"))
    video_id = domain.signal_id("vpdq", video)
    assert [t.signal_id for t in applied.response.also_erased] == [video_id]  # type: ignore[attr-defined]
    with store.read() as view:
        assert view.signal(video_id) is None and view.erased(video_id) is not None
