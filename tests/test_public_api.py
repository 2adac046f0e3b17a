"""The public surface of ``import roost`` is deliberate: adding or removing a name is a decision."""

from __future__ import annotations

import roost


def test_public_names_are_pinned() -> None:
    assert sorted(roost.__all__) == [
        "App", "BadRequest", "Collection", "Config", "Forbidden", "Hook", "NotFound", "Plugin", "RecordEvent",
        "RequestInfo", "Roost", "RoostError", "ServeEvent", "Unauthorized", "ValidationFailed", "__version__",
    ]  # fmt: skip
    for name in roost.__all__:
        assert hasattr(roost, name), name


async def test_hooks_see_committed_records(tmp_path: object) -> None:
    seen: list[tuple[str, str]] = []
    server = roost.Roost(roost.Config(data_dir=tmp_path))  # type: ignore[arg-type]
    app = server.app
    await app.bootstrap()

    @app.hooks.on_record_after_create_success.handle()
    async def remember(event: roost.RecordEvent) -> None:
        seen.append((event.action, event.collection.name))
        await event.next()

    from roost.core.records.requests import create_record

    users = app.collections.get("users")
    assert users is not None
    body = {"email": "h@example.com", "password": "password123", "passwordConfirm": "password123"}
    await create_record(app, users, body, roost.RequestInfo())
    await app.close()
    assert seen == [("create", "users")]
