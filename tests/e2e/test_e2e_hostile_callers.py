"""Callers who want more than their share (issue 19): the hub bounds what one call, one
member or one stranger can make it do before any work is spent on them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from hubtools import HubProcess, new_hub, store_fingerprint

from client_sdk.signing import Signer
from signalhub import domain
from signalhub.v1 import exchange_pb2

MATCH = "/signalhub.v1.Exchange/MatchHashes"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, Path]]:
    root = tmp_path_factory.mktemp("hostile")
    hub = new_hub(root)
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
