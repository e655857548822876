"""The hub end to end through the SDK: a real server process on loopback over a real LMDB
directory, real Ed25519 signatures."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hubtools import HubProcess, feed_sequence, store_fingerprint
from imagetools import save_edited_copy, save_photo

from client_sdk import (
    AlreadyExists,
    Client,
    NotFound,
    RetryPolicy,
    Signal,
    pdq_from_image,
)
from exchange.auth import verify_signature
from exchange.commands import init_data_dir
from signalhub import domain
from signalhub.v1 import common_pb2


@pytest.fixture(scope="module")
def acme(hub: HubProcess, keys_dir: Path) -> Path:
    return hub.add_member("acme", keys_dir)


@pytest.fixture(scope="module")
def beta(hub: HubProcess, keys_dir: Path) -> Path:
    return hub.add_member("beta", keys_dir)


def test_edited_copy_of_submitted_image_matches_and_unrelated_image_does_not(
    hub: HubProcess, acme: Path, tmp_path: Path
) -> None:
    original = pdq_from_image(save_photo(tmp_path / "original.png", seed=11))
    edited = pdq_from_image(save_edited_copy(tmp_path / "edited.jpg", seed=11))
    unrelated = pdq_from_image(save_photo(tmp_path / "other.png", seed=12))
    with hub.client("acme", acme) as client:
        result = client.submit([Signal("pdq", original.hex, labels=("csam",))])
        assert [i.status for i in result.items] == ["new"]
        found, missing = client.match_pdq([edited.hex, unrelated.hex])
    assert [m.signal.value for m in found.matches] == [original.hex]
    distance = found.matches[0].distance
    assert 0 < distance <= 31
    assert found.matches[0].signal.labels == ("csam",)
    assert found.matches[0].signal.signal_id == result.items[0].signal_id
    assert missing.matches == ()


def test_match_respects_max_distance_and_exact_digest_types(hub: HubProcess, acme: Path) -> None:
    base = "f" * 64
    near = "0" + "f" * 63  # 4 bits away
    md5 = "D41D8CD98F00B204E9800998ECF8427E"
    with hub.client("acme", acme) as client:
        client.submit([Signal("pdq", base), Signal("md5", md5)])
        assert [m.distance for m in client.match_pdq([near], max_distance=4)[0].matches] == [4]
        assert client.match_pdq([near], max_distance=3)[0].matches == ()
        exact = client.match([("md5", md5.lower()), ("sha256", "ab" * 32)])
    assert [m.signal.value for m in exact[0].matches] == [md5.lower()]
    assert exact[1].matches == ()


def test_feed_lists_every_event_in_order_and_resumes_after_a_cursor(
    hub: HubProcess, acme: Path
) -> None:
    values = [f"{i:064x}" for i in range(1, 6)]
    with hub.client("acme", acme) as client:
        before = list(client.fetch())
        start = before[-1].cursor if before else ""
        client.submit([Signal("pdq", v) for v in values])
        events = list(client.fetch(after=start))
        assert [e.signal.value for e in events] == values
        assert all(e.event == "signal_added" and e.member_id == "acme" for e in events)
        cursors = [feed_sequence(hub.data_dir, e.cursor) for e in before + events]
        assert cursors == list(range(1, len(cursors) + 1))  # contiguous, increasing
        assert [e.signal.value for e in client.fetch(after=events[1].cursor)] == values[2:]
        assert [e.cursor for e in client.fetch(after=start, limit=2)] == [
            events[0].cursor,
            events[1].cursor,
        ]
        assert list(client.fetch(after=events[-1].cursor)) == []


def test_second_member_corroborates_and_get_shows_verifiable_provenance(
    hub: HubProcess, acme: Path, beta: Path
) -> None:
    value = "ab" * 32
    with hub.client("acme", acme) as a, hub.client("beta", beta) as b:
        first = a.submit([Signal("pdq", value, labels=("csam",))])
        second = b.submit([Signal("pdq", value, labels=("sextortion",), tags=("wave-3",))])
        again = b.submit([Signal("pdq", value)])
        detail = a.get_signal(first.items[0].signal_id)
    assert [first.items[0].status, second.items[0].status, again.items[0].status] == [
        "new",
        "corroborated",
        "duplicate",
    ]
    assert detail.signal.corroboration == 2
    assert detail.signal.labels == ("csam", "sextortion")
    assert detail.signal.tags == ("wave-3",)
    assert [s.member_id for s in detail.submissions] == ["acme", "beta", "beta"]
    # Anyone can re-check who submitted what: the envelope verifies under the member's key.
    public_key = domain.read_public_key(Path(f"{beta}.pub"))
    envelope = detail.submissions[1].envelope
    assert verify_signature(
        public_key, envelope.signature, domain.submission_signing_bytes(envelope.payload)
    )
    batch = common_pb2.SubmissionBatch.FromString(envelope.payload)
    assert (batch.member_id, batch.signals[0].value) == ("beta", value)


def test_replayed_batch_returns_first_answer_and_stores_nothing(
    hub: HubProcess, acme: Path
) -> None:
    signals = [Signal("pdq", "cd" * 32), Signal("sha256", "ef" * 32)]
    with hub.client("acme", acme) as client:
        first = client.submit(signals, batch_id="replay-1")
        before = store_fingerprint(hub.data_dir)
        again = client.submit(signals, batch_id="replay-1")  # re-signed, new created_at
        assert store_fingerprint(hub.data_dir) == before
    assert again.replayed and not first.replayed
    assert again.items == first.items and again.cursor == first.cursor


def test_batch_id_reused_for_other_signals_is_refused_and_stores_nothing(
    hub: HubProcess, acme: Path
) -> None:
    with hub.client("acme", acme) as client:
        client.submit([Signal("pdq", "12" * 32)], batch_id="reuse-1")
        before = store_fingerprint(hub.data_dir)
        with pytest.raises(AlreadyExists):
            client.submit([Signal("pdq", "34" * 32)], batch_id="reuse-1")
        assert store_fingerprint(hub.data_dir) == before


def test_dry_run_validates_and_stores_nothing(hub: HubProcess, acme: Path) -> None:
    with hub.client("acme", acme) as client:
        before = store_fingerprint(hub.data_dir)
        result = client.submit([Signal("pdq", "56" * 32)], validate_only=True)
        assert [i.status for i in result.items] == ["new"]
        assert store_fingerprint(hub.data_dir) == before
        assert client.match_pdq(["56" * 32], max_distance=0)[0].matches == ()


def test_get_unknown_signal_is_not_found(hub: HubProcess, acme: Path) -> None:
    with hub.client("acme", acme) as client, pytest.raises(NotFound):
        client.get_signal("0" * 32)


def test_health_reports_serving(hub: HubProcess) -> None:
    with grpc.insecure_channel(hub.endpoint) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = stub.Check(health_pb2.HealthCheckRequest(service="signalhub.v1.Exchange"))
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_restart_keeps_signals_feed_and_match_index(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    hub = HubProcess(data_dir).start()
    try:
        key = hub.add_member("gamma", tmp_path)
        image = pdq_from_image(save_photo(tmp_path / "x.png", seed=21))
        edited = pdq_from_image(save_edited_copy(tmp_path / "x.jpg", seed=21))
        with hub.client("gamma", key) as client:
            client.submit([Signal("pdq", image.hex, labels=("ncii",))], batch_id="b1")
            events_before = [e.to_json() for e in client.fetch()]
        hub.restart()
        with hub.client("gamma", key) as client:
            assert [e.to_json() for e in client.fetch()] == events_before
            match = client.match_pdq([edited.hex])[0]
            assert [m.signal.value for m in match.matches] == [image.hex]
            # the batch table survived too: a late retry still gets the first answer
            assert client.submit(
                [Signal("pdq", image.hex, labels=("ncii",))], batch_id="b1"
            ).replayed
    finally:
        assert hub.stop() == 0  # SIGTERM: a clean exit


def test_client_retries_until_the_hub_comes_up(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    hub = HubProcess(data_dir).start()
    key = hub.add_member("delta", tmp_path)
    port = hub.port
    assert hub.stop() == 0
    results: list[object] = []
    client = Client(
        f"127.0.0.1:{port}",
        "delta",
        key,
        retry=RetryPolicy(attempts=40, initial_backoff_seconds=0.2, max_backoff_seconds=0.5),
    )

    def submit() -> None:
        try:
            results.append(client.submit([Signal("pdq", "77" * 32)]))
        except Exception as e:
            results.append(e)

    worker = threading.Thread(target=submit)
    worker.start()
    time.sleep(1.0)  # the first attempts fail with UNAVAILABLE
    hub.start(port)
    worker.join(timeout=60)
    try:
        assert len(results) == 1 and not isinstance(results[0], Exception), results
        with hub.client("delta", key) as c:
            assert len(list(c.fetch())) == 1  # stored exactly once
    finally:
        client.close()
        hub.stop()


def test_metrics_endpoint_counts_requests_and_auth_failures(tmp_path: Path) -> None:
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    hub = HubProcess(data_dir).start(extra=("--metrics-listen", f"127.0.0.1:{port}"))
    try:
        key = hub.add_member("epsilon", tmp_path)
        with hub.client("epsilon", key) as client:
            client.submit([Signal("pdq", "9a" * 32)])
            client.match_pdq(["9a" * 32])
        stranger = Client(hub.endpoint, "epsilon", domain.new_private_key())
        with pytest.raises(Exception, match="unknown key"):
            stranger.match_pdq(["9a" * 32])
        stranger.close()
        text = (
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        )
    finally:
        hub.stop()
    lines = text.splitlines()
    assert 'signalhub_signals_submitted_total{result="new",type="pdq"} 1.0' in lines
    assert 'signalhub_rpc_requests_total{code="OK",method="MatchHashes"} 1.0' in lines
    assert 'signalhub_auth_failures_total{reason="unknown_key"} 1.0' in lines
    assert 'signalhub_index_signals{type="pdq"} 1.0' in lines
    assert "9a9a" not in text and "epsilon" not in text  # no hashes or member ids as labels
