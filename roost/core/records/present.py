"""How records leave core: expand, export, ``on_record_enrich``, ``?fields=``, in that order.

REST, batch, realtime delivery and auth answers (and later GraphQL) all present records through
:func:`present_records`, so hidden fields, e-mail visibility, expansion limits and enrich
handlers behave the same whichever way a record reaches a client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost.core.errors import RoostError
from roost.core.events import RecordEnrichEvent, RequestInfo
from roost.core.records.access import unreadable_fields
from roost.core.records.codec import Record, can_see_email, codec_for
from roost.core.records.expand import expand_records
from roost.core.schema.collection import Collection
from roost.tools.picker import pick_each

if TYPE_CHECKING:
    from roost.core.base import App

#: (collection id, record id) -> fields whose readRule the caller fails
_Denied = dict[tuple[str, str], frozenset[str]]
_NONE: frozenset[str] = frozenset()

#: exported records waiting for their ``on_record_enrich`` handlers: (collection, record, JSON)
_Pending = list[tuple[Collection, Record, dict[str, Any]]]


async def present_records(
    app: App,
    coll: Collection,
    records: list[Record],
    info: RequestInfo,
    *,
    expand: str = "",
    fields: str = "",
    show_email: bool | None = None,
    strict_expand: bool = True,
) -> list[dict[str, Any]]:
    """The JSON of ``records`` as ``info``'s caller may see them.

    Args:
        expand: the ``?expand=`` value; the records get an ``expand`` tree.
        fields: the ``?fields=`` value, applied to each record.
        show_email: force e-mail visibility of the top-level records (auth answers show the
            caller its own address); None applies the usual rule.
        strict_expand: raise expand errors (REST) instead of leaving the tree out (realtime).
    """
    if expand:
        try:
            await expand_records(app, coll, records, expand, info)
        except RoostError:
            if strict_expand:
                raise
            for record in records:
                record.pop("@expand", None)
    enrich = app.hooks.on_record_enrich
    pending: _Pending | None = [] if enrich.handlers else None
    denied = await _unreadable(app, coll, records, info) if expand or codec_for(coll, app.dialect).read_rules else {}
    out = [_export(app, coll, record, info, show_email, pending, denied) for record in records]
    for target, record, data in pending or ():
        await enrich.trigger(
            RecordEnrichEvent(app=app, info=info, collection=target, record=record, data=data)
        )
    return pick_each(out, fields) if fields else out


async def present_record(
    app: App, coll: Collection, record: Record, info: RequestInfo, **options: Any
) -> dict[str, Any]:
    """:func:`present_records` for one record."""
    return (await present_records(app, coll, [record], info, **options))[0]


def _export(
    app: App,
    coll: Collection,
    record: Record,
    info: RequestInfo,
    show_email: bool | None,
    pending: _Pending | None,
    denied: _Denied,
) -> dict[str, Any]:
    codec = codec_for(coll, app.dialect)
    email = can_see_email(coll, record, info) if show_email is None else show_email
    unreadable = denied.get((coll.id, str(record.get("id", ""))), _NONE) if denied else _NONE
    out = codec.export(record, show_hidden=info.is_superuser, show_email=email, unreadable=unreadable)
    expanded = record.get("@expand")
    if expanded is not None:
        out["expand"] = {
            key: [_export(app, c, r, info, None, pending, denied) for r in value]
            if isinstance(value, list)
            else _export(app, c, value, info, None, pending, denied)
            for key, (c, value) in expanded.items()
        }
    if pending is not None:
        pending.append((coll, record, out))
    return out


async def _unreadable(
    app: App, coll: Collection, records: list[Record], info: RequestInfo
) -> _Denied:
    """Field readRule outcomes for every record of the tree (nothing to do for most reads)."""
    if info.is_superuser:
        return {}
    groups: dict[str, tuple[Collection, list[Record]]] = {}
    _collect(coll, records, groups)
    denied: _Denied = {}
    for target, members in groups.values():
        if codec_for(target, app.dialect).read_rules:
            for record_id, names in (await unreadable_fields(app, target, members, info)).items():
                if names:
                    denied[(target.id, record_id)] = names
    return denied


def _collect(
    coll: Collection, records: list[Record], groups: dict[str, tuple[Collection, list[Record]]]
) -> None:
    groups.setdefault(coll.id, (coll, []))[1].extend(records)
    for record in records:
        for target, value in (record.get("@expand") or {}).values():
            _collect(target, value if isinstance(value, list) else [value], groups)
