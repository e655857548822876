"""What a member learns about signals another privacy group holds: nothing (issue 19). A
retraction answers as if the hidden submission did not exist, and opinions given through a
group's submission count (and show as feed updates) only for those who see that submission."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hubtools import HubProcess, feed_sequence, new_hub

from client_sdk import Client, Signal
from client_sdk.errors import InvalidArgument
from client_sdk.models import FeedEvent
from signalhub import domain

RNG = random.Random(19)


def _pdq() -> str:
    return f"{RNG.getrandbits(256):064x}"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, Path]]:
    """observer and ally share group gg; x1 and x2 share group hh, which the observer is not in."""
    root = tmp_path_factory.mktemp("hidden")
    hub = new_hub(root)
    for name in ("observer", "ally", "x1", "x2"):
        hub.add_member(name, root)
    with hub.admin() as admin:
        admin.add_group_members("gg", ["observer", "ally"])
        admin.add_group_members("hh", ["x1", "x2"])
    yield hub, root
    hub.stop()


def _client(hub: tuple[HubProcess, Path], name: str) -> Client:
    process, root = hub
    return process.client(name, root / f"{name}.key")


def _tail(client: Client, after: str) -> list[FeedEvent]:
    return list(client.fetch(after))


def _feed_head(client: Client) -> str:
    events = list(client.fetch())
    return events[-1].cursor if events else ""


def test_retracting_a_signal_another_group_also_holds_answers_as_if_nobody_else_did(
    hub: tuple[HubProcess, Path],
) -> None:
    shared, alone = _pdq(), _pdq()
    with _client(hub, "observer") as observer, _client(hub, "x1") as x1:
        observer.submit([Signal("pdq", shared), Signal("pdq", alone)])
        x1.submit([Signal("pdq", shared)], audience=["hh"])
        start = _feed_head(observer)
        ids = [domain.signal_id("pdq", v) for v in (shared, alone)]
        assert observer.retract(ids) == [(ids[0], True), (ids[1], True)]
        events = _tail(observer, start)
        assert [(e.event, e.signal.signal_id, e.signal.value) for e in events] == [
            ("signal_removed", ids[0], shared),
            ("signal_removed", ids[1], alone),
        ]
        # The hidden group still has its own submission of the shared value.
        (still,) = x1.match([("pdq", shared)], max_distance=0)
        assert [m.signal.signal_id for m in still.matches] == [ids[0]]
        (gone,) = observer.match([("pdq", shared)], max_distance=0)
        assert gone.matches == ()


def test_opinions_given_through_another_groups_submission_stay_in_that_group(
    hub: tuple[HubProcess, Path],
) -> None:
    value = _pdq()
    sid = domain.signal_id("pdq", value)
    with (
        _client(hub, "observer") as observer,
        _client(hub, "ally") as ally,
        _client(hub, "x1") as x1,
        _client(hub, "x2") as x2,
    ):
        ally.submit([Signal("pdq", value)], audience=["gg"])
        x1.submit([Signal("pdq", value)], audience=["hh"])
        start = _feed_head(observer)
        x2.set_opinion(sid, "false_positive")  # x2 sees the signal only through group hh
        (hidden,) = observer.match([("pdq", value)], max_distance=0)
        assert hidden.matches[0].signal.opinions == {
            "true_positive": 0, "false_positive": 0, "disputed": 0,
        }  # fmt: skip
        assert _tail(observer, start) == []  # no update event either
        (inside,) = x1.match([("pdq", value)], max_distance=0)
        assert inside.matches[0].signal.opinions["false_positive"] == 1
        # An opinion through a submission the observer sees does count, and shows in its feed.
        ally.set_opinion(sid, "true_positive")
        (seen,) = observer.match([("pdq", value)], max_distance=0)
        assert seen.matches[0].signal.opinions == {
            "true_positive": 1, "false_positive": 0, "disputed": 0,
        }  # fmt: skip
        events = _tail(observer, start)
        assert [(e.event, e.signal.opinions["true_positive"]) for e in events] == [
            ("signal_updated", 1)
        ]
        assert observer.get_signal(sid).signal.opinions["false_positive"] == 0


def test_cursors_do_not_count_the_events_a_member_may_not_see(
    hub: tuple[HubProcess, Path],
) -> None:
    process, _ = hub
    with _client(hub, "observer") as observer, _client(hub, "x1") as x1:
        first = observer.submit([Signal("pdq", _pdq())]).cursor
        for _ in range(37):
            x1.submit([Signal("pdq", _pdq())], audience=["hh"])
        second = observer.submit([Signal("pdq", _pdq())]).cursor
        events = _tail(observer, first)
        assert [e.cursor for e in events] == [second]  # the 37 are not the observer's
        # The hub's sequence moved by 38; the observer's cursors are opaque tokens that do not
        # say so (the operator's tools decode them with the hub key).
        assert (
            feed_sequence(process.data_dir, second) - feed_sequence(process.data_dir, first) == 38
        )
        for cursor in (first, second):
            assert len(cursor) == 32 and not cursor.isdigit()
            assert int(cursor, 16) != feed_sequence(process.data_dir, cursor)
        # Anything but a cursor the hub handed out is refused alike: the old decimal form, the
        # hub's own sequence, a token with one digit changed.
        errors = set()
        sequence = str(feed_sequence(process.data_dir, second))
        for bad in ("38", sequence, second[:-1] + ("0" if second[-1] != "0" else "1"), "x" * 32):
            with pytest.raises(InvalidArgument) as e:
                list(observer.fetch(bad))
            errors.add((str(e.value).replace(repr(bad[:40]), "?"), e.value.violations[0][0]))
        assert len(errors) == 1


def test_a_replayed_feed_shows_a_signal_another_group_kept_as_one_nobody_kept(
    hub: tuple[HubProcess, Path],
) -> None:
    """Two values the ally shared and then retracted; another group also holds the first. The
    observer, replaying its feed, must see the two alike (else the extra tombstone says that
    somebody it may not see still holds the first)."""
    kept, dropped = _pdq(), _pdq()
    with (
        _client(hub, "observer") as observer,
        _client(hub, "ally") as ally,
        _client(hub, "x1") as x1,
    ):
        start = _feed_head(observer)
        ally.submit([Signal("pdq", kept)])
        ally.submit([Signal("pdq", dropped)])
        x1.submit([Signal("pdq", kept)], audience=["hh"])
        ally.retract([domain.signal_id("pdq", kept)])
        ally.retract([domain.signal_id("pdq", dropped)])
        events = _tail(observer, start)
    by_value: dict[str, list[str]] = {}
    for e in events:
        by_value.setdefault(e.signal.value, []).append(e.event)
    assert by_value[kept] == by_value[dropped] == ["signal_removed"]
