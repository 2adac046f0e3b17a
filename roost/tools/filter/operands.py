"""What the compiler and a :class:`FieldResolver` exchange: operands and the parameter binder."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

from roost.tools.filter.dialect_lookup import get_dialect
from roost.tools.filter.dialects import Dialect
from roost.tools.filter.errors import FilterError

TEXT = "text"
NUMBER = "number"
BOOL = "bool"
JSON = "json"
NULL = "null"
KINDS = (TEXT, NUMBER, BOOL, JSON, NULL)

_PREFIX_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Hoist:
    """A join shared by every comparison of one compiled filter.

    PocketBase joins each relation path once per statement (LEFT JOIN, keyed by the path), so
    all comparisons naming the same path talk about the same related row. The compiler
    reproduces this by wrapping the whole filter in ``EXISTS (SELECT 1 FROM (SELECT 1) pad
    LEFT JOIN <from_item> ON <on> ... WHERE <filter>)``, in first-seen order.

    Attributes:
        key: identity of the join (the same key always means the same ``from_item``).
        from_item: ``"table" AS alias`` (or a table-valued function) to LEFT JOIN.
        on: the join condition; it may refer to the base alias and to earlier hoists.
    """

    key: str
    from_item: str
    on: str = "1=1"


@dataclass(frozen=True)
class Operand:
    """One side of a comparison, as resolved from a literal, identifier or function.

    Attributes:
        sql: scalar SQL expression (ignored when ``static``). For a multi-valued operand it reads
            the current row of the shared joins listed in ``hoists``.
        kind: value type: ``text`` (also dates), ``number``, ``bool``, ``json`` (a JSON value that
            compares with ``IS``, never coalesced) or ``null``.
        source: for a multi-valued operand, a correlated ``SELECT <expr> AS v FROM ...`` yielding
            every value independently of the shared joins (padded with a NULL row when empty,
            like a LEFT JOIN); plain operators must hold for each of its values. A resolver may
            leave ``sql``/``hoists`` unset: the compiler then joins ``source`` itself.
        static: the value is known at compile time (literal, macro, request value); ``value``
            holds it and the compiler binds it, so it never appears in SQL text.
        value: the static Python value (``None``, ``str``, ``int``, ``float`` or ``bool``).
        guard: an extra SQL condition ANDed to every comparison using this operand
            (e.g. ``emailVisibility = TRUE``).
        hoists: shared joins ``sql`` refers to, in dependency order (see :class:`Hoist`).
        expression: a computed value (``LOWER()``, ``:length``, a function...) rather than a
            column: SQLite gives it no type affinity, so it never converts the other side.
        nonempty: compare with plain ``=``/``IS NOT`` as PocketBase does for operands that carry
            bound values (e.g. ``@request.body.tags:each``), never as "'' or NULL".
    """

    sql: str = "NULL"
    kind: str = TEXT
    source: str | None = None
    static: bool = False
    value: Any = None
    guard: str | None = None
    hoists: tuple[Hoist, ...] = ()
    expression: bool = False
    nonempty: bool = False

    @property
    def multi(self) -> bool:
        """True for a multi-valued operand (``source`` is set)."""
        return self.source is not None

    @classmethod
    def of_value(cls, value: Any) -> Operand:
        """A static operand; lists and dicts become their JSON text."""
        if isinstance(value, list | tuple | dict):
            value = json.dumps(value, separators=(",", ":"), default=str)
        if value is None:
            return cls(kind=NULL, static=True)
        if isinstance(value, bool):
            return cls(kind=BOOL, static=True, value=value)
        if isinstance(value, int | float):
            return cls(kind=NUMBER, static=True, value=value)
        return cls(kind=TEXT, static=True, value=str(value))

    @classmethod
    def null(cls) -> Operand:
        """The SQL NULL operand (what a missing ``@request.*`` key resolves to)."""
        return cls(kind=NULL, static=True)


class Binder:
    """Collects bound parameters and hands out unique placeholder and alias names.

    Share one binder between every fragment that ends up in the same statement (e.g. the list
    filter and the listRule) so parameter and alias names never collide.
    """

    def __init__(self, dialect: Dialect | str = "sqlite", prefix: str = "p") -> None:
        if not _PREFIX_RE.match(prefix):
            raise FilterError("Invalid parameter prefix.")
        self.dialect = get_dialect(dialect)
        self.prefix = prefix
        self.params: dict[str, Any] = {}
        self._aliases = 0
        self._hoisted: dict[str, str] = {}

    def bind(self, value: Any) -> str:
        """Bind ``value`` and return the SQL that reads it (``NULL`` for None)."""
        if value is None:
            return "NULL"
        name = f"{self.prefix}{len(self.params)}"
        self.params[name] = self.dialect.adapt_value(value)
        return self.dialect.param(name, value)

    def alias(self, hint: str = "t") -> str:
        """A fresh table alias, unique within this binder."""
        self._aliases += 1
        return f"__{self.prefix}{hint}{self._aliases}"

    def hoist_alias(self, key: str) -> str:
        """The alias of shared table ``key`` (the same for every call with that key)."""
        if key not in self._hoisted:
            self._hoisted[key] = self.alias("h")
        return self._hoisted[key]


class FieldResolver(Protocol):
    """Resolves identifiers of a filter into operands. Implemented by ``roost.core.rules.resolver``.

    ``resolve`` receives the identifier as written (with modifiers, e.g. ``tags:length``; never a
    datetime macro) and must return an :class:`Operand` whose SQL binds every user-supplied value
    through ``binder``. It raises :class:`FilterError` for an unknown or forbidden field.
    """

    def resolve(self, name: str, binder: Binder) -> Operand:
        """Resolve one identifier."""
        ...
