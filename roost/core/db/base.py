"""Types shared by the database facade and its drivers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roost.core.errors import RoostError, ServiceUnavailable

Row = Mapping[str, Any]


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached (down, cut off, or every pooled connection busy)."""

    default_message = "The database is temporarily unavailable. Please try again later."


class UnstorableText(RoostError):
    """A value the database cannot hold as text: PostgreSQL refuses NUL (``\\x00``) in ``text``
    and ``jsonb``, in a filter, a record id or a body alike. Bad input, so a 400, not a 500."""

    kind = "bad_request"


class QueryTimeout(RoostError):
    """A statement ran past the query timeout (``--queryTimeout``) and was stopped."""

    kind = "bad_request"
    default_message = "The request took too long to process and was stopped (query timeout). Narrow the filter, sort or expand."


class QueryError(Exception):
    """A statement failed in the driver (syntax, constraint, connection); the message is the driver's."""


class UniqueViolation(QueryError):
    """A UNIQUE constraint failed; ``columns`` names the columns when the driver tells, else
    ``index`` names the index (MySQL reports only the index)."""

    def __init__(self, columns: list[str], index: str = "") -> None:
        super().__init__(", ".join(columns) or index)
        self.columns = columns
        self.index = index
