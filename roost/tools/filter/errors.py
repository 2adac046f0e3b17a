"""The single exception type of the filter package."""

from __future__ import annotations


class FilterError(ValueError):
    """Any failure to parse, bind or compile a filter, rule or sort expression.

    The message is safe to show to API clients: it never embeds SQL and quotes user text only in
    truncated form.
    """


def shorten(text: str, limit: int = 40) -> str:
    """Truncate user text for inclusion in an error message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
