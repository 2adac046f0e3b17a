"""``?fields=`` output picking with the ``:excerpt(max, ellipsis)`` modifier."""

from __future__ import annotations

import html
import re
from typing import Any

_TAG_RE = re.compile(r"<[^>]*>")
_EXCERPT_RE = re.compile(r"^(?P<path>[^:]+):excerpt\((?P<args>[^)]*)\)$")
_SPACE_RE = re.compile(r"\s+")


def split_fields(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    out, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            out.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        out.append(current.strip())
    return [p for p in out if p]


def _tree(paths: list[str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for raw in paths:
        modifier = None
        match = _EXCERPT_RE.match(raw)
        path = raw
        if match:
            path = match.group("path")
            args = [a.strip() for a in match.group("args").split(",") if a.strip()]
            try:
                max_chars = int(args[0]) if args else 0
            except ValueError:
                max_chars = 0
            ellipsis = len(args) > 1 and args[1].lower() in ("1", "t", "true")
            modifier = (max_chars, ellipsis)
        node = tree
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = modifier if modifier else node.get(parts[-1], {})
    return tree


def excerpt(value: str, max_chars: int, ellipsis: bool) -> str:
    text = _SPACE_RE.sub(" ", html.unescape(_TAG_RE.sub(" ", value))).strip()
    if len(text) > max_chars:
        text = text[:max_chars].rstrip()
        if ellipsis:
            text += "..."
    return text


def _pick(data: Any, tree: dict[str, Any]) -> Any:
    if isinstance(data, list):
        return [_pick(item, tree) for item in data]
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    if "*" in tree:
        out.update(data)
    for key, sub in tree.items():
        if key == "*" or key not in data:
            continue
        value = data[key]
        if isinstance(sub, tuple):
            out[key] = excerpt(value, *sub) if isinstance(value, str) else value
        elif sub:
            out[key] = _pick(value, sub)
        else:
            out[key] = value
    return out


def pick_each(items: list[Any], fields: str) -> list[Any]:
    """Apply a ``fields`` expression to each item (records: no envelope detection)."""
    tree = _tree(split_fields(fields))
    return [_pick(item, tree) for item in items] if tree else items


def pick_fields(data: Any, fields: str) -> Any:
    """Apply a ``fields`` expression; list envelopes are picked per item."""
    tree = _tree(split_fields(fields))
    if not tree:
        return data
    if isinstance(data, dict) and isinstance(data.get("items"), list) and "perPage" in data:
        return {**data, "items": _pick(data["items"], tree)}
    return _pick(data, tree)
