"""Cron expressions with PocketBase's syntax, and when they are due.

An expression is a macro or five fields separated by single spaces: minute (0-59), hour (0-23),
day of the month (1-31), month (1-12) and day of the week (0-6, Sunday is 0). A field is a list
(``1,15,30``) of parts; a part is ``*``, a number, a range ``a-b``, or one of these with a step
(``*/n``, ``a-b/n``). A step must be between 1 and the field's maximum, and a single number takes
no step above 1. The macros are ``@yearly``/``@annually``, ``@monthly``, ``@weekly``,
``@daily``/``@midnight`` and ``@hourly``.

Unlike the classic Unix cron, a time is due only when *every* field matches, day of the month
and day of the week included (``0 0 13 * 5`` is Friday the 13th, not every 13th and every Friday),
as PocketBase does. Times are matched as given; the scheduler passes UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
#: (name, lowest, highest) of the five fields, in order
FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
_NUMBER = re.compile(r"[+-]?[0-9]+")
#: how far :meth:`Schedule.next_after` looks: the Gregorian calendar repeats every 400 years
_HORIZON_DAYS = 146_097


class CronError(ValueError):
    """An invalid cron expression; the message names the field and what is wrong with it."""


@dataclass(frozen=True)
class Schedule:
    """A parsed expression: the values each field matches."""

    #: the expression, with a macro replaced by its five fields
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    def is_due(self, moment: datetime) -> bool:
        """Whether the minute of ``moment`` matches every field."""
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and self._day_matches(moment)
        )

    def next_after(self, moment: datetime) -> datetime | None:
        """The first due minute strictly after ``moment`` (seconds dropped, tzinfo kept), or
        None when no date ever matches (``0 0 30 2 *``)."""
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(_HORIZON_DAYS):
            if self._day_matches(day):
                found = self._first_time_of(day, start if day.date() == start.date() else day)
                if found is not None:
                    return found
            day += timedelta(days=1)
        return None

    def _day_matches(self, moment: datetime) -> bool:
        return (
            moment.day in self.days
            and moment.month in self.months
            and moment.isoweekday() % 7 in self.weekdays
        )

    def _first_time_of(self, day: datetime, earliest: datetime) -> datetime | None:
        for hour in sorted(h for h in self.hours if h >= earliest.hour):
            low = earliest.minute if hour == earliest.hour else 0
            minute = min((m for m in self.minutes if m >= low), default=None)
            if minute is not None:
                return day.replace(hour=hour, minute=minute)
        return None


def parse(expression: str) -> Schedule:
    """Parse ``expression`` (a macro or five fields); raises :class:`CronError` when invalid."""
    expanded = MACROS.get(expression, expression)
    segments = expanded.split(" ")
    if len(segments) != len(FIELDS):
        raise CronError(
            f"invalid cron expression {expression!r}: expected a macro ({', '.join(MACROS)}) "
            f"or 5 fields separated by single spaces (minute hour day-of-month month day-of-week), "
            f"got {len(segments)}"
        )
    values = [
        _parse_field(segment, name, low, high, expression)
        for segment, (name, low, high) in zip(segments, FIELDS, strict=True)
    ]
    return Schedule(expanded, *values)


def _parse_field(segment: str, name: str, low: int, high: int, expression: str) -> frozenset[int]:
    slots: set[int] = set()
    for part in segment.split(","):
        try:
            first, last, step = _parse_part(part, low, high)
        except CronError as exc:
            raise CronError(f"invalid cron expression {expression!r}: {name} field {part!r}: {exc}") from None
        slots.update(range(first, last + 1, step))
    return frozenset(slots)


def _parse_part(part: str, low: int, high: int) -> tuple[int, int, int]:
    """``(first, last, step)`` of one comma-separated part of a field."""
    span, slash, step_text = part.partition("/")
    step = 1
    if slash:
        if "/" in step_text:
            raise CronError("a step is written */n or a-b/n")
        step = _number(step_text)
        if not 1 <= step <= high:
            raise CronError(f"the step must be between 1 and {high}")
    if span == "*":
        return low, high, step
    bounds = span.split("-")
    if len(bounds) == 1:
        if step != 1:
            raise CronError("a step above 1 needs * or a range a-b")
        value = _number(bounds[0])
        if not low <= value <= high:
            raise CronError(f"the value must be between {low} and {high}")
        return value, value, 1
    if len(bounds) != 2:
        raise CronError("a range has exactly two numbers, a-b")
    first, last = _number(bounds[0]), _number(bounds[1])
    if not low <= first <= high:
        raise CronError(f"the start of the range must be between {low} and {high}")
    if not first <= last <= high:
        raise CronError(f"the end of the range must be between {first} and {high}")
    return first, last, step


def _number(text: str) -> int:
    if not _NUMBER.fullmatch(text):
        raise CronError(f"{text!r} is not a number" if text else "a number is missing")
    return int(text)


__all__ = ["FIELDS", "MACROS", "CronError", "Schedule", "parse"]
