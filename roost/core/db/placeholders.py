"""Core's ``:name`` placeholders as PostgreSQL's numbered ``$n`` ones."""

from __future__ import annotations

import re
from functools import lru_cache

#: ``:name`` placeholders, as SQLAlchemy's ``text()`` finds them
_PLACEHOLDER = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


@lru_cache(maxsize=4096)
def numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """``sql`` with ``:name`` turned into asyncpg's ``$n`` (a repeated name keeps its number), and
    the names in number order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(number, sql), tuple(names)
