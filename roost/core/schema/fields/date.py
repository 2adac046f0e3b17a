"""The ``date`` field type and PocketBase's datetime string helpers.

Datetimes are stored and output as UTC strings ``YYYY-MM-DD HH:MM:SS.mmmZ``; the zero date is
``""``. Input parsing accepts the layouts PocketBase (Go's ``cast.ToTime``) accepts and turns
anything else into ``""`` without an error.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

from roost.core.errors import FieldError
from roost.core.schema.fields.base import (
    Field,
    FieldCollection,
    ValidationContext,
    register,
    required_error,
)

# ISO-like layouts: date only, or date + [T or space] + hh:mm:ss[.frac] + optional zone
# (Z, ±hh:mm, ±hhmm, " ±hh:mm", " ±hhmm", and Go's own String() form " ±hhmm NAME").
_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:([T ])(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:(Z)|\s?([+-])(\d{2}):?(\d{2})(?: [A-Z]{3,5})?)?)?"
)
# RFC 822/850/1123 style: "Mon, 02 Jan 2006 15:04:05 MST", "02 Jan 06 15:04 -0700"
_RFC_RE = re.compile(
    r"(?:[A-Za-z]+, )?(\d{2})[ -]([A-Za-z]{3})[ -](\d{2}|\d{4}) (\d{2}):(\d{2})(?::(\d{2}))? "
    r"(?:([+-])(\d{2})(\d{2})|[A-Z]{1,5})"
)
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def format_datetime(moment: datetime) -> str:
    """Format as ``YYYY-MM-DD HH:MM:SS.mmmZ`` in UTC (sub-millisecond digits are truncated)."""
    if moment.tzinfo is None:
        utc = moment
    elif moment.tzinfo is UTC:  # the clock's own time (now_string): no conversion to make
        utc = moment.replace(tzinfo=None)
    else:
        utc = moment.astimezone(UTC).replace(tzinfo=None)
    # isoformat truncates to milliseconds and always writes four year digits (strftime's %Y
    # does not on glibc: year 1 would come out as "1-01-01")
    return utc.isoformat(" ", "milliseconds") + "Z"


def now_string() -> str:
    """The current UTC time as PocketBase formats datetimes."""
    return format_datetime(datetime.now(UTC))


def parse_datetime(raw: Any) -> datetime | None:
    """Parse client/DB input into an aware UTC datetime, or None when unparsable.

    Numbers are not accepted (PocketBase turns them into the zero date as well). A named zone
    other than UTC/GMT counts as offset 0, as Go does for abbreviations it does not know.
    """
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if not isinstance(raw, str) or not raw:
        return None
    try:
        found = _ISO_RE.fullmatch(raw)
        if found:
            return _from_iso(found)
        found = _RFC_RE.fullmatch(raw)
        if found:
            return _from_rfc(found)
    except (ValueError, OverflowError):
        return None
    return None


def _from_iso(m: re.Match[str]) -> datetime:
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    if m[4] is None:
        return datetime(year, month, day, tzinfo=UTC)
    micro = int((m[8] or "0")[:6].ljust(6, "0"))
    zone = UTC
    if m[10]:
        offset = timedelta(hours=int(m[11]), minutes=int(m[12]))
        zone = timezone(-offset if m[10] == "-" else offset)
    local = datetime(year, month, day, int(m[5]), int(m[6]), int(m[7]), micro, tzinfo=zone)
    return local.astimezone(UTC)


def _from_rfc(m: re.Match[str]) -> datetime:
    year = int(m[3])
    if len(m[3]) == 2:
        year += 1900 if year >= 69 else 2000  # Go's two-digit year pivot
    month = _MONTHS.get(m[2].title())
    if month is None:
        raise ValueError(m[2])
    zone = UTC
    if m[7]:
        offset = timedelta(hours=int(m[8]), minutes=int(m[9]))
        zone = timezone(-offset if m[7] == "-" else offset)
    local = datetime(year, month, int(m[1]), int(m[4]), int(m[5]), int(m[6] or 0), tzinfo=zone)
    return local.astimezone(UTC)


_CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z")


def stored_datetime(raw: Any) -> str:
    """A stored value for output: Roost only ever stores canonical strings, so skip the parse."""
    if raw == "" or (isinstance(raw, str) and _CANONICAL.fullmatch(raw)):
        return str(raw)
    return normalize_datetime(raw)


def normalize_datetime(raw: Any) -> str:
    """Client or stored value -> ``YYYY-MM-DD HH:MM:SS.mmmZ`` or ``""`` when unparsable."""
    moment = parse_datetime(raw)
    return "" if moment is None else format_datetime(moment)


def go_time_string(moment: datetime) -> str:
    """Go's ``time.Time.String()`` for a UTC time, e.g. ``2020-01-01 10:00:00.5 +0000 UTC``."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") + _fraction(moment) + " +0000 UTC"


def go_rfc3339(moment: datetime) -> str:
    """Go's JSON form of a UTC ``time.Time``, e.g. ``2020-01-01T10:00:00.5Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(moment) + "Z"


def _fraction(moment: datetime) -> str:
    digits = f"{moment.microsecond:06d}".rstrip("0")
    return f".{digits}" if digits else ""


@register
class DateField(Field):
    """A datetime string with optional ``min``/``max`` bounds (both datetime strings)."""

    type: ClassVar[str] = "date"
    COLUMN: ClassVar[dict[str, str]] = {
        "sqlite": "TEXT DEFAULT '' NOT NULL",
        "postgresql": "TEXT DEFAULT '' NOT NULL",
        "mysql": "VARCHAR(32) NOT NULL DEFAULT ''",
    }
    OPTIONS: ClassVar[dict[str, Any]] = {"max": "", "min": "", "required": False}
    max: str
    min: str
    required: bool

    def __init__(self, name: str = "", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        # PocketBase stores the bounds normalised (and silently drops unparsable ones)
        self.min = normalize_datetime(self.min)
        self.max = normalize_datetime(self.max)

    def coerce(self, raw: Any) -> str:
        return normalize_datetime(raw)

    def from_db(self, raw: Any) -> str:
        return stored_datetime(raw)

    def validate(self, value: Any, ctx: ValidationContext) -> FieldError | None:
        moment = parse_datetime(value)
        if moment is None:
            return required_error() if self.required else None
        low, high = parse_datetime(self.min), parse_datetime(self.max)
        if low is not None and moment < low:
            return _bound_error("min", low)
        if high is not None and moment > high:
            return _bound_error("max", high)
        return None

    def validate_definition(self, collection: FieldCollection) -> dict[str, FieldError]:
        # PocketBase 0.40.6 accepts min > max (verified), so only the common checks apply
        return super().validate_definition(collection)


def _bound_error(kind: str, bound: datetime) -> FieldError:
    if kind == "min":
        code, text = "validation_min_greater_equal_than_required", "Must be no less than"
    else:
        code, text = "validation_max_less_equal_than_required", "Must be no greater than"
    return FieldError(code, f"{text} {go_time_string(bound)}.", {"threshold": go_rfc3339(bound)})
