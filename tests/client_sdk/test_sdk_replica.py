"""The pieces of the SDK that now stand alone, without a server: the replica's table writer
(its packed rows follow its signals) and the connection's signed, retried commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import lmdb
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_sdk.connection import RetryPolicy, _Connection
from client_sdk.replica_tables import U64, ReplicaDbs, ReplicaTables, open_dbs
from client_sdk.signing import Signer
from exchange.auth import verify_signature
from signalhub import domain
from signalhub.v1 import common_pb2, exchange_pb2
from signalhub.vpdq_format import VpdqFrame, vpdq_text


def _signal(type_name: str, value: str) -> common_pb2.Signal:
    signal_id = domain.signal_id(type_name, value)
    return common_pb2.Signal(signal_id=signal_id, type=type_name, value=value)


def _signals() -> list[common_pb2.Signal]:
    video = vpdq_text([VpdqFrame("1" * 64, 90, 0.0), VpdqFrame("2" * 64, 90, 1.0)])
    return [
        _signal("pdq", "a" * 64),
        _signal("pdq", "b" * 64),
        _signal("vpdq", video),
        _signal("md5", "d41d8cd98f00b204e9800998ecf8427e"),
    ]


@pytest.fixture
def write(tmp_path: Path) -> Iterator[tuple[lmdb.Transaction, ReplicaDbs]]:
    """A write transaction on a fresh replica environment, and its databases."""
    environment = lmdb.open(str(tmp_path), map_size=16 * 1024 * 1024, max_dbs=8)
    dbs = open_dbs(environment)
    with environment.begin(write=True) as txn:
        yield txn, dbs
    environment.close()


def _rows_by_signal(txn: lmdb.Transaction, dbs: ReplicaDbs) -> dict[str, list[bytes]]:
    """Each signal's PDQ hashes, read through its rows (row numbers themselves may differ)."""
    out: dict[str, list[bytes]] = {}
    for key, rows in txn.cursor(db=dbs.pdq_rows):
        hashes = []
        for i in range(0, len(rows), 8):
            packed = txn.get(bytes(rows[i : i + 8]), db=dbs.pdq)
            assert packed is not None and bytes(packed[32:]) == bytes(key)
            hashes.append(bytes(packed[:32]))
        out[bytes(key).hex()] = hashes
    return out


def test_tables_written_signal_by_signal_equal_tables_rebuilt_from_the_signals(
    write: tuple[lmdb.Transaction, ReplicaDbs],
) -> None:
    txn, dbs = write
    signals = _signals()
    tables = ReplicaTables(dbs, txn)
    for s in reversed(signals):  # not in id order: rows are numbered as they come
        tables.put(bytes.fromhex(s.signal_id), s, s.SerializeToString())
    tables.finish()
    written = _rows_by_signal(txn, dbs)
    tables = ReplicaTables(dbs, txn)
    assert tables.last_row == 4  # two photos, two retained frames
    tables.rebuild()
    tables.finish()
    assert _rows_by_signal(txn, dbs) == written
    assert txn.get(b"layout", db=dbs.meta) is not None
    video = next(s for s in signals if s.type == "vpdq")
    assert written[video.signal_id] == [bytes.fromhex("1" * 64), bytes.fromhex("2" * 64)]
    assert len(written) == 3  # the md5 has no PDQ row


def test_deleting_every_signal_leaves_no_row_behind(
    write: tuple[lmdb.Transaction, ReplicaDbs],
) -> None:
    txn, dbs = write
    signals = sorted(_signals(), key=lambda s: s.signal_id)  # a snapshot's order
    tables = ReplicaTables(dbs, txn)
    tables.load_chunk(signals)
    tables.finish()
    for s in signals:
        tables.delete(bytes.fromhex(s.signal_id), s.type)
    for db in (dbs.signals, dbs.pdq, dbs.pdq_rows, dbs.typed):
        assert txn.stat(db)["entries"] == 0
    assert U64.unpack(bytes(txn.get(b"pdq_rows", db=dbs.meta)))[0] == 4  # never reused


class _Failed(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """A call that failed with `code`, as grpc raises it."""

    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "try again"

    def trailing_metadata(self) -> None:
        return None

    def initial_metadata(self) -> None:
        return None

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False


class _Channel:
    """Answers unary calls: the first `failures` fail UNAVAILABLE; keeps what was sent."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[tuple[bytes, Any]] = []

    def unary_unary(self, method: str, request_serializer: Any, response_deserializer: Any) -> Any:
        def call(raw: bytes, metadata: Any, timeout: float) -> Any:
            self.sent.append((raw, metadata))
            if len(self.sent) <= self.failures:
                raise _Failed(grpc.StatusCode.UNAVAILABLE)
            return response_deserializer(b"")

        return call

    def close(self) -> None:
        pass


def test_a_retried_command_is_stamped_and_signed_afresh_by_the_signer() -> None:
    key = Ed25519PrivateKey.generate()
    retry = RetryPolicy(attempts=3, initial_backoff_seconds=0.0)
    conn = _Connection("127.0.0.1:1", Signer("acme", key), 5.0, retry)
    conn.channel.close()
    channel = _Channel(failures=1)
    conn.channel = channel  # type: ignore[assignment]
    now = conn.signer.now
    stamps = iter([1_700_000_000, 1_700_000_007])

    def later() -> Any:
        stamp = now()
        stamp.seconds = next(stamps)
        return stamp

    conn.signer.now = later  # type: ignore[method-assign]
    conn.signed_command(
        "/signalhub.v1.Exchange/RetractSubmission",
        domain.RETRACTION_SIGNING_PREFIX,
        common_pb2.Retraction(request_id="r1", signal_ids=["ab" * 16]),
        exchange_pb2.RetractSubmissionRequest,
        exchange_pb2.RetractSubmissionResponse,
    )
    assert len(channel.sent) == 2
    public = domain.raw_public_key(key)
    payloads = []
    for raw, _ in channel.sent:
        envelope = exchange_pb2.RetractSubmissionRequest.FromString(raw).envelope
        signed = domain.signing_bytes(domain.RETRACTION_SIGNING_PREFIX, envelope.payload)
        assert verify_signature(public, envelope.signature, signed)
        payloads.append(common_pb2.Retraction.FromString(envelope.payload))
    assert [(p.member_id, p.request_id) for p in payloads] == [("acme", "r1")] * 2
    assert [p.created_at.seconds for p in payloads] == [1_700_000_000, 1_700_000_007]
