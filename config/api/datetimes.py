"""ISO 8601 date-times from callers, range-checked: a bad offset or a year out of range is a 422, never a 500.

Django's parse_datetime raises ValueError for `+25:00` or February 30th, and a valid `0001-01-01T00:00:00+01:00`
overflows as soon as it is converted to UTC. Every API input that takes a date-time (bodies, filters, cursors)
goes through `parse_iso_datetime`.
"""

import re
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime

# One day of slack at each end, so that converting to UTC or adding a day to a stored value cannot overflow.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
_RANGE = f"date-times lie between {EARLIEST.date().isoformat()} and {LATEST.date().isoformat()}"
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})(?::?\d{2}(?:\.\d+)?)?$")


class InvalidDateTime(ValueError):
    """`code` is the 422 type; the message says what to send instead."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def parse_iso_datetime(value: str) -> datetime:
    """An ISO 8601 date-time, in UTC when the text has an offset; naive when it has none (each caller decides
    what that means)."""
    text = value.strip()
    example = "e.g. 2026-11-22T10:00:00+00:00"
    offset = _OFFSET.search(text)
    if offset and (int(offset.group(2)) >= 24 or int(offset.group(3)) >= 60):
        raise InvalidDateTime(
            f"the UTC offset {offset.group(0)} is out of range: offsets lie between -23:59 and +23:59 ({example})",
            "value_error.datetime.offset",
        )
    try:
        parsed = parse_datetime(text)
    except ValueError as exc:
        raise InvalidDateTime(
            f"{text[:64]!r} is not a valid date-time: {exc} ({example})", "value_error.datetime"
        ) from exc
    if parsed is None:
        raise InvalidDateTime(f"must be an ISO 8601 date-time, {example}", "value_error.datetime")
    if parsed.tzinfo is not None:
        try:
            in_utc = parsed.astimezone(UTC)
        except OverflowError:
            in_utc = None
        if in_utc is None or not EARLIEST <= in_utc <= LATEST:
            raise InvalidDateTime(
                f"{text[:64]!r} is out of range: {_RANGE} UTC",
                "value_error.datetime.range",
            )
        # In UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 (and Python) allow.
        return in_utc
    elif not EARLIEST.replace(tzinfo=None) <= parsed <= LATEST.replace(tzinfo=None):
        raise InvalidDateTime(
            f"{text[:64]!r} is out of range: {_RANGE}",
            "value_error.datetime.range",
        )
    return parsed
