"""Warning lists against a real hub (issue 21.1): the operator creates a list, members propose
and endorse entries, the operator (or N members) approves them; a match on a listed value, or
within the list's distance of one, comes back flagged with the list's name and is left out when
the caller asks (the SDK's default); the lists are signed; bad input is refused with nothing
stored; and replaying the log rebuilds the same tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hubtools import HubProcess, run_cli, store_fingerprint

from client_sdk import Signal
from client_sdk.errors import InvalidArgument, NotFound, PermissionDenied, SignalhubError
from client_sdk.warnings import WarningEntry, verified_lists
from signalhub import domain
from signalhub.v1 import admin_pb2, exchange_pb2

BLANK = "0" * 64  # the listed value (a flat frame's hash, say)
NEAR_BLANK = "0" * 60 + "000f"  # 4 bits from it
FAR = "f0" * 32  # 128 bits from it: a real image
MEME = "5a" * 32


@pytest.fixture(scope="module")
def members(hub: HubProcess, keys_dir: Path) -> dict[str, Path]:
    keys = {name: hub.add_member(name, keys_dir) for name in ("wl-acme", "wl-beta", "wl-carol")}
    with hub.client("wl-acme", keys["wl-acme"]) as acme:
        acme.submit([Signal("pdq", BLANK, labels=("csam",)), Signal("pdq", NEAR_BLANK),
                     Signal("pdq", FAR, labels=("csam",)), Signal("pdq", MEME)])  # fmt: skip
    with hub.admin() as admin:
        admin.set_warning_list("blank-frames", "flat and near-flat frames", max_distance=8)
        admin.set_warning_list("memes", "meme templates", endorsements_required=2)
    return keys


def test_an_operator_approved_entry_flags_matches_near_it(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    with hub.client("wl-beta", members["wl-beta"]) as beta:
        (state,) = beta.propose_warning_entries(
            "blank-frames", [WarningEntry("pdq", BLANK, "flat")]
        )
        assert (state.approved, state.endorsements, state.members) == (False, 1, ("wl-beta",))
        (before,) = beta.match([("pdq", BLANK)], 31, exclude_warned=False)
        assert all(not m.warning_lists for m in before.matches)
    with hub.admin() as admin:
        assert (
            admin.edit_warning_entries("blank-frames", "approve", [WarningEntry("pdq", BLANK)])[0]
            == 1
        )
    with hub.client("wl-carol", members["wl-carol"]) as carol:
        (flagged,) = carol.match([("pdq", BLANK)], 31, exclude_warned=False)
        by_value = {m.signal.value: m.warning_lists for m in flagged.matches}
        assert by_value == {BLANK: ("blank-frames",), NEAR_BLANK: ("blank-frames",)}
        # The SDK's default leaves them out, and says how many.
        (dropped,) = carol.match([("pdq", BLANK)], 31)
        assert (dropped.matches, dropped.excluded_warned) == ((), 2)
        # A real match next to the listed value is still found, unflagged.
        (real,) = carol.match([("pdq", FAR)], 31)
        assert [(m.signal.value, m.warning_lists) for m in real.matches] == [(FAR, ())]
        lists = carol.warning_lists()
        assert [(w.name, [e.value for e in w.entries]) for w in lists.lists] == [
            ("blank-frames", [BLANK]),
            ("memes", []),
        ]
        assert carol.warning_lists(lists.version).unchanged
        # Beta's proposal is shown approved to beta, and not at all to carol.
        assert carol.warning_proposals() == []
    with hub.client("wl-beta", members["wl-beta"]) as beta:
        (mine,) = beta.warning_proposals()
        assert (mine.approved, mine.entry.value) == (True, BLANK)


def test_n_members_endorsing_an_entry_approve_it(hub: HubProcess, members: dict[str, Path]) -> None:
    meme = WarningEntry("pdq", MEME, "template")
    with hub.client("wl-acme", members["wl-acme"]) as acme:
        (one,) = acme.propose_warning_entries("memes", [meme])
        assert not one.approved and one.endorsements == 1
        (still,) = acme.match([("pdq", MEME)], 0, exclude_warned=False)
        assert still.matches[0].warning_lists == ()
    with hub.client("wl-carol", members["wl-carol"]) as carol:
        (two,) = carol.propose_warning_entries("memes", [meme])
        assert two.approved and two.members == ("wl-carol",)  # never who else endorsed it
        (now,) = carol.match([("pdq", MEME)], 0, exclude_warned=False)
        assert now.matches[0].warning_lists == ("memes",)
    with hub.admin() as admin:
        (seen,) = admin.warning_proposals("memes", include_approved=True)
        assert seen.members == ("wl-acme", "wl-carol")


def test_the_lists_are_signed_and_a_changed_byte_is_refused(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    with hub.client("wl-carol", members["wl-carol"]) as carol:
        response = carol._conn.signed_unary(
            "/signalhub.v1.Exchange/GetWarningLists",
            exchange_pb2.GetWarningListsRequest(),
            exchange_pb2.GetWarningListsResponse,
        )
    hub_key = domain.read_public_key(hub.data_dir / "hub.key.pub")  # what the operator publishes
    assert verified_lists(response, hub_key).version == response.version
    response.lists[0].entries[0].note = "changed"
    with pytest.raises(SignalhubError, match="digest"):
        verified_lists(response)
    response.lists[0].entries[0].note = "flat"
    with pytest.raises(SignalhubError, match="not by the trusted"):
        verified_lists(response, b"\x01" * 32)


def test_the_feed_says_when_the_lists_change(hub: HubProcess, members: dict[str, Path]) -> None:
    with hub.client("wl-carol", members["wl-carol"]) as carol:
        events = [e for e in carol.fetch() if e.event == "warning_lists_changed"]
        version = carol.warning_lists().version
    assert events and events[-1].warning_lists_version == version
    assert set(events[-1].to_json()) == {"cursor", "event", "time", "warning_lists_version"}


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        (WarningEntry("pdq", "xyz"), "entries[0].value"),
        (WarningEntry("nosuchtype", BLANK), "entries[0].type"),
        (WarningEntry("pdq", BLANK, "n" * 201), "entries[0].note"),
    ],
)
def test_bad_proposals_are_refused_with_nothing_stored(
    hub: HubProcess, members: dict[str, Path], entry: WarningEntry, field: str
) -> None:
    before = store_fingerprint(hub.data_dir)
    with hub.client("wl-beta", members["wl-beta"]) as beta:
        with pytest.raises(InvalidArgument) as refused:
            beta.propose_warning_entries("blank-frames", [entry])
        assert field in str(refused.value)
        with pytest.raises(NotFound):
            beta.propose_warning_entries("no-such-list", [WarningEntry("pdq", BLANK)])
    assert store_fingerprint(hub.data_dir) == before


def test_bad_lists_and_member_admin_calls_are_refused_with_nothing_stored(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    before = store_fingerprint(hub.data_dir)
    with hub.admin() as admin:
        for name, distance in (("Bad Name", 0), ("ok-name", 65), ("x", 0)):
            with pytest.raises(InvalidArgument):
                admin.set_warning_list(name, max_distance=distance)
        with pytest.raises(NotFound):
            admin.edit_warning_entries("no-such-list", "approve", [WarningEntry("pdq", BLANK)])
        with pytest.raises(InvalidArgument):
            admin.edit_warning_entries("blank-frames", "approve", [])
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "wl-beta",
           "SIGNALHUB_KEY": str(members["wl-beta"])}  # fmt: skip
    # A member signing the operator's call is refused.
    refused = run_cli("admin", "warning-lists", "set", "sneaky",
                      "--operator-key", str(members["wl-beta"]), env=env)  # fmt: skip
    assert refused.returncode == 1 and "operator" in refused.stderr
    with hub.client("wl-beta", members["wl-beta"]) as beta, pytest.raises(PermissionDenied):
        beta._conn.signed_unary(
            "/signalhub.v1.Admin/SetWarningList",
            admin_pb2.SetWarningListRequest(name="sneaky"),
            admin_pb2.SetWarningListResponse,
        )
    assert store_fingerprint(hub.data_dir) == before


def test_the_cli_lists_proposes_and_flags(hub: HubProcess, members: dict[str, Path]) -> None:
    env = {"SIGNALHUB_ENDPOINT": hub.endpoint, "SIGNALHUB_MEMBER": "wl-carol",
           "SIGNALHUB_KEY": str(members["wl-carol"])}  # fmt: skip
    shown = json.loads(run_cli("warning-lists", "show", "--json", env=env, check=True).stdout)
    assert [w["name"] for w in shown["lists"]] == ["blank-frames", "memes"]
    human = run_cli("match", "--pdq", BLANK, env=env, check=True).stdout
    assert "warning list: blank-frames" in human
    excluded = json.loads(
        run_cli("match", "--pdq", BLANK, "--exclude-warned", "--json", env=env, check=True).stdout
    )
    assert excluded["matches"] == [] and excluded["excluded_warned"] == 2
    proposed = run_cli(
        "warning-lists",
        "propose",
        "blank-frames",
        "--value",
        "1" * 64,
        "--json",
        env=env,
        check=True,
    )
    assert json.loads(proposed.stdout)["entries"][0]["endorsements"] == 1


def test_replaying_the_log_rebuilds_the_warning_tables(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    verified = run_cli("audit", "verify", "--data-dir", str(hub.data_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_store_check_walks_the_warning_tables(
    hub: HubProcess, members: dict[str, Path]
) -> None:
    checked = run_cli("admin", "check", "--data-dir", str(hub.data_dir), "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tables = json.loads(checked.stdout.splitlines()[-1])["records"]
    assert tables["warning_entries"] >= 2 and tables["warning_lists"] == 2


def test_a_local_replica_syncs_the_lists_and_flags_alike(
    hub: HubProcess, members: dict[str, Path], tmp_path: Path
) -> None:
    from client_sdk.local import LocalReplica

    with hub.client("wl-carol", members["wl-carol"]) as carol, LocalReplica(tmp_path) as replica:
        replica.sync(carol)
        assert replica.warning_lists().version == carol.warning_lists().version
        queries = [("pdq", BLANK), ("pdq", FAR)]
        remote = carol.match(queries, 31, exclude_warned=False)
        local = replica.match(queries, 31, exclude_warned=False)
        shown = [[(m.signal.value, m.warning_lists) for m in r.matches] for r in local]
        assert shown == [[(m.signal.value, m.warning_lists) for m in r.matches] for r in remote]
        assert replica.match(queries, 31)[0].excluded_warned == 2


def test_the_starter_list_keeps_degenerate_images_out_and_real_matches_in(
    tmp_path_factory: pytest.TempPathFactory, keys_dir: Path
) -> None:
    """On a hub of its own: `admin warning-lists load-starter`, then every listed degenerate
    image, submitted as a signal, stays out of automated matches (the SDK's default), while a
    photo's re-uploaded copy next to them is still found."""
    from hubtools import new_hub
    from imagetools import save_edited_copy, save_photo

    from client_sdk.hashing import pdq_from_image
    from client_sdk.warnings import read_entries, starter_list_path

    hub = new_hub(tmp_path_factory.mktemp("starter"))
    try:
        key = hub.add_member("st-acme", keys_dir)
        env = {"SIGNALHUB_OPERATOR_KEY": str(hub.operator_key), "SIGNALHUB_ENDPOINT": hub.endpoint}
        loaded = run_cli("admin", "warning-lists", "load-starter", env=env, check=True).stdout
        listed = [e.value for e in read_entries(starter_list_path())]
        assert f"{len(listed)} entries ({len(listed)} new)" in loaded and len(listed) >= 20
        pictures = tmp_path_factory.mktemp("pictures")
        original = pdq_from_image(save_photo(pictures / "photo.png", 5)).hex
        copy = pdq_from_image(save_edited_copy(pictures / "copy.jpg", 5)).hex
        with hub.client("st-acme", key) as acme:
            acme.submit([Signal("pdq", v) for v in [*listed, original]])
            automated = acme.match([("pdq", v) for v in listed], 31)
            assert all(r.matches == () and r.excluded_warned >= 1 for r in automated)
            reviewed = acme.match([("pdq", v) for v in listed], 31, exclude_warned=False)
            assert all(m.warning_lists == ("degenerate-images",)
                       for r in reviewed for m in r.matches)  # fmt: skip
            (real,) = acme.match([("pdq", copy)], 31)
            assert [(m.signal.value, m.warning_lists) for m in real.matches] == [(original, ())]
    finally:
        hub.stop()
