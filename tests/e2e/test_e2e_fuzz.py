"""Hostile input: malformed, truncated, oversized and random requests to every RPC of a real
hub. It never crashes or hangs, every answer has an expected code (never INTERNAL or
UNKNOWN), and the store is unchanged.

SIGNALHUB_FUZZ_EXAMPLES sets how many inputs each property tries (default 150); the count
actually tried is printed and recorded in benchmarks/RESULTS.md for a long run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hubtools import HubProcess, new_hub, store_fingerprint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client_sdk.signing import Signer
from signalhub import domain
from signalhub.v1 import admin_pb2, common_pb2, exchange_pb2

EXAMPLES = int(os.environ.get("SIGNALHUB_FUZZ_EXAMPLES", "150"))
EXPECTED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
}
METHODS = [
    f"/signalhub.v1.{service.name}/{method.name}"
    for file in (exchange_pb2, admin_pb2)
    for service in file.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]
STREAMING = {
    f"/signalhub.v1.{service.name}/{method.name}"
    for file in (exchange_pb2, admin_pb2)
    for service in file.DESCRIPTOR.services_by_name.values()
    for method in service.methods
    if method.server_streaming
}
TRIED = {"inputs": 0}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, Signer]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    hub = new_hub(tmp)
    key = hub.add_member("fuzzer", tmp)
    member = Signer("fuzzer", domain.read_private_key(key))
    with hub.client("fuzzer", key) as client:  # some state that must survive untouched
        from client_sdk import Signal

        client.submit([Signal("pdq", "ab" * 32, labels=("csam",))])
    yield hub, member
    print(f"\nfuzz: {TRIED['inputs']} inputs tried against {len(METHODS)} methods")
    assert hub.stop() == 0


def send(hub: HubProcess, method: str, raw: bytes, metadata: object) -> grpc.StatusCode:
    with grpc.insecure_channel(
        hub.endpoint, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
    ) as channel:
        stream = method in STREAMING
        if stream:
            call = channel.unary_stream(method, request_serializer=lambda b: b)
        else:
            call = channel.unary_unary(method, request_serializer=lambda b: b)
        TRIED["inputs"] += 1
        try:
            result = call(raw, metadata=metadata, timeout=20)
            if stream:
                list(result)
        except grpc.RpcError as e:
            assert e.code() != grpc.StatusCode.DEADLINE_EXCEEDED, f"{method} hung"
            return e.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def nested(depth: int) -> bytes:
    """A field 1 of type message nested `depth` times (deep recursion for a parser)."""
    body = b""
    for _ in range(depth):
        body = b"\x0a" + _varint(len(body)) + body
    return body


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def valid_request(method: str) -> bytes:
    name = method.rsplit("/", 1)[1]
    if name == "SubmitSignals":
        batch = common_pb2.SubmissionBatch(
            member_id="fuzzer",
            batch_id="x",
            signals=[common_pb2.SignalSubmission(type="pdq", value="cd" * 32)],
        )
        return exchange_pb2.SubmitSignalsRequest(
            envelope=common_pb2.SignedEnvelope(
                payload=batch.SerializeToString(), key_id="0" * 32, signature=b"\x00" * 64
            )
        ).SerializeToString()
    if name == "MatchHashes":
        return exchange_pb2.MatchHashesRequest(
            queries=[exchange_pb2.MatchQuery(type="pdq", value="ab" * 32)]
        ).SerializeToString()
    return b""


requests = st.one_of(
    st.binary(max_size=512),
    st.builds(lambda m, cut: valid_request(m)[:cut], st.sampled_from(METHODS), st.integers(0, 300)),
    st.builds(lambda n: b"\x0a" + _varint(n) + b"\x00" * min(n, 64), st.integers(0, 2**35)),
    st.builds(lambda d: nested(d), st.integers(50, 3000)),
    st.builds(lambda n: b"".join(b"\x0a\x02\x0a\x00" for _ in range(n)), st.integers(1, 20000)),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(method=st.sampled_from(METHODS), raw=requests, signed=st.booleans())
def test_every_rpc_survives_hostile_bytes(
    target: tuple[HubProcess, Signer], method: str, raw: bytes, signed: bool
) -> None:
    hub, member = target
    metadata = member.call_metadata(method, raw) if signed else None
    code = send(hub, method, raw, metadata)
    assert code in EXPECTED, f"{method} answered {code} to {raw[:40]!r}"


def test_after_the_fuzzing_the_hub_serves_and_the_store_is_unchanged(
    target: tuple[HubProcess, Signer], tmp_path: Path
) -> None:
    hub, member = target
    before = store_fingerprint(hub.data_dir)
    for method in METHODS:  # one more round of each kind, then look
        for raw in (b"\xff" * 7, nested(2000), valid_request(method)[:5]):
            assert send(hub, method, raw, member.call_metadata(method, raw)) in EXPECTED
    assert store_fingerprint(hub.data_dir) == before
    with grpc.insecure_channel(hub.endpoint) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert status.status == health_pb2.HealthCheckResponse.SERVING
    assert hub.proc is not None and hub.proc.poll() is None
