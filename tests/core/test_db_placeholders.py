"""The ``:name`` -> ``$n`` rewrite of the PostgreSQL driver."""

from __future__ import annotations

from roost.core.db.placeholders import numbered as _numbered


def test_names_become_numbers_and_repeat_their_number() -> None:
    sql, names = _numbered('SELECT * FROM "t" WHERE "a" = :a AND ("b" = :b OR "c" = :a)')
    assert sql == 'SELECT * FROM "t" WHERE "a" = $1 AND ("b" = $2 OR "c" = $1)'
    assert names == ("a", "b")


def test_casts_and_colons_that_are_not_placeholders_stay() -> None:
    # as with SQLAlchemy's text(), ``:v::jsonb`` is not a placeholder: write CAST(:v AS jsonb)
    sql, names = _numbered("SELECT CAST(:v AS jsonb), :w::jsonb, 'x'::text, \"t\".\"a:b\" FROM \"t\" WHERE \"id\" = :_rid")
    assert sql == "SELECT CAST($1 AS jsonb), :w::jsonb, 'x'::text, \"t\".\"a:b\" FROM \"t\" WHERE \"id\" = $2"
    assert names == ("v", "_rid")
