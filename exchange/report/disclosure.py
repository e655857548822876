"""Disclosure control of the coalition transparency report: what decides whether a count is
shown or suppressed. This module is the whole rule; it can be audited on its own.

The coalition report names no member. Every count in it that comes from members' actions is a
`Cell` (a whole number, never negative), and it is published as follows, with a threshold k
(`signalhub admin report --min-count`, default `DEFAULT_MIN_COUNT` = 10, at least 1):

1. Primary suppression: every count below k, zero included, is published as "<k" (for k = 10:
   "<10"), never its value.
2. Secondary suppression: the report's tables tie counts together by sums (a `Relation`):
   - exact: a column adds up to its total (total = sum of its cells);
   - cover: a signal with two labels counts under both, so the cells add up to at least the
     total (total <= sum of its cells): only a lower bound of the hidden cells follows.
   For every sum whose total is shown, the suppressed cells must not be workable out as the
   total minus the shown ones. An exact sum is safe when it hides no cell, or at least two
   cells that together count k or more; a cover is safe when it hides no cell, or at least two,
   or the shown cells already reach the total. Until every sum is safe, the smallest shown
   cell of an unsafe sum is suppressed too, published as "suppressed" (its value is k or more).
   A total is never suppressed for its cells' sake.
3. Values computed from counts (shares, medians, percentile buckets: `Derived`) are published
   only when every count they are computed from is shown; otherwise "suppressed".

`resolve` turns a tree of cells into the published values. With `public=False` it gives the
true values instead: for tests and an operator's own checks, never written to a report.

Which sums exist is declared where the tables are built (exchange.report.coalition,
`coalition_tree`): by signal type, each column is an exact sum to its summary total; by label,
each column is a cover of its total; in the trend, each column is an exact sum to its total but
distinct signals (a cover: one signal can be contributed in several buckets); the propagation
buckets are an exact sum to the deliveries; in the safety section (exchange.report.safety), the
warning-list entries approved by the operator and by endorsements are an exact sum to those
approved, and the review notices by reason to those sent. No total of all opinions (or of all
appeals) is published: with it, a rare kind would follow from the other two.

Not protected (the report's method says so, `SUPPRESSION_METHOD`): a reader can bound a
suppressed count (never below 0, at most what the total leaves); differences between two
different measures, or between reports of overlapping periods.

The member's own report (exchange.report.member) applies no suppression: it holds a member's
own numbers and, of other members, only counts of their actions on its signals, never who.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_MIN_COUNT = 10
"""The threshold k when none is given: counts below it are suppressed."""

SHOWN, PRIMARY, SECONDARY = "shown", "primary", "secondary"
"""A cell's state: published as is; below the threshold ("<k"); suppressed so that no
primary cell can be worked out from a sum ("suppressed")."""

SUPPRESSED = "suppressed"
"""What a secondary cell, or a value derived from a suppressed cell, is published as."""


def below_threshold(k: int) -> str:
    """What a count below the threshold `k` is published as: "<k"."""
    return f"<{k}"


def suppression_legend(k: int) -> dict[str, Any]:
    """The report's own statement of its suppression (its `suppression` field)."""
    return {"min_count": k, "below_threshold": below_threshold(k), "secondary": SUPPRESSED}


SUPPRESSION_METHOD = (
    "No member is named. Every count below {k} (zero included) is shown as '<{k}'. Where a "
    "column adds up to a shown total, its suppressed counts are at least two and together at "
    "least {k}: otherwise its smallest shown counts are suppressed as well, shown as "
    "'suppressed' (they are {k} or more), so that no count below {k} is the total minus the "
    "others. Shares, medians and percentiles computed from a suppressed count are "
    "'suppressed' too. A reader can still bound a suppressed count (never below 0, and at "
    "most what the total leaves), and differences between two different measures or between "
    "reports of overlapping periods are not protected."
)
"""The rule as the report's method states it to readers ({k}: the threshold)."""


class Cell:
    """One count of the coalition report. `state`: shown; primary (below the threshold k,
    shown as "<k"); secondary (k or more, suppressed so that no primary cell can be worked
    out from a sum: shown as "suppressed")."""

    __slots__ = ("state", "value")

    def __init__(self, value: int) -> None:
        if value < 0:
            raise ValueError(f"a count is never negative ({value})")
        self.value = value
        self.state = SHOWN

    def __repr__(self) -> str:
        return f"Cell({self.value}, {self.state})"

    def public(self, k: int) -> int | str:
        """What the report publishes for it with threshold `k`."""
        if self.state == SHOWN:
            return self.value
        if self.state == PRIMARY:
            return below_threshold(k)
        return SUPPRESSED


@dataclass(frozen=True)
class Relation:
    """total = sum(parts) (exact: a column of a table and its total) or total <= sum(parts)
    (a cover: a signal with two labels counts under both)."""

    total: Cell
    parts: tuple[Cell, ...]
    exact: bool


class Sheet:
    """The sums that tie a report's cells together, and their protection.

    `protect` suppresses every cell below k (primary), then applies the usual complementary
    rule to every sum whose total is shown: its suppressed cells must be two or more and add
    up to k or more, else its smallest shown cells are suppressed too (secondary), so that
    no suppressed cell is the total minus the shown ones. A cover (labels: a signal with two
    labels counts under both, so the cells add up to at least the total) only gives a lower
    bound of its suppressed cells' sum: one suppressed cell alone is not allowed while the
    total exceeds the shown cells. Totals are never suppressed for their parts' sake."""

    def __init__(self, k: int) -> None:
        if k < 1:
            raise ValueError("the threshold is at least 1")
        self.k = k
        self.relations: list[Relation] = []

    def sums(self, total: Cell, parts: Sequence[Cell], exact: bool = True) -> None:
        """Declares that `parts` add up to `total` (`exact`) or at least to it (a cover)."""
        if parts:
            self.relations.append(Relation(total, tuple(parts), exact))

    def protect(self, cells: Iterable[Cell]) -> None:
        """Sets the state of `cells` (every cell of the report) and of the sums' cells:
        primary suppression first, then secondary until every sum is safe."""
        for cell in cells:
            if cell.state == SHOWN and cell.value < self.k:
                cell.state = PRIMARY
        changed = True
        while changed:
            changed = False
            for relation in self.relations:
                while not self.safe(relation):
                    shown = [c for c in relation.parts if c.state == SHOWN]
                    if not shown:
                        break
                    min(shown, key=lambda c: c.value).state = SECONDARY
                    changed = True

    def safe(self, relation: Relation) -> bool:
        """Does the sum keep its suppressed cells from being worked out?"""
        if relation.total.state != SHOWN:
            return True
        hidden = [c for c in relation.parts if c.state != SHOWN]
        if not hidden:
            return True
        if relation.exact:
            return len(hidden) >= 2 and sum(c.value for c in hidden) >= self.k
        shown = sum(c.value for c in relation.parts if c.state == SHOWN)
        return len(hidden) >= 2 or relation.total.value <= shown


class Derived:
    """A value computed from cells: shown only when all of them are."""

    def __init__(self, inputs: Sequence[Cell], compute: Callable[[], Any]) -> None:
        self.inputs = tuple(inputs)
        self.compute = compute

    def public(self) -> Any:
        """Its value when every input is shown, else "suppressed"."""
        if all(c.state == SHOWN for c in self.inputs):
            return self.compute()
        return SUPPRESSED


def cells_of(tree: Any) -> Iterator[Cell]:
    """Every cell of a report tree (nested dicts and lists), in order."""
    if isinstance(tree, Cell):
        yield tree
    elif isinstance(tree, dict):
        for value in tree.values():
            yield from cells_of(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from cells_of(value)


def resolve(tree: Any, k: int, public: bool = True) -> Any:
    """The tree with each cell's public value (or, `public=False`, its true value: for tests
    and the operator's own checks, never written to a coalition report)."""
    if isinstance(tree, Cell):
        return tree.public(k) if public else tree.value
    if isinstance(tree, Derived):
        return tree.public() if public else tree.compute()
    if isinstance(tree, dict):
        return {key: resolve(value, k, public) for key, value in tree.items()}
    if isinstance(tree, list):
        return [resolve(value, k, public) for value in tree]
    return tree
