"""Trust and access against a real hub: one test per attack (exact code, nothing stored, the
auth-failure metric moved), key lifecycle, privacy groups and provenance."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from hubtools import HubProcess, new_hub, store_fingerprint

from client_sdk import AdminClient, NotFound, Signal, SignalhubError
from client_sdk.errors import error_from_rpc
from client_sdk.provenance import check_provenance
from client_sdk.signing import Signer
from signalhub import domain
from signalhub.v1 import common_pb2, exchange_pb2

PDQ = "e1" * 32
SUBMIT = "/signalhub.v1.Exchange/SubmitSignals"
MATCH = "/signalhub.v1.Exchange/MatchHashes"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = new_hub(tmp_path_factory.mktemp("trust"), metrics=True)
    yield process
    if process.proc is not None:
        process.stop()


@pytest.fixture(scope="module")
def keys(hub: HubProcess, keys_dir: Path) -> dict[str, Path]:
    out = {name: hub.add_member(name, keys_dir) for name in ("acme", "beta", "gamma", "delta")}
    with hub.client("acme", out["acme"]) as client:
        client.submit([Signal("pdq", PDQ, labels=("csam",))])
    return out


@pytest.fixture(scope="module")
def channel(hub: HubProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(hub.endpoint) as ch:
        yield ch


def signer(keys: dict[str, Path], name: str, as_member: str | None = None) -> Signer:
    return Signer(as_member or name, domain.read_private_key(keys[name]))


def envelope_request(envelope: common_pb2.SignedEnvelope) -> bytes:
    return exchange_pb2.SubmitSignalsRequest(envelope=envelope).SerializeToString()


def call(channel: grpc.Channel, method: str, raw: bytes, metadata: object = None) -> bytes:
    stub = channel.unary_unary(method, request_serializer=lambda b: b)
    response: bytes = stub(raw, metadata=metadata, timeout=30)
    return response


def submit_raw(channel: grpc.Channel, envelope: common_pb2.SignedEnvelope, caller: Signer) -> bytes:
    """Submits the envelope in a call signed by `caller` (the member and key that signed it)."""
    raw = envelope_request(envelope)
    return call(channel, SUBMIT, raw, caller.call_metadata(SUBMIT, raw))


def wire(value: str = PDQ) -> list[common_pb2.SignalSubmission]:
    return [common_pb2.SignalSubmission(type="pdq", value=value)]


def match_request(value: str = PDQ) -> bytes:
    query = exchange_pb2.MatchQuery(type="pdq", value=value)
    return exchange_pb2.MatchHashesRequest(queries=[query]).SerializeToString()


def attack(
    hub: HubProcess, action: Callable[[], object], code: grpc.StatusCode, reason: str
) -> SignalhubError:
    """The hub refuses `action` with `code`, stores nothing, and counts the failure."""
    metric = f'signalhub_auth_failures_total{{reason="{reason}"}}'
    before_metric = hub.metric(metric)
    before = store_fingerprint(hub.data_dir)
    with pytest.raises((grpc.RpcError, SignalhubError)) as info:
        action()
    error = info.value
    converted = error_from_rpc(error) if isinstance(error, grpc.RpcError) else error
    assert converted.code == code, f"{converted.code}: {converted}"
    assert store_fingerprint(hub.data_dir) == before
    assert hub.metric(metric) == before_metric + 1
    return converted


def test_forged_envelope_signature(
    hub: HubProcess, keys: dict[str, Path], channel: grpc.Channel
) -> None:
    s = signer(keys, "acme")
    envelope = s.envelope("forged", wire("01" * 32))
    envelope.signature = domain.new_private_key().sign(
        domain.submission_signing_bytes(envelope.payload)
    )
    attack(
        hub,
        lambda: submit_raw(channel, envelope, s),
        grpc.StatusCode.UNAUTHENTICATED,
        "bad_signature",
    )


def test_tampered_payload(hub: HubProcess, keys: dict[str, Path], channel: grpc.Channel) -> None:
    s = signer(keys, "acme")
    envelope = s.envelope("tampered", wire("02" * 32))
    envelope.payload = envelope.payload.replace(b"tampered", b"tampereD")
    attack(
        hub,
        lambda: submit_raw(channel, envelope, s),
        grpc.StatusCode.UNAUTHENTICATED,
        "bad_signature",
    )


def test_another_members_key(hub: HubProcess, keys: dict[str, Path], channel: grpc.Channel) -> None:
    s = signer(keys, "beta", as_member="acme")
    envelope = s.envelope("theirs", wire("03" * 32))
    attack(
        hub, lambda: submit_raw(channel, envelope, s), grpc.StatusCode.PERMISSION_DENIED,
        "key_of_other_member",
    )  # fmt: skip
    metadata = signer(keys, "beta", as_member="acme").call_metadata(MATCH, match_request())
    attack(
        hub, lambda: call(channel, MATCH, match_request(), metadata),
        grpc.StatusCode.PERMISSION_DENIED, "key_of_other_member",
    )  # fmt: skip


@pytest.mark.parametrize("offset", [-(domain.REPLAY_WINDOW_SECONDS + 30), 600])
def test_stale_and_future_timestamps(
    hub: HubProcess, keys: dict[str, Path], channel: grpc.Channel, offset: int
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=offset)
    s = signer(keys, "acme")
    envelope = s.envelope(f"when{offset}", wire("04" * 32), created_at=when)
    attack(hub, lambda: submit_raw(channel, envelope, s), grpc.StatusCode.UNAUTHENTICATED, "stale")
    stamp = int(when.timestamp() * 1000)
    metadata = signer(keys, "acme").call_metadata(MATCH, match_request(), now_ms=stamp)
    attack(
        hub, lambda: call(channel, MATCH, match_request(), metadata),
        grpc.StatusCode.UNAUTHENTICATED, "stale",
    )  # fmt: skip


def test_replayed_call_nonce(hub: HubProcess, keys: dict[str, Path], channel: grpc.Channel) -> None:
    metadata = signer(keys, "acme").call_metadata(MATCH, match_request())
    call(channel, MATCH, match_request(), metadata)
    attack(
        hub, lambda: call(channel, MATCH, match_request(), metadata),
        grpc.StatusCode.UNAUTHENTICATED, "replayed_nonce",
    )  # fmt: skip


def test_replayed_envelope_returns_first_answer_and_stores_nothing(
    hub: HubProcess, keys: dict[str, Path], channel: grpc.Channel
) -> None:
    """Decisions: a replayed envelope is answered from the batch table, not counted as an
    attack; an old envelope that never reached the hub is stale."""
    s = signer(keys, "acme")
    envelope = s.envelope("captured", wire("05" * 32))
    first = exchange_pb2.SubmitSignalsResponse.FromString(submit_raw(channel, envelope, s))
    before = store_fingerprint(hub.data_dir)
    failures = hub.metric('signalhub_auth_failures_total{reason="stale"}')
    again = exchange_pb2.SubmitSignalsResponse.FromString(submit_raw(channel, envelope, s))
    assert again.replayed and list(again.results) == list(first.results)
    assert store_fingerprint(hub.data_dir) == before
    assert hub.metric('signalhub_auth_failures_total{reason="stale"}') == failures


def test_member_calling_operator_rpc(
    hub: HubProcess, keys: dict[str, Path], channel: grpc.Channel
) -> None:
    raw = b""
    metadata = signer(keys, "acme").call_metadata("/signalhub.v1.Admin/ListGroups", raw)
    attack(
        hub, lambda: call(channel, "/signalhub.v1.Admin/ListGroups", raw, metadata),
        grpc.StatusCode.PERMISSION_DENIED, "not_operator",
    )  # fmt: skip


def test_revoked_key_is_refused_and_its_history_stays_verifiable(
    hub: HubProcess, keys: dict[str, Path], keys_dir: Path, channel: grpc.Channel
) -> None:
    old = keys["delta"]
    new = keys_dir / "delta-2.key"
    domain.write_key_pair(domain.new_private_key(), new)
    with hub.admin() as admin:
        new_id = admin.add_key("delta", domain.read_public_key(Path(f"{new}.pub")))
    with hub.client("delta", old) as client:
        signed_before = client.submit([Signal("pdq", "06" * 32, labels=("ncii",))])
    old_id = signer(keys, "delta").key_id
    with hub.admin() as admin:
        revoked = admin.revoke_key("delta", old_id)
        assert revoked.HasField("revoked_at")
        listed = {k.key_id: k.HasField("revoked_at") for k in admin.list_keys("delta")}
    assert listed == {old_id: True, new_id: False}
    s = signer(keys, "delta")
    envelope = s.envelope("after-revoke", wire("07" * 32))
    attack(
        hub,
        lambda: submit_raw(channel, envelope, s),
        grpc.StatusCode.UNAUTHENTICATED,
        "revoked_key",
    )
    with hub.client("delta", old, retry=None) as client:
        attack(hub, lambda: client.match_pdq([PDQ]), grpc.StatusCode.UNAUTHENTICATED, "revoked_key")
    with hub.client("delta", new) as client:  # rotation: the new key works
        assert client.submit([Signal("pdq", "08" * 32)]).items[0].status == "new"
        detail = client.get_signal(signed_before.items[0].signal_id)
    [check] = check_provenance(detail)
    assert check.ok and check.submission.key_id == old_id  # history still verifies


def test_suspended_member_is_refused_then_reinstated(
    hub: HubProcess, keys: dict[str, Path], channel: grpc.Channel
) -> None:
    with hub.admin() as admin:
        assert admin.set_member_suspended("beta", True).suspended
    try:
        s = signer(keys, "beta")
        envelope = s.envelope("while-suspended", wire("09" * 32))
        attack(
            hub, lambda: submit_raw(channel, envelope, s), grpc.StatusCode.PERMISSION_DENIED,
            "suspended_member",
        )  # fmt: skip
        with hub.client("beta", keys["beta"]) as client:
            attack(
                hub, lambda: list(client.fetch()), grpc.StatusCode.PERMISSION_DENIED,
                "suspended_member",
            )  # fmt: skip
    finally:
        with hub.admin() as admin:
            assert not admin.set_member_suspended("beta", False).suspended
    with hub.client("beta", keys["beta"]) as client:
        assert client.match_pdq([PDQ])[0].matches


def test_operator_key_is_required_for_admin(hub: HubProcess, keys: dict[str, Path]) -> None:
    with AdminClient(hub.endpoint, domain.new_private_key()) as impostor:
        attack(
            hub, lambda: impostor.add_group_members("g", ["acme"]),
            grpc.StatusCode.UNAUTHENTICATED, "unknown_key",
        )  # fmt: skip


# --- privacy groups ---------------------------------------------------------------------------
def test_reading_another_groups_signal_looks_exactly_like_a_miss(
    hub: HubProcess, keys: dict[str, Path]
) -> None:
    secret = "5e" * 32
    with hub.admin() as admin:
        admin.add_group_members("acme-beta", ["acme", "beta"])
    with hub.client("acme", keys["acme"]) as a, hub.client("gamma", keys["gamma"]) as g:
        result = a.submit([Signal("pdq", secret, labels=("grooming",))], audience=["acme-beta"])
        sid = result.items[0].signal_id
        failures = store_fingerprint(hub.data_dir)
        auth_before = {r: hub.metric(f'signalhub_auth_failures_total{{reason="{r}"}}')
                       for r in ("not_visible", "bad_signature")}  # fmt: skip
        # match: nothing, exactly as for a hash nobody submitted
        assert g.match_pdq([secret], max_distance=0)[0].matches == ()
        # fetch: no event of it
        assert sid not in {e.signal.signal_id for e in g.fetch()}
        # get: the very same answer as a missing id
        with pytest.raises(NotFound) as hidden:
            g.get_signal(sid)
        missing_id = domain.signal_id("pdq", "00" * 31 + "5e")
        with pytest.raises(NotFound) as missing:
            g.get_signal(missing_id)
        assert (hidden.value.code, str(hidden.value).replace(sid, "X")) == (
            missing.value.code, str(missing.value).replace(missing_id, "X"))  # fmt: skip
        assert store_fingerprint(hub.data_dir) == failures
        assert auth_before == {r: hub.metric(f'signalhub_auth_failures_total{{reason="{r}"}}')
                               for r in auth_before}  # fmt: skip
    with hub.client("beta", keys["beta"]) as b:  # a member of the group sees it
        found = b.match_pdq([secret], max_distance=0)[0].matches
        assert [m.signal.labels for m in found] == [("grooming",)]
        assert sid in {e.signal.signal_id for e in b.fetch()}
        assert b.get_signal(sid).submissions[0].audience == ("acme-beta",)


def test_views_count_only_visible_submissions(hub: HubProcess, keys: dict[str, Path]) -> None:
    value = "c0" * 32
    with hub.admin() as admin:
        admin.add_group_members("only-acme", ["acme"])
    with hub.client("acme", keys["acme"]) as a, hub.client("gamma", keys["gamma"]) as g:
        first = g.submit([Signal("pdq", value, labels=("csam",))])  # public
        private = a.submit([Signal("pdq", value, labels=("ncii",))], audience=["only-acme"])
        assert private.items[0].status == "corroborated"  # acme sees gamma's public one
        seen_by_gamma = g.get_signal(first.items[0].signal_id)
        seen_by_acme = a.get_signal(first.items[0].signal_id)
    assert (seen_by_gamma.signal.corroboration, seen_by_gamma.signal.labels) == (1, ("csam",))
    assert [s.member_id for s in seen_by_gamma.submissions] == ["gamma"]
    assert (seen_by_acme.signal.corroboration, seen_by_acme.signal.labels) == (2, ("csam", "ncii"))


def test_submitting_to_a_group_you_are_not_in_is_refused(
    hub: HubProcess, keys: dict[str, Path]
) -> None:
    with hub.admin() as admin:
        admin.add_group_members("beta-only", ["beta"])
    before = store_fingerprint(hub.data_dir)
    with hub.client("gamma", keys["gamma"]) as g, pytest.raises(SignalhubError) as info:
        g.submit([Signal("pdq", "c1" * 32)], audience=["beta-only"])
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in info.value.violations] == ["audience[0]"]
    assert store_fingerprint(hub.data_dir) == before


def test_joining_and_leaving_a_group_reaches_the_feed(
    hub: HubProcess, keys: dict[str, Path]
) -> None:
    value = "d2" * 32
    with hub.admin() as admin:
        admin.add_group_members("late", ["acme"])
    with hub.client("acme", keys["acme"]) as a, hub.client("gamma", keys["gamma"]) as g:
        sid = a.submit([Signal("pdq", value)], audience=["late"]).items[0].signal_id
        cursor = [e.cursor for e in g.fetch()][-1]
        with hub.admin() as admin:
            admin.add_group_members("late", ["gamma"])
        joined = [e for e in g.fetch(after=cursor) if e.signal.signal_id == sid]
        # the feed now shows the signal: its original event (now visible to gamma) and the
        # event of the membership change; either way an incremental mirror ends up with it
        assert joined[-1].event == "signal_updated" and len(joined) == 2
        assert joined[-1].signal.value == value and joined[-1].signal.corroboration == 1
        assert g.match_pdq([value], max_distance=0)[0].matches
        cursor = joined[-1].cursor
        with hub.admin() as admin:
            group = admin.remove_group_members("late", ["gamma"])
        assert list(group.member_ids) == ["acme"]
        left = [e for e in g.fetch(after=cursor) if e.signal.signal_id == sid]
        assert [e.event for e in left] == ["signal_removed"]
        assert g.match_pdq([value], max_distance=0)[0].matches == ()
        # acme's own view never changed, and it got no visibility events
        assert [e.event for e in a.fetch() if e.signal.signal_id == sid] == ["signal_added"]


def test_event_kind_does_not_reveal_an_earlier_hidden_submission(
    hub: HubProcess, keys: dict[str, Path]
) -> None:
    value = "ee" * 32
    with hub.admin() as admin:
        admin.add_group_members("ab-kind", ["acme", "beta"])
    with hub.client("acme", keys["acme"]) as a, hub.client("beta", keys["beta"]) as b:
        sid = a.submit([Signal("pdq", value)], audience=["ab-kind"]).items[0].signal_id
        assert b.submit([Signal("pdq", value)]).items[0].status == "corroborated"
        assert [e.event for e in b.fetch() if e.signal.signal_id == sid] == [
            "signal_added", "signal_updated"]  # fmt: skip
    with hub.client("gamma", keys["gamma"]) as g:
        assert [e.event for e in g.fetch() if e.signal.signal_id == sid] == ["signal_added"]
        assert g.get_signal(sid).signal.corroboration == 1


def test_unsigned_probe_learns_nothing_about_keys_or_members(
    hub: HubProcess, keys: dict[str, Path], channel: grpc.Channel
) -> None:
    """Claiming acme with beta's key id, without beta's private key: the answer is the same
    bad signature as for any forgery, not who owns the key."""
    beta_id = signer(keys, "beta").key_id
    forger = Signer("acme", domain.new_private_key())
    metadata = dict(forger.call_metadata(MATCH, match_request()))
    metadata[domain.META_KEY_ID] = beta_id
    error = attack(
        hub, lambda: call(channel, MATCH, match_request(), tuple(metadata.items())),
        grpc.StatusCode.UNAUTHENTICATED, "bad_signature",
    )  # fmt: skip
    assert "beta" not in str(error)


def test_get_signal_pages_submissions_and_envelopes(hub: HubProcess, keys: dict[str, Path]) -> None:
    value = "ef" * 32
    for name in ("acme", "beta", "gamma"):
        with hub.client(name, keys[name]) as c:
            c.submit([Signal("pdq", value)])
    with hub.client("acme", keys["acme"]) as a:
        sid = domain.signal_id("pdq", value)
        pages, token = [], ""
        while True:
            page = a._conn.signed_unary(
                "/signalhub.v1.Exchange/GetSignal",
                exchange_pb2.GetSignalRequest(signal_id=sid, page_size=1, page_token=token),
                exchange_pb2.GetSignalResponse,
            )
            pages.append([s.member_id for s in page.submissions])
            token = page.next_page_token
            if not token:
                break
        assert pages == [["acme"], ["beta"], ["gamma"]]
        assert [s.member_id for s in a.get_signal(sid).submissions] == ["acme", "beta", "gamma"]
