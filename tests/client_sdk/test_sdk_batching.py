"""The SDK's batching and signing, without a server."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from client_sdk import Signal, SubmitResult
from client_sdk.batching import Batcher
from client_sdk.client import RetryPolicy, split_batches
from client_sdk.signing import Signer
from exchange.auth import verify_signature
from signalhub import domain
from signalhub.v1 import common_pb2


class Recorder:
    """A submit function that records batches (optionally failing)."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[Signal]] = []
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, batch: Sequence[Signal]) -> SubmitResult:
        if self.fail:
            raise RuntimeError("hub down")
        with self.lock:
            self.batches.append(list(batch))
        return SubmitResult(str(len(self.batches)), (), "", False)


def sig(i: int) -> Signal:
    return Signal("pdq", f"{i:064x}")


def test_batcher_flushes_when_full_by_count() -> None:
    rec = Recorder()
    with Batcher(rec, max_signals=3, max_bytes=1 << 20, linger_seconds=60) as b:
        for i in range(7):
            b.add(sig(i))
        assert [len(x) for x in rec.batches] == [3, 3]
    assert [len(x) for x in rec.batches] == [3, 3, 1]  # close flushed the rest
    assert [s.value for x in rec.batches for s in x] == [sig(i).value for i in range(7)]


def test_batcher_flushes_when_full_by_bytes() -> None:
    rec = Recorder()
    one = sig(0).to_wire().ByteSize() + 4
    with Batcher(rec, max_signals=1000, max_bytes=one * 2, linger_seconds=60) as b:
        for i in range(5):
            b.add(sig(i))
    assert [len(x) for x in rec.batches] == [2, 2, 1]


def test_batcher_flushes_after_linger() -> None:
    rec = Recorder()
    b = Batcher(rec, max_signals=1000, max_bytes=1 << 20, linger_seconds=0.05)
    b.add(sig(1))
    deadline = time.monotonic() + 10
    while not rec.batches and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [len(x) for x in rec.batches] == [1]
    b.close()
    assert len(rec.batches) == 1


def test_failed_flush_is_raised_and_its_signals_kept() -> None:
    rec = Recorder(fail=True)
    b = Batcher(rec, max_signals=2, max_bytes=1 << 20, linger_seconds=60)
    b.add(sig(1))
    with pytest.raises(RuntimeError, match="hub down"):
        b.add(sig(2))
    assert [s.value for s in b.failed] == [sig(1).value, sig(2).value]
    b.close()


def test_split_batches_respects_count_and_bytes() -> None:
    signals = [sig(i) for i in range(10)]
    assert [len(c) for c in split_batches(signals, 4, 1 << 20)] == [4, 4, 2]
    one = sig(0).to_wire().ByteSize() + 4
    assert [len(c) for c in split_batches(signals, 100, one * 3)] == [3, 3, 3, 1]


def test_retry_delays_grow_and_are_bounded() -> None:
    policy = RetryPolicy(attempts=6, initial_backoff_seconds=0.1, max_backoff_seconds=0.4)
    delays = list(policy.delays())
    assert len(delays) == 5
    caps = [0.1, 0.2, 0.4, 0.4, 0.4]
    assert all(0 <= d <= cap for d, cap in zip(delays, caps, strict=True))


def test_envelope_signature_covers_prefix_and_exact_payload() -> None:
    key = domain.new_private_key()
    signer = Signer("acme", key)
    envelope = signer.envelope("b", [common_pb2.SignalSubmission(type="pdq", value="ab" * 32)])
    public = domain.raw_public_key(key)
    assert envelope.key_id == domain.key_id(public)
    assert verify_signature(
        public, envelope.signature, domain.submission_signing_bytes(envelope.payload)
    )
    assert not verify_signature(public, envelope.signature, envelope.payload)  # prefix required
    batch = common_pb2.SubmissionBatch.FromString(envelope.payload)
    assert (batch.member_id, batch.batch_id, len(batch.signals)) == ("acme", "b", 1)


def test_provenance_check_catches_a_hub_that_misreports_what_was_signed() -> None:
    from dataclasses import replace

    from client_sdk.models import Provenance
    from client_sdk.provenance import check_submission

    key = domain.new_private_key()
    signer = Signer("acme", key)
    value = "ab" * 32
    envelope = signer.envelope(
        "b", [common_pb2.SignalSubmission(type="pdq", value=value, labels=["ncii"])]
    )
    honest = Provenance("acme", signer.key_id, "b", 0, ("ncii",), (), None, envelope,
                        domain.raw_public_key(key))  # fmt: skip
    assert check_submission("pdq", value, honest).ok
    relabelled = replace(honest, labels=("csam",))
    assert not check_submission("pdq", value, relabelled).ok
    other_value = check_submission("pdq", "cd" * 32, honest)
    assert not other_value.ok and "another signal" in other_value.reason
    stranger = domain.raw_public_key(domain.new_private_key())
    assert not check_submission("pdq", value, honest, {signer.key_id: stranger}).ok


def test_error_text_names_the_field_once() -> None:
    from client_sdk.errors import InvalidArgument

    plain = InvalidArgument("bad member id", [("member_id", "bad member id")])
    assert str(plain) == "bad member id"
    named = InvalidArgument("invalid batch", [("signals[0].value", "64 hex digits")])
    assert str(named) == "invalid batch (signals[0].value: 64 hex digits)"
