"""The coalition report's disclosure rule (exchange.report.disclosure) as pure functions: no
hub, no store. Each case follows the rule as its module documents it: counts below the
threshold k are "<k"; a sum with a shown total must hide at least two of its cells, adding up
to k or more when it is exact, else its smallest shown cells are "suppressed" too; a cover may
hide one cell only while the shown cells reach the total; values derived from a suppressed
count are "suppressed"."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest

from exchange.report import coalition, disclosure
from exchange.report.disclosure import (
    PRIMARY,
    SECONDARY,
    SHOWN,
    Cell,
    Derived,
    Sheet,
    cells_of,
    resolve,
)
from exchange.report.history import History
from exchange.report.period import Buckets, Period
from exchange.report.reading import Usage


def published(
    total: int, parts: Sequence[int], k: int = 10, exact: bool = True
) -> tuple[int | str, list[int | str]]:
    """The public values of one sum `total` = (or <=) sum(parts), protected with threshold k."""
    sheet = Sheet(k)
    t, cells = Cell(total), [Cell(v) for v in parts]
    sheet.sums(t, cells, exact)
    sheet.protect([t, *cells])
    assert all(sheet.safe(r) for r in sheet.relations)
    return t.public(k), [c.public(k) for c in cells]


def test_the_default_threshold_is_ten() -> None:
    assert disclosure.DEFAULT_MIN_COUNT == 10


@pytest.mark.parametrize(
    ("k", "value", "shown"),
    [
        (10, 0, "<10"),  # zero is below the threshold too
        (10, 1, "<10"),
        (10, 9, "<10"),  # one below
        (10, 10, 10),  # the threshold itself is shown
        (10, 11, 11),
        (5, 4, "<5"),
        (5, 5, 5),
        (1, 0, "<1"),  # a threshold of 1 hides only zeros
        (1, 1, 1),
    ],
)
def test_a_count_below_the_threshold_is_shown_as_below_it(
    k: int, value: int, shown: object
) -> None:
    sheet = Sheet(k)
    cell = Cell(value)
    sheet.protect([cell])
    assert cell.public(k) == shown
    assert cell.state == (SHOWN if value >= k else PRIMARY)


def test_negative_counts_and_thresholds_below_one_are_refused() -> None:
    with pytest.raises(ValueError):
        Cell(-1)
    with pytest.raises(ValueError):
        Sheet(0)


def test_the_published_markers() -> None:
    assert disclosure.below_threshold(10) == "<10"
    assert disclosure.suppression_legend(7) == {
        "min_count": 7,
        "below_threshold": "<7",
        "secondary": "suppressed",
    }
    assert "{k}" in disclosure.SUPPRESSION_METHOD  # the method states the rule with k filled in


def test_an_exact_sum_hiding_one_cell_hides_its_smallest_shown_cell_too() -> None:
    # else 98 - 95 - 0 gives the 3 away
    assert published(98, [95, 3, 0]) == (98, ["suppressed", "<10", "<10"])
    assert published(1000, [600, 380, 12, 8]) == (1000, [600, 380, "suppressed", "<10"])
    assert published(40, [25, 15, 0]) == (40, [25, "suppressed", "<10"])


def test_an_exact_sum_needs_its_hidden_cells_to_add_up_to_the_threshold() -> None:
    # 5 + 4 = 9 < 10: the smallest shown cell goes too
    assert published(100, [80, 11, 5, 4]) == (100, [80, "suppressed", "<10", "<10"])
    # exactly k is enough
    assert published(100, [80, 10, 6, 4]) == (100, [80, 10, "<10", "<10"])
    assert published(100, [91, 5, 2, 2]) == (100, ["suppressed", "<10", "<10", "<10"])


def test_an_exact_sum_with_nothing_hidden_or_a_hidden_total_suppresses_nothing_more() -> None:
    assert published(60, [30, 20, 10]) == (60, [30, 20, 10])
    assert published(9, [5, 4]) == ("<10", ["<10", "<10"])
    # the total is below k: nothing can be worked out from it
    assert published(9, [9, 0]) == ("<10", ["<10", "<10"])


def test_a_total_is_never_suppressed_for_its_cells_sake() -> None:
    for total, parts in ((98, [95, 3, 0]), (100, [91, 5, 2, 2]), (12, [11, 1])):
        assert published(total, parts)[0] == total


def test_a_cover_may_hide_one_cell_while_the_shown_cells_reach_the_total() -> None:
    # a signal with two labels counts under both: the cells add up to at least the total
    assert published(50, [45, 30, 9], exact=False) == (50, [45, 30, "<10"])
    assert published(55, [55, 5], exact=False) == (55, [55, "<10"])  # shown == total: safe
    # shown < total: the hidden cell would be at least 60 - 55 = 5
    assert published(60, [55, 5], exact=False) == (60, ["suppressed", "<10"])


def test_a_cover_hiding_two_cells_is_safe_whatever_they_add_up_to() -> None:
    assert published(100, [95, 3, 2], exact=False) == (100, [95, "<10", "<10"])
    # the same cells as an exact sum: 3 + 2 < 10, so 95 goes too
    assert published(100, [95, 3, 2]) == (100, ["suppressed", "<10", "<10"])


def test_secondary_suppression_repeats_until_every_sum_is_safe() -> None:
    sheet = Sheet(10)
    shared, small, other = Cell(20), Cell(5), Cell(30)
    second, first = Cell(50), Cell(25)
    # declared in this order, the second sum becomes unsafe only once the first is protected
    sheet.sums(second, [shared, other])
    sheet.sums(first, [shared, small])
    sheet.protect([first, second, shared, small, other])
    assert (shared.state, small.state, other.state) == (SECONDARY, PRIMARY, SECONDARY)
    assert all(sheet.safe(r) for r in sheet.relations)
    assert (first.public(10), second.public(10)) == (25, 50)


def test_a_derived_value_is_shown_only_when_all_its_counts_are() -> None:
    shown, hidden = Cell(40), Cell(3)
    Sheet(10).protect([shown, hidden])
    assert Derived([shown], lambda: 0.5).public() == 0.5
    assert Derived([shown, hidden], lambda: 1 / 0).public() == "suppressed"  # never computed
    assert resolve(Derived([shown, hidden], lambda: 0.25), 10, public=False) == 0.25


def test_resolve_publishes_a_tree_and_gives_true_values_only_when_asked() -> None:
    a, b, c = Cell(12), Cell(4), Cell(0)
    tree = {"x": a, "rows": [{"y": b, "name": "pdq"}, {"y": c, "name": "md5"}], "days": 3}
    Sheet(10).protect(cells_of(tree))
    assert list(cells_of(tree)) == [a, b, c]
    assert resolve(tree, 10) == {
        "x": 12,
        "rows": [{"y": "<10", "name": "pdq"}, {"y": "<10", "name": "md5"}],
        "days": 3,
    }
    assert resolve(tree, 10, public=False)["rows"][0]["y"] == 4


def test_the_coalition_report_declares_the_sums_its_method_describes() -> None:
    period = Period(date(2026, 11, 2), date(2026, 11, 15))  # two weeks: 14 daily buckets
    history = History(period).replay([])
    tree, sheet = coalition.coalition_tree(history, Usage(), Buckets.of(period))
    kinds = [(r.exact, len(r.parts)) for r in sheet.relations]
    types = len(tree["tables"]["by_type"])
    labels = len(tree["tables"]["by_label"])
    assert kinds == [
        *[(True, types)] * 5,  # by type: signals, new, submissions, matches, signals matched
        *[(False, labels)] * 8,  # by label (a cover): those and the three kinds of opinion
        (False, 14),  # trend: distinct signals (one signal can fall in several buckets)
        *[(True, 14)] * 4,  # trend: new signals, submissions, matches, queries
        (True, 15),  # propagation buckets and deliveries
        (True, 2),  # safety: warning-list entries approved by the operator, by endorsements
        (True, 3),  # safety: review notices sent, by the decision that sent them
    ]
    public = resolve(tree, sheet.k)
    assert public["suppression"] == {
        "min_count": 10,
        "below_threshold": "<10",
        "secondary": "suppressed",
    }
    assert public["summary"]["contributions"]["signals"] == "<10"  # an empty period: all zeros
    assert public["summary"]["opinions"]["false_positive_share"] == "suppressed"
    assert "true_positive" in public["summary"]["opinions"]
    assert "opinions" not in public["summary"]["opinions"]  # no total of all opinions
