"""LIKE pattern preparation for the ``~`` operators (PocketBase-compatible escaping)."""

from __future__ import annotations

_SPECIAL = "\\%_"


def contains_unescaped(text: str, char: str) -> bool:
    """True if ``char`` occurs in ``text`` without a backslash in front of it."""
    prev = ""
    for ch in text:
        if ch == char and prev != "\\":
            return True
        # a doubled backslash is an escaped backslash and escapes nothing after it
        prev = "" if ch == "\\" and prev == "\\" else ch
    return False


def escape_unescaped(text: str) -> str:
    """Backslash-escape every ``\\``, ``%`` and ``_`` that is not escaped already."""
    out: list[str] = []
    index = len(text) - 1
    while index >= 0:
        ch = text[index]
        out.append(ch)
        if ch in _SPECIAL:
            if index == 0 or text[index - 1] != "\\":
                out.append("\\")
            else:
                out.append("\\")
                index -= 1
        index -= 1
    return "".join(reversed(out))


def like_pattern(text: str) -> str:
    """The LIKE pattern of a ``~`` right operand.

    Text without an unescaped ``%`` is escaped and wrapped in ``%...%`` ("contains"); text with
    one is used as the pattern as written.
    """
    if contains_unescaped(text, "%"):
        return text
    return f"%{escape_unescaped(text)}%"
