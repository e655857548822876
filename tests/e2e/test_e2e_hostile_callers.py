"""Callers who want more than their share (issue 19): the hub bounds what one call, one
member or one stranger can make it do before any work is spent on them."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hubtools import HubProcess, new_hub, store_fingerprint

from client_sdk import RetryPolicy, Signal
from client_sdk.errors import ResourceExhausted
from client_sdk.signing import Signer
from client_sdk.snapshot import read_snapshot
from exchange import service
from signalhub import domain
from signalhub.v1 import common_pb2, exchange_pb2

MATCH = "/signalhub.v1.Exchange/MatchHashes"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, Path]]:
    root = tmp_path_factory.mktemp("hostile")
    hub = new_hub(root, metrics=True)
    hub.add_member("mallory", root)
    yield hub, root
    hub.stop()


def _bomb() -> bytes:
    """A MatchHashes request of 15 MB that gzip packs into a few KB."""
    query = exchange_pb2.MatchQuery(type="md5", value="0" * 4000)
    return exchange_pb2.MatchHashesRequest(queries=[query] * 3800).SerializeToString()


@pytest.mark.parametrize("signed", [False, True])
def test_compressed_requests_are_refused_before_they_are_inflated(
    hub: tuple[HubProcess, Path], signed: bool
) -> None:
    process, root = hub
    raw = _bomb()
    assert len(raw) > 14 * 1024 * 1024
    metadata: tuple[tuple[str, str | bytes], ...] = ()
    if signed:  # a member's valid signature does not make inflating it worth it either
        signer = Signer("mallory", domain.read_private_key(root / "mallory.key"))
        metadata = tuple(signer.call_metadata(MATCH, raw))
    before = store_fingerprint(process.data_dir)
    with grpc.insecure_channel(
        process.endpoint,
        compression=grpc.Compression.Gzip,
        options=[("grpc.max_send_message_length", 32 * 1024 * 1024)],
    ) as channel:
        call = channel.unary_unary(MATCH, request_serializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as e:
            call(raw, metadata=metadata, timeout=30)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "gzip" in (e.value.details() or "")
    assert store_fingerprint(process.data_dir) == before
    # Uncompressed, the same member's calls go through.
    signer = Signer("mallory", domain.read_private_key(root / "mallory.key"))
    small = exchange_pb2.MatchHashesRequest(
        queries=[exchange_pb2.MatchQuery(type="md5", value="0" * 32)]
    ).SerializeToString()
    with grpc.insecure_channel(process.endpoint) as channel:
        call = channel.unary_unary(MATCH, request_serializer=lambda b: b)
        answer = exchange_pb2.MatchHashesResponse.FromString(
            call(small, metadata=tuple(signer.call_metadata(MATCH, small)), timeout=30)
        )
    assert [r.query_index for r in answer.results] == [0]


def test_a_match_against_a_large_incident_stays_within_the_answer_budgets(
    hub: tuple[HubProcess, Path],
) -> None:
    """Issue 19: 200 queries against signals linked by one incident made the hub build a 306 MB
    answer. Linked signals now have a per-call budget and the answer a size budget."""
    process, root = hub
    rng = random.Random(7)
    base = rng.getrandbits(256)
    values = [f"{base ^ (1 << (i % 256)) ^ (1 << ((i * 7) % 256)):064x}" for i in range(300)]
    key = process.add_member("caseworker", root)
    with process.client("caseworker", key) as member:
        member.submit([Signal("pdq", v, incident="case-1") for v in values])
        results = member.match([("pdq", values[i % 300]) for i in range(200)], max_distance=31)
    linked = sum(len(m.linked) for r in results for m in r.matches)
    assert 0 < linked <= service.MAX_LINKED_PER_CALL
    first = results[0].matches[0]
    assert len(first.linked) == service.MAX_LINKED and first.linked_truncated
    assert any(m.linked_truncated and not m.linked for r in results for m in r.matches)
    distinct = len(set(values))
    assert all(len(r.matches) == distinct and not r.truncated for r in results)
    # That answer spent the member's share of match work: the next call waits its turn
    # (RetryInfo), and another member's matching is not touched.
    with process.client("caseworker", key, retry=RetryPolicy(attempts=1)) as member:
        with contextlib.suppress(ResourceExhausted):  # in debt by at most 0.3 s: may pass
            member.match([("pdq", values[i % 300]) for i in range(200)], max_distance=31)
        before = store_fingerprint(process.data_dir)
        with pytest.raises(ResourceExhausted) as e:  # in debt by 10 s now, whatever the above
            member.match([("pdq", values[0])])
        assert store_fingerprint(process.data_dir) == before
    assert "share of match results is spent" in str(e.value)
    with process.client("mallory", root / "mallory.key") as other:
        (found,) = other.match([("pdq", values[0])], max_distance=0)
    assert [m.signal.value for m in found.matches] == [values[0]]
    refused = 'signalhub_member_limit_refusals_total{kind="match"}'
    assert process.metric(refused) >= 1


def test_an_answer_over_its_size_budget_is_cut_and_marked_truncated() -> None:
    signal = common_pb2.Signal(signal_id="ab" * 16, type="pdq", value="0" * 64)
    result = exchange_pb2.QueryMatches(query_index=3)
    for _ in range(10):
        result.matches.add(signal=signal, distance=1)
    one = result.matches[0].ByteSize()
    service._cut_to_budget(result, 3 * one)
    assert result.truncated and len(result.matches) == 7
    service._cut_to_budget(result, 10**9)
    assert result.truncated and len(result.matches) == 0


def _follow(process: HubProcess, signer: Signer, channel: grpc.Channel) -> Any:
    method = "/signalhub.v1.Exchange/FetchUpdates"
    raw = exchange_pb2.FetchUpdatesRequest(follow=True).SerializeToString()
    call = channel.unary_stream(method, request_serializer=lambda b: b)
    return call(raw, metadata=tuple(signer.call_metadata(method, raw)), timeout=60)


def test_a_member_holds_at_most_its_share_of_following_streams(tmp_path: Path) -> None:
    process = new_hub(tmp_path, metrics=True, extra=("--max-follows-per-member", "2"))
    try:
        signers = {}
        for name in ("greedy", "other"):
            process.add_member(name, tmp_path)
            signers[name] = Signer(name, domain.read_private_key(tmp_path / f"{name}.key"))
        with grpc.insecure_channel(process.endpoint) as channel:
            held = [_follow(process, signers["greedy"], channel) for _ in range(2)]
            time.sleep(0.5)  # both are being served
            before = store_fingerprint(process.data_dir)
            with pytest.raises(grpc.RpcError) as e:
                next(_follow(process, signers["greedy"], channel))
            assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert store_fingerprint(process.data_dir) == before
            assert "at most 2 following streams at once per member" in (e.value.details() or "")
            refused = 'signalhub_member_limit_refusals_total{kind="follow"}'
            assert process.metric(refused) == 1
            others = _follow(process, signers["other"], channel)  # another member's share
            with process.client("other", tmp_path / "other.key") as other:
                other.submit([Signal("md5", "ab" * 16)])
                assert len(list(other.fetch())) == 1  # plain fetches are not limited
            assert _first_value(next(others)) == "ab" * 16
            held[0].cancel()
            time.sleep(0.5)
            again = _follow(process, signers["greedy"], channel)  # a slot was given back
            assert _first_value(next(again)) == "ab" * 16
            for call in (*held, others, again):
                call.cancel()
    finally:
        process.stop()


def _first_value(raw: bytes) -> str:
    return exchange_pb2.FetchUpdatesResponse.FromString(raw).events[0].signal.value


def test_snapshot_readers_of_one_state_share_one_spool_and_hold_at_most_their_share(
    tmp_path: Path,
) -> None:
    """Issue 19: 40 unread GetSnapshot streams of one member held 574 MB of spool files. A
    member now holds at most 2 snapshot streams, and those of one state share one spool,
    deleted when its last reader ends."""
    process = new_hub(tmp_path, metrics=True)
    try:
        process.add_member("onboarding", tmp_path)
        signer = Signer("onboarding", domain.read_private_key(tmp_path / "onboarding.key"))
        rng = random.Random(5)
        with process.client("onboarding", tmp_path / "onboarding.key") as member:
            member.submit([Signal("pdq", f"{rng.getrandbits(256):064x}") for _ in range(3000)])
        method = "/signalhub.v1.Exchange/GetSnapshot"
        raw = exchange_pb2.GetSnapshotRequest().SerializeToString()
        spool = "signalhub_snapshot_spool_bytes"
        # A reader that reads slowly: HTTP/2 windows stay at their initial 64 KiB.
        slow = [("grpc.http2.bdp_probe", 0)]
        with grpc.insecure_channel(process.endpoint, options=slow) as channel:
            call = channel.unary_stream(method, request_serializer=lambda b: b)

            def open_stream() -> Any:
                return call(raw, metadata=tuple(signer.call_metadata(method, raw)), timeout=60)

            first = open_stream()
            heads = [next(first)]
            one = process.metric(spool)
            assert one > 100_000  # 3000 signals
            second = open_stream()
            heads.append(next(second))
            assert process.metric(spool) == one  # the same state: the same spool
            before = store_fingerprint(process.data_dir)
            with pytest.raises(grpc.RpcError) as e:
                next(open_stream())
            assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert store_fingerprint(process.data_dir) == before
            assert process.metric('signalhub_member_limit_refusals_total{kind="snapshot"}') == 1
            got = [read_snapshot([head, *rest], "onboarding") for head, rest in
                   zip(heads, (list(first), list(second)), strict=True)]  # fmt: skip
        assert got[0].count == got[1].count == 3000
        assert [s.signal_id for s in got[0].signals] == [s.signal_id for s in got[1].signals]
        time.sleep(0.2)
        assert process.metric(spool) == 0  # deleted with its last reader
    finally:
        process.stop()
