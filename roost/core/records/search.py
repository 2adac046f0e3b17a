"""The ``search`` list parameter: full-text matching and ranking over a collection's search index.

The text is cut into words (letters, digits, underscores), lowercased; a record matches when
each word is the start of a word in one of the indexed fields. Words reach SQL only as bound
parameters, assembled into each database's query syntax from those word characters alone.
Ranking uses the database's own relevance (SQLite bm25, PostgreSQL ``ts_rank``, MySQL's
FULLTEXT relevance), so the order among equally good matches may differ between databases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from roost.core.collections.search import COLUMN, index_name, search_fields
from roost.core.db.facade import quote_ident
from roost.core.errors import BadRequest, FieldError
from roost.core.schema.collection import Collection
from roost.tools.filter import Binder

MAX_TERMS = 16
MAX_LENGTH = 512
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SearchClause:
    """A search as SQL over a record alias: the match condition, the rank (an ORDER BY term, best
    first) and, where the index is a table of its own, the join that brings it in."""

    condition: str
    rank: str
    join: str = ""


def search_terms(text: str) -> list[str]:
    """The distinct lowercased words of ``text``, in order."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(text[:MAX_LENGTH])))[:MAX_TERMS]


def _invalid(message: str) -> BadRequest:
    return BadRequest("Invalid search.", {"search": FieldError("validation_invalid_search", message)})


def compile_search(coll: Collection, text: str, alias: str, binder: Binder) -> SearchClause:
    """The clause of ``text`` over ``alias``; BadRequest without an index or without a word."""
    if not search_fields(coll):
        raise _invalid("This collection has no search index.")
    terms = search_terms(text)
    if not terms:
        raise _invalid("The search has no word to look for.")
    dialect = binder.dialect.name
    if dialect == "postgresql":
        query = f"to_tsquery('simple', {binder.bind(' & '.join(t + ':*' for t in terms))})"
        column = f"{alias}.{quote_ident(COLUMN, dialect)}"
        return SearchClause(f"{column} @@ {query}", f"ts_rank({column}, {query}) DESC")
    if dialect == "mysql":
        column = f"{alias}.{quote_ident(COLUMN, dialect)}"
        match = f"MATCH ({column}) AGAINST ({binder.bind(' '.join('+' + t + '*' for t in terms))} IN BOOLEAN MODE)"
        return SearchClause(match, f"{match} DESC")
    # one pass over the FTS5 index gives both the matches and their bm25 rank (lower is better)
    table = quote_ident(index_name(coll), dialect)
    query = binder.bind(" ".join(f'"{t}"*' for t in terms))
    found = binder.alias("s")
    join = (
        f' JOIN (SELECT rowid AS "_sr", rank AS "_srank" FROM {table} WHERE {table} MATCH {query}) AS {found}'
        f' ON {found}."_sr" = {alias}._rowid_'
    )
    return SearchClause("", f'{found}."_srank" ASC', join)
