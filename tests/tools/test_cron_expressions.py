"""Cron expressions: PocketBase's syntax, what each field matches, and the next due minute."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from roost.tools.cron import MACROS, CronError, parse


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "minutes", "hours", "days", "months", "weekdays"),
    [
        ("* * * * *", range(60), range(24), range(1, 32), range(1, 13), range(7)),
        ("*/15 */6 */10 */4 */3", [0, 15, 30, 45], [0, 6, 12, 18], [1, 11, 21, 31], [1, 5, 9], [0, 3, 6]),
        ("1-5 2-3 4-4 5-12 0-6", range(1, 6), [2, 3], [4], range(5, 13), range(7)),
        ("10-40/10 0-23/12 1-31/15 1-12/11 1-5/2", [10, 20, 30, 40], [0, 12], [1, 16, 31], [1, 12], [1, 3, 5]),
        ("1,2,50-52,*/30 5,05 31 12 6", [0, 1, 2, 30, 50, 51, 52], [5], [31], [12], [6]),
        ("59 23 1 1 0", [59], [23], [1], [1], [0]),
        ("7/1 +3 1 1 1", [7], [3], [1], [1], [1]),  # a step of 1 after a number, a signed number
        ("*/59 * * * */6", [0, 59], range(24), range(1, 32), range(1, 13), [0, 6]),
    ],
)
def test_fields_match_the_values_they_name(
    expression: str, minutes: object, hours: object, days: object, months: object, weekdays: object
) -> None:
    schedule = parse(expression)
    assert schedule.expression == expression
    assert schedule.minutes == frozenset(minutes)  # type: ignore[arg-type]
    assert schedule.hours == frozenset(hours)  # type: ignore[arg-type]
    assert schedule.days == frozenset(days)  # type: ignore[arg-type]
    assert schedule.months == frozenset(months)  # type: ignore[arg-type]
    assert schedule.weekdays == frozenset(weekdays)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("macro", "fields"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_a_macro_is_listed_as_its_five_fields(macro: str, fields: str) -> None:
    assert parse(macro).expression == fields
    assert parse(macro) == parse(fields)
    assert MACROS[macro] == fields


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "5 fields separated by single spaces"),
        ("* * * *", "got 4"),
        ("* * * * * *", "got 6"),
        ("*  * * * *", "got 6"),  # fields are split on single spaces, as PocketBase does
        (" * * * * *", "got 6"),
        ("@reboot", "got 1"),
        ("@HOURLY", "got 1"),  # macros are exact
        ("60 * * * *", "minute field '60': the value must be between 0 and 59"),
        ("* 24 * * *", "hour field '24': the value must be between 0 and 23"),
        ("* * 0 * *", "day of month field '0': the value must be between 1 and 31"),
        ("* * 32 * *", "day of month field '32'"),
        ("* * * 0 *", "month field '0'"),
        ("* * * 13 *", "month field '13'"),
        ("* * * * 7", "day of week field '7': the value must be between 0 and 6"),  # Sunday is 0 only
        ("* * * * MON", "day of week field 'MON': 'MON' is not a number"),
        ("* * * JAN *", "'JAN' is not a number"),
        ("*/0 * * * *", "the step must be between 1 and 59"),
        ("*/60 * * * *", "the step must be between 1 and 59"),
        ("* * * * */7", "the step must be between 1 and 6"),
        ("*/-1 * * * *", "the step must be between 1 and 59"),
        ("5/10 * * * *", "a step above 1 needs * or a range"),
        ("*/5/2 * * * *", "a step is written */n or a-b/n"),
        ("*/ * * * *", "a number is missing"),
        ("1,,2 * * * *", "minute field '': a number is missing"),
        ("1, * * * *", "a number is missing"),
        ("5-2 * * * *", "the end of the range must be between 5 and 59"),
        ("5-60 * * * *", "the end of the range must be between 5 and 59"),
        ("* 1-2-3 * * *", "a range has exactly two numbers"),
        ("* -1 * * *", "a number is missing"),
        ("*-5 * * * *", "'*' is not a number"),
        ("1.5 * * * *", "'1.5' is not a number"),
        ("\u0661 * * * *", "is not a number"),  # digits other than 0-9
        ("1_0 * * * *", "is not a number"),
        ("? * * * *", "'?' is not a number"),
        ("* * L * *", "'L' is not a number"),
    ],
)
def test_invalid_expressions_say_which_field_and_why(expression: str, message: str) -> None:
    with pytest.raises(CronError) as caught:
        parse(expression)
    assert message in str(caught.value)
    assert repr(expression) in str(caught.value)


def test_day_of_month_and_day_of_week_must_both_match() -> None:
    friday_13th = parse("0 0 13 * 5")
    assert friday_13th.is_due(at("2026-11-13 00:00"))  # a Friday
    assert not friday_13th.is_due(at("2026-12-13 00:00"))  # a Sunday
    assert not friday_13th.is_due(at("2026-12-11 00:00"))  # a Friday, the 11th
    assert friday_13th.next_after(at("2026-11-13 00:00")) == at("2027-08-13 00:00")


def test_is_due_looks_at_the_minute_only() -> None:
    schedule = parse("30 12 * * *")
    assert schedule.is_due(at("2026-01-05 12:30:59.999"))
    assert not schedule.is_due(at("2026-01-05 12:31"))
    assert parse("* * * * 0").is_due(at("2026-12-06 10:00"))  # Sunday
    assert not parse("* * * * 0").is_due(at("2026-12-07 10:00"))  # Monday


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("* * * * *", "2026-12-31 23:59:30", "2027-01-01 00:00"),  # strictly after, across a year
        ("* * * * *", "2026-03-01 10:00", "2026-03-01 10:01"),
        ("*/15 * * * *", "2026-03-01 10:45", "2026-03-01 11:00"),
        ("@hourly", "2026-03-01 23:00", "2026-03-02 00:00"),
        ("@daily", "2026-03-01 00:00", "2026-03-02 00:00"),
        ("@weekly", "2026-12-03 08:00", "2026-12-06 00:00"),  # the next Sunday
        ("@monthly", "2026-01-31 12:00", "2026-02-01 00:00"),
        ("@yearly", "2026-01-01 00:00", "2027-01-01 00:00"),
        ("0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00"),  # the next leap day
        ("0 0 31 * *", "2026-04-01 00:00", "2026-05-31 00:00"),  # April has no 31st
        ("5 4 * * 1-5", "2026-12-04 04:05", "2026-12-07 04:05"),  # Friday -> Monday
        ("0 12 * * *", "2026-03-01 11:59:59", "2026-03-01 12:00"),
        ("0 0 29 2 1", "2026-01-01 00:00", "2044-02-29 00:00"),  # a leap day that is a Monday
    ],
)
def test_next_after(expression: str, after: str, expected: str) -> None:
    assert parse(expression).next_after(at(after)) == at(expected)


@pytest.mark.parametrize("expression", ["0 0 30 2 *", "0 0 31 4,6,9,11 *"])
def test_a_date_that_never_comes_has_no_next_run(expression: str) -> None:
    assert parse(expression).next_after(at("2026-01-01 00:00")) is None
