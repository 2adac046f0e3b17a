"""Tokenizer of the filter language (fexpr-compatible)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from roost.tools.filter.ast import OPERATORS
from roost.tools.filter.errors import FilterError, shorten

IDENT = "ident"
NUMBER = "number"
TEXT = "text"
OP = "op"
AND = "and"
OR = "or"
LPAREN = "("
RPAREN = ")"
COMMA = ","
PLACEHOLDER = "placeholder"
EOF = "eof"

_WHITESPACE = " \t\n\r"
_SIGN_CHARS = "=!<>~?"
_NUMBER_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_IDENT_RE = re.compile(r"[A-Za-z_@#][A-Za-z0-9_.:@#]*")
_IDENT_VALID_RE = re.compile(r"[A-Za-z_@#][A-Za-z0-9_.:@#]*[A-Za-z0-9_]\Z|[A-Za-z_]\Z")
_PLACEHOLDER_RE = re.compile(r"\{:([A-Za-z0-9_]+)\}")


@dataclass(frozen=True)
class Token:
    """One scanned token; ``value`` is the unquoted text of TEXT tokens."""

    kind: str
    value: str
    pos: int


def tokenize(source: str) -> Iterator[Token]:
    """Yield the tokens of ``source``, ending with an EOF token.

    Raises:
        FilterError: on an unexpected character, an unterminated text or a malformed token.
    """
    if "\x00" in source:  # fexpr reads NUL as the end of input, so PocketBase refuses it anywhere
        raise FilterError("Unexpected NUL character.")
    pos, size = 0, len(source)
    while pos < size:
        ch = source[pos]
        if ch in _WHITESPACE:
            pos += 1
        elif source.startswith("//", pos):
            end = source.find("\n", pos)
            pos = size if end < 0 else end + 1
        elif ch in "'\"":
            value, pos_after = _scan_text(source, pos)
            yield Token(TEXT, value, pos)
            pos = pos_after
        elif ch.isascii() and (ch.isdigit() or (ch == "-" and source[pos + 1 : pos + 2].isdigit())):
            yield _scan_regex(_NUMBER_RE, NUMBER, source, pos, "number")
            pos = _advance(source, pos, _NUMBER_RE)
        elif ch.isascii() and (ch.isalpha() or ch in "_@#"):
            token = _scan_regex(_IDENT_RE, IDENT, source, pos, "identifier")
            if not _IDENT_VALID_RE.match(token.value):
                raise FilterError(f"Invalid identifier {shorten(token.value)!r}.")
            yield token
            pos += len(token.value)
        elif ch in _SIGN_CHARS:
            end = pos
            while end < size and source[end] in _SIGN_CHARS:
                end += 1
            sign = source[pos:end]
            if sign not in OPERATORS:
                raise FilterError(f"Invalid operator {shorten(sign)!r}.")
            yield Token(OP, sign, pos)
            pos = end
        elif source.startswith("&&", pos) or source.startswith("||", pos):
            yield Token(AND if ch == "&" else OR, source[pos : pos + 2], pos)
            pos += 2
        elif ch in "(),":
            yield Token(ch, ch, pos)
            pos += 1
        elif ch == "{":
            match = _PLACEHOLDER_RE.match(source, pos)
            if match is None:
                raise FilterError("Invalid placeholder, expected {:name}.")
            yield Token(PLACEHOLDER, match.group(1), pos)
            pos = match.end()
        else:
            raise FilterError(f"Unexpected character {shorten(ch)!r} at position {pos}.")
    yield Token(EOF, "", size)


def _scan_text(source: str, start: int) -> tuple[str, int]:
    # fexpr semantics: only an escaped matching quote loses its backslash, so LIKE escapes such
    # as "\%" reach the compiler untouched.
    quote = source[start]
    out: list[str] = []
    pos = start + 1
    while pos < len(source):
        ch = source[pos]
        if ch == "\\" and pos + 1 < len(source):
            nxt = source[pos + 1]
            out.append(nxt if nxt == quote else ch + nxt)
            pos += 2
            continue
        if ch == quote:
            return "".join(out), pos + 1
        out.append(ch)
        pos += 1
    raise FilterError("Invalid quoted text: missing closing quote.")


def _scan_regex(regex: re.Pattern[str], kind: str, source: str, pos: int, what: str) -> Token:
    match = regex.match(source, pos)
    if match is None:  # pragma: no cover - callers check the first character
        raise FilterError(f"Invalid {what}.")
    end = match.end()
    if kind == NUMBER and end < len(source) and (source[end] == "." or source[end].isalpha()):
        raise FilterError(f"Invalid number {shorten(source[pos : end + 1])!r}.")
    return Token(kind, match.group(0), pos)


def _advance(source: str, pos: int, regex: re.Pattern[str]) -> int:
    match = regex.match(source, pos)
    return match.end() if match else pos + 1
