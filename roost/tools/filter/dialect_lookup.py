"""The registry of SQL dialects the filter compiler writes for, looked up by name."""

from __future__ import annotations

from roost.tools.filter.dialect_mysql import MysqlDialect
from roost.tools.filter.dialects import Dialect, PostgresDialect
from roost.tools.filter.errors import FilterError

DIALECTS: dict[str, Dialect] = {"sqlite": Dialect(), "postgresql": PostgresDialect(), "mysql": MysqlDialect()}


def get_dialect(dialect: Dialect | str) -> Dialect:
    """Look up a dialect by name (``sqlite``, ``postgresql``, ``mysql``; ``postgres`` and
    ``mariadb`` are aliases)."""
    if isinstance(dialect, Dialect):
        return dialect
    key = {"postgres": "postgresql", "mariadb": "mysql"}.get(dialect, dialect)
    if key not in DIALECTS:
        raise FilterError(f"Unsupported SQL dialect {dialect!r}.")
    return DIALECTS[key]
