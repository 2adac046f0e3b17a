"""Hook chains: priority, tags, next()/stop/raise, sync and async handlers, unbinding."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import pytest

from roost.core.errors import BadRequest
from roost.core.events import RecordEvent
from roost.core.hooks import Hooks, trigger_logged
from roost.core.schema.collection import Collection
from roost.tools.hook import Event, Hook


@dataclass(eq=False)
class Note(Event):
    seen: list[str] = field(default_factory=list)
    tags: tuple[str, ...] = ()

    def hook_tags(self) -> tuple[str, ...]:
        return self.tags


def recorder(name: str) -> Any:
    async def handler(e: Note) -> None:
        e.seen.append(name)
        await e.next()

    return handler


async def finish(e: Note) -> None:
    e.seen.append("final")


async def test_lower_priority_runs_first_then_binding_order() -> None:
    hook: Hook[Note] = Hook("h")
    hook.bind(recorder("b0"))
    hook.bind(recorder("a5"), priority=5)
    hook.bind(recorder("c0"))
    hook.bind(recorder("d-1"), priority=-1)
    note = Note()
    await hook.trigger(note, finish)
    assert note.seen == ["d-1", "b0", "c0", "a5", "final"]


async def test_work_after_next_runs_after_the_final_link() -> None:
    hook: Hook[Note] = Hook("h")

    async def around(e: Note) -> None:
        e.seen.append("before")
        await e.next()
        e.seen.append("after")

    hook.bind(around)
    note = Note()
    await hook.trigger(note, finish)
    assert note.seen == ["before", "final", "after"]


async def test_returning_without_next_stops_the_chain_quietly() -> None:
    hook: Hook[Note] = Hook("h")

    async def stop(e: Note) -> None:
        e.seen.append("stop")

    hook.bind(stop)
    hook.bind(recorder("later"))
    note = Note()
    await hook.trigger(note, finish)
    assert note.seen == ["stop"]


async def test_raising_aborts_with_that_error() -> None:
    hook: Hook[Note] = Hook("h")

    async def refuse(e: Note) -> None:
        raise BadRequest("Not today.")

    hook.bind(recorder("first"))
    hook.bind(refuse)
    note = Note()
    with pytest.raises(BadRequest, match="Not today"):
        await hook.trigger(note, finish)
    assert note.seen == ["first"]


async def test_sync_handlers_continue_by_returning_next() -> None:
    hook: Hook[Note] = Hook("h")

    def passes(e: Note) -> Awaitable[None]:
        e.seen.append("sync")
        return e.next()

    def ends(e: Note) -> None:
        e.seen.append("sync-end")

    hook.bind(passes)
    hook.bind(recorder("async"))
    hook.bind(ends)
    note = Note()
    await hook.trigger(note, finish)
    assert note.seen == ["sync", "async", "sync-end"]


async def test_tagged_handlers_run_only_for_their_tags() -> None:
    hook: Hook[Note] = Hook("h")
    hook.tagged("posts").bind(recorder("posts-only"))
    hook.bind(recorder("all"))
    posts, users = Note(tags=("id1", "posts")), Note(tags=("id2", "users"))
    await hook.trigger(posts, finish)
    await hook.trigger(users, finish)
    assert posts.seen == ["posts-only", "all", "final"]
    assert users.seen == ["all", "final"]


async def test_for_collections_matches_a_collection_name_or_id() -> None:
    hooks = Hooks()
    seen: list[str] = []

    async def remember(e: RecordEvent) -> None:
        seen.append(e.collection.name)
        await e.next()

    hooks.on_record_create.for_collections("posts").bind(remember)
    hooks.on_record_create.for_collections("pbc_users").bind(remember)
    for coll in (
        Collection("pbc_posts", "posts"),
        Collection("pbc_users", "users"),
        Collection("pbc_tags", "tags"),
    ):
        await hooks.on_record_create.trigger(
            RecordEvent(app=None, collection=coll, record={}, action="create")
        )  # type: ignore[arg-type]
    assert seen == ["posts", "users"]


async def test_unbind_by_id_and_replace_in_place() -> None:
    hook: Hook[Note] = Hook("h")
    first = hook.bind(recorder("one"))
    hook.bind(recorder("two"), id="mine")
    hook.bind(recorder("three"))
    hook.bind(recorder("two-replaced"), id="mine")
    note = Note()
    await hook.trigger(note, finish)
    assert note.seen == ["one", "two-replaced", "three", "final"]
    hook.unbind(first, "unknown")
    note = Note()
    await hook.trigger(note, finish)
    assert note.seen == ["two-replaced", "three", "final"]
    hook.unbind_all()
    assert len(hook) == 0


async def test_binding_inside_a_handler_leaves_the_running_chain_alone() -> None:
    hook: Hook[Note] = Hook("h")

    async def binds(e: Note) -> None:
        hook.bind(recorder("late"))
        e.seen.append("binds")
        await e.next()

    hook.bind(binds, id="binds")
    note = Note()
    await hook.trigger(note, finish)
    assert note.seen == ["binds", "final"]
    hook.unbind("binds")
    note = Note()
    await hook.trigger(note, finish)
    assert note.seen == ["late", "final"]


async def test_calling_next_twice_runs_the_rest_once() -> None:
    hook: Hook[Note] = Hook("h")

    async def twice(e: Note) -> None:
        await e.next()
        await e.next()

    hook.bind(twice)
    hook.bind(recorder("once"))
    note = Note()
    await hook.trigger(note, finish)
    assert note.seen == ["once", "final"]


async def test_an_event_is_reusable_across_nested_triggers() -> None:
    outer: Hook[Note] = Hook("outer")
    inner: Hook[Note] = Hook("inner")
    outer.bind(recorder("outer"))
    inner.bind(recorder("inner"))

    async def outer_final(e: Note) -> None:
        await inner.trigger(e, finish)
        e.seen.append("outer-final")

    note = Note()
    await outer.trigger(note, outer_final)
    assert note.seen == ["outer", "inner", "final", "outer-final"]


async def test_logged_triggers_never_raise(caplog: pytest.LogCaptureFixture) -> None:
    hook: Hook[Note] = Hook("after")

    async def broken(e: Note) -> None:
        raise RuntimeError("boom")

    hook.bind(broken)
    with caplog.at_level(logging.ERROR, logger="roost.hooks"):
        await trigger_logged(hook, Note())
    assert "hook after: a handler failed" in caplog.text


def test_every_named_hook_is_declared_once_under_its_own_name() -> None:
    hooks = Hooks().all()
    assert all(hook.name == name for name, hook in hooks.items())
    for name in ("on_record_create", "on_record_create_execute", "on_record_after_create_success",
                 "on_record_after_create_error", "on_record_create_request", "on_record_enrich", "on_record_validate",
                 "on_records_list_request", "on_record_view_request", "on_record_auth_request",
                 "on_record_auth_with_password_request", "on_collection_create", "on_mailer_send",
                 "on_mailer_record_verification_send", "on_realtime_connect_request", "on_realtime_subscribe_request",
                 "on_realtime_message_send", "on_settings_update_request", "on_settings_reload", "on_backup_create",
                 "on_backup_restore", "on_bootstrap", "on_serve", "on_terminate"):  # fmt: skip
        assert name in hooks, name
