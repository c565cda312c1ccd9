"""Anniversary billing periods: each period starts on the subscription's anchor day, or on the month's last day when
the month is shorter (a period starting Jan 31 runs to Feb 28, or 29 in a leap year, then to Mar 31)."""

import calendar
from datetime import date


def anniversary(year: int, month: int, anchor_day: int) -> date:
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def next_period_start(starts_on: date, *, anchor_day: int) -> date:
    year, month = (starts_on.year + 1, 1) if starts_on.month == 12 else (starts_on.year, starts_on.month + 1)
    return anniversary(year, month, anchor_day)


def period_containing(day: date, *, anchor_day: int) -> tuple[date, date]:
    """The [start, end) period around `day`."""
    start = anniversary(day.year, day.month, anchor_day)
    if start > day:
        year, month = (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)
        start = anniversary(year, month, anchor_day)
    return start, next_period_start(start, anchor_day=anchor_day)
