"""Hypothesis strategies of suite S2: small datasets, auth contexts and random filters/rules.

The generator stays inside what the oracle models and PocketBase defines clearly (see the
module docstring of ``test_rule_engine_property.py`` for what is left out and why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.security.rule_oracle import FieldDef

USER_IDS = [f"usr00000000000{n}" for n in (1, 2, 3)]
#: no upper-case non-ASCII letter: PostgreSQL and MySQL fold its case in ``~``, SQLite does not
#: (test_rule_engine_unicode_like.py)
TEXTS = ["", "a", "A", "ab", "Ab", "b", "ba", "5", "5.0", "10", "-3", "%", "_", "a_b", "a%",
         "é", "x y", "a "]  # fmt: skip
NUMBERS = [0, 1, -3, 2.5, 5, 10, 100]
NUMBER_LITERALS = ["0", "1", "-3", "2.5", "5", "5.0", "10", "100", "-1"]
TAGS = ["a", "b", "A", "5", "a_b"]

F = FieldDef
SCHEMA = {
    "users": {"name": F("text"), "level": F("number"), "email": F("email")},
    "posts": {"title": F("text"), "views": F("number"), "published": F("bool"),
              "tags": F("select", True), "author": F("relation", False, "users"),
              "editors": F("relation", True, "users")},
}  # fmt: skip

POSTS_FIELDS: list[dict[str, Any]] = [
    {"type": "text", "name": "title"},
    {"type": "number", "name": "views"},
    {"type": "bool", "name": "published"},
    {"type": "select", "name": "tags", "values": TAGS, "maxSelect": len(TAGS)},
    {"type": "relation", "name": "author", "collectionId": "_pb_users_auth_", "maxSelect": 1},
    {"type": "relation", "name": "editors", "collectionId": "_pb_users_auth_", "maxSelect": 3},
]

#: identifiers a comparison may use, by what they hold
TEXT_IDS = ["title", "author", "author.name", "author.id", "editors.name", "editors.id", "id",
            "tags:each", "@request.auth.id", "@request.auth.name"]  # fmt: skip
NUMBER_IDS = ["views", "published", "author.level", "tags:length", "editors:length",
              "@request.auth.level"]  # fmt: skip
RAW_MULTI_IDS = ["tags", "editors"]
OPERATORS = ["=", "!=", ">", ">=", "<", "<=", "~", "!~"]
ALL_OPERATORS = OPERATORS + ["?" + op for op in OPERATORS]


@dataclass(frozen=True)
class Scenario:
    """One example: the users' data, the posts, and the checks to run on them."""

    users: dict[str, dict[str, Any]]
    posts: list[dict[str, Any]]
    checks: list[tuple[str, str | None, int]]  # (expression, auth user id or None, post to view)


def _quote(text: str) -> str:
    return "'" + text + "'"


def literal() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([_quote(t) for t in TEXTS + TAGS + USER_IDS[:2]]),
        st.sampled_from(NUMBER_LITERALS),
        st.sampled_from(["null", "true", "false"]),
    )


@st.composite
def comparison(draw: st.DrawFn) -> str:
    # two fields are always of one class: PostgreSQL and MySQL differ from SQLite on a number
    # field against a text field (test_rule_engine_mixed_columns.py)
    group = draw(st.sampled_from([TEXT_IDS, NUMBER_IDS, RAW_MULTI_IDS]))
    left = draw(st.sampled_from(group) if draw(st.integers(0, 5)) else literal())
    right = draw(literal() if draw(st.integers(0, 3)) else st.sampled_from(group))
    if draw(st.booleans()):
        left, right = right, left
    return f"{left} {draw(st.sampled_from(ALL_OPERATORS))} {right}"


def expression(max_leaves: int = 4) -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        joined = st.tuples(inner, st.sampled_from([" && ", " || "]), inner)
        return joined.map(lambda t: f"({t[0]}{t[1]}{t[2]})" if t[1] == " || " else "".join(t))

    return st.recursive(comparison(), extend, max_leaves=max_leaves)


@st.composite
def post(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "title": draw(st.sampled_from(TEXTS)),
        "views": draw(st.sampled_from(NUMBERS)),
        "published": draw(st.booleans()),
        "tags": draw(st.lists(st.sampled_from(TAGS), max_size=3, unique=True)),
        "author": draw(st.sampled_from(["", *USER_IDS])),
        "editors": draw(st.lists(st.sampled_from(USER_IDS), max_size=3, unique=True)),
    }


@st.composite
def scenario(draw: st.DrawFn, checks: int = 3) -> Scenario:
    users = {
        uid: {"name": draw(st.sampled_from(TEXTS)), "level": draw(st.sampled_from(NUMBERS))}
        for uid in USER_IDS
    }
    posts = draw(st.lists(post(), min_size=1, max_size=6))
    auth = st.sampled_from([None, *USER_IDS])
    view = st.integers(0, len(posts) - 1)
    drawn = draw(st.lists(st.tuples(expression(), auth, view), min_size=1, max_size=checks))
    return Scenario(users, posts, drawn)
