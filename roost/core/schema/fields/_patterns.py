"""Regex helpers shared by text and password fields.

PocketBase compiles patterns with Go's RE2. Python's ``re`` accepts more (lookarounds,
backreferences), so :func:`regex_error` rejects those explicitly and words errors like Go does.

:func:`random_string_by_regex` generates values for ``autogeneratePattern``. It supports the
subset PocketBase users write in practice: literals, escaped characters, ``.``, ``\\d``, ``\\w``,
``\\s``-free character classes such as ``[a-z0-9_-]`` (no negation), each optionally followed by
``{n}``, ``{n,m}``, ``?``, ``+`` or ``*`` (``+``/``*`` produce at most 10 repeats), plus optional
``^``/``$`` anchors. Groups and alternation are not supported and are reported as invalid.
"""

from __future__ import annotations

import re
import secrets
import string
from functools import lru_cache

from roost.core.errors import FieldError
from roost.core.schema.fields.base import sentenize

_UNSUPPORTED = (
    (re.compile(r"\(\?[=!]|\(\?<[=!]"), "invalid or unsupported Perl syntax"),
    (re.compile(r"\\[1-9]"), "invalid escape sequence"),
)
_CLASS_ESCAPES = {
    "d": string.digits,
    "w": string.ascii_letters + string.digits + "_",
}
_ANY = string.ascii_letters + string.digits


@lru_cache(maxsize=512)
def compile_go_regex(pattern: str) -> re.Pattern[str] | None:
    """Compile with ASCII classes (as RE2's ``\\d``/``\\w``); None when invalid."""
    if regex_error(pattern) is not None:
        return None
    return re.compile(pattern, re.ASCII)


def regex_error(pattern: str) -> FieldError | None:
    """Return PocketBase's ``validation_invalid_regex`` error for a bad pattern, else None."""
    for finder, reason in _UNSUPPORTED:
        found = finder.search(pattern)
        if found:
            return _invalid(f"{reason}: `{found.group(0)}`")
    try:
        re.compile(pattern)
    except re.error as exc:
        return _invalid(_go_reason(pattern, exc))
    return None


def _invalid(detail: str) -> FieldError:
    return FieldError("validation_invalid_regex", sentenize(f"error parsing regexp: {detail}"))


def _go_reason(pattern: str, exc: re.error) -> str:
    msg = exc.msg
    pos = exc.pos or 0
    if msg.startswith("unterminated character set"):
        return f"missing closing ]: `{pattern[pos:]}`"
    if msg.startswith("missing ), unterminated subpattern"):
        return f"missing closing ): `{pattern}`"
    if msg.startswith("unbalanced parenthesis"):
        return f"unexpected ): `{pattern}`"
    if msg.startswith(("nothing to repeat", "multiple repeat")):
        return f"missing argument to repetition operator: `{pattern[pos : pos + 1]}`"
    if msg.startswith("bad character range"):
        return f"invalid character class range: `{pattern[pos : pos + 3]}`"
    if msg.startswith("bad escape"):
        return f"invalid escape sequence: `{pattern[pos : pos + 2]}`"
    return f"{msg}: `{pattern}`"


# ----- generation ------------------------------------------------------------------------------
class UnsupportedPattern(ValueError):
    """The autogenerate pattern uses syntax outside the supported subset."""


@lru_cache(maxsize=256)
def _parse(pattern: str) -> tuple[tuple[str, int, int], ...]:
    body = pattern.removeprefix("^")
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    atoms: list[tuple[str, int, int]] = []
    i = 0
    while i < len(body):
        chars, i = _read_atom(body, i)
        low, high, i = _read_quantifier(body, i)
        atoms.append((chars, low, high))
    return tuple(atoms)


def _read_atom(body: str, i: int) -> tuple[str, int]:
    ch = body[i]
    if ch == "[":
        end = body.find("]", i + 2 if body[i + 1 : i + 2] == "]" else i + 1)
        if end < 0 or body[i + 1 : i + 2] == "^":
            raise UnsupportedPattern(body)
        return _expand_class(body[i + 1 : end]), end + 1
    if ch == "\\" and i + 1 < len(body):
        nxt = body[i + 1]
        if nxt in _CLASS_ESCAPES:
            return _CLASS_ESCAPES[nxt], i + 2
        if nxt.isalnum():
            raise UnsupportedPattern(body)
        return nxt, i + 2
    if ch in "()|{}*+?":
        raise UnsupportedPattern(body)
    return (_ANY if ch == "." else ch), i + 1


def _expand_class(spec: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(spec):
        if spec[i] == "\\" and i + 1 < len(spec):
            out.append(_CLASS_ESCAPES.get(spec[i + 1], spec[i + 1]))
            i += 2
        elif i + 2 < len(spec) and spec[i + 1] == "-":
            out.extend(chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1))
            i += 3
        else:
            out.append(spec[i])
            i += 1
    chars = "".join(dict.fromkeys("".join(out)))
    if not chars:
        raise UnsupportedPattern(spec)
    return chars


def _read_quantifier(body: str, i: int) -> tuple[int, int, int]:
    if i >= len(body):
        return 1, 1, i
    ch = body[i]
    if ch == "?":
        return 0, 1, i + 1
    if ch == "+":
        return 1, 10, i + 1
    if ch == "*":
        return 0, 10, i + 1
    if ch == "{":
        found = re.match(r"\{(\d+)(?:,(\d*))?\}", body[i:])
        if not found:
            raise UnsupportedPattern(body)
        low = int(found.group(1))
        high = low if found.group(2) is None else int(found.group(2) or low + 10)
        if high < low:
            raise UnsupportedPattern(body)
        return low, high, i + found.end()
    return 1, 1, i


def random_string_by_regex(pattern: str) -> str:
    """Generate a random string matching ``pattern`` (see the module docstring for the subset).

    Raises:
        UnsupportedPattern: when the pattern is outside the supported subset.
    """
    out: list[str] = []
    for chars, low, high in _parse(pattern):
        count = low if low == high else low + secrets.randbelow(high - low + 1)  # no OS read for a fixed length
        out.append(_pick(chars, count))
    return "".join(out)


def _pick(chars: str, count: int) -> str:
    """``count`` uniform picks from ``chars`` using one OS random read (rejection sampling)."""
    size = len(chars)
    if size == 1:
        return chars * count
    tables = _byte_tables(chars)
    if tables is None:  # more than 256 choices, or not ASCII: pick one by one
        return "".join(secrets.choice(chars) for _ in range(count))
    biased, to_chars = tables
    picked = b""
    while len(picked) < count:
        picked += secrets.token_bytes(2 * count).translate(None, biased)
    return picked[:count].translate(to_chars).decode("ascii")


@lru_cache(maxsize=256)
def _byte_tables(chars: str) -> tuple[bytes, bytes] | None:
    """For ASCII ``chars``: the random bytes to drop (those that would bias the modulo) and the
    table mapping every kept byte to its character, so a pick runs in two C-level translates."""
    size = len(chars)
    if size > 256 or not chars.isascii():
        return None
    limit = 256 - 256 % size
    to_chars = bytes(ord(chars[b % size]) if b < limit else 0 for b in range(256))
    return bytes(range(limit, 256)), to_chars
