"""Legal erasure and offboarding against a real hub. An erased signal's value is gone from
every table of the store (also from log entries that carried it, in any wire form, and from
feed history), a tombstone says that it happened and why, the audit log still verifies and
replays to the stored state, replicas drop it, and it cannot come back. An offboarded member's
keys and groups are gone, its calls refused, and its submissions kept, retracted or erased as
the operator said. Bad requests are refused with nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hubtools import HubProcess, run_cli, store_fingerprint

from client_sdk import Signal
from client_sdk.errors import InvalidArgument, PermissionDenied, SignalhubError, Unauthenticated
from client_sdk.local import LocalReplica
from exchange.audit import verify_data_dir
from exchange.backup import backup_data_dir
from exchange.commands import init_data_dir
from exchange.server import lmdb_path
from exchange.store import Store
from signalhub import domain

SECRET = "5ec7e7" * 10 + "abcd"  # a PDQ whose value must not survive its erasure
OTHER = "0f" * 32
SID = domain.signal_id("pdq", SECRET)


def _traces(data_dir: Path, value: str) -> list[str]:
    """Tables and keys of the store whose key or value contains the value, in any of the
    forms it can be stored in (hex either case, raw bytes)."""
    needles = [value.encode(), value.upper().encode(), bytes.fromhex(value)]
    store = Store(lmdb_path(data_dir), readonly=True)
    found = []
    try:
        with store.read() as view:
            for name, db in sorted(store.dbs.items()):
                for key, raw in view.txn.cursor(db=db):
                    blob = bytes(key) + bytes(raw)
                    if any(n in blob for n in needles):
                        found.append(f"{name}:{bytes(key)[:24].hex()}")
    finally:
        store.close()
    return found


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    init_data_dir(tmp_path / "data")
    process = HubProcess(tmp_path / "data").start()
    yield process
    if process.proc is not None:
        process.stop()


def _operator(hub: HubProcess) -> dict[str, str]:
    return {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_OPERATOR_KEY": str(hub.operator_key)}


def test_erasure_leaves_only_a_tombstone_and_the_audit_log_still_verifies(
    hub: HubProcess, tmp_path: Path
) -> None:
    acme_key, beta_key = hub.add_member("acme", tmp_path), hub.add_member("beta", tmp_path)
    with hub.client("acme", acme_key) as acme, hub.client("beta", beta_key) as beta:
        # A copy in upper case, retracted before the erasure: only the log still has it.
        acme.submit([Signal("pdq", SECRET.upper(), labels=("csam",))])
        acme.retract([SID])
        acme.submit([Signal("pdq", SECRET, labels=("csam",)), Signal("pdq", OTHER)])
        beta.submit([Signal("pdq", SECRET, labels=("ncii",))])
        beta.set_opinion(SID, "true_positive")  # its stored answer shows the signal
        replica = tmp_path / "replica"
        with LocalReplica(replica) as local:
            local.sync(acme)
            assert SECRET in {s.value for s in local.signals()}
        assert _traces(hub.data_dir, SECRET)

        operator = _operator(hub)
        before = store_fingerprint(hub.data_dir)
        for args, why in [
            (("erase-signal", SID, "--reason", " "), "reason"),
            (("erase-signal", "f" * 32, "--reason", "x"), "no signal"),
            (("erase-signal", "nothex", "--reason", "x"), "not a signal id"),
        ]:
            bad = run_cli("admin", *args, env=operator)
            assert bad.returncode == 1 and why in bad.stderr, bad.stderr
        assert store_fingerprint(hub.data_dir) == before

        out = run_cli("admin", "erase-signal", SID, "--reason", "court order 2026/117",
                      "--json", env=operator, check=True)  # fmt: skip
        summary = json.loads(out.stdout)
        assert summary["signal_id"] == SID and summary["type"] == "pdq"
        assert summary["log_entries_redacted"] == 3  # the retracted copy too
        assert summary["feed_events_scrubbed"] >= 3

        assert _traces(hub.data_dir, SECRET) == []
        store = Store(lmdb_path(hub.data_dir), readonly=True)
        with store.read() as view:
            tombstone = view.erased(SID)
        store.close()
        assert tombstone is not None and tombstone.reason == "court order 2026/117"

        # Gone from matching, lookups and the replica; the feed says it was erased.
        for client in (acme, beta):
            (r,) = client.match([("pdq", SECRET)], 0)
            assert r.matches == ()
        with pytest.raises(SignalhubError, match="no signal"):
            beta.get_signal(SID)
        with LocalReplica(replica) as local:
            local.sync(acme)
            assert {s.value for s in local.signals()} == {OTHER}
        erased = [e for e in acme.fetch() if e.signal.signal_id == SID]
        assert erased[-1].event == "signal_erased" and all(not e.signal.value for e in erased)
        # The other signal of the redacted batch stays, its envelope marked redacted.
        detail = acme.get_signal(domain.signal_id("pdq", OTHER))
        assert [s.envelope_redacted for s in detail.submissions] == [True]
        env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "acme",
               "SIGNALHUB_KEY": str(acme_key)}  # fmt: skip
        verify = run_cli("verify", domain.signal_id("pdq", OTHER), env=env)
        assert verify.returncode == 1 and "redacted" in verify.stdout + verify.stderr

        # It cannot come back, and erasing it again is refused; nothing stored either way.
        before = store_fingerprint(hub.data_dir)
        with pytest.raises(InvalidArgument, match="erased on legal request"):
            beta.submit([Signal("pdq", SECRET.upper())])
        again = run_cli("admin", "erase-signal", SID, "--reason", "again", env=operator)
        assert again.returncode == 1 and "already erased" in again.stderr
        assert store_fingerprint(hub.data_dir) == before

    hub.restart()
    with hub.client("beta", beta_key) as beta:
        (r,) = beta.match([("pdq", OTHER)], 0)
        assert len(r.matches) == 1
    hub.stop()
    report = verify_data_dir(hub.data_dir)
    assert report.ok, report.problems
    # A compacted backup holds no free pages: its raw bytes have no copy of the value.
    backup_data_dir(hub.data_dir, tmp_path / "backup")
    raw = b"".join(p.read_bytes() for p in (tmp_path / "backup").rglob("*.mdb"))
    assert raw and SECRET.encode() not in raw and bytes.fromhex(SECRET) not in raw


def test_offboarding_keeps_retracts_or_erases_as_told(hub: HubProcess, tmp_path: Path) -> None:
    keys = {m: hub.add_member(m, tmp_path) for m in ("acme", "keeper", "leaver", "eraser")}
    with hub.admin() as admin:
        admin.add_group_members("team-g", ["acme", "eraser"])
    sole = {m: f"{i}e" * 32 for i, m in enumerate(("keeper", "leaver", "eraser"), 1)}
    shared, private = "5a" * 32, "6b" * 32
    for member in ("keeper", "leaver", "eraser"):
        with hub.client(member, keys[member]) as client:
            client.submit([Signal("pdq", sole[member], labels=("csam",)),
                           Signal("pdq", shared)])  # fmt: skip
    with hub.client("eraser", keys["eraser"]) as client:
        client.submit([Signal("pdq", private)], audience=["team-g"])
    with hub.client("acme", keys["acme"]) as client:
        client.submit([Signal("pdq", shared, labels=("ncii",))])
    operator = _operator(hub)

    before = store_fingerprint(hub.data_dir)
    unknown = run_cli("admin", "remove-member", "nobody", "--submissions", "keep", env=operator)
    assert unknown.returncode == 1 and "nobody" in unknown.stderr
    no_choice = run_cli("admin", "remove-member", "keeper", env=operator)
    assert no_choice.returncode == 2 and "--submissions" in no_choice.stderr
    assert store_fingerprint(hub.data_dir) == before

    results = {}
    for member, fate in (("keeper", "keep"), ("leaver", "retract"), ("eraser", "erase")):
        out = run_cli("admin", "remove-member", member, "--submissions", fate, "--reason",
                      "left the coalition", "--json", env=operator, check=True)  # fmt: skip
        results[member] = json.loads(out.stdout)
    assert results["keeper"]["retracted_submissions"] == 0
    assert results["leaver"]["retracted_submissions"] == 2
    assert results["leaver"]["removed_signals"] == 1  # its sole signal; `shared` stays
    assert results["eraser"]["retracted_submissions"] == 3
    assert results["eraser"]["removed_signals"] == 2  # its sole signal and the private one

    with hub.client("acme", keys["acme"]) as acme:
        found = {r.value: r.matches for r in acme.match(
            [("pdq", v) for v in (*sole.values(), shared, private)], 0)}  # fmt: skip
    assert len(found[sole["keeper"]]) == 1  # kept, still attributed to keeper
    assert found[sole["leaver"]] == () and found[sole["eraser"]] == () and found[private] == ()
    (s,) = found[shared]
    assert s.signal.corroboration == 2 and s.signal.labels == ("ncii",)  # keeper + acme
    for value in (sole["eraser"], private):
        assert _traces(hub.data_dir, value) == []
    assert _traces(hub.data_dir, sole["leaver"])  # retracted, not erased: history keeps it

    # Removed members are refused; their keys are revoked; groups no longer name them.
    for member in ("keeper", "eraser"):
        with (
            hub.client(member, keys[member]) as client,
            pytest.raises((Unauthenticated, PermissionDenied)),
        ):
            client.match([("pdq", shared)], 0)
    with hub.admin() as admin:
        assert admin.list_keys("eraser")[0].HasField("revoked_at")
        assert [g.member_ids for g in admin.list_groups()] == [["acme"]]
    listed = run_cli("admin", "list-members", "--json", env=operator, check=True).stdout
    removed = {m["member_id"] for m in map(json.loads, listed.splitlines()) if m.get("removed_at")}
    assert removed == {"keeper", "leaver", "eraser"}
    before = store_fingerprint(hub.data_dir)
    twice = run_cli("admin", "remove-member", "keeper", "--submissions", "keep", env=operator)
    assert twice.returncode == 1 and "was removed" in twice.stderr
    assert store_fingerprint(hub.data_dir) == before
    hub.stop()
    report = verify_data_dir(hub.data_dir)
    assert report.ok, report.problems


def test_erasing_a_video_and_a_plugin_type_still_replays(hub: HubProcess, tmp_path: Path) -> None:
    """Replay must give an erased video the same PDQ rows (one per retained frame) and an
    erased plug-in signal its typed row, or `audit verify` would find the store different."""
    import tlsh

    from signalhub.vpdq_format import VpdqFrame, vpdq_text

    frames = [VpdqFrame(f"{i:02x}" * 32, 90, float(i)) for i in range(1, 6)]
    video = vpdq_text(frames)
    doc = str(tlsh.hash(" ".join(f"word{i}" for i in range(400)).encode()))
    key = hub.add_member("acme", tmp_path)
    with hub.client("acme", key) as acme:
        acme.submit([Signal("vpdq", video), Signal("tlsh", doc), Signal("pdq", OTHER)])
        acme.submit([Signal("pdq", "77" * 32)])  # rows after the video's, so numbering matters
    with hub.admin() as admin:
        for value, kind in ((video, "vpdq"), (doc, "tlsh")):
            admin.erase_signal(domain.signal_id(kind, value), "court order")
    assert _traces(hub.data_dir, frames[2].pdq) == []
    store = Store(lmdb_path(hub.data_dir), readonly=True)
    with store.read() as view:  # the plug-in's own table (and so its index) is left empty
        assert list(view.typed_values("tlsh")) == []
    store.close()
    with hub.client("acme", key) as acme:
        (r,) = acme.match([("pdq", "77" * 32)], 0)
        assert len(r.matches) == 1
        (r,) = acme.match([("tlsh", doc)], 0)
        assert r.matches == ()
    hub.stop()
    report = verify_data_dir(hub.data_dir)
    assert report.ok, report.problems


def test_erasing_a_pdq_hash_erases_the_videos_with_that_frame_and_refuses_it_in_any_type(
    hub: HubProcess, tmp_path: Path
) -> None:
    """A video's retained frames are PDQ hashes the PDQ index matches: erasing a hash erases
    every video with it as a frame, and erasing a video tombstones its frames, so neither
    the hash nor a video with it comes back (issue 19)."""
    from signalhub.vpdq_format import VpdqFrame, vpdq_text

    def frame(byte: int, t: float) -> VpdqFrame:
        return VpdqFrame(f"{byte:02x}" * 32, 90, t)

    carrier = vpdq_text([frame(0x11, 0.0), VpdqFrame(SECRET, 90, 1.0), frame(0x12, 2.0)])
    kept = vpdq_text([frame(0x21, 0.0), frame(0x22, 1.0)])
    key = hub.add_member("acme", tmp_path)
    operator = _operator(hub)
    with hub.client("acme", key) as acme:
        acme.submit([Signal("pdq", SECRET, labels=("csam",))])
        acme.submit([Signal("vpdq", carrier), Signal("vpdq", kept)])  # a batch of its own
        (r,) = acme.match([("pdq", SECRET)], 0)
        assert {m.signal.type for m in r.matches} == {"pdq", "vpdq"}

        out = run_cli("admin", "erase-signal", SID, "--reason", "court order 2026/118",
                      "--json", env=operator, check=True)  # fmt: skip
        summary = json.loads(out.stdout)
        carrier_id = domain.signal_id("vpdq", carrier)
        (also,) = summary["also_erased"]
        assert also["signal_id"] == carrier_id and "court order 2026/118" in also["reason"]
        assert summary["log_entries_redacted"] == 2  # the photo's batch and the video's

        (r,) = acme.match([("pdq", SECRET)], 0)
        assert r.matches == ()  # neither the photo nor the video's frame
        with pytest.raises(SignalhubError, match="no signal"):
            acme.get_signal(carrier_id)
        for value in (SECRET, frame(0x11, 0).pdq):
            assert _traces(hub.data_dir, value) == []
        assert [e.event for e in acme.fetch() if e.signal.signal_id == carrier_id][-1] == (
            "signal_erased"
        )

        # Refused in any type that carries it; a refused batch stores nothing.
        other_video = json.dumps([f"{'31' * 32},90,0.0", f"{SECRET.upper()},70,4.0"])
        before = store_fingerprint(hub.data_dir)
        for batch, field in (
            ([Signal("vpdq", carrier)], "signals[0].value"),
            ([Signal("pdq", OTHER), Signal("vpdq", other_video)], "signals[1].value"),
            ([Signal("pdq", SECRET)], "signals[0].value"),
        ):
            with pytest.raises(InvalidArgument, match="erased on legal request") as refused:
                acme.submit(batch)
            assert field in str(refused.value)
        assert store_fingerprint(hub.data_dir) == before
        (r,) = acme.match([("pdq", frame(0x21, 0).pdq)], 0)
        assert len(r.matches) == 1  # a video without the frame stays

        # Erasing a video takes the photos and videos carrying one of its frames, and
        # tombstones its frames; what only shared a frame with it is not refused.
        photo = frame(0x22, 0).pdq
        sharer = vpdq_text([frame(0x22, 0.0), frame(0x41, 1.0)])
        acme.submit([Signal("pdq", photo), Signal("vpdq", sharer)])
        out = run_cli("admin", "erase-signal", domain.signal_id("vpdq", kept), "--reason",
                      "court order 2026/119", "--json", env=operator, check=True)  # fmt: skip
        assert {e["signal_id"] for e in json.loads(out.stdout)["also_erased"]} == {
            domain.signal_id("pdq", photo),
            domain.signal_id("vpdq", sharer),
        }
        before = store_fingerprint(hub.data_dir)
        for batch in (
            [Signal("pdq", frame(0x21, 0).pdq)],
            [Signal("vpdq", vpdq_text([frame(0x51, 0.0), frame(0x21, 1.0)]))],
        ):
            with pytest.raises(InvalidArgument, match="erased on legal request"):
                acme.submit(batch)
        assert store_fingerprint(hub.data_dir) == before
        acme.submit([Signal("pdq", frame(0x41, 0).pdq)])  # the sharer's own frame
        for value in (frame(0x21, 0).pdq, photo):
            (r,) = acme.match([("pdq", value)], 0)
            assert r.matches == ()
            assert _traces(hub.data_dir, value) == []
    hub.stop()
    verified = run_cli("audit", "verify", "--data-dir", str(hub.data_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr
