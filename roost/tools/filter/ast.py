"""Immutable syntax tree of filter expressions.

A filter is an :data:`Expr`: a :class:`Comparison` of two operands, or a :class:`Join` of several
expressions with ``and``/``or``. Operands are literals, identifiers, ``{:name}`` placeholders or
function calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

#: the comparison operators, plain ("match-all") and ``?`` ("any-match")
PLAIN_OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "~", "!~")
ANY_OPERATORS = tuple("?" + op for op in PLAIN_OPERATORS)
OPERATORS = PLAIN_OPERATORS + ANY_OPERATORS


@dataclass(frozen=True)
class Literal:
    """A number, quoted text or ``null`` (``None``)."""

    value: str | int | float | None


@dataclass(frozen=True)
class Identifier:
    """A field path such as ``author.name:lower``, ``@request.auth.id`` or a macro ``@now``."""

    name: str


@dataclass(frozen=True)
class Placeholder:
    """A ``{:name}`` parameter bound at compile time from the caller's params."""

    name: str


@dataclass(frozen=True)
class Call:
    """A function call such as ``geoDistance(a, b, c, d)``."""

    name: str
    args: tuple[Operand, ...]


Operand: TypeAlias = Literal | Identifier | Placeholder | Call


@dataclass(frozen=True)
class Comparison:
    """``left op right``; ``op`` is one of :data:`OPERATORS`."""

    left: Operand
    op: str
    right: Operand


@dataclass(frozen=True)
class Join:
    """Two or more expressions joined with ``and`` (``&&``) or ``or`` (``||``)."""

    op: str
    items: tuple[Expr, ...]


Expr: TypeAlias = Comparison | Join
