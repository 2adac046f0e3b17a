"""The non-record hooks through the API: auth, mail, collections, settings, realtime, files.

A scenario table: one request, the hooks that must fire (as many times as listed) and the ones
that must not. Then the behaviours a stopped chain has for logins, mails and streams.
"""

from __future__ import annotations

from typing import Any

import pytest

from roost.core.errors import Forbidden
from roost.testing.hooks import HookRecorder, missing_and_unexpected
from roost.tools.mailer.memory import MemoryMailer
from tests.conftest import Api

PASSWORD = {"identity": "ann@example.com", "password": "password123"}


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Hook firing does not depend on the database: SQLite is enough here."""
    return str(request.param)


@pytest.fixture
async def world(api: Api) -> dict[str, Any]:
    api.app.mailer = MemoryMailer()
    body = {"email": "ann@example.com", "password": "password123", "passwordConfirm": "password123"}
    res = await api.call("POST", "/api/collections/users/records", json=body)
    assert res.status_code == 200, res.text
    return {"token": await api.login("users", "ann@example.com", "password123")}


SCENARIOS: list[tuple[str, str, str, Any, str, list[str], list[str]]] = [
    # name, method, url, body, auth ("", "user", "su"), expected, unexpected
    ("password login", "POST", "/api/collections/users/auth-with-password", PASSWORD, "",
     ["on_record_auth_with_password_request", "on_record_auth_request", "on_record_enrich"], ["on_record_update_request"]),
    ("wrong password", "POST", "/api/collections/users/auth-with-password", {**PASSWORD, "password": "nope-nope"}, "",
     ["on_record_auth_with_password_request"], ["on_record_auth_request"]),
    ("refresh", "POST", "/api/collections/users/auth-refresh", None, "user",
     ["on_record_auth_refresh_request", "on_record_auth_request"], ["on_record_auth_with_password_request"]),
    ("verification mail", "POST", "/api/collections/users/request-verification", {"email": "ann@example.com"}, "",
     ["on_record_request_verification_request", "on_mailer_record_verification_send", "on_mailer_send"], []),
    ("verification for nobody", "POST", "/api/collections/users/request-verification", {"email": "x@example.com"}, "",
     [], ["on_record_request_verification_request", "on_mailer_send"]),
    ("password reset mail", "POST", "/api/collections/users/request-password-reset", {"email": "ann@example.com"}, "",
     ["on_record_request_password_reset_request", "on_mailer_record_password_reset_send", "on_mailer_send"], []),
    ("email change mail", "POST", "/api/collections/users/request-email-change", {"newEmail": "new@example.com"}, "user",
     ["on_record_request_email_change_request", "on_mailer_record_email_change_send", "on_mailer_send"], []),
    ("collection create", "POST", "/api/collections", {"name": "notes", "fields": [{"name": "t", "type": "text"}]}, "su",
     ["on_collection_create_request", "on_collection_create", "on_collection_validate", "on_collection_create_execute",
      "on_collection_after_create_success"], ["on_collection_after_create_error"]),
    ("invalid collection", "POST", "/api/collections", {"name": "bad name!"}, "su",
     ["on_collection_create_request", "on_collection_create", "on_collection_validate", "on_collection_after_create_error"],
     ["on_collection_create_execute", "on_collection_after_create_success"]),
    ("collection list", "GET", "/api/collections", None, "su", ["on_collections_list_request"], []),
    ("collection view", "GET", "/api/collections/users", None, "su", ["on_collection_view_request"], []),
    ("settings read", "GET", "/api/settings", None, "su", ["on_settings_list_request"], ["on_settings_reload"]),
    ("settings write", "PATCH", "/api/settings", {"meta": {"appName": "Hooked"}}, "su",
     ["on_settings_update_request", "on_settings_reload"], []),
    ("file token", "POST", "/api/files/token", None, "user", ["on_file_token_request"], []),
    ("guest may not", "GET", "/api/settings", None, "", [], ["on_settings_list_request"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "url", "body", "auth", "expected", "unexpected"),
    [s[1:] for s in SCENARIOS],
    ids=[s[0] for s in SCENARIOS],
)
async def test_requests_fire_their_hooks(
    api: Api,
    world: dict[str, Any],
    method: str,
    url: str,
    body: Any,
    auth: str,
    expected: list[str],
    unexpected: list[str],
) -> None:
    token = {"": None, "user": world["token"], "su": api.su_token}[auth]
    with HookRecorder(api.app) as hooks:
        await api.call(method, url, token=token, json=body)
        await api.app.mail.join()
    assert missing_and_unexpected(hooks.names(), expected, unexpected) == []


async def test_a_login_chain_that_stops_refuses_the_login(api: Api, world: dict[str, Any]) -> None:
    async def forgets_next(e: Any) -> None:
        return None

    api.app.hooks.on_record_auth_request.for_collections("users").bind(forgets_next)
    res = await api.call("POST", "/api/collections/users/auth-with-password", json=PASSWORD)
    assert res.status_code == 400
    assert res.json()["message"] == "Failed to authenticate."
    su = await api.call("POST", "/api/collections/_superusers/auth-with-password",
                        json={"identity": "su@example.com", "password": "password123"})  # fmt: skip
    assert su.status_code == 200, su.text


async def test_a_login_hook_may_refuse_with_its_own_error(api: Api, world: dict[str, Any]) -> None:
    async def closed(e: Any) -> None:
        raise Forbidden("Come back tomorrow.")

    api.app.hooks.on_record_auth_with_password_request.bind(closed)
    res = await api.call("POST", "/api/collections/users/auth-with-password", json=PASSWORD)
    assert (res.status_code, res.json()["message"]) == (403, "Come back tomorrow.")


async def test_mail_hooks_change_or_hold_back_a_mail(api: Api, world: dict[str, Any]) -> None:
    mailer = api.app.mailer
    assert isinstance(mailer, MemoryMailer)

    async def footer(e: Any) -> None:
        e.message.html += "<p>footer</p>"
        await e.next()

    async def hold_resets(e: Any) -> None:
        return None  # no next(): this mail is not sent

    api.app.hooks.on_mailer_send.bind(footer)
    api.app.hooks.on_mailer_record_password_reset_send.bind(hold_resets)
    for path in ("request-verification", "request-password-reset"):
        res = await api.call(
            "POST", f"/api/collections/users/{path}", json={"email": "ann@example.com"}
        )
        assert res.status_code == 204, res.text
    await api.app.mail.join()
    assert [m.html.endswith("<p>footer</p>") for m in mailer.outbox] == [True]
    assert mailer.outbox[0].subject.startswith("Confirm your")  # the verification, not the reset


async def test_a_stopped_connect_chain_refuses_the_stream(api: Api) -> None:
    from roost.core.events import RequestInfo

    async def refuse(e: Any) -> None:
        return None

    api.app.hooks.on_realtime_connect_request.bind(refuse)
    client = await api.app.realtime.open_client(RequestInfo(ip="127.0.0.1"), "127.0.0.1")
    assert client.closed and client.close_reason == "refused"


async def test_subscribe_handlers_may_change_the_topics(api: Api, world: dict[str, Any]) -> None:
    async def only_users(e: Any) -> None:
        e.subscriptions = [t for t in e.subscriptions if t.startswith("users")]
        await e.next()

    api.app.hooks.on_realtime_subscribe_request.bind(only_users)
    client = api.app.realtime.connect("127.0.0.1")
    res = await api.call(
        "POST",
        "/api/realtime",
        json={"clientId": client.id, "subscriptions": ["users/*", "_superusers/*"]},
    )
    assert res.status_code == 204, res.text
    assert list(client.subscriptions) == ["users/*"]


async def test_bootstrap_and_terminate_wrap_the_app(tmp_path: Any) -> None:
    from roost.config import Config
    from roost.core.app import App

    app = App(Config(data_dir=tmp_path))
    seen: list[str] = []

    async def around(e: Any) -> None:
        seen.append("before")
        await e.next()
        seen.append(f"after, {len(e.app.collections.all())} collections")

    app.hooks.on_bootstrap.bind(around)
    app.hooks.on_terminate.bind(around)
    await app.bootstrap()
    await app.close()
    assert (
        seen[0] == "before" and seen[1].startswith("after, ") and seen[1] != "after, 0 collections"
    )
    assert seen[2:] == ["before", seen[3]]
