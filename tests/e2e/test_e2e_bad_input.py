"""Every bad input gets a clear error with its canonical code, and stores nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from hubtools import HubProcess, store_fingerprint

from client_sdk import Client, Signal, SignalhubError
from client_sdk.errors import error_from_rpc
from client_sdk.signing import Signer
from signalhub import domain
from signalhub.v1 import common_pb2, exchange_pb2

PDQ = "f0" * 32
SUBMIT = "/signalhub.v1.Exchange/SubmitSignals"


@pytest.fixture(scope="module")
def members(hub: HubProcess, keys_dir: Path) -> dict[str, Path]:
    keys = {name: hub.add_member(name, keys_dir) for name in ("acme", "beta")}
    with hub.client("acme", keys["acme"]) as client:  # some state to protect
        client.submit([Signal("pdq", PDQ, labels=("csam",))])
    return keys


@pytest.fixture(scope="module")
def channel(hub: HubProcess) -> Iterator[grpc.Channel]:
    options = [("grpc.max_send_message_length", 64 * 1024 * 1024)]
    with grpc.insecure_channel(hub.endpoint, options=options) as ch:
        yield ch


def signer(members: dict[str, Path], name: str, as_member: str | None = None) -> Signer:
    return Signer(as_member or name, domain.read_private_key(members[name]))


def wire(*signals: tuple[str, str]) -> list[common_pb2.SignalSubmission]:
    return [common_pb2.SignalSubmission(type=t, value=v) for t, v in signals]


def submit_raw(
    channel: grpc.Channel, request: bytes, caller: Signer | None
) -> exchange_pb2.SubmitSignalsResponse:
    """Sends request bytes as they are, with call metadata signed by `caller` (if any)."""
    call = channel.unary_unary(
        SUBMIT,
        request_serializer=lambda b: b,
        response_deserializer=exchange_pb2.SubmitSignalsResponse.FromString,
    )
    metadata = caller.call_metadata(SUBMIT, request) if caller else None
    response: exchange_pb2.SubmitSignalsResponse = call(request, metadata=metadata, timeout=30)
    return response


def submit_envelope(
    channel: grpc.Channel, envelope: common_pb2.SignedEnvelope, caller: Signer
) -> exchange_pb2.SubmitSignalsResponse:
    """Submits an envelope in a call signed by `caller` (the member the envelope claims, with
    the key that signed it), so that what is tested is the envelope itself."""
    raw = exchange_pb2.SubmitSignalsRequest(envelope=envelope).SerializeToString()
    return submit_raw(channel, raw, caller)


def refused(hub: HubProcess, action: Callable[[], object], code: grpc.StatusCode) -> SignalhubError:
    """Runs `action`, expects the hub to refuse it with `code`, and checks that the store did
    not change. Returns the error (with its field violations) for further checks."""
    before = store_fingerprint(hub.data_dir)
    with pytest.raises((grpc.RpcError, SignalhubError)) as info:
        action()
    error = info.value
    converted = error_from_rpc(error) if isinstance(error, grpc.RpcError) else error
    assert converted.code == code, f"{converted.code}: {converted}"
    assert store_fingerprint(hub.data_dir) == before
    return converted


def fields(error: SignalhubError) -> list[str]:
    return [f for f, _ in error.violations]


@pytest.mark.parametrize(
    ("signals", "field"),
    [
        ([("pdq", "f0" * 31)], "signals[0].value"),  # 62 digits: wrong length
        ([("pdq", PDQ), ("pdq", "zz" * 32)], "signals[1].value"),  # not hex
        ([("pdq", PDQ), ("photo", PDQ)], "signals[1].type"),  # unknown type
        ([("md5", "ab" * 17)], "signals[0].value"),
    ],
)
def test_bad_value_or_type_is_invalid_argument_naming_the_item(
    hub: HubProcess,
    members: dict[str, Path],
    channel: grpc.Channel,
    signals: list[tuple[str, str]],
    field: str,
) -> None:
    s = signer(members, "acme")
    envelope = s.envelope("bad-item", wire(*signals))
    error = refused(
        hub, lambda: submit_envelope(channel, envelope, s), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields(error) == [field]


def test_unknown_label_is_invalid_argument(hub: HubProcess, members: dict[str, Path]) -> None:
    with hub.client("acme", members["acme"]) as client:
        error = refused(
            hub,
            lambda: client.submit([Signal("pdq", PDQ, labels=("nope",))]),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    assert fields(error) == ["signals[0].labels"]


def test_empty_batch_is_invalid_argument(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    s = signer(members, "acme")
    envelope = s.envelope("empty", [])
    error = refused(
        hub, lambda: submit_envelope(channel, envelope, s), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields(error) == ["signals"]


def test_batch_over_the_signal_limit_is_invalid_argument(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    many = [("pdq", f"{i:064x}") for i in range(domain.MAX_BATCH_SIGNALS + 1)]
    s = signer(members, "acme")
    envelope = s.envelope("too-many", wire(*many))
    error = refused(
        hub, lambda: submit_envelope(channel, envelope, s), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields(error) == ["signals"]


def test_message_over_the_size_limit_is_resource_exhausted(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    big = common_pb2.SignalSubmission(type="pdq", value=PDQ, tags=["x" * 1024] * 20)
    s = signer(members, "acme")
    envelope = s.envelope("huge", [big] * 900)  # ~18 MB
    assert envelope.ByteSize() > domain.MAX_MESSAGE_BYTES
    refused(hub, lambda: submit_envelope(channel, envelope, s), grpc.StatusCode.RESOURCE_EXHAUSTED)


def test_unknown_member_is_unauthenticated(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    s = signer(members, "acme", as_member="ghost")
    envelope = s.envelope("g", wire(("pdq", PDQ)))
    refused(hub, lambda: submit_envelope(channel, envelope, s), grpc.StatusCode.UNAUTHENTICATED)


def test_unregistered_key_is_unauthenticated(hub: HubProcess, channel: grpc.Channel) -> None:
    stranger = Signer("acme", domain.new_private_key())
    envelope = stranger.envelope("s", wire(("pdq", PDQ)))
    refused(
        hub, lambda: submit_envelope(channel, envelope, stranger), grpc.StatusCode.UNAUTHENTICATED
    )


def test_signature_that_does_not_verify_is_unauthenticated(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    s = signer(members, "acme")
    envelope = s.envelope("sig", wire(("pdq", PDQ)))
    envelope.signature = bytes([envelope.signature[0] ^ 1]) + envelope.signature[1:]
    refused(hub, lambda: submit_envelope(channel, envelope, s), grpc.StatusCode.UNAUTHENTICATED)


def test_tampered_payload_is_unauthenticated(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    s = signer(members, "acme")
    envelope = s.envelope("tamper", wire(("pdq", PDQ)))
    envelope.payload = envelope.payload.replace(PDQ.encode(), ("0f" * 32).encode())
    refused(hub, lambda: submit_envelope(channel, envelope, s), grpc.StatusCode.UNAUTHENTICATED)


def test_key_of_another_member_is_permission_denied(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    # acme's key signs a batch that claims to come from beta
    s = signer(members, "acme", as_member="beta")
    envelope = s.envelope("other", wire(("pdq", PDQ)))
    refused(hub, lambda: submit_envelope(channel, envelope, s), grpc.StatusCode.PERMISSION_DENIED)


@pytest.mark.parametrize("offset_seconds", [-domain.REPLAY_WINDOW_SECONDS - 60, 3600])
def test_created_at_outside_the_window_is_unauthenticated(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel, offset_seconds: int
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=offset_seconds)
    s = signer(members, "acme")
    envelope = s.envelope(f"stale{offset_seconds}", wire(("pdq", PDQ)), created_at=when)
    error = refused(
        hub, lambda: submit_envelope(channel, envelope, s), grpc.StatusCode.UNAUTHENTICATED
    )
    assert "window" in str(error)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: setattr(e, "signature", b"\x01" * 10), "envelope.signature"),
        (lambda e: setattr(e, "key_id", "not-a-key"), "envelope.key_id"),
        (lambda e: setattr(e, "payload", b""), "envelope.payload"),
    ],
)
def test_malformed_envelope_is_invalid_argument(
    hub: HubProcess,
    members: dict[str, Path],
    channel: grpc.Channel,
    mutate: Callable[[common_pb2.SignedEnvelope], None],
    field: str,
) -> None:
    s = signer(members, "acme")
    envelope = s.envelope("malformed", wire(("pdq", PDQ)))
    mutate(envelope)
    error = refused(
        hub, lambda: submit_envelope(channel, envelope, s), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert field in fields(error)


def test_signed_payload_that_is_not_a_batch_is_invalid_argument(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    s = signer(members, "acme")
    key = s.private_key
    payload = b"\xff\xff\xff garbage"
    envelope = common_pb2.SignedEnvelope(
        payload=payload,
        key_id=domain.key_id(domain.raw_public_key(key)),
        signature=key.sign(domain.submission_signing_bytes(payload)),
    )
    error = refused(
        hub, lambda: submit_envelope(channel, envelope, s), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields(error) == ["envelope.payload"]


def test_request_bytes_that_do_not_parse_are_invalid_argument(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    s = signer(members, "acme")
    garbage = b"\x0a\xff\xff\xff"
    refused(hub, lambda: submit_raw(channel, garbage, s), grpc.StatusCode.INVALID_ARGUMENT)


def test_submission_without_call_metadata_is_unauthenticated(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    envelope = signer(members, "acme").envelope("no-metadata", wire(("pdq", PDQ)))
    raw = exchange_pb2.SubmitSignalsRequest(envelope=envelope).SerializeToString()
    refused(hub, lambda: submit_raw(channel, raw, None), grpc.StatusCode.UNAUTHENTICATED)


def test_envelope_sent_by_another_member_is_permission_denied(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    """A captured envelope (GetSignal hands them out as provenance) cannot be replayed by
    anyone but its signer, so nobody else learns its stored answer."""
    envelope = signer(members, "acme").envelope("captured", wire(("pdq", PDQ)))
    submit_envelope(channel, envelope, signer(members, "acme"))
    thief = signer(members, "beta")
    refused(
        hub, lambda: submit_envelope(channel, envelope, thief), grpc.StatusCode.PERMISSION_DENIED
    )


def test_dry_run_is_part_of_the_signed_batch(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    s = signer(members, "acme")
    batch = common_pb2.SubmissionBatch(
        member_id="acme", batch_id="dry", signals=wire(("pdq", "3c" * 32)), validate_only=True
    )
    batch.created_at.GetCurrentTime()
    envelope = s.sign_payload(domain.SUBMISSION_SIGNING_PREFIX, batch.SerializeToString())
    before = store_fingerprint(hub.data_dir)
    answer = submit_envelope(channel, envelope, s)
    assert [r.status for r in answer.results] == [exchange_pb2.SUBMIT_STATUS_NEW]
    submit_envelope(channel, envelope, s)  # sending it again is still a dry run
    assert store_fingerprint(hub.data_dir) == before
    batch.validate_only = False  # turning it into a real one breaks the signature
    envelope.payload = batch.SerializeToString()
    refused(hub, lambda: submit_envelope(channel, envelope, s), grpc.StatusCode.UNAUTHENTICATED)


def test_read_without_signed_metadata_is_unauthenticated(
    hub: HubProcess, channel: grpc.Channel
) -> None:
    call = channel.unary_unary(
        "/signalhub.v1.Exchange/MatchHashes",
        request_serializer=exchange_pb2.MatchHashesRequest.SerializeToString,
        response_deserializer=exchange_pb2.MatchHashesResponse.FromString,
    )
    request = exchange_pb2.MatchHashesRequest(
        queries=[exchange_pb2.MatchQuery(type="pdq", value=PDQ)]
    )
    refused(hub, lambda: call(request, timeout=10), grpc.StatusCode.UNAUTHENTICATED)


def test_replayed_call_metadata_is_unauthenticated(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    method = "/signalhub.v1.Exchange/MatchHashes"
    raw = exchange_pb2.MatchHashesRequest(
        queries=[exchange_pb2.MatchQuery(type="pdq", value=PDQ)]
    ).SerializeToString()
    call = channel.unary_unary(
        method,
        request_serializer=lambda b: b,
        response_deserializer=exchange_pb2.MatchHashesResponse.FromString,
    )
    metadata = signer(members, "acme").call_metadata(method, raw)
    first = call(raw, metadata=metadata, timeout=10)
    assert len(first.results[0].matches) == 1
    refused(hub, lambda: call(raw, metadata=metadata, timeout=10), grpc.StatusCode.UNAUTHENTICATED)


def test_call_signature_over_other_request_bytes_is_unauthenticated(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    method = "/signalhub.v1.Exchange/GetSignal"
    signed = exchange_pb2.GetSignalRequest(signal_id="0" * 32).SerializeToString()
    sent = exchange_pb2.GetSignalRequest(signal_id=domain.signal_id("pdq", PDQ))
    call = channel.unary_unary(
        method,
        request_serializer=exchange_pb2.GetSignalRequest.SerializeToString,
        response_deserializer=exchange_pb2.GetSignalResponse.FromString,
    )
    metadata = signer(members, "acme").call_metadata(method, signed)
    refused(hub, lambda: call(sent, metadata=metadata, timeout=10), grpc.StatusCode.UNAUTHENTICATED)


def test_member_calling_admin_is_permission_denied(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    from client_sdk import AdminClient

    with AdminClient(hub.endpoint, members["acme"]) as not_operator:
        refused(
            hub,
            lambda: not_operator.add_member("mallory", b"\x00" * 32),
            grpc.StatusCode.UNAUTHENTICATED,  # signed as "operator" with a member's key
        )
    member_as_admin = Signer("acme", domain.read_private_key(members["acme"]))
    with grpc.insecure_channel(hub.endpoint) as ch:
        method = "/signalhub.v1.Admin/ListMembers"
        call = ch.unary_unary(method, request_serializer=lambda b: b)
        refused(
            hub,
            lambda: call(b"", metadata=member_as_admin.call_metadata(method, b""), timeout=10),
            grpc.StatusCode.PERMISSION_DENIED,
        )


@pytest.mark.parametrize(
    ("queries", "max_distance", "field"),
    [
        ([("pdq", "12")], 31, "queries[0].value"),
        ([("pdq", PDQ), ("nope", PDQ)], 31, "queries[1].type"),
        ([("pdq", PDQ)], 65, "max_distance"),
    ],
)
def test_bad_match_query_is_invalid_argument(
    hub: HubProcess,
    members: dict[str, Path],
    queries: list[tuple[str, str]],
    max_distance: int,
    field: str,
) -> None:
    with Client(hub.endpoint, "acme", members["acme"]) as client:
        error = refused(
            hub,
            lambda: client.match(queries, max_distance=max_distance),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    assert fields(error) == [field]


@pytest.mark.parametrize(("after", "field"), [("abc", "after"), ("-1", "after")])
def test_bad_feed_cursor_is_invalid_argument(
    hub: HubProcess, members: dict[str, Path], after: str, field: str
) -> None:
    with Client(hub.endpoint, "acme", members["acme"]) as client:
        error = refused(
            hub, lambda: list(client.fetch(after=after)), grpc.StatusCode.INVALID_ARGUMENT
        )
    assert fields(error) == [field]


def test_bad_member_name_and_duplicate_member_are_refused(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    with hub.admin() as admin:
        error = refused(
            hub,
            lambda: admin.add_member("Not A Slug", b"\x01" * 32),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert fields(error) == ["member_id"]
        refused(
            hub,
            lambda: admin.add_member("operator", b"\x01" * 32),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        refused(
            hub,
            lambda: admin.add_member("acme", b"\x02" * 32),
            grpc.StatusCode.ALREADY_EXISTS,
        )
        error = refused(
            hub,
            lambda: admin.add_member("short-key", b"\x01" * 31),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert fields(error) == ["public_key"]


@pytest.mark.parametrize("after", ["18446744073709551615", "9" * 5000, "\uff11\uff12"])
def test_out_of_range_cursor_is_invalid_argument(
    hub: HubProcess, members: dict[str, Path], after: str
) -> None:
    with Client(hub.endpoint, "acme", members["acme"]) as client:
        error = refused(
            hub, lambda: list(client.fetch(after=after)), grpc.StatusCode.INVALID_ARGUMENT
        )
    assert fields(error) == ["after"]


def test_overlong_call_timestamp_is_unauthenticated_not_internal(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    method = "/signalhub.v1.Exchange/GetAuditHead"
    metadata = dict(signer(members, "acme").call_metadata(method, b""))
    metadata[domain.META_TIMESTAMP] = "9" * 5000
    call = channel.unary_unary(method, request_serializer=lambda b: b)
    refused(
        hub, lambda: call(b"", metadata=tuple(metadata.items()), timeout=10),
        grpc.StatusCode.UNAUTHENTICATED,
    )  # fmt: skip


def test_unrepresentable_created_at_is_invalid_argument(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    s = signer(members, "acme")
    batch = common_pb2.SubmissionBatch(member_id="acme", batch_id="far", signals=wire(("pdq", PDQ)))
    batch.created_at.seconds = 2**62
    envelope = s.sign_payload(domain.SUBMISSION_SIGNING_PREFIX, batch.SerializeToString())
    error = refused(
        hub, lambda: submit_envelope(channel, envelope, s), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields(error) == ["created_at"]


def test_batch_id_too_long_in_bytes_is_invalid_argument(
    hub: HubProcess, members: dict[str, Path], channel: grpc.Channel
) -> None:
    s = signer(members, "acme")
    envelope = s.envelope("🦀" * 128, wire(("pdq", PDQ)))  # 128 characters, 512 bytes
    error = refused(
        hub, lambda: submit_envelope(channel, envelope, s), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields(error) == ["batch_id"]


def test_match_answers_are_bounded_and_say_so(hub: HubProcess, members: dict[str, Path]) -> None:
    base = int("5a" * 32, 16)
    near = [f"{base ^ (1 << (i % 256)) ^ (i << 8):064x}" for i in range(1100)]
    with Client(hub.endpoint, "acme", members["acme"]) as client:
        client.submit_all([Signal("pdq", v) for v in near], max_signals=1100)
        [result] = client.match_pdq([f"{base:064x}"], max_distance=64)
        raw = client._conn.signed_unary(
            "/signalhub.v1.Exchange/MatchHashes",
            exchange_pb2.MatchHashesRequest(
                queries=[exchange_pb2.MatchQuery(type="pdq", value=f"{base:064x}")],
                max_distance=64,
            ),
            exchange_pb2.MatchHashesResponse,
        )
    assert len(result.matches) == 1000
    assert raw.results[0].truncated and len(raw.results[0].matches) == 1000


@pytest.mark.parametrize(
    ("page_size", "token", "field"),
    [(-1, "", "page_size"), (1001, "", "page_size"), (0, "not-a-token", "page_token")],
)
def test_bad_get_signal_paging_is_invalid_argument(
    hub: HubProcess, members: dict[str, Path], page_size: int, token: str, field: str
) -> None:
    with Client(hub.endpoint, "acme", members["acme"]) as client:
        request = exchange_pb2.GetSignalRequest(
            signal_id=domain.signal_id("pdq", PDQ), page_size=page_size, page_token=token
        )
        error = refused(
            hub,
            lambda: client._conn.signed_unary(
                "/signalhub.v1.Exchange/GetSignal", request, exchange_pb2.GetSignalResponse
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    assert fields(error) == [field]


@pytest.mark.parametrize(
    ("signal_id", "note", "field"),
    [("not-an-id", "", "signal_id"), (domain.signal_id("pdq", PDQ), "x" * 1001, "note")],
)
def test_bad_opinion_is_invalid_argument_and_stores_nothing(
    hub: HubProcess, members: dict[str, Path], signal_id: str, note: str, field: str
) -> None:
    with Client(hub.endpoint, "acme", members["acme"]) as client:
        error = refused(
            hub,
            lambda: client.set_opinion(signal_id, "false_positive", note),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    assert fields(error) == [field]


@pytest.mark.parametrize("rpc", ["FetchUpdates", "GetSnapshot"])
@pytest.mark.parametrize(
    "cursor",
    ["7", "0" * 32, "ab" * 16, "x" * 32, "f" * 33],
    ids=["decimal-of-the-old-form", "zeros", "forged-token", "not-hex", "too-long"],
)
def test_a_cursor_the_hub_did_not_hand_out_is_invalid_argument_alike(
    hub: HubProcess, members: dict[str, Path], rpc: str, cursor: str
) -> None:
    """Cursors are opaque tokens (exchange.cursor): anything else, the old decimal form
    included, gets one answer naming `after`, and nothing is stored."""
    with Client(hub.endpoint, "acme", members["acme"]) as client:
        if rpc == "FetchUpdates":
            error = refused(
                hub, lambda: list(client.fetch(cursor)), grpc.StatusCode.INVALID_ARGUMENT
            )
        else:
            error = refused(
                hub, lambda: client.snapshot(after=cursor), grpc.StatusCode.INVALID_ARGUMENT
            )
    assert fields(error) == ["after"]
    assert str(error) == "after is a cursor from a feed event or a snapshot (empty: from the start)"


def test_a_forged_page_token_is_invalid_argument(hub: HubProcess, members: dict[str, Path]) -> None:
    with Client(hub.endpoint, "acme", members["acme"]) as client:
        request = exchange_pb2.GetSignalRequest(
            signal_id=domain.signal_id("pdq", PDQ), page_size=1, page_token="ab" * 16
        )
        error = refused(
            hub,
            lambda: client._conn.signed_unary(
                "/signalhub.v1.Exchange/GetSignal", request, exchange_pb2.GetSignalResponse
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    assert fields(error) == ["page_token"]
