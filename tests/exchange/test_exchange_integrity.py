"""Stored records are checked as they are read (exchange.store, "Integrity") and by the offline
walk of `signalhub admin check` (exchange.integrity): a corrupt record is refused with
DATA_LOSS, never served, and the walk names it."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import lmdb
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from client_sdk.signing import Signer
from exchange.audit import verify_store
from exchange.cluster import ClusterLog
from exchange.commands import init_data_dir
from exchange.errors import HubError, data_loss
from exchange.integrity import CheckReport, check_data_dir, check_store, startup_problems
from exchange.ledger import append_and_apply
from exchange.server import lmdb_path, open_checked
from exchange.store import (
    PDQ_TABLE_SUM,
    SEAL_BYTES,
    SEALED_RECORDS,
    Store,
    StoreTxn,
    open_seal,
    pdq_row_term,
    pdq_table_sum,
    seal,
    submission_key,
    u64,
)
from exchange.writer import Writer, _Pending
from signalhub import cli, domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import common_pb2

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PDQ = [f"{i:064x}" for i in (1, 2, 3)]
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def sid_of(type_name: str, value: str) -> str:
    return domain.signal_id(type_name, value)


def _stamp() -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(T0)
    return ts


def _apply(store: Store, **command: object) -> None:
    entry = rec.LogEntry(received_at=_stamp(), window_seconds=300, **command)  # type: ignore[arg-type]
    store.write(lambda tx: append_and_apply(tx, entry))


def fill(store: Store) -> None:
    """Two members, a group, PDQ and MD5 signals, one shared with the group only."""
    keys = {name: Ed25519PrivateKey.generate() for name in ("acme", "beta")}

    def hub_keys(tx: StoreTxn) -> None:  # as init_data_dir writes them
        for name in ("hub_public_key", "operator_public_key"):
            tx.set_meta(name, domain.raw_public_key(Ed25519PrivateKey.generate()))

    store.write(hub_keys)
    for name, key in keys.items():
        _apply(store, add_member=rec.AddMemberCommand(
            member_id=name, public_key=domain.raw_public_key(key)))  # fmt: skip
    group = rec.GroupMembersCommand(group_id="pair", member_ids=["acme", "beta"])
    _apply(store, add_group_members=group)
    acme = [common_pb2.SignalSubmission(type="pdq", value=v, labels=["csam"]) for v in PDQ]
    acme.append(common_pb2.SignalSubmission(type="md5", value=MD5))
    beta = [common_pb2.SignalSubmission(type="pdq", value=PDQ[0])]
    for name, signals, audience in (("acme", acme, ()), ("beta", beta, ("pair",))):
        signer = Signer(name, keys[name])
        envelope = signer.envelope(f"{name}-1", signals, created_at=T0, audience=audience)
        _apply(store, submit=rec.SubmitCommand(envelope=envelope))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "lmdb")
    fill(s)
    yield s
    s.close()


def poke(store: Store, db: str, key: bytes, change: Callable[[bytes], bytes | None]) -> None:
    """Rewrites (or, when `change` returns None, deletes) one stored value behind the store's
    back, as a flipped byte on disk would."""
    with store.env.begin(write=True) as txn:
        value = txn.get(key, db=store.dbs[db])
        assert value is not None, (db, key)
        new = change(bytes(value))
        if new is None:
            txn.delete(key, db=store.dbs[db])
        else:
            txn.put(key, new, db=store.dbs[db])


def flip(offset: int) -> Callable[[bytes], bytes]:
    return lambda raw: raw[:offset] + bytes([raw[offset] ^ 0x01]) + raw[offset + 1 :]


def refused(read: Callable[[], object]) -> HubError:
    with pytest.raises(HubError) as caught:
        read()
    error = caught.value
    assert error.code == grpc.StatusCode.DATA_LOSS
    assert "signalhub admin check --data-dir" in error.message
    assert "signalhub audit verify --data-dir" in error.message
    assert "signalhub admin restore BACKUP --data-dir" in error.message
    return error


def problems(store: Store) -> list[str]:
    return [p.line() for p in check_store(store, CheckReport()).problems]


# --- seals ---------------------------------------------------------------------------------


def test_a_seal_opens_only_under_its_own_key_and_bytes() -> None:
    sealed = seal(b"key", b"payload")
    assert len(sealed) == len(b"payload") + SEAL_BYTES
    assert open_seal(b"key", sealed) == (b"payload", True)
    assert open_seal(b"kez", sealed)[1] is False  # a record whose key changed on disk
    assert open_seal(b"key", flip(2)(sealed))[1] is False
    assert open_seal(b"key", b"payload") == (b"payload", None)  # written before seals


def test_a_sealed_record_still_parses_as_protobuf_for_readers_that_know_no_seals(
    store: Store,
) -> None:
    key = bytes.fromhex(sid_of("pdq", PDQ[1]))
    with store.read() as view:
        raw = view._get("signals", key)
    assert raw is not None
    assert rec.SignalRecord.FromString(raw).signal.value == PDQ[1]


def test_a_new_store_requires_seals_and_an_old_one_does_not(tmp_path: Path) -> None:
    fresh = Store(tmp_path / "fresh")
    with fresh.read() as view:
        assert view.seals_required()
    fresh.close()
    old = Store(tmp_path / "old")
    old.write(lambda tx: tx.txn.delete(SEALED_RECORDS.encode(), db=tx.dbs["meta"]))
    fill(old)
    old.close()
    reopened = Store(tmp_path / "old")  # not empty: not flagged again
    with reopened.read() as view:
        assert not view.seals_required()
    reopened.close()


# --- reads refuse corrupt records ----------------------------------------------------------


def test_a_flipped_byte_in_a_signal_record_is_refused_and_counted(store: Store) -> None:
    sid = sid_of("pdq", PDQ[1])
    key = bytes.fromhex(sid)
    with store.read() as view:
        raw = view._get("signals", key)
    assert raw is not None
    poke(store, "signals", key, flip(raw.index(PDQ[1].encode()) + 5))
    seen: list[str] = []
    store.on_corrupt = seen.append
    with store.read() as view:
        error = refused(lambda: view.signal(sid))
    assert f"signal {sid}" in error.message and "checksum" in error.message
    assert seen == ["signals"]
    with store.read() as view:  # the others are still served
        record = view.signal(sid_of("pdq", PDQ[2]))
        assert record is not None and record.signal.value == PDQ[2]
    assert f"signals {sid}: its checksum does not match" in "\n".join(problems(store))


def test_a_record_without_its_seal_in_a_sealed_store_is_refused(store: Store) -> None:
    sid = sid_of("md5", MD5)
    poke(store, "signals", bytes.fromhex(sid), lambda raw: raw[:-SEAL_BYTES])
    with store.read() as view:
        assert "no checksum" in refused(lambda: view.signal(sid)).message


def test_in_a_store_from_before_seals_a_value_that_no_longer_matches_its_id_is_refused(
    store: Store,
) -> None:
    store.write(lambda tx: tx.txn.delete(SEALED_RECORDS.encode(), db=tx.dbs["meta"]))
    sid = sid_of("pdq", PDQ[1])

    def unsealed_other_value(raw: bytes) -> bytes:
        record = rec.SignalRecord.FromString(open_seal(bytes.fromhex(sid), raw)[0])
        record.signal.value = PDQ[2]
        return record.SerializeToString()

    poke(store, "signals", bytes.fromhex(sid), unsealed_other_value)
    with store.read() as view:
        error = refused(lambda: view.signal(sid))
    assert "its type and value do not match its signal id" in error.message
    assert f"signals {sid}: its type and value do not match its signal id" in problems(store)


def test_an_unsealed_intact_record_of_an_old_store_is_served_and_counted_unchecked(
    store: Store,
) -> None:
    store.write(lambda tx: tx.txn.delete(SEALED_RECORDS.encode(), db=tx.dbs["meta"]))
    sid = sid_of("md5", MD5)
    poke(store, "signals", bytes.fromhex(sid), lambda raw: raw[:-SEAL_BYTES])
    with store.read() as view:
        record = view.signal(sid)
    assert record is not None and record.signal.value == MD5
    report = check_store(store, CheckReport())
    assert report.ok and report.unchecked == 1


def test_a_record_that_does_not_parse_is_data_loss_not_a_crash(store: Store) -> None:
    store.write(lambda tx: tx.txn.delete(SEALED_RECORDS.encode(), db=tx.dbs["meta"]))
    sid = sid_of("pdq", PDQ[0])
    poke(store, "signals", bytes.fromhex(sid), lambda raw: b"\x0a\xff\xff")
    with store.read() as view:
        assert "does not parse" in refused(lambda: view.signal(sid)).message
    assert f"signals {sid}: it does not parse" in problems(store)


def test_a_submission_whose_key_changed_is_found_beside_the_gap(store: Store) -> None:
    sid = sid_of("pdq", PDQ[0])  # two submissions: acme's and beta's
    with store.read() as view:
        subs = view.submissions(sid)
    assert len(subs) == 2
    key = submission_key(sid, subs[0])
    with store.env.begin(write=True) as txn:  # the record stays, under a key nobody asks for
        db = store.dbs["submissions"]
        raw = bytes(txn.get(key, db=db))
        txn.delete(key, db=db)
        txn.put(key[:15] + bytes([key[15] ^ 0x01]) + key[16:], raw, db=db)
    with store.read() as view:
        assert "its key or value changed" in refused(lambda: view.submissions(sid)).message


def test_a_signal_whose_key_changed_does_not_become_a_silent_miss(store: Store) -> None:
    sid = sid_of("md5", MD5)
    key = bytes.fromhex(sid)
    with store.env.begin(write=True) as txn:
        db = store.dbs["signals"]
        raw = bytes(txn.get(key, db=db))
        txn.delete(key, db=db)
        txn.put(key[:-1] + bytes([key[-1] ^ 0x01]), raw, db=db)
    with store.read() as view:
        refused(lambda: view.signal(sid))
        absent = "f" * 32  # a miss far from any damage is still a plain miss
        assert view.signal(absent) is None


def test_a_feed_record_with_another_cursor_is_refused(store: Store) -> None:
    def other_cursor(raw: bytes) -> bytes:
        record = rec.FeedRecord.FromString(open_seal(u64(2), raw)[0])
        record.event.cursor = "9"
        return seal(u64(2), record.SerializeToString())

    poke(store, "feed", u64(2), other_cursor)
    with store.read() as view:
        assert "its cursor does not match" in refused(lambda: view.feed(0, 100)).message
        assert view.feed(2, 100)  # the records after it are still served


def test_a_missing_or_altered_log_entry_is_refused(store: Store) -> None:
    poke(store, "log", u64(4), lambda raw: raw.replace(b"csam", b"csbm", 1))
    with store.read() as view:
        assert "audit chain" in refused(lambda: view.log_entry(4)).message
    poke(store, "log", u64(4), lambda raw: None)
    with store.read() as view:
        assert "missing" in refused(lambda: view.log_entry(4)).message
        assert view.log_entry(99) is None  # past the log's end: nothing to miss
    assert "log 5: out of sequence: expected log entry 4" in "\n".join(problems(store))


def test_a_pdq_row_must_agree_with_the_signal_it_names(store: Store) -> None:
    with store.read() as view:
        record = view.signal(sid_of("pdq", PDQ[1]))
        other = view.signal(sid_of("pdq", PDQ[2]))
    assert record is not None and other is not None
    row = record.pdq_row
    cases = {
        "does not own this row": lambda raw: raw[:32] + bytes.fromhex(other.signal.signal_id),
        "which is not stored": lambda raw: raw[:32] + bytes(16),
        "its hash is not that of": lambda raw: flip(0)(raw),
    }
    for what, change in cases.items():
        with store.read() as view:
            original = view._get("pdq", u64(row))
        assert original is not None
        poke(store, "pdq", u64(row), change)
        with store.read() as view:
            assert what in refused(lambda: view.pdq_row(row)).message
        assert any(f"pdq {row}" in line or "PDQ row" in line for line in problems(store))
        poke(store, "pdq", u64(row), lambda raw, o=original: o)


def test_a_changed_pdq_row_fails_the_table_sum_when_the_index_loads(store: Store) -> None:
    with store.read() as view:
        rows, _ = view.pdq_table()
    assert len(rows) == 3
    poke(store, "pdq", u64(int(rows[1])), flip(7))
    with store.read() as view:
        error = refused(view.pdq_table)
    assert "PDQ table" in error.message and "checksum" in error.message
    assert "pdq -: the table no longer adds up to its checksum" in "\n".join(problems(store))


def test_the_pdq_table_sum_follows_puts_overwrites_and_deletes(tmp_path: Path) -> None:
    store = Store(tmp_path / "lmdb")
    rng = np.random.default_rng(5)

    def work(tx: StoreTxn) -> None:
        for row in range(1, 50):
            tx.put_pdq_row(row, rng.bytes(32), f"{row:032x}")
        tx.put_pdq_row(7, rng.bytes(32), f"{7:032x}")  # overwritten
        for row in (3, 9, 10):
            tx._delete_pdq_row(row)

    store.write(work)
    with store.read() as view:
        kept = view.counter(PDQ_TABLE_SUM)
        rows, packed = view.pdq_table_rows()
    assert kept == pdq_table_sum(rows, packed) and len(rows) == 46
    store.close()


@given(st.lists(st.tuples(st.integers(1, 2**63), st.binary(min_size=48, max_size=48)),
                min_size=1, max_size=40, unique_by=lambda r: r[0]))  # fmt: skip
def test_the_vectorised_table_sum_equals_the_sum_of_row_terms(
    rows: list[tuple[int, bytes]],
) -> None:
    keys = np.array([r for r, _ in rows], dtype=np.uint64)
    packed = np.frombuffer(b"".join(v for _, v in rows), dtype=np.uint8).reshape(-1, 48)
    assert pdq_table_sum(keys, packed) == sum(pdq_row_term(r, v) for r, v in rows) % 2**64


def test_a_changed_byte_of_a_row_always_changes_its_term() -> None:
    value = bytes(range(48))
    base = pdq_row_term(5, value)
    for i in range(48):
        for bit in range(8):
            changed = value[:i] + bytes([value[i] ^ (1 << bit)]) + value[i + 1 :]
            assert pdq_row_term(5, changed) != base
    assert pdq_row_term(5 ^ (1 << 40), value) != base


def test_a_typed_row_must_match_its_signal_id(tmp_path: Path) -> None:
    store = Store(tmp_path / "lmdb")
    sid = sid_of("url", "https://example.com/")
    store.write(lambda tx: tx.put_typed("url", sid, "https://example.com/other"))
    with store.read() as view:
        error = refused(lambda: list(view.typed_values("url")))
    assert "typed" in error.message
    store.close()


def test_a_key_record_must_match_its_public_key(store: Store) -> None:
    with store.read() as view:
        member = view.member("acme")
    assert member is not None
    key_id = member.key_ids[0]

    def other_key(raw: bytes) -> bytes:
        record = rec.KeyRecord.FromString(open_seal(key_id.encode(), raw)[0])
        record.public_key = bytes(32)
        return seal(key_id.encode(), record.SerializeToString())

    poke(store, "keys", key_id.encode(), other_key)
    with store.read() as view:
        assert "does not match its key id" in refused(lambda: view.key(key_id)).message


def test_a_counter_of_the_wrong_size_is_refused(store: Store) -> None:
    store.write(lambda tx: tx.set_meta("feed_seq", b"\x01\x02"))
    with store.read() as view:
        assert "counter of 2 bytes" in refused(lambda: view.counter("feed_seq")).message
        assert any("feed_seq" in p for p in startup_problems(view))


def test_lmdb_page_errors_become_data_loss(store: Store) -> None:
    seen: list[str] = []
    store.on_corrupt = seen.append

    def damaged() -> None:
        with store.read():
            raise lmdb.CorruptedError("mdb_get: MDB_CORRUPTED")

    error = refused(damaged)
    assert "LMDB: CorruptedError" in error.message and seen == ["lmdb"]


# --- at start ------------------------------------------------------------------------------


def test_a_clean_store_has_no_startup_problems(store: Store) -> None:
    with store.read() as view:
        assert startup_problems(view) == []


def test_counters_behind_or_past_their_tables_are_startup_problems(store: Store) -> None:
    store.write(lambda tx: tx.set_meta("log_seq", u64(99)))
    store.write(lambda tx: tx.set_meta("pdq_rows", u64(1)))
    store.write(lambda tx: tx.set_meta("signal_types", b"{not json"))
    with store.read() as view:
        found = startup_problems(view)
    assert any("log table holds 5 records ending at 5" in p and "says 99" in p for p in found)
    assert any("PDQ table ends at row 3, past its counter" in p for p in found)
    assert any("signal_types" in p for p in found)


# --- the offline walk ----------------------------------------------------------------------


def test_a_clean_store_checks_clean(store: Store) -> None:
    report = check_store(store, CheckReport())
    assert report.ok, [p.line() for p in report.problems]
    assert report.records["signals"] == 4 and report.records["submissions"] == 5
    assert report.records["pdq"] == 3 and report.unchecked == 0


def test_the_walk_names_records_that_disagree_with_each_other(store: Store) -> None:
    sid = sid_of("pdq", PDQ[0])
    key = bytes.fromhex(sid)

    def unrestricted(raw: bytes) -> bytes:  # sealed again: only the cross-check sees it
        record = rec.SignalRecord.FromString(open_seal(key, raw)[0])
        record.restricted = False
        return seal(key, record.SerializeToString())

    poke(store, "signals", key, unrestricted)
    store.write(lambda tx: tx.set_counter("live_submissions/acme", 7))
    with store.env.begin(write=True) as txn:  # an orphan submission and a stray PDQ row
        orphan = bytes(16) + u64(1) + struct.pack(">I", 0)
        sub = rec.SubmissionRecord(member_id="acme", log_sequence=1)
        txn.put(orphan, seal(orphan, sub.SerializeToString()), db=store.dbs["submissions"])
        txn.put(u64(40), bytes(48), db=store.dbs["pdq"])
    found = "\n".join(problems(store))
    assert f"signals {sid}: its `restricted` flag differs" in found
    assert "meta 'live_submissions/acme': counts 7 live submissions, the table holds 5" in found
    assert f"submissions {bytes(16).hex()}/1/0: its signal is not stored" in found
    assert "pdq 40: no signal owns this row" in found
    assert "meta 'pdq_rows': the row counter is behind the PDQ table" in found


def test_the_walk_keeps_counting_past_max_problems(store: Store) -> None:
    with store.env.begin(write=True) as txn:
        for row in range(100, 110):
            txn.put(u64(row), bytes(48), db=store.dbs["pdq"])
    report = check_store(store, CheckReport(max_problems=3))
    assert len(report.problems) == 3 and report.found > 10


def test_an_old_store_still_passes_audit_verify_with_unsealed_records(store: Store) -> None:
    """Audit replays seal what they write; a store written before seals must still verify."""
    store.write(lambda tx: tx.txn.delete(SEALED_RECORDS.encode(), db=tx.dbs["meta"]))
    with store.env.begin(write=True) as txn:
        for name in ("signals", "submissions", "feed", "members", "keys", "groups", "batches"):
            db = store.dbs[name]
            for key, raw in list(txn.cursor(db=db)):
                txn.put(key, open_seal(bytes(key), bytes(raw))[0], db=db)
    report = verify_store(store)
    assert report.ok, report.problems
    assert check_store(store, CheckReport()).unchecked > 10


# --- the command ---------------------------------------------------------------------------


def test_admin_check_exits_0_1_or_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    store = Store(lmdb_path(data_dir))
    fill(store)
    store.close()
    assert cli.main(["admin", "check", "--data-dir", str(data_dir)]) == 0
    assert "check OK:" in capsys.readouterr().out
    assert cli.main(["admin", "check", "--data-dir", str(data_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True

    store = Store(lmdb_path(data_dir))
    sid = sid_of("md5", MD5)
    poke(store, "signals", bytes.fromhex(sid), flip(4))
    store.close()
    assert cli.main(["admin", "check", "--data-dir", str(data_dir)]) == 1
    out = capsys.readouterr().out
    assert f"signals {sid}: its checksum does not match" in out
    assert "check FAILED: 1 problems in 1 tables" in out and "admin restore" in out
    assert cli.main(["admin", "check", "--data-dir", str(data_dir), "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["ok"] is False and answer["problems"][0]["table"] == "signals"
    assert answer["structure"] == "ok"

    assert cli.main(["admin", "check", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "not a signalhub data directory" in capsys.readouterr().err
    assert cli.main(["admin", "check", "--data-dir", str(data_dir), "--max-problems", "0"]) == 2
    assert "--max-problems is 1 or more" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        cli.main(["admin", "check"])
    assert usage.value.code == 2


def test_a_damaged_lmdb_page_is_reported_without_crashing_the_check(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    store = Store(lmdb_path(data_dir))
    fill(store)
    compact = tmp_path / "compact"
    compact.mkdir()
    store.env.copy(str(compact), compact=True)
    with store.read() as view:
        raw = view._get("signals", bytes.fromhex(sid_of("md5", MD5)))
    store.close()
    data = bytearray((compact / "data.mdb").read_bytes())
    page = data.index(raw) // 4096 * 4096
    data[page + 10] ^= 0x01  # the page's flags: LMDB no longer reads it as a leaf
    (lmdb_path(data_dir) / "data.mdb").write_bytes(bytes(data))
    (lmdb_path(data_dir) / "lock.mdb").unlink()
    report = check_data_dir(data_dir)
    assert report.structure == "problems" and not report.ok
    lines = [p.line() for p in report.problems]
    assert any(line.startswith("lmdb -: main/signals DB") for line in lines), lines


def test_a_store_that_lost_a_tables_entry_is_not_served_with_that_table_empty(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "lmdb")
    fill(store)
    with store.env.begin(write=True) as txn:  # gone from LMDB's list, as a flipped byte in
        txn.drop(store.dbs["signals"], delete=True)  # its name would make it
    store.close()
    with pytest.raises(HubError) as caught:
        Store(tmp_path / "lmdb")
    assert caught.value.code == grpc.StatusCode.DATA_LOSS
    assert "tables signals are missing" in caught.value.message


def test_a_record_the_tree_no_longer_leads_to_is_not_a_silent_miss(store: Store) -> None:
    """A damaged branch page can route a lookup past a record a cursor still walks to."""
    sid = sid_of("md5", MD5)

    class Misrouted:  # the transaction as LMDB answers over such a page
        def __init__(self, txn: lmdb.Transaction) -> None:
            self._txn = txn

        def get(self, key: bytes, db: object = None) -> bytes | None:
            return None if key == bytes.fromhex(sid) else self._txn.get(key, db=db)

        def cursor(self, db: object = None) -> lmdb.Cursor:
            return self._txn.cursor(db=db)

    with store.read() as view:
        view.txn = Misrouted(view.txn)  # type: ignore[assignment]
        assert "no longer leads to it" in refused(lambda: view.signal(sid)).message


def test_a_damaged_page_under_a_valid_key_is_data_loss(store: Store) -> None:
    class Damaged:
        def get(self, key: bytes, db: object = None) -> bytes | None:
            raise lmdb.BadValsizeError("mdb_get: MDB_BAD_VALSIZE")

    with store.read() as view:
        view.txn = Damaged()  # type: ignore[assignment]
        assert "damaged page" in refused(lambda: view.signal(sid_of("md5", MD5))).message


# --- the hub's edges: opening, the writer, a cluster node -----------------------------------


def test_a_hub_refuses_a_file_lmdb_cannot_open_saying_what_to_run(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    lmdb_path(data_dir).mkdir(parents=True)
    (lmdb_path(data_dir) / "data.mdb").write_bytes(b"not an LMDB file" * 512)
    with pytest.raises(SystemExit) as stopped:
        open_checked(lmdb_path(data_dir), data_dir)
    message = str(stopped.value)
    assert f"refusing to serve {data_dir}: its store is corrupt: LMDB:" in message
    assert f"signalhub admin check --data-dir {data_dir}" in message
    assert "signalhub admin restore BACKUP" in message


def test_a_damaged_page_met_by_the_writer_answers_data_loss_not_internal(store: Store) -> None:
    def damaged(tx: StoreTxn) -> None:
        raise lmdb.CorruptedError("mdb_page_get: MDB_CORRUPTED")

    writer = Writer(store, lambda applied: None)
    loop = asyncio.new_event_loop()
    try:
        pending = _Pending(rec.LogEntry(), loop.create_future(), loop, damaged)
        (outcome,) = writer._commit([pending])
    finally:
        loop.close()
    assert isinstance(outcome, HubError) and outcome.code == grpc.StatusCode.DATA_LOSS
    assert "LMDB: CorruptedError" in outcome.message


def test_a_cluster_node_that_meets_a_corrupt_record_stops_instead_of_diverging(
    store: Store,
) -> None:
    class Refusing:
        async def execute(self, entry: rec.LogEntry, hint: object, stream_seq: int) -> None:
            raise data_loss("the stored record for signal 00 is corrupt (it does not parse)")

    failures: list[str] = []
    node = ClusterLog([], store, Refusing())  # type: ignore[arg-type]
    node.on_failure = failures.append
    entry = rec.LogEntry(received_at=_stamp(), expire_tick=rec.ExpireTick())
    asyncio.run(node._apply(7, entry.SerializeToString()))
    assert node.failure is not None and "stream entry 7 met a corrupt record" in node.failure
    assert failures == [node.failure] and node.caught_up.is_set()
    assert node.applied_seq == 0  # not counted as applied
