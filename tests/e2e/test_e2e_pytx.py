"""python-threatexchange (pytx) subscribed to a real hub through client_sdk.pytx: its API objects
(for_collab, fetch_iter, report_opinion) and its own `threatexchange` CLI in a subprocess with
a fresh HOME. No mocks: a real hub process, real keys, the pytx release the project pins."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hubtools import HubProcess, store_fingerprint
from imagetools import save_edited_copy, save_photo
from threatexchange.exchanges.auth import (
    SignalExchangeAPIInvalidAuthException,
    SignalExchangeAPIMissingAuthException,
)
from threatexchange.exchanges.fetch_state import (
    AggregateSignalOpinionCategory,
    SignalOpinion,
    SignalOpinionCategory,
)
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.raw_text import RawTextSignal
from threatexchange.signal_type.sha256 import VideoSHA256Signal
from threatexchange.signal_type.signal_base import SignalType
from threatexchange.signal_type.url import URLSignal

from client_sdk import Client, Signal, pdq_from_image
from client_sdk.pytx import (
    TX_MANIFEST,
    SignalhubCheckpoint,
    SignalhubCollabConfig,
    SignalhubSignalExchangeAPI,
    SignalhubSignalMetadata,
)
from exchange.commands import init_data_dir
from signalhub import domain

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "examples" / "images"
TX = Path(sys.executable).parent / "threatexchange"
TYPES: list[type[SignalType]] = [
    PdqSignal, VideoMD5Signal, VideoSHA256Signal, URLSignal, RawTextSignal,
]  # fmt: skip
Key = tuple[str, str]
State = dict[Key, SignalhubSignalMetadata]


def collab(hub: HubProcess, member: str, key: Path, name: str = "hub") -> SignalhubCollabConfig:
    return SignalhubCollabConfig(name=name, endpoint=hub.endpoint, member=member, key_file=str(key))


def fetch_all(
    api: SignalhubSignalExchangeAPI, checkpoint: SignalhubCheckpoint | None, state: State
) -> tuple[SignalhubCheckpoint | None, list[dict[Key, SignalhubSignalMetadata | None]]]:
    """Runs fetch_iter as pytx's CLI does: merge each page into `state`, keep the checkpoint."""
    pages = []
    for delta in api.fetch_iter(TYPES, checkpoint):
        assert delta.checkpoint is not None
        if checkpoint is not None:
            assert delta.checkpoint.cursor != checkpoint.cursor  # moved on (cursors are opaque)
            assert delta.checkpoint.progress_ts >= checkpoint.progress_ts
        pages.append(dict(delta.updates))
        api.naive_fetch_merge(state, delta.updates)
        checkpoint = delta.checkpoint
    return checkpoint, pages


def aggregate(meta: SignalhubSignalMetadata) -> tuple[AggregateSignalOpinionCategory, set[str]]:
    opinion = meta.get_as_aggregate_opinion()
    return opinion.category, opinion.tags


# --- pytx's API objects ----------------------------------------------------------------------
@pytest.fixture
def expiring_hub(tmp_path: Path) -> Iterator[HubProcess]:
    """A hub of this test's own (its feed is asserted whole) that expires signals promptly."""
    init_data_dir(tmp_path / "data")
    process = HubProcess(tmp_path / "data").start(extra=("--expiry-interval", "0.3"))
    yield process
    process.stop()


def test_fetch_iter_follows_the_feed_by_cursor_with_updates_and_deletions(
    expiring_hub: HubProcess, tmp_path: Path
) -> None:
    hub = expiring_hub
    acme_key, beta_key = hub.add_member("acme", tmp_path), hub.add_member("beta", tmp_path)
    assert TX_MANIFEST.apis == (SignalhubSignalExchangeAPI,)
    assert SignalhubSignalExchangeAPI.get_name() == "signalhub"
    h1, h2 = (pdq_from_image(IMAGES / f"sample-{i}.jpg").hex for i in (1, 2))
    h3 = "5a" * 32
    md5 = hashlib.md5((IMAGES / "sample-1.jpg").read_bytes()).hexdigest()
    expiring_md5 = "e1" * 16
    with hub.admin() as admin:
        admin.add_group_members("acme-beta", ["acme", "beta"])
    with hub.client("acme", acme_key) as acme, hub.client("beta", beta_key) as beta:
        acme.submit(
            [
                Signal("pdq", h1, labels=("csam",), tags=("wave-1",)),
                Signal("pdq", h2, labels=("csam",)),
                Signal("pdq", h3),
                Signal("md5", md5.upper(), labels=("csam",)),
                Signal("url", "HTTPS://Example.COM:443/a%7eb?x=1#frag", labels=("grooming",)),
                Signal("sha256", "CD" * 32),
                Signal("sha1", "ab" * 20),  # pytx has no sha1 type: not fetched
                Signal("domain", "example.net"),  # nor domain
            ]
        )
        soon = datetime.now(UTC) + timedelta(seconds=6)  # after the first fetch, even on a slow CI
        acme.submit([Signal("md5", expiring_md5, expires_at=soon)])
        shared = "6b" * 32
        acme.submit([Signal("pdq", shared, labels=("ncii",))], audience=["acme-beta"])
        last_cursor = list(acme.fetch())[-1].cursor

        with SignalhubSignalExchangeAPI.for_collab(collab(hub, "acme", acme_key)) as api:
            state: State = {}
            checkpoint, pages = fetch_all(api, None, state)
            url = "https://example.com/a~b?x=1"  # the hub's canonical form, as pytx gets it
            assert set(state) == {
                ("pdq", h1), ("pdq", h2), ("pdq", h3), ("video_md5", md5), ("url", url),
                ("video_md5", expiring_md5), ("pdq", shared), ("video_sha256", "cd" * 32),
            }  # fmt: skip
            assert len(pages) == 1 and checkpoint is not None
            assert checkpoint.cursor == last_cursor and checkpoint.get_progress_timestamp()
            first = state["pdq", h1]
            assert first.signal_id == domain.signal_id("pdq", h1)
            assert (first.hub_type, first.labels, first.tags) == ("pdq", ("csam",), ("wave-1",))
            assert first.corroboration == 1 and first.submitted_by_me is True
            assert aggregate(first) == (AggregateSignalOpinionCategory.POSITIVE_CLASS, {"csam"})
            assert aggregate(state["url", url]) == (
                AggregateSignalOpinionCategory.POSITIVE_CLASS,
                {"grooming"},
            )
            # every value is in the form pytx's own types accept, unchanged
            by_type = api.naive_convert_to_signal_type(TYPES, api.collab, state)
            assert {st.get_name(): len(v) for st, v in by_type.items()} == {
                "pdq": 4,
                "video_md5": 2,
                "video_sha256": 1,
                "url": 1,
            }
            # Only the types the caller supports.
            [only_pdq] = api.fetch_iter([PdqSignal], None)
            assert {k for k in only_pdq.updates} == {k for k in state if k[0] == "pdq"}

            # From the checkpoint: nothing new, then the changes only.
            assert list(api.fetch_iter(TYPES, checkpoint)) == []
            beta.submit([Signal("pdq", h1, labels=("sextortion",))])  # corroborates
            acme.retract([domain.signal_id("pdq", h2)])
            deadline = time.monotonic() + 30
            while acme.match([("md5", expiring_md5)])[0].matches:
                assert time.monotonic() < deadline, "the signal did not expire"
                time.sleep(0.1)
            checkpoint, pages = fetch_all(api, checkpoint, state)
            assert pages == [
                {
                    ("pdq", h1): state["pdq", h1],
                    ("pdq", h2): None,  # retracted: a deletion
                    ("video_md5", expiring_md5): None,  # expired: a deletion
                }
            ]
            updated = state["pdq", h1]
            assert updated.corroboration == 2 and updated.labels == ("csam", "sextortion")
            assert updated.submitted_by_me is True  # kept from the added event by the merge
            assert ("pdq", h2) not in state and ("video_md5", expiring_md5) not in state

            # Small pages: one FetchDelta each, the same end state.
            paged = SignalhubSignalExchangeAPI(api.collab, api.client, page_events=2)
            paged_state: State = {}
            paged_checkpoint, paged_pages = fetch_all(paged, None, paged_state)
            assert len(paged_pages) > 2 and all(len(p) <= 2 for p in paged_pages)
            assert paged_checkpoint == checkpoint and paged_state == state

        # A signal the member can no longer see arrives as a deletion too.
        with SignalhubSignalExchangeAPI.for_collab(collab(hub, "beta", beta_key)) as beta_api:
            beta_state: State = {}
            beta_checkpoint, _ = fetch_all(beta_api, None, beta_state)
            assert beta_state["pdq", shared].submitted_by_me is False
            with hub.admin() as admin:
                admin.remove_group_members("acme-beta", ["beta"])
            _, pages = fetch_all(beta_api, beta_checkpoint, beta_state)
            assert pages == [{("pdq", shared): None}]


@pytest.fixture(scope="module")
def keys(hub: HubProcess, keys_dir: Path) -> dict[str, Path]:
    return {name: hub.add_member(name, keys_dir) for name in ("acme", "beta", "tx-cli")}


def test_report_opinion_reaches_the_hub_and_comes_back_as_disputed(
    hub: HubProcess, keys: dict[str, Path], tmp_path: Path
) -> None:
    original = pdq_from_image(save_photo(tmp_path / "p.png", seed=41)).hex
    edited = pdq_from_image(save_edited_copy(tmp_path / "p-edited.jpg", seed=41)).hex
    assert edited != original
    url = "https://example.org/report?id=7"
    with hub.client("acme", keys["acme"]) as acme:
        acme.submit(
            [Signal("pdq", original, labels=("csam",)), Signal("url", url, labels=("other",))]
        )
        sid, url_sid = domain.signal_id("pdq", original), domain.signal_id("url", url)
        checkpoint = SignalhubCheckpoint(cursor=list(acme.fetch())[-1].cursor)
        acme_api = SignalhubSignalExchangeAPI.for_collab(collab(hub, "acme", keys["acme"]))
        beta_api = SignalhubSignalExchangeAPI.for_collab(collab(hub, "beta", keys["beta"]))
        with acme_api, beta_api:
            negative = SignalOpinion(True, SignalOpinionCategory.NEGATIVE_CLASS, set())
            beta_api.report_opinion(PdqSignal, original, negative)
            assert acme.get_signal(sid).signal.opinions["false_positive"] == 1
            # A hash the hub lacks but matches (the edited copy) labels what it matched.
            positive = SignalOpinion(True, SignalOpinionCategory.POSITIVE_CLASS, {"csam"})
            acme_api.report_opinion(PdqSignal, edited, positive)
            assert acme.get_signal(sid).signal.opinions == {
                "true_positive": 1,
                "false_positive": 1,
                "disputed": 0,
            }
            # The hub canonicalises the value before computing the signal id.
            beta_api.report_opinion(URLSignal, "HTTPS://EXAMPLE.org:443/report?id=7#x", negative)
            assert acme.get_signal(url_sid).signal.opinions["false_positive"] == 1

            state: State = {}
            fetch_all(acme_api, checkpoint, state)
            meta = state["pdq", original]
            assert (meta.true_positive, meta.false_positive) == (1, 1)
            assert aggregate(meta) == (AggregateSignalOpinionCategory.DISPUTED, {"csam"})
            assert aggregate(state["url", url])[0] == AggregateSignalOpinionCategory.DISPUTED

            # What the hub cannot take is refused before anything is sent or stored.
            with hub.admin() as admin:
                admin.sign_audit_head()  # so the minute's audit head cannot land in between
            before = store_fingerprint(hub.data_dir)
            seed = SignalOpinion(True, SignalOpinionCategory.INVESTIGATION_SEED, set())
            with pytest.raises(NotImplementedError, match="INVESTIGATION_SEED"):
                acme_api.report_opinion(PdqSignal, original, seed)
            with pytest.raises(NotImplementedError, match="raw_text"):
                acme_api.report_opinion(RawTextSignal, "some text", negative)
            with pytest.raises(ValueError, match="not a pdq value"):
                acme_api.report_opinion(PdqSignal, "f" * 63, negative)
            with pytest.raises(ValueError, match="has no md5 signal"):
                acme_api.report_opinion(VideoMD5Signal, "0" * 32, negative)
            both = SignalOpinion(True, SignalOpinionCategory.POSITIVE_CLASS, {"disputed", "none"})
            with pytest.raises(ValueError, match="more than one opinion"):
                acme_api.report_opinion(PdqSignal, original, both)
            assert store_fingerprint(hub.data_dir) == before


# --- pytx's CLI ------------------------------------------------------------------------------
def tx(home: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """`threatexchange ARGS...` as a user runs it, with ~/.threatexchange under `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TX_")}
    env["HOME"] = str(home)
    result = subprocess.run(
        [str(TX), *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )
    if ok:
        assert result.returncode == 0, f"threatexchange {' '.join(args)}: {result.stderr}"
    return result


def setup_cli(home: Path, hub: HubProcess, member: str, key: Path) -> None:
    added = tx(home, "config", "extensions", "add", "client_sdk.pytx")
    assert "signalhub - SignalhubSignalExchangeAPI" in added.stdout
    tx(home, "config", "collab", "edit", "signalhub", "hub", "--create",
       "--endpoint", hub.endpoint, "--member", member, "--key-file", str(key))  # fmt: skip
    config = json.loads(tx(home, "config", "collab", "print", "hub").stdout)
    assert (config["api"], config["member"], config["key_file"]) == ("signalhub", member, str(key))


def test_threatexchange_cli_fetches_matches_labels_and_forgets_retracted_signals(
    hub: HubProcess, keys: dict[str, Path], tmp_path: Path
) -> None:
    h1, h2 = (pdq_from_image(IMAGES / f"sample-{i}.jpg").hex for i in (1, 2))
    md5 = hashlib.md5((IMAGES / "sample-2.jpg").read_bytes()).hexdigest()
    url = "http://example.com/cli/a~b?x=1"  # no scheme given: http
    with hub.client("tx-cli", keys["tx-cli"]) as client:
        # A third PDQ: pytx's faiss multi-hash index loses its only entry when saved
        # (docs/pytx.md), so the "match is gone" check below needs two left to mean anything.
        client.submit(
            [
                Signal("pdq", h1, labels=("csam",)),
                Signal("pdq", h2, labels=("csam",)),
                Signal("pdq", "3c" * 32, labels=("csam",)),
                Signal("md5", md5, labels=("csam",)),
                Signal("url", "Example.COM/cli/a%7Eb?x=1#top", labels=("grooming",)),
            ]
        )
        home = tmp_path / "home"
        home.mkdir()
        setup_cli(home, hub, "tx-cli", keys["tx-cli"])
        assert "[signalhub] hub - Up to date" in tx(home, "fetch").stderr

        edited = str(IMAGES / "sample-1-edited.jpg")
        matched = tx(home, "match", "photo", edited).stdout
        assert matched.startswith("pdq 18 (hub) POSITIVE_CLASS csam"), matched
        video = tx(home, "match", "video", str(IMAGES / "sample-2.jpg")).stdout
        assert video == "video_md5 - (hub) POSITIVE_CLASS csam\n"
        assert tx(home, "match", "url", "--", url).stdout == "url - (hub) POSITIVE_CLASS grooming\n"
        # pytx matches URLs as exact strings: a form the hub would normalise is not found.
        assert tx(home, "match", "url", "--", "example.com/cli/a~b?x=1").stdout == ""

        # pytx 1.2.17's `label` has no --false-positive (its help text mentions one) and
        # labels only hashes (-H), always as POSITIVE_CLASS: the extension reads a tag that
        # names a hub opinion as that opinion.
        missing_flag = tx(home, "label", "hub", "photo", edited, "--false-positive", ok=False)
        assert missing_flag.returncode == 2 and "--false-positive" in missing_flag.stderr
        edited_hash = tx(home, "hash", "photo", edited).stdout.split()
        assert edited_hash[0] == "pdq" and edited_hash[1] != h1
        tx(home, "label", "-H", "pdq", "-l", "false-positive", "hub", "photo", "--", edited_hash[1])
        opinions = client.get_signal(domain.signal_id("pdq", h1)).signal.opinions
        assert opinions == {"true_positive": 0, "false_positive": 1, "disputed": 0}
        tx(home, "fetch")
        assert "(hub) DISPUTED csam" in tx(home, "match", "photo", edited).stdout

        client.retract([domain.signal_id("pdq", h1)])
        tx(home, "fetch")
        assert "pdq" not in tx(home, "match", "photo", edited).stdout
        still = tx(home, "match", "photo", str(IMAGES / "sample-2.jpg")).stdout
        assert still.startswith("pdq 0 (hub) POSITIVE_CLASS csam"), still


# --- bad input -------------------------------------------------------------------------------
def test_bad_credentials_fail_clearly_and_store_nothing(
    hub: HubProcess, keys: dict[str, Path], tmp_path: Path
) -> None:
    h1 = pdq_from_image(IMAGES / "sample-1.jpg").hex
    with hub.admin() as admin:
        admin.sign_audit_head()
    before = store_fingerprint(hub.data_dir)

    missing = tmp_path / "nowhere" / "acme.key"
    with pytest.raises(SignalExchangeAPIMissingAuthException) as no_key:
        SignalhubSignalExchangeAPI.for_collab(collab(hub, "acme", missing))
    assert f"no member key file at {missing}" in no_key.value.pretty_str()
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    for bad_key, message in ((garbage, "is not a PEM private key"), (tmp_path, "cannot read")):
        with pytest.raises(SignalExchangeAPIInvalidAuthException) as invalid:
            SignalhubSignalExchangeAPI.for_collab(collab(hub, "acme", bad_key))
        assert message in invalid.value.message
    half_tls = collab(hub, "acme", keys["acme"])
    half_tls.cert_file = str(tmp_path / "client.pem")
    with pytest.raises(SignalExchangeAPIInvalidAuthException) as tls:
        SignalhubSignalExchangeAPI.for_collab(half_tls)
    assert "both its certificate and its key" in tls.value.message

    # A well-formed key the hub does not know: refused on the first call.
    stranger = tmp_path / "stranger.key"
    domain.write_key_pair(domain.new_private_key(), stranger)
    with SignalhubSignalExchangeAPI.for_collab(collab(hub, "acme", stranger)) as api:
        with pytest.raises(SignalExchangeAPIInvalidAuthException):
            list(api.fetch_iter(TYPES, None))
        negative = SignalOpinion(True, SignalOpinionCategory.NEGATIVE_CLASS, set())
        with pytest.raises(SignalExchangeAPIInvalidAuthException):
            api.report_opinion(PdqSignal, h1, negative)

    # The CLI says what is wrong and how to fix it, and sends nothing.
    home = tmp_path / "home"
    home.mkdir()
    setup_cli(home, hub, "acme", missing)
    for args in (
        ("fetch",),
        ("label", "-H", "pdq", "-l", "false-positive", "hub", "photo", "--", h1),
    ):
        failed = tx(home, *args, ok=False)
        assert failed.returncode == 2, failed.stderr
        assert f"no member key file at {missing}" in failed.stderr
        assert "signalhub keygen --out PATH" in failed.stderr
    assert not (home / ".threatexchange" / "fetched" / "signalhub" / "hub.state.pickle").exists()
    assert store_fingerprint(hub.data_dir) == before


def test_client_for_collab_uses_the_members_key(hub: HubProcess, keys: dict[str, Path]) -> None:
    with SignalhubSignalExchangeAPI.for_collab(collab(hub, "acme", keys["acme"])) as api:
        assert isinstance(api.client, Client) and api.client.member_id == "acme"
        assert api.client.key_id == domain.key_id(
            domain.read_public_key(Path(f"{keys['acme']}.pub"))
        )
