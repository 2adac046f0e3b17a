"""Browser cookie sessions: opt-in login, CSRF token and Origin checks, listing, revocation and
what ends a session (logout, revoke, password change, expiry)."""

from __future__ import annotations

from typing import Any

import httpx

from roost.core.auth.cleanup import delete_expired
from tests.apis.test_mail_flows import U, make_user
from tests.apis.test_oauth2_api import REDIRECT, authorize, idp, idp_server, provider_entry
from tests.apis.test_oauth2_api import enable as oauth2_enable
from tests.apis.test_otp_mfa import enable, otp_code
from tests.conftest import Api
from tests.oauth_provider import LocalProvider

__all__ = ["idp", "idp_server"]  # fixtures shared with the OAuth2 tests

ORIGIN = "http://roost.test"
NOTES = "/api/collections/notes/records"


class Browser:
    """One cookie jar's worth of state, sent by hand (the test client runs on plain http)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.cookie = ""
        self.csrf = ""

    async def login(self, email: str, password: str = "password123", flag: str = "?session=cookie") -> httpx.Response:
        res = await self.api.call("POST", U + "auth-with-password" + flag, json={"identity": email, "password": password})
        if res.status_code == 200 and flag:
            self.cookie = res.cookies["__Host-roost_session"]
            self.csrf = res.json()["csrfToken"]
        return res

    async def call(self, method: str, url: str, *, origin: str | None = ORIGIN, csrf: bool = True, **kw: Any) -> httpx.Response:
        headers = {"Cookie": f"__Host-roost_session={self.cookie}", **kw.pop("headers", {})}
        if origin is not None:
            headers["Origin"] = origin
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        self.api.client.cookies.clear()
        return await self.api.call(method, url, headers=headers, **kw)


async def setup(api: Api, enabled: bool = True) -> None:
    res = await api.su("PATCH", "/api/collections/users", json={"cookieSessions": {"enabled": enabled}})
    assert res.status_code == 200, res.text
    rule = "@request.auth.id != ''"
    res = await api.su("POST", "/api/collections", json={
        "name": "notes", "type": "base", "listRule": rule, "createRule": rule,
        "fields": [{"name": "title", "type": "text"}],
    })  # fmt: skip
    assert res.status_code == 200, res.text


async def test_cookie_login_sets_session_and_no_token(api: Api) -> None:
    names = [c["name"] for c in (await api.su("GET", "/api/collections?perPage=100")).json()["items"]]
    assert "_authSessions" not in names
    await setup(api)
    user = await make_user(api, "s1@example.com")
    browser = Browser(api)
    res = await browser.login("s1@example.com")
    assert res.status_code == 200, res.text
    body = res.json()
    assert "token" not in body and body["record"]["id"] == user["id"] and body["csrfToken"]
    cookie = res.headers["set-cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/", "Max-Age=1209600"):
        assert attribute in cookie
    current = await browser.call("GET", "/api/sessions/current", origin=None, csrf=False)
    assert current.status_code == 200, current.text
    assert current.json()["record"]["id"] == user["id"] and current.json()["csrfToken"] == browser.csrf
    row = await api.app.db.fetch_one('SELECT * FROM "_authSessions" WHERE "recordRef" = :r', {"r": user["id"]})
    assert row is not None and browser.cookie not in str(dict(row).values())
    # the header form of the flag, and plain token logins are unchanged
    via_header = await Browser(api).login("s1@example.com", flag="")
    assert "token" in via_header.json() and "set-cookie" not in via_header.headers
    res = await api.call("POST", U + "auth-with-password", json={"identity": "s1@example.com", "password": "password123"},
                         headers={"X-Roost-Session": "cookie"})  # fmt: skip
    assert res.status_code == 200 and "token" not in res.json() and "__Host-roost_session" in res.headers["set-cookie"]


async def test_cookie_mode_needs_the_collection_option(api: Api) -> None:
    await setup(api, enabled=False)
    await make_user(api, "s2@example.com")
    res = await Browser(api).login("s2@example.com")
    assert res.status_code == 400
    assert res.json() == {"data": {}, "message": "The collection is not configured to allow cookie sessions.", "status": 400}
    assert "set-cookie" not in res.headers
    bad = await api.su("PATCH", "/api/collections/users", json={"cookieSessions": {"enabled": "yes", "duration": 5}})
    assert bad.status_code == 400
    assert {k: v["code"] for k, v in bad.json()["data"]["cookieSessions"].items()} == {
        "enabled": "validation_invalid_value", "duration": "validation_invalid_value"}  # fmt: skip
    assert (await api.su("PATCH", "/api/collections/users", json={"cookieSessions": "on"})).status_code == 400
    ok = await api.su("PATCH", "/api/collections/users", json={"cookieSessions": {"enabled": True, "duration": 3600}})
    assert ok.json()["cookieSessions"] == {"enabled": True, "duration": 3600}
    res = await Browser(api).login("s2@example.com")
    assert res.status_code == 200 and "Max-Age=3600" in res.headers["set-cookie"]


async def test_writes_need_csrf_token_and_trusted_origin(api: Api) -> None:
    await setup(api)
    await make_user(api, "s3@example.com")
    browser = Browser(api)
    await browser.login("s3@example.com")
    ok = await browser.call("POST", NOTES, json={"title": "mine"})
    assert ok.status_code == 200, ok.text
    forbidden = {"origin": "The request origin is not allowed to use cookie sessions.", "csrf": "Missing or invalid CSRF token."}
    cases = [
        ({"csrf": False}, "csrf"),
        ({"headers": {"X-CSRF-Token": "forged"}, "csrf": False}, "csrf"),
        ({"origin": "http://evil.test"}, "origin"),
        ({"origin": "http://roost.test.evil.test"}, "origin"),
        ({"origin": None}, "origin"),
        ({"origin": "null"}, "origin"),
    ]
    for kwargs, reason in cases:
        res = await browser.call("POST", NOTES, json={"title": "forged"}, **kwargs)
        assert res.status_code == 403, (kwargs, res.text)
        assert res.json() == {"data": {}, "message": forbidden[reason], "status": 403}
    # a Referer from the own origin stands in for a missing Origin
    referred = await browser.call("POST", NOTES, origin=None, json={"title": "ref"}, headers={"Referer": ORIGIN + "/page"})
    assert referred.status_code == 200, referred.text
    # reads need neither; a bearer token bypasses the cookie entirely
    listed = await browser.call("GET", NOTES, origin=None, csrf=False)
    assert listed.status_code == 200 and listed.json()["totalItems"] == 2
    token = await api.login("users", "s3@example.com", "password123")
    res = await browser.call("POST", NOTES, origin="http://evil.test", csrf=False, json={"title": "t"}, headers={"Authorization": token})
    assert res.status_code == 200
    titles = sorted(n["title"] for n in (await api.su("GET", NOTES)).json()["items"])
    assert titles == ["mine", "ref", "t"]


async def test_trusted_origins_get_credentialed_cors(api: Api) -> None:
    await setup(api)
    await make_user(api, "s4@example.com")
    api.app.config.session_origins = "http://app.example:3000, https://spa.example"
    preflight = await api.call("OPTIONS", NOTES, headers={
        "Origin": "http://app.example:3000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-csrf-token"})  # fmt: skip
    assert preflight.headers["access-control-allow-origin"] == "http://app.example:3000"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    other = await api.call("OPTIONS", NOTES, headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"})
    assert other.headers["access-control-allow-origin"] == "*" and "access-control-allow-credentials" not in other.headers
    browser = Browser(api)
    await browser.login("s4@example.com")
    res = await browser.call("POST", NOTES, origin="https://spa.example", json={"title": "spa"})
    assert res.status_code == 200, res.text
    assert res.headers["access-control-allow-origin"] == "https://spa.example"
    assert (await browser.call("POST", NOTES, origin="http://spa.example", json={"title": "x"})).status_code == 403
    # the settings' appURL is trusted too
    await api.su("PATCH", "/api/settings", json={"meta": {"appURL": "https://public.example/base"}})
    res = await browser.call("POST", NOTES, origin="https://public.example", json={"title": "app"})
    assert res.status_code == 200, res.text


async def test_list_revoke_and_logout(api: Api) -> None:
    await setup(api)
    user = await make_user(api, "s5@example.com")
    other = await make_user(api, "s6@example.com")
    laptop, phone, intruder = Browser(api), Browser(api), Browser(api)
    await laptop.login("s5@example.com")
    await phone.login("s5@example.com")
    await intruder.login("s6@example.com")
    listed = await laptop.call("GET", "/api/sessions", origin=None, csrf=False)
    assert listed.status_code == 200, listed.text
    items = listed.json()
    assert len(items) == 2 and sum(i["current"] for i in items) == 1
    assert {i["recordId"] for i in items} == {user["id"]} and all("sessionHash" not in i for i in items)
    phone_id = next(i["id"] for i in items if not i["current"])
    # another record cannot see or end them; neither can a guest
    assert (await intruder.call("DELETE", f"/api/sessions/{phone_id}")).status_code == 404
    assert (await intruder.call("GET", f"/api/sessions?collection=users&record={user['id']}")).status_code == 403
    assert (await api.call("GET", "/api/sessions")).status_code == 401
    revoked = await laptop.call("DELETE", f"/api/sessions/{phone_id}")
    assert revoked.status_code == 204 and "set-cookie" not in revoked.headers
    assert (await phone.call("GET", "/api/sessions/current", origin=None, csrf=False)).status_code == 401
    assert (await phone.call("POST", NOTES, json={"title": "x"})).status_code == 400
    # the superuser lists and ends any record's sessions
    su_list = await api.su("GET", f"/api/sessions?collection=users&record={other['id']}")
    assert [i["recordId"] for i in su_list.json()] == [other["id"]]
    assert (await api.su("DELETE", f"/api/sessions?collection=users&record={other['id']}")).status_code == 204
    assert (await intruder.call("GET", "/api/sessions/current", origin=None, csrf=False)).status_code == 401
    logout = await laptop.call("POST", "/api/sessions/logout")
    assert logout.status_code == 204 and '__Host-roost_session=""' in logout.headers["set-cookie"]
    assert "Max-Age=0" in logout.headers["set-cookie"]
    assert (await laptop.call("GET", "/api/sessions/current", origin=None, csrf=False)).status_code == 401
    assert (await api.app.db.fetch_one('SELECT COUNT(*) AS n FROM "_authSessions"', {}))["n"] == 0


async def test_password_change_and_expiry_end_sessions(api: Api) -> None:
    await setup(api)
    user = await make_user(api, "s7@example.com")
    browser, second = Browser(api), Browser(api)
    await browser.login("s7@example.com")
    await second.login("s7@example.com")
    token = await api.login("users", "s7@example.com", "password123")
    refreshed = await browser.call("POST", U + "auth-refresh")
    assert refreshed.status_code == 200 and "token" not in refreshed.json() and refreshed.json()["csrfToken"] == browser.csrf
    res = await browser.call("PATCH", f"{U}records/{user['id']}", json={
        "oldPassword": "password123", "password": "password456", "passwordConfirm": "password456"})  # fmt: skip
    assert res.status_code == 200, res.text
    for session in (browser, second):
        assert (await session.call("GET", "/api/sessions/current", origin=None, csrf=False)).status_code == 401
    assert (await api.call("POST", U + "auth-refresh", token=token)).status_code == 401
    fresh, idle = Browser(api), Browser(api)
    await fresh.login("s7@example.com", "password456")
    await idle.login("s7@example.com", "password456")
    async with api.app.db.transaction() as conn:
        await conn.execute('UPDATE "_authSessions" SET "expires" = :e', {"e": "2000-01-01 00:00:00.000Z"})
    assert (await fresh.call("GET", "/api/sessions/current", origin=None, csrf=False)).status_code == 401
    # the periodic cleanup removes expired sessions nobody presents any more (the hourly system
    # cron runs the same function, so at HH:00 it may have got there first: judge by what is left)
    assert await delete_expired(api.app) in (0, 1)
    assert (await api.app.db.fetch_one('SELECT COUNT(*) AS n FROM "_authSessions"', {}))["n"] == 0


async def test_mfa_with_otp_ends_in_a_cookie(mail_api: Api, mail_sink: Any) -> None:
    await enable(mail_api, otp={"enabled": True}, mfa={"enabled": True}, cookieSessions={"enabled": True})
    await make_user(mail_api, "s8@example.com")
    first = await Browser(mail_api).login("s8@example.com")
    assert first.status_code == 401 and "set-cookie" not in first.headers
    otp_id, code = await otp_code(mail_api, mail_sink, "s8@example.com")
    done = await mail_api.call("POST", U + f"auth-with-otp?mfaId={first.json()['mfaId']}&session=cookie",
                               json={"otpId": otp_id, "password": code})  # fmt: skip
    assert done.status_code == 200, done.text
    assert "token" not in done.json() and done.json()["csrfToken"] and "__Host-roost_session=" in done.headers["set-cookie"]


async def test_oauth2_login_ends_in_a_cookie(api: Api, idp: LocalProvider) -> None:
    await oauth2_enable(api, idp)
    await enable(api, cookieSessions={"enabled": True})
    idp.add_user("u-s", "oauth@example.com")
    entry = await provider_entry(api)
    body = {"provider": "oidc", "code": await authorize(entry), "redirectURL": REDIRECT, "codeVerifier": entry["codeVerifier"]}
    res = await api.call("POST", U + "auth-with-oauth2", json=body, headers={"X-Roost-Session": "cookie"})
    assert res.status_code == 200, res.text
    assert set(res.json()) == {"record", "meta", "csrfToken"} and res.json()["meta"]["isNew"] is True
    browser = Browser(api)
    browser.cookie, browser.csrf = res.cookies["__Host-roost_session"], res.json()["csrfToken"]
    current = await browser.call("GET", "/api/sessions/current", origin=None, csrf=False)
    assert current.json()["record"]["email"] == "oauth@example.com"
