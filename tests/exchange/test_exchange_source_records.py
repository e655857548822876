"""Source records on the deterministic write path, without a server: validated (bad ones
refused with a field violation and nothing stored), kept per submission, carried in the
signal's view only to those who may see the submission, rebuilt on retraction, replayed
identically."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_exchange_ledger import T0, add_member, apply, fingerprint, stamp

from client_sdk.signing import Signer
from exchange.errors import HubError
from exchange.ledger import append_and_apply
from exchange.store import Store, StoreTxn
from exchange.visibility import Viewer, signal_view
from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2

A, B = "a1" * 32, "b2" * 32


def _entry(
    signer: Signer,
    batch_id: str,
    signals: list[common_pb2.SignalSubmission],
    audience: tuple[str, ...] = (),
) -> rec.LogEntry:
    envelope = signer.envelope(batch_id, signals, created_at=T0, audience=list(audience))
    return rec.LogEntry(received_at=stamp(T0), submit=rec.SubmitCommand(envelope=envelope))


def _sig(value: str, ref: str = "", **meta: str) -> common_pb2.SignalSubmission:
    return common_pb2.SignalSubmission(type="pdq", value=value, source_ref=ref, metadata=meta)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "lmdb")
    yield s
    s.close()


@pytest.fixture
def members(store: Store) -> dict[str, Signer]:
    out = {}
    for name in ("acme", "beta", "carol"):
        key = domain.new_private_key()
        add_member(store, name, key)
        out[name] = Signer(name, key)
    apply(
        store,
        rec.LogEntry(
            received_at=stamp(T0),
            add_group_members=rec.GroupMembersCommand(group_id="g1", member_ids=["acme", "beta"]),
        ),
    )
    return out


def _view(store: Store, member: str, value: str) -> common_pb2.Signal | None:
    with store.read() as view:
        record = view.signal(domain.signal_id("pdq", value))
        assert record is not None
        return signal_view(view, record, Viewer.load(view, member))


def _sources(signal: common_pb2.Signal | None) -> list[tuple[str, str, dict[str, str]]]:
    assert signal is not None
    return [(s.member_id, s.source_ref, dict(s.metadata)) for s in signal.sources]


@pytest.mark.parametrize(
    ("signal", "field"),
    [
        (_sig(A, "x" * (domain.MAX_SOURCE_REF_CHARS + 1)), "signals[1].source_ref"),
        (_sig(A, "tab\there"), "signals[1].source_ref"),
        (_sig(A, **{"Bad-Key": "v"}), "signals[1].metadata"),
        (_sig(A, **{"k": "v" * (domain.MAX_METADATA_VALUE_CHARS + 1)}), "signals[1].metadata"),
        (
            _sig(A, **{f"k{i}": "v" for i in range(domain.MAX_METADATA_KEYS + 1)}),
            "signals[1].metadata",
        ),
        (_sig(A, **{f"k{i}": "v" * 200 for i in range(6)}), "signals[1].metadata"),
        (_sig(A, **{"k": "new\nline"}), "signals[1].metadata"),
    ],
)
def test_a_bad_source_record_is_refused_naming_it_and_nothing_is_stored(
    store: Store, members: dict[str, Signer], signal: common_pb2.SignalSubmission, field: str
) -> None:
    before = fingerprint(store)
    with pytest.raises(HubError) as info:
        apply(store, _entry(members["acme"], "bad", [_sig(B), signal]))
    assert info.value.violations[0][0] == field
    assert fingerprint(store) == before


def test_domain_limits_accept_the_edges() -> None:
    assert domain.validate_source_ref("r" * domain.MAX_SOURCE_REF_CHARS)
    meta = {f"k{i:02d}": "v" * 60 for i in range(domain.MAX_METADATA_KEYS)}  # 16 * 63 <= 1024
    assert domain.validate_metadata(meta) == tuple(sorted(meta.items()))
    signal = domain.canonical_signal(
        "pdq", A, [], [], source_ref="T-1", metadata={"b": "2", "a": "1"}
    )
    assert signal.metadata == (("a", "1"), ("b", "2"))


def test_the_digest_covers_source_records_only_when_present() -> None:
    plain = domain.canonical_signal("pdq", A, [], [])
    ref = domain.canonical_signal("pdq", A, [], [], source_ref="T-1")
    meta = domain.canonical_signal("pdq", A, [], [], metadata={"a": "1"})
    digests = {domain.batch_content_digest([s]) for s in (plain, ref, meta)}
    assert len(digests) == 3
    # Without one, the digest is what it was before source records existed.
    assert domain.batch_content_digest([plain]) == domain.batch_content_digest(
        [domain.CanonicalSignal("pdq", A, (), ())]
    )


def test_each_submission_keeps_its_source_and_views_show_only_visible_ones(
    store: Store, members: dict[str, Signer], tmp_path: Path
) -> None:
    apply(store, _entry(members["acme"], "1", [_sig(A, "acme-7", queue="csam")]))
    apply(store, _entry(members["beta"], "2", [_sig(A, "beta-secret")], audience=("g1",)))
    apply(store, _entry(members["carol"], "3", [_sig(A)]))  # carries none: not listed
    everyone = [("acme", "acme-7", {"queue": "csam"})]
    assert _sources(_view(store, "carol", A)) == everyone
    assert _sources(_view(store, "acme", A)) == [*everyone, ("beta", "beta-secret", {})]
    assert _sources(_view(store, "beta", A)) == [*everyone, ("beta", "beta-secret", {})]
    with store.read() as view:
        subs = view.submissions(domain.signal_id("pdq", A))
        assert [(s.source_ref, dict(s.metadata)) for s in subs] == [
            ("acme-7", {"queue": "csam"}), ("beta-secret", {}), ("", {})]  # fmt: skip
    # The log replays to identical state.
    with store.read() as view:
        log = [view.log_entry(n) for n in range(1, view.counter("log_seq") + 1)]
    replica = Store(tmp_path / "replica")
    try:
        for entry in log:
            assert entry is not None
            replica.write(lambda tx, e=entry: append_and_apply(tx, e))
        assert fingerprint(replica) == fingerprint(store)
    finally:
        replica.close()


def test_sources_are_capped_oldest_first_and_rebuilt_after_a_retraction(
    store: Store, members: dict[str, Signer]
) -> None:
    acme = members["acme"]
    for i in range(domain.MAX_SOURCES + 2):
        apply(store, _entry(acme, f"b{i}", [_sig(B, f"ref-{i}")]))
    shown = _view(store, "carol", B)
    assert shown is not None and shown.sources_truncated
    assert [s.source_ref for s in shown.sources] == [f"ref-{i}" for i in range(domain.MAX_SOURCES)]


def _retract(store: Store, signer: Signer, value: str) -> None:
    payload = common_pb2.Retraction(
        member_id=signer.member_id,
        request_id="r-" + value[:8],
        created_at=stamp(T0),
        signal_ids=[domain.signal_id("pdq", value)],
    ).SerializeToString()
    envelope = signer.sign_payload(domain.RETRACTION_SIGNING_PREFIX, payload)
    apply(store, rec.LogEntry(received_at=stamp(T0), retract=rec.SignedCommand(envelope=envelope)))


def test_a_retraction_takes_its_sources_out_of_the_stored_signal(
    store: Store, members: dict[str, Signer]
) -> None:
    apply(store, _entry(members["acme"], "1", [_sig(A, "acme-7")]))
    apply(store, _entry(members["beta"], "2", [_sig(A, "beta-3", k="v")]))
    assert [s.source_ref for s in _view(store, "carol", A).sources] == ["acme-7", "beta-3"]  # type: ignore[union-attr]
    _retract(store, members["acme"], A)
    assert _sources(_view(store, "carol", A)) == [("beta", "beta-3", {"k": "v"})]


def test_admin_check_finds_a_stored_source_record_that_differs_from_its_submission(
    store: Store, members: dict[str, Signer]
) -> None:
    from exchange.integrity import CheckReport, check_store

    apply(store, _entry(members["acme"], "1", [_sig(A, "acme-7")]))
    assert not [p for p in check_store(store, CheckReport()).problems if "source" in p.line()]

    def edit(tx: StoreTxn) -> None:
        record = tx.signal(domain.signal_id("pdq", A))
        assert record is not None
        record.signal.sources[0].source_ref = "forged"
        tx.put_signal(record)

    store.write(edit)
    lines = [p.line() for p in check_store(store, CheckReport()).problems]
    assert any("source records differ" in line for line in lines), lines
