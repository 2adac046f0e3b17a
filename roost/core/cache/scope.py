"""What a cacheable read depends on: collections, caller facts and time.

The scope of a list or view read is derived by compiling its query pieces (rule, filter, sort,
expand targets and their view rules) through a resolver whose collection lookups are recorded.
Every recorded collection is a dependency, so relation paths, back-relations, ``@collection``
joins and expands are all covered without a second notion of "what a filter reads". A view
collection also depends on every collection its SQL names.

Caller dependence is decided from the syntax trees of every rule that can take part: the read
rule, the list rules of every looked-up collection (the resolver merges them into relation
filters) and the view rules of expanded collections. ``@request.auth.*`` makes the response
depend on the caller's auth record; any other ``@request`` section, a date macro, ``strftime``
or ``@random`` makes the read uncacheable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roost.core.events import RequestInfo
from roost.core.records.expand import parse_expand
from roost.core.rules.engine import new_binder
from roost.core.rules.resolver import RecordFieldResolver
from roost.core.schema.collection import Collection
from roost.tools.filter import (
    Call,
    Comparison,
    Expr,
    FilterError,
    Identifier,
    Join,
    compile_filter,
    compile_sort,
    parse_filter,
    parse_rule,
    parse_sort,
)

if TYPE_CHECKING:
    from roost.core.base import App

#: ``@request`` sections whose value is fixed for a GET read at a given position of the query
_FIXED_REQUEST = ("@request.method", "@request.context")
_STABLE_AT = ("@collection.", "@rowid")
_VOLATILE_CALLS = {"strftime"}


@dataclass(frozen=True)
class ReadScope:
    """The outcome of :func:`analyse_read`.

    ``cacheable`` is False when the response may change without a write (time, randomness) or
    depends on request data other than the auth record. ``reads_auth`` says that some rule reads
    ``@request.auth``; ``presented`` holds the collections whose records appear in the body
    (their e-mail visibility depends on who asks).
    """

    cacheable: bool
    dependencies: tuple[str, ...] = ()
    reads_auth: bool = False
    presented: frozenset[str] = frozenset()
    lookups: tuple[tuple[str, Collection | None], ...] = ()

    def still_valid(self, app: App) -> bool:
        """Do all recorded lookups still find the same collection objects (no schema change)?"""
        get = app.collections.get
        return all(get(name) is found for name, found in self.lookups)


@dataclass
class _Recorder:
    get: Any
    seen: dict[str, Collection | None] = field(default_factory=dict)

    def __call__(self, name_or_id: str) -> Collection | None:
        found: Collection | None = self.get(name_or_id)
        self.seen[name_or_id] = found
        return found


@dataclass
class _Flags:
    reads_auth: bool = False
    volatile: bool = False

    def visit(self, node: Any) -> None:
        if isinstance(node, Join):
            for item in node.items:
                self.visit(item)
        elif isinstance(node, Comparison):
            self.visit(node.left)
            self.visit(node.right)
        elif isinstance(node, Call):
            self.volatile |= node.name.lower() in _VOLATILE_CALLS
            for arg in node.args:
                self.visit(arg)
        elif isinstance(node, Identifier):
            self.name(node.name)

    def name(self, name: str) -> None:
        if not name.startswith("@") or name.startswith(_STABLE_AT):
            return
        if name.startswith("@request.auth.") or name == "@request.auth":
            self.reads_auth = True
        elif not name.startswith(_FIXED_REQUEST):
            self.volatile = True  # other @request sections, @now and the other date macros, @random


def analyse_read(
    app: App,
    coll: Collection,
    rule_name: str,
    filter_text: str,
    sort: str,
    expand: str,
    info: RequestInfo,
) -> ReadScope:
    """The scope of a non-superuser read of ``coll`` under ``rule_name``; uncacheable on any error."""
    recorder = _Recorder(app.collections.get)
    recorder(coll.id)
    flags = _Flags()
    rules: list[tuple[Collection, str]] = []
    presented = {coll.id}
    try:
        rule = coll.rule(rule_name)
        if rule is None:
            return ReadScope(False)
        if rule:
            rules.append((coll, rule))
            _compile(
                app, recorder, coll, parse_rule(rule, cache_key=(coll.id, coll.version)), info, True
            )
        if filter_text.strip():
            tree = parse_filter(filter_text, cache_key=(coll.id, coll.version))
            flags.visit(tree)
            _compile(app, recorder, coll, tree, info, False)
        if sort.strip():
            fields = parse_sort(sort)
            for sort_field in fields:
                flags.name(sort_field.name)
            resolver = RecordFieldResolver(
                recorder, coll, alias='"_r"', info=info, allow_hidden=False, dialect=app.dialect
            )
            compile_sort(fields, resolver, new_binder(app))
        _expand_scope(
            app, recorder, coll, parse_expand(expand) if expand else {}, info, rules, presented
        )
    except FilterError:
        return ReadScope(False)
    found = [c for c in recorder.seen.values() if c is not None]
    rules.extend((c, r) for c in found if (r := c.rule("listRule")))
    # field readRules decide which fields of a presented record the caller sees
    rules.extend((c, f.readRule) for c in found for f in c.fields if f.readRule)
    for owner, text in rules:
        flags.visit(parse_rule(text, cache_key=(owner.id, owner.version)))
    if flags.volatile:
        return ReadScope(False)
    return ReadScope(
        True,
        dependencies=tuple(sorted(_with_view_sources(app, {c.id for c in found}))),
        reads_auth=flags.reads_auth,
        presented=frozenset(presented),
        lookups=tuple(recorder.seen.items()),
    )


def _compile(
    app: App,
    recorder: _Recorder,
    coll: Collection,
    tree: Expr,
    info: RequestInfo,
    allow_hidden: bool,
) -> None:
    resolver = RecordFieldResolver(
        recorder, coll, alias='"_r"', info=info, allow_hidden=allow_hidden, dialect=app.dialect
    )
    compile_filter(tree, resolver, binder=new_binder(app))


def _expand_scope(
    app: App,
    recorder: _Recorder,
    coll: Collection,
    tree: dict[str, Any],
    info: RequestInfo,
    rules: list[tuple[Collection, str]],
    presented: set[str],
) -> None:
    """Mirror ``core.expand``: the target of each key, its view rule, then the next level."""
    expand_info = RequestInfo(**{**info.__dict__, "context": "expand"})
    for key, children in tree.items():
        target = _expand_target(recorder, coll, key)
        if target is None:
            continue
        presented.add(target.id)
        rule = target.rule("viewRule")
        if rule:
            rules.append((target, rule))
            _compile(
                app,
                recorder,
                target,
                parse_rule(rule, cache_key=(target.id, target.version)),
                expand_info,
                True,
            )
        if children:
            _expand_scope(app, recorder, target, children, info, rules, presented)


def _expand_target(recorder: _Recorder, coll: Collection, key: str) -> Collection | None:
    fld = coll.get_field(key)
    if fld is not None:
        return recorder(str(getattr(fld, "collectionId", ""))) if fld.type == "relation" else None
    target_name, _, back_name = key.partition("_via_")
    target = recorder(target_name) if back_name else None
    back = target.get_field(back_name) if target else None
    if back is None or back.type != "relation" or getattr(back, "collectionId", "") != coll.id:
        return None
    return target


def _with_view_sources(app: App, ids: set[str]) -> set[str]:
    """Add, transitively, every collection whose table a view's SQL names (a safe superset)."""
    pending = list(ids)
    while pending:
        coll = app.collections.get(pending.pop())
        if coll is None or not coll.is_view:
            continue
        query = str(coll.options.get("viewQuery") or "")
        for other in app.collections.all():
            if other.id not in ids and re.search(rf"\b{re.escape(other.table)}\b", query, re.I):
                ids.add(other.id)
                pending.append(other.id)
    return ids
