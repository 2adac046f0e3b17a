"""SQLite's comparison semantics, as PocketBase's filter SQL uses them (part of the S2 oracle).

Values carry SQLite's affinity (TEXT or NUMERIC columns; parameters, literals and function
results have none) because it decides what ``title = 5`` or ``views > '4'`` means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TEXT, NUMERIC = "text", "numeric"
Scalar = int | float | str | None
Truth = bool | None  # SQL's three-valued logic
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*\Z")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class Value:
    """A value as SQLite sees it: its affinity, and whether PocketBase binds it as a parameter."""

    value: Scalar
    affinity: str | None = None
    static: bool = False

    @property
    def empty(self) -> bool:  # PocketBase's isEmptyIdentifier / hasEmptyParamValue
        return self.static and self.value in (None, "")

    @property
    def known(self) -> bool:  # PocketBase's isKnownNonEmptyIdentifier
        return self.static and self.value not in (None, "")


NULL = Value(None, None, static=True)
ROW_NULL = Value(None)


def scalar(op: str, left: Value, right: Value) -> Truth:
    """``left op right`` for one pair of values (``op`` without its ``?``)."""
    if op in ("=", "!="):
        return _equal(op == "=", left, right)
    if op in ("~", "!~"):
        outcome = _like(left, right)
        return None if outcome is None else outcome != (op == "!~")
    return compare(op, left.value, left.affinity, right.value, right.affinity)


def _equal(equal: bool, left: Value, right: Value) -> Truth:
    """PocketBase's ``resolveEqualExpr``: ``=`` or ``IS NOT``, NULL and '' alike."""
    empty = Value("", None, static=True)
    if left.empty and right.empty:
        return equal
    if left.known or right.known:  # `a = 'x'` / `a IS NOT 'x'`, an empty side becoming ''
        left, right = (empty if left.empty else left), (empty if right.empty else right)
        return _eq(left, right) if equal else _is_not(left, right)
    if left.empty or right.empty:  # `('' = b OR b IS NULL)` / `('' IS NOT b AND b IS NOT NULL)`
        other = right if left.empty else left
        if equal:
            return or_(_eq(empty, other), other.value is None)
        return and_(_is_not(empty, other), other.value is not None)
    # COALESCE(a, '') = COALESCE(b, ''): the function results have no affinity
    a = Value("" if left.value is None else left.value)
    b = Value("" if right.value is None else right.value)
    return _eq(a, b) if equal else _is_not(a, b)


def _eq(left: Value, right: Value) -> Truth:
    return compare("=", left.value, left.affinity, right.value, right.affinity)


def _is_not(left: Value, right: Value) -> bool:
    if left.value is None or right.value is None:
        return (left.value is None) != (right.value is None)
    return compare("=", left.value, left.affinity, right.value, right.affinity) is False


def and_(a: Truth, b: Truth) -> Truth:
    return False if False in (a, b) else None if None in (a, b) else True


def or_(a: Truth, b: Truth) -> Truth:
    return True if True in (a, b) else None if None in (a, b) else False


def compare(op: str, a: Scalar, a_aff: str | None, b: Scalar, b_aff: str | None) -> Truth:
    """SQLite's ``a op b`` after applying the operands' affinities."""
    if a is None or b is None:
        return None
    if a_aff == NUMERIC and b_aff != NUMERIC:
        b = _to_numeric(b)
    elif b_aff == NUMERIC and a_aff != NUMERIC:
        a = _to_numeric(a)
    elif a_aff == TEXT and b_aff is None:
        b = _to_text(b)
    elif b_aff == TEXT and a_aff is None:
        a = _to_text(a)
    # every number sorts before every text; texts compare by code point (BINARY collation)
    a_text, b_text = isinstance(a, str), isinstance(b, str)
    diff = (a_text - b_text) if a_text != b_text else (a > b) - (a < b)  # type: ignore[operator]
    return {"=": diff == 0, "!=": diff != 0, "<": diff < 0, "<=": diff <= 0, ">": diff > 0,
            ">=": diff >= 0}[op]  # fmt: skip


def _to_numeric(value: Scalar) -> Scalar:
    if isinstance(value, str) and _NUMBER.match(value):
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 2**63 else number
    return value


def _to_text(value: Scalar) -> Scalar:
    if isinstance(value, float):
        text = f"{value:.15g}"
        return text if any(c in text for c in ".einf") else text + ".0"
    return str(value) if isinstance(value, int) else value


def _like(left: Value, right: Value) -> Truth:
    """``left LIKE pattern ESCAPE '\\'``; a bound right value is PocketBase's contains pattern."""
    if left.value is None or right.value is None:
        return None
    if right.static:
        pattern = _contains_pattern(_go_string(right.value))
    else:  # ('%' || right || '%'): the value's own % and _ stay wildcards
        pattern = "%" + str(_to_text(right.value)) + "%"
    return _like_match(str(_to_text(left.value)), pattern)


def _go_string(value: Scalar) -> str:
    # Go's cast.ToString: 5.0 -> "5", 2.5 -> "2.5"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _contains_pattern(text: str) -> str:
    if _has_unescaped_percent(text):
        return text
    return f"%{_escape_unescaped(text)}%"


def _escape_unescaped(text: str) -> str:
    """PocketBase's escapeUnescapedChars for \\, % and _ (it walks the text backwards)."""
    out: list[str] = []
    match = False
    for index in range(len(text) - 1, -1, -1):
        ch = text[index]
        if match:
            if ch != "\\":
                out.append("\\")
            match = False
        else:
            match = ch in "\\%_"
        out.append(ch)
        if index == 0 and match:
            out.append("\\")
    return "".join(reversed(out))


def _has_unescaped_percent(text: str) -> bool:
    prev = ""
    for ch in text:
        if ch == "%" and prev != "\\":
            return True
        prev = "" if ch == "\\" and prev == "\\" else ch
    return False


def _like_match(text: str, pattern: str) -> bool:
    regex, chars = [], iter(pattern)
    for ch in chars:
        if ch == "\\":
            ch = next(chars, "")
            regex.append(re.escape(ch.translate(_ASCII_LOWER)))
        elif ch == "%":
            regex.append(".*")
        elif ch == "_":
            regex.append(".")
        else:
            regex.append(re.escape(ch.translate(_ASCII_LOWER)))
    return re.fullmatch("".join(regex), text.translate(_ASCII_LOWER), re.DOTALL) is not None
