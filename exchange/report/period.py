"""The report's period (whole UTC days) and the trend's time buckets, and the few names every
report section shares: its JSON type, its format version, the "(none)" label."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

DAY_MS = 86_400_000
EPOCH = date(1970, 1, 1)
NO_LABEL = "(none)"
"""The label a signal counts under when its submissions carry none."""
FORMAT_VERSION = 1
"""The version of both reports' JSON form."""

Json = dict[str, Any]


def day_number(day: date) -> int:
    """Days since 1970-01-01, as exchange.usage keys them."""
    return (day - EPOCH).days


def date_of(day: int) -> date:
    """The date `day` days after 1970-01-01 (the inverse of `day_number`)."""
    return EPOCH + timedelta(days=day)


def parse_date(text: str) -> date:
    """An ISO date, YYYY-MM-DD (UTC)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


@dataclass(frozen=True)
class Period:
    """Whole UTC days `first`..`last`, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"the period ends ({self.last}) before it starts ({self.first})")

    @property
    def first_day(self) -> int:
        """Its first day, as `day_number`."""
        return day_number(self.first)

    @property
    def last_day(self) -> int:
        """Its last day, as `day_number`."""
        return day_number(self.last)

    @property
    def days(self) -> int:
        """How many days it has."""
        return self.last_day - self.first_day + 1

    @property
    def start_ms(self) -> int:
        """Its first millisecond (unix time)."""
        return self.first_day * DAY_MS

    @property
    def end_ms(self) -> int:
        """The first millisecond after the period."""
        return (self.last_day + 1) * DAY_MS

    def contains(self, ms: int) -> bool:
        """Does unix time `ms` fall in it?"""
        return self.start_ms <= ms < self.end_ms


@dataclass(frozen=True)
class Buckets:
    """The trend's time buckets: whole days, or ISO weeks (Monday to Sunday) clipped to the
    period."""

    granularity: str
    ranges: tuple[tuple[date, date], ...]
    _index: tuple[int, ...]
    """Bucket of each day of the period, by offset from its first day."""
    first_day: int

    @classmethod
    def of(cls, period: Period, granularity: str = "auto") -> Buckets:
        """The buckets of `period`: "day", "week", or "auto" (days up to 31 days, else weeks)."""
        if granularity == "auto":
            granularity = "day" if period.days <= 31 else "week"
        if granularity not in ("day", "week"):
            raise ValueError(f"trend granularity is day, week or auto, not {granularity!r}")
        ranges: list[tuple[date, date]] = []
        index: list[int] = []
        for offset in range(period.days):
            day = period.first + timedelta(days=offset)
            if granularity == "day" or not ranges or day.weekday() == 0:
                ranges.append((day, day))
            else:
                ranges[-1] = (ranges[-1][0], day)
            index.append(len(ranges) - 1)
        return cls(granularity, tuple(ranges), tuple(index), period.first_day)

    def of_day(self, day: int) -> int:
        """The bucket holding `day` (a `day_number` inside the period)."""
        return self._index[day - self.first_day]

    def of_ms(self, ms: int) -> int:
        """The bucket holding unix time `ms` (inside the period)."""
        return self.of_day(ms // DAY_MS)


def week_start(day: int) -> date:
    """The Monday of the ISO week holding `day` (a `day_number`)."""
    d = date_of(day)
    return d - timedelta(days=d.weekday())
