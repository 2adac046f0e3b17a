"""The request level of the record pipeline: one client request about records, from any transport.

REST, batch and GraphQL call these with a :class:`RequestInfo`. Each one checks the caller's
rule, loads the body and uploads, fires its ``*_request`` hook and, for writes, hands the record
to the model level (:mod:`roost.core.records.save`). Handlers of the request hooks run before
the rule checks that depend on the submitted values (the create rule, the form checks) and after
the ones that decide whether the record exists for this caller (a 404 never reaches a handler),
as PocketBase orders them.

A request handler that returns without ``e.next()`` skips the rest: the caller then gets
``e.record`` as the handler left it, unsaved.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any

from roost.core.errors import BadRequest, NotFound
from roost.core.events import RecordRequestEvent, RecordsListRequestEvent, RequestInfo
from roost.core.records import queries, save
from roost.core.records.access import (
    manages,
    rule_matches_new,
    rule_matches_stored,
    write_denied,
)
from roost.core.records.body import auth_body_errors, load_body, split_modifier
from roost.core.records.codec import Record
from roost.core.records.files import FilePlan, Upload, apply_uploads
from roost.core.records.save import (
    UNSUPPORTED,
    blank_record,
    fetch_record,
    fill_generated,
    save_record,
    validate_record,
)
from roost.core.rules.engine import require_rule
from roost.core.schema.collection import Collection
from roost.tools.security.passwords import verify_password

if TYPE_CHECKING:
    from roost.core.base import App


async def list_records(
    app: App, coll: Collection, query: queries.ListQuery, info: RequestInfo
) -> queries.Page:
    """One page of the records the caller may list; ``on_records_list_request`` may change it."""
    page = await queries.list_records(app, coll, query, info)
    hook = app.hooks.on_records_list_request
    if hook.handlers:
        event = RecordsListRequestEvent(app=app, info=info, collection=coll, page=page)
        await hook.trigger(event)
        page = event.page
    return page


async def view_record(app: App, coll: Collection, record_id: str, info: RequestInfo) -> Record:
    """One record the caller may view (404 otherwise); ``on_record_view_request`` may change it."""
    record = await queries.view_record(app, coll, record_id, info)
    hook = app.hooks.on_record_view_request
    if hook.handlers:
        event = RecordRequestEvent(app=app, info=info, collection=coll, record=record)
        await hook.trigger(event)
        record = event.record or record
    return record


async def create_record(
    app: App,
    coll: Collection,
    body: dict[str, Any],
    info: RequestInfo,
    files: dict[str, list[Upload]] | None = None,
    *,
    request_hook: bool = True,
) -> Record:
    """Create one record for the caller: createRule, form checks and every field check apply.

    ``request_hook=False`` skips ``on_record_create_request`` for flows that create a record on
    the way to something else (an OAuth2 sign-up fires its own auth hook).
    """
    if coll.is_view:
        raise BadRequest(UNSUPPORTED)
    rule = require_rule(coll, "createRule", info)
    record = blank_record(coll)
    resolved = load_body(coll, record, body, info, is_new=True)
    plan, upload_errors = apply_uploads(
        coll, record, None, body, files or {}, is_superuser=info.is_superuser
    )
    info.body = resolved
    fill_generated(coll, record)
    event = RecordRequestEvent(app=app, info=info, collection=coll, record=record)
    final = partial(_create, rule, plan, upload_errors)
    if request_hook:
        await app.hooks.on_record_create_request.trigger(event, final)
    else:
        await final(event)
    assert event.record is not None
    return event.record


async def _create(
    rule: str | None, plan: FilePlan, upload_errors: dict[str, Any], event: RecordRequestEvent
) -> None:
    app, coll, info, record = event.app, event.collection, event.info, event.record
    assert record is not None
    resolved = info.body
    manager = info.is_superuser or (coll.is_auth and await manages(app, coll, None, record, info))
    pre = auth_body_errors(coll, record, None, resolved, is_manager=manager, old_password_ok=None)
    if rule and not pre and not await rule_matches_new(app, coll, record, rule, info):
        raise BadRequest("Failed to create record.")
    pre.update(await write_denied(app, coll, None, record, _sent(resolved, plan), info))
    if pre or upload_errors:
        await validate_record(
            app, coll, record, None, {**pre, **upload_errors}, {n for n, _ in plan.new}
        )
    event.record = await save_record(app, coll, record, files=plan, info=info)


async def update_record(
    app: App,
    coll: Collection,
    record_id: str,
    body: dict[str, Any],
    info: RequestInfo,
    files: dict[str, list[Upload]] | None = None,
) -> Record:
    """Update one record; the update rule sees old values and ``@request.body`` the new ones."""
    if coll.is_view:
        raise BadRequest(UNSUPPORTED)
    rule = require_rule(coll, "updateRule", info)
    if not builds_on_stored(body, files):
        return await _update(app, coll, record_id, rule, body, info, files, lock=False)
    # ``n+``, ``tags-``, ``files+``: the new value derives from the stored one, so the row is read
    # inside the write transaction and locked there, or concurrent modifiers would overwrite
    # each other's results (a batch's open transaction is joined, and the lock taken in it)
    async with app.db.transaction():
        return await _update(app, coll, record_id, rule, body, info, files, lock=True)


def _sent(resolved: dict[str, Any], plan: FilePlan) -> set[str]:
    """The fields a write body names (values and uploads), for the field writeRules."""
    return {*resolved, *(name for name, _ in plan.new)}


def builds_on_stored(body: dict[str, Any], files: dict[str, list[Upload]] | None) -> bool:
    """True when a key of the body (or of the uploads) carries a read-modify-write modifier."""
    return any(split_modifier(key)[1] in ("+", "-", "^") for key in (*body, *(files or {})))


async def _update(
    app: App,
    coll: Collection,
    record_id: str,
    rule: str | None,
    body: dict[str, Any],
    info: RequestInfo,
    files: dict[str, list[Upload]] | None,
    *,
    lock: bool,
) -> Record:
    original = await fetch_record(app, coll, record_id, lock=lock)
    if original is None:
        raise NotFound()
    record = dict(original)
    resolved = load_body(coll, record, body, info, is_new=False)
    plan, upload_errors = apply_uploads(
        coll, record, original, body, files or {}, is_superuser=info.is_superuser
    )
    info.body = resolved
    if rule and not await rule_matches_stored(app, coll, record_id, rule, info):
        raise NotFound()
    manager = info.is_superuser or (
        coll.is_auth and await manages(app, coll, record_id, record, info)
    )
    event = RecordRequestEvent(app=app, info=info, collection=coll, record=record)
    await app.hooks.on_record_update_request.trigger(
        event, partial(_save_update, original, manager, plan, upload_errors)
    )
    assert event.record is not None
    return event.record


async def _save_update(
    original: Record,
    manager: bool,
    plan: FilePlan,
    upload_errors: dict[str, Any],
    event: RecordRequestEvent,
) -> None:
    app, coll, info, record = event.app, event.collection, event.info, event.record
    assert record is not None
    resolved = info.body
    old_ok = None
    if coll.is_auth and "password" in resolved and not manager and resolved.get("oldPassword"):
        old_ok = await asyncio.to_thread(
            verify_password, str(resolved["oldPassword"]), str(original.get("password", ""))
        )
    pre = auth_body_errors(
        coll, record, original, resolved, is_manager=manager, old_password_ok=old_ok
    )
    sent = _sent(resolved, plan)
    pre.update(await write_denied(app, coll, str(original["id"]), record, sent, info))
    if pre or upload_errors:
        await validate_record(
            app, coll, record, original, {**pre, **upload_errors}, {n for n, _ in plan.new}
        )
    event.record = await save_record(app, coll, record, original=original, files=plan, info=info)


async def delete_record(app: App, coll: Collection, record_id: str, info: RequestInfo) -> Record:
    """Delete one record the caller may delete, cascading to and guarding the records that reference it."""
    if coll.is_view:
        raise BadRequest(UNSUPPORTED)
    rule = require_rule(coll, "deleteRule", info)
    record = await fetch_record(app, coll, record_id)
    if record is None or (rule and not await rule_matches_stored(app, coll, record_id, rule, info)):
        raise NotFound()
    event = RecordRequestEvent(app=app, info=info, collection=coll, record=record)
    await app.hooks.on_record_delete_request.trigger(event, _delete)
    return record


async def _delete(event: RecordRequestEvent) -> None:
    assert event.record is not None
    await save.delete_record(event.app, event.collection, event.record, info=event.info)
