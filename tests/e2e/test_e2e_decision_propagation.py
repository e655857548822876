"""Decision propagation against a real hub (issue 21.3): three members match a signal; one of
them records an upheld appeal, and the other two are asked to review their actions, each with
exactly its own match count and times — no byte of what they receive names who else matched or
who appealed. A member outside the signal's audience gets nothing; a retraction as a false
positive asks those who matched too; a member marks its notices reviewed; bad input is refused
in one line with nothing stored; `audit verify` replays the log to the same store. The hub logs
match counts every 0.2 s here (test hubs otherwise do it hourly)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from hubtools import HubProcess, new_hub, run_cli, store_fingerprint

from client_sdk import Client, Signal
from client_sdk.errors import InvalidArgument, NotFound, SignalhubError
from client_sdk.local import LocalReplica
from signalhub.v1 import exchange_pb2

APPEALED = "5a" * 32
RETRACTED = "a6" * 32
GROUP = "dp-circle"
SUB, APPEALER, TWO, THREE, OUTSIDER = "dp-sub", "dp-appealer", "dp-two", "dp-three", "dp-outsider"
MEMBERS = (SUB, APPEALER, TWO, THREE, OUTSIDER)
APPEAL_NOTE = "user 4471 showed the photo was their own"
RETRACT_NOTE = "a stock photo, not abuse"


@dataclass
class World:
    """The members' keys, the two signals' ids, and when each member matched APPEALED (ms)."""

    keys: dict[str, Path]
    appealed: str
    retracted: str
    windows: dict[str, tuple[int, int]]

    def client(self, hub: HubProcess, member: str) -> Client:
        return hub.client(member, self.keys[member])

    def env(self, hub: HubProcess, member: str) -> dict[str, str]:
        key = str(self.keys[member])
        return {
            "SIGNALHUB_ENDPOINT": hub.endpoint,
            "SIGNALHUB_MEMBER": member,
            "SIGNALHUB_KEY": key,
        }


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = new_hub(tmp_path_factory.mktemp("reviews"), extra=("--match-count-interval", "0.2"))
    yield process
    if process.proc is not None:
        process.stop()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _match(world: World, hub: HubProcess, member: str, value: str, times: int) -> int:
    """Matches `value` `times` times as `member`; returns how many answers found it."""
    found = 0
    with world.client(hub, member) as client:
        for _ in range(times):
            (result,) = client.match([("pdq", value)], 0)
            found += len(result.matches)
    return found


def _settled() -> None:
    """Waits until the counts of the matches made so far are logged (two flushes)."""
    time.sleep(0.6)


@pytest.fixture(scope="module")
def world(hub: HubProcess, keys_dir: Path) -> World:
    keys = {name: hub.add_member(name, keys_dir) for name in MEMBERS}
    with hub.admin() as admin:
        admin.add_group_members(GROUP, [SUB, APPEALER, TWO, THREE])  # not the outsider
    with hub.client(SUB, keys[SUB]) as sub:
        batch = sub.submit(
            [Signal("pdq", v, labels=("csam",)) for v in (APPEALED, RETRACTED)], audience=[GROUP]
        )
    appealed, retracted = (item.signal_id for item in batch.items)
    world = World(keys, appealed, retracted, {})
    for member, times in ((APPEALER, 1), (TWO, 2), (THREE, 3)):
        started = _now_ms()
        assert _match(world, hub, member, APPEALED, times) == times
        world.windows[member] = (started, _now_ms())
    assert _match(world, hub, OUTSIDER, APPEALED, 2) == 0  # outside the audience: no match
    assert _match(world, hub, TWO, RETRACTED, 1) == 1
    assert _match(world, hub, THREE, RETRACTED, 4) == 4
    _settled()
    return world


def _reviews(
    world: World, hub: HubProcess, member: str, **kwargs: bool
) -> list[tuple[str, str, int]]:
    """(signal id, reason, matches) of the member's notices, newest first."""
    with world.client(hub, member) as client:
        return [(r.signal_id, r.reason, r.matches) for r in client.reviews(**kwargs)]


def _ms(text: str | None) -> int:
    assert text is not None
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def _one_error_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """The command failed with exit 1 and one `signalhub: error:` line naming `words`."""
    assert result.returncode == 1, result.stdout
    stderr = result.stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert stderr.startswith("signalhub: error: "), stderr
    for word in words:
        assert word in stderr, stderr


def test_an_upheld_appeal_asks_each_other_member_that_matched_with_its_own_counts(
    hub: HubProcess, world: World
) -> None:
    appealed = run_cli(
        "appeal", world.appealed, "upheld", "--note", APPEAL_NOTE, env=world.env(hub, APPEALER)
    )
    assert appealed.returncode == 0, appealed.stderr
    assert f"recorded an upheld appeal on {world.appealed}" in appealed.stdout
    got = {m: _reviews(world, hub, m) for m in MEMBERS}
    upheld = "appeal_upheld"
    assert got == {
        SUB: [],  # the submitter never matched it
        APPEALER: [],  # the one who decided is not asked
        TWO: [(world.appealed, upheld, 2)],
        THREE: [(world.appealed, upheld, 3)],
        OUTSIDER: [],
    }
    for member in (TWO, THREE):
        with world.client(hub, member) as client:
            (notice,) = client.reviews()
        started, ended = world.windows[member]
        first, last = _ms(notice.first_match), _ms(notice.last_match)
        assert started - 1 <= first <= last <= ended + 1  # its own matches, not the others'
        assert _ms(notice.requested_at) > ended and not notice.reviewed
        assert notice.type == "pdq" and len(notice.review_id) == 32


def test_what_a_member_receives_names_nobody_else(hub: HubProcess, world: World) -> None:
    others = [m for m in MEMBERS if m != TWO]
    listed = run_cli("reviews", "--json", env=world.env(hub, TWO), check=True)
    fetched = run_cli("fetch", "--json", env=world.env(hub, TWO), check=True)
    text = run_cli("reviews", env=world.env(hub, TWO), check=True)
    with world.client(hub, TWO) as client:
        wire = client._conn.signed_unary(
            "/signalhub.v1.Exchange/ListReviews",
            exchange_pb2.ListReviewsRequest(),
            exchange_pb2.ListReviewsResponse,
        ).SerializeToString()
        events = list(client.fetch_wire())
    review_events = [e for e in events if e.HasField("review")]
    assert len(review_events) == 1 and not review_events[0].member_id
    # The feed names the submitter on its signal_added events (audience members may see who
    # submitted); its review events, as the notices, name nobody.
    (review_line,) = (x for x in fetched.stdout.splitlines() if "review_requested" in x)
    received = [listed.stdout, review_line, text.stdout]
    blobs = [s.encode() for s in received] + [wire, review_events[0].SerializeToString()]
    for blob in blobs:
        for secret in (*others, APPEAL_NOTE):
            assert secret.encode() not in blob
    (line,) = (json.loads(x) for x in listed.stdout.splitlines())
    assert (line["signal_id"], line["reason"], line["matches"]) == (
        world.appealed,
        "appeal_upheld",
        2,
    )
    assert "member_id" not in line and "member_id" not in review_line
    header, row = text.stdout.splitlines()
    assert header == "1 open review"
    assert row.startswith(f"{line['review_id']}  {world.appealed}  pdq")
    assert "appeal_upheld" in row and "your 2 matches" in row
    assert f"{line['first_match']}..{line['last_match']}" in row


def test_a_member_outside_the_signals_audience_gets_nothing(hub: HubProcess, world: World) -> None:
    with world.client(hub, OUTSIDER) as outsider:
        assert outsider.reviews(include_reviewed=True) == []
        assert [e for e in outsider.fetch() if e.event == "review_requested"] == []
        with pytest.raises(NotFound) as invisible:  # exactly as a signal that does not exist
            outsider.record_appeal(world.appealed, "upheld")
        with pytest.raises(NotFound) as missing:
            outsider.record_appeal("0" * 32, "upheld")
    assert str(invisible.value).replace(world.appealed, "X") == str(missing.value).replace(
        "0" * 32, "X"
    )


def test_a_denied_appeal_tells_nobody(hub: HubProcess, world: World) -> None:
    before = {m: _reviews(world, hub, m, include_reviewed=True) for m in MEMBERS}
    with world.client(hub, TWO) as two:
        done = two.record_appeal(world.appealed, "denied", "the action stands", request_id="d1")
        again = two.record_appeal(world.appealed, "denied", "the action stands", request_id="d1")
    assert (done.outcome, done.signal.signal_id, done.replayed) == ("denied", world.appealed, False)
    assert again.replayed  # a retry gets the first answer back
    assert {m: _reviews(world, hub, m, include_reviewed=True) for m in MEMBERS} == before


def test_retracting_as_a_false_positive_asks_those_who_matched_to_review(
    hub: HubProcess, world: World
) -> None:
    retracted = run_cli(
        "retract", world.retracted, "--false-positive", "--note", RETRACT_NOTE,
        env=world.env(hub, SUB),
    )  # fmt: skip
    assert retracted.returncode == 0, retracted.stderr
    assert f"{world.retracted}: retracted (no submission left: removed)" in retracted.stdout
    fp = "retracted_false_positive"
    assert _reviews(world, hub, TWO)[0] == (world.retracted, fp, 1)  # newest first
    assert _reviews(world, hub, THREE)[0] == (world.retracted, fp, 4)
    for member in (SUB, APPEALER, OUTSIDER):
        assert all(sid != world.retracted for sid, _, _ in _reviews(world, hub, member))
    with world.client(hub, THREE) as three:
        events = [e for e in three.fetch() if e.event == "review_requested"]
    assert [(e.signal.signal_id, e.review.reason) for e in events if e.review] == [
        (world.appealed, "appeal_upheld"),
        (world.retracted, fp),
    ]
    assert events[-1].review is not None and events[-1].review.matches == 4
    assert events[-1].signal.value == "" and events[-1].member_id == ""


def test_a_local_replica_skips_review_events(hub: HubProcess, world: World, tmp_path: Path) -> None:
    with world.client(hub, THREE) as client, LocalReplica(tmp_path / "r") as local:
        assert local.sync(client, snapshot=False) > 0
        (found,) = local.match([("pdq", APPEALED)], 0)
        (gone,) = local.match([("pdq", RETRACTED)], 0)
    assert [m.signal.signal_id for m in found.matches] == [world.appealed]
    assert gone.matches == ()


def test_marking_a_review_done_closes_it(hub: HubProcess, world: World) -> None:
    with world.client(hub, TWO) as two:
        newest, oldest = two.reviews()
    done = run_cli(
        "reviews", "done", oldest.review_id, "--note", "account restored",
        env=world.env(hub, TWO),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{oldest.review_id}: reviewed 20")
    still_open = run_cli("reviews", "--json", env=world.env(hub, TWO), check=True)
    assert [json.loads(x)["review_id"] for x in still_open.stdout.splitlines()] == [
        newest.review_id
    ]
    every = run_cli("reviews", "--all", "--json", env=world.env(hub, TWO), check=True)
    closed = [json.loads(x) for x in every.stdout.splitlines()][1]
    assert (closed["review_id"], closed["reviewed"], closed["review_note"]) == (
        oldest.review_id,
        True,
        "account restored",
    )
    with world.client(hub, TWO) as two:  # again: the first time and note stay
        (again,) = two.mark_reviewed(oldest.review_id, "something else")
    assert (again.reviewed_at, again.review_note) == (closed["reviewed_at"], "account restored")


def test_bad_input_is_refused_in_one_line_with_nothing_stored(
    hub: HubProcess, world: World
) -> None:
    _settled()
    before = store_fingerprint(hub.data_dir)
    long_note = "n" * 1001
    with world.client(hub, THREE) as three:
        (open_review, *_) = three.reviews()
        with pytest.raises(NotFound):
            three.record_appeal("0" * 32, "upheld")
        with pytest.raises(NotFound):  # retracted: gone
            three.record_appeal(world.retracted, "upheld")
        with pytest.raises(SignalhubError, match="upheld or denied"):  # refused before sending
            three.record_appeal(world.appealed, "maybe")
        for call, field in (
            (lambda: three.record_appeal("xyz", "upheld"), "signal_id"),
            (lambda: three.record_appeal(world.appealed, "upheld", long_note), "note"),
            (lambda: three.mark_reviewed("not-a-review"), "review_ids[0]"),
            (lambda: three.mark_reviewed([]), "review_ids"),
            (lambda: three.mark_reviewed(open_review.review_id, long_note), "note"),
            (
                lambda: three.retract([world.appealed], reason="false_positive", note=long_note),
                "note",
            ),
        ):
            with pytest.raises(InvalidArgument) as refused:
                call()
            assert field in str(refused.value)
        with pytest.raises(NotFound, match="review_ids"):
            three.mark_reviewed("f" * 32)
        with pytest.raises(SignalhubError, match="false_positive"):
            three.retract([world.appealed], reason="mistake")
    env = world.env(hub, THREE)
    _one_error_line(run_cli("appeal", "0" * 32, "upheld", env=env), "0" * 32)
    _one_error_line(run_cli("appeal", world.appealed, "rejected", env=env), "upheld or denied")
    _one_error_line(
        run_cli("appeal", world.appealed, "upheld", "--note", long_note, env=env), "note"
    )
    _one_error_line(run_cli("reviews", "done", "f" * 32, env=env), "f" * 32)
    _one_error_line(run_cli("reviews", "done", env=env), "REVIEW_ID")
    _one_error_line(run_cli("reviews", "--note", "x", env=env), "done")
    _one_error_line(run_cli("retract", world.retracted, "--false-positive", env=env), "submission")
    assert store_fingerprint(hub.data_dir) == before


def test_replaying_the_log_rebuilds_the_same_reviews(hub: HubProcess, world: World) -> None:
    verified = run_cli("audit", "verify", "--data-dir", str(hub.data_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    checked = run_cli("admin", "check", "--data-dir", str(hub.data_dir), "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tables = json.loads(checked.stdout.splitlines()[-1])["records"]
    assert tables["reviews"] == 4  # two for the appeal, two for the false positive
