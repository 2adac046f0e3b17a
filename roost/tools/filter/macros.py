"""Datetime identifier macros (``@now``, ``@todayStart`` ...), all evaluated in UTC."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def format_datetime(moment: datetime) -> str:
    """Format a datetime as PocketBase does: ``YYYY-MM-DD HH:MM:SS.mmmZ`` (UTC)."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return f"{moment.strftime(DATETIME_FORMAT)}.{moment.microsecond // 1000:03d}Z"


def _day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _day_end(moment: datetime) -> datetime:
    return moment.replace(hour=23, minute=59, second=59, microsecond=999000)


def _month_end(moment: datetime) -> datetime:
    last = calendar.monthrange(moment.year, moment.month)[1]
    return _day_end(moment.replace(day=last))


_MACROS: dict[str, Callable[[datetime], str | int]] = {
    "@now": format_datetime,
    "@yesterday": lambda m: format_datetime(m - timedelta(days=1)),
    "@tomorrow": lambda m: format_datetime(m + timedelta(days=1)),
    "@second": lambda m: m.second,
    "@minute": lambda m: m.minute,
    "@hour": lambda m: m.hour,
    "@day": lambda m: m.day,
    "@month": lambda m: m.month,
    # Go's time.Weekday: Sunday is 0
    "@weekday": lambda m: (m.weekday() + 1) % 7,
    "@year": lambda m: m.year,
    "@todayStart": lambda m: format_datetime(_day_start(m)),
    "@todayEnd": lambda m: format_datetime(_day_end(m)),
    "@monthStart": lambda m: format_datetime(_day_start(m.replace(day=1))),
    "@monthEnd": lambda m: format_datetime(_month_end(m)),
    "@yearStart": lambda m: format_datetime(_day_start(m.replace(month=1, day=1))),
    "@yearEnd": lambda m: format_datetime(_day_end(m.replace(month=12, day=31))),
}

MACRO_NAMES = frozenset(_MACROS)


def macro_value(name: str, now: datetime | None = None) -> str | int | None:
    """The value of macro ``name`` at ``now`` (default: the current UTC time), or None."""
    func = _MACROS.get(name)
    if func is None:
        return None
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return func(moment)
