"""GraphQL's batch and auth mutations: the same core services, answers and errors as REST's."""

from __future__ import annotations

from typing import Any

from tests.apis.test_mail_flows import U, make_user
from tests.apis.test_oauth2_api import REDIRECT, authorize, idp, idp_server, provider_entry
from tests.apis.test_oauth2_api import enable as enable_oauth2
from tests.apis.test_otp_mfa import enable, otp_code
from tests.conftest import Api
from tests.graphql_world import seed
from tests.oauth_provider import LocalProvider

__all__ = ["idp", "idp_server"]  # fixtures
URL = "/api/graphql"
BATCH = "mutation($r: [BatchRequestInput!]!) { batch(requests: $r) { status body } }"
P = "/api/collections/posts/records"


async def gql(api: Api, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
    res = await api.call("POST", URL, token=token, json={"query": query, "variables": variables})
    assert res.status_code == 200, res.text
    body: dict[str, Any] = res.json()
    return body


async def titles(api: Api) -> list[str]:
    res = await api.su("GET", P, params={"sort": "title", "perPage": 100})
    return [r["title"] for r in res.json()["items"]]


async def test_batch_writes_in_one_transaction_as_rests_batch_does(api: Api) -> None:
    world = await seed(api)
    owner, p1 = world.tokens["owner"], world.ids["p1"]
    disabled_rest = await api.call(
        "POST",
        "/api/batch",
        token=owner,
        json={"requests": [{"method": "DELETE", "url": f"{P}/{p1}"}]},
    )
    disabled = await gql(api, BATCH, owner, r=[{"method": "DELETE", "url": f"{P}/{p1}"}])
    assert disabled["errors"][0]["extensions"]["status"] == disabled_rest.status_code == 403
    assert disabled["errors"][0]["message"] == disabled_rest.json()["message"]
    assert (
        await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True, "maxRequests": 5}})
    ).status_code == 200

    def requests(title: str, gone: str) -> list[dict[str, Any]]:
        return [
            {
                "method": "POST",
                "url": P + "?expand=author",
                "body": {"title": title, "author": world.ids["owner"], "n": 1},
            },
            {"method": "PATCH", "url": f"{P}/{p1}", "body": {"n+": 5, "tags-": "a"}},
            {"method": "DELETE", "url": f"{P}/{world.ids[gone]}"},
        ]

    rest = await api.call(
        "POST", "/api/batch", token=owner, json={"requests": requests("via rest", "p5")}
    )
    assert rest.status_code == 200, rest.text
    answer = await gql(api, BATCH, owner, r=requests("via graphql", "p2"))
    assert "errors" not in answer, answer
    results = answer["data"]["batch"]
    assert [r["status"] for r in results] == [r["status"] for r in rest.json()] == [200, 200, 204]
    created, via_rest = results[0]["body"], rest.json()[0]["body"]
    assert created["title"] == "via graphql" and created["expand"]["author"]["name"] == "Owner"
    assert set(created) == set(via_rest) and "secret" not in created
    assert (await api.su("GET", f"{P}/{world.ids['p2']}")).status_code == 404
    assert (
        results[1]["body"]["n"] == 11 and results[1]["body"]["tags"] == []
    )  # the modifiers ran twice: REST's, then ours


async def test_a_failing_batch_item_stores_nothing_and_fails_as_rest_fails(api: Api) -> None:
    world = await seed(api)
    assert (
        await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True}})
    ).status_code == 200
    items = [{"method": "POST", "url": P, "body": {"title": "first", "author": world.ids["other"]}},
             {"method": "POST", "url": P, "body": {"n": 1}},
             {"method": "PATCH", "url": f"{P}/{world.ids['p3']}", "body": {"title": "not mine"}}]  # fmt: skip
    before = await titles(api)
    rest = await api.call(
        "POST", "/api/batch", token=world.tokens["other"], json={"requests": items}
    )
    answer = await gql(api, BATCH, world.tokens["other"], r=items)
    assert answer["data"] is None
    (error,) = answer["errors"]
    assert rest.status_code == error["extensions"]["status"] == 400
    assert error["message"] == rest.json()["message"] == "Batch transaction failed."
    assert error["extensions"]["data"] == rest.json()["data"]
    assert (
        error["extensions"]["data"]["requests"]["1"]["response"]["data"]["title"]["code"]
        == "validation_required"
    )
    assert await titles(api) == before
    empty_rest = await api.call(
        "POST", "/api/batch", token=world.tokens["other"], json={"requests": []}
    )
    empty = await gql(api, BATCH, world.tokens["other"], r=[])
    assert empty["errors"][0]["extensions"]["data"] == empty_rest.json()["data"]
    assert empty["errors"][0]["extensions"]["data"]["requests"]["code"] == "validation_required"


AUTH_FIELDS = "token record { id email } meta"


async def test_mfa_password_then_otp_through_graphql(mail_api: Api, mail_sink: Any) -> None:
    await enable(mail_api, otp={"enabled": True}, mfa={"enabled": True})
    user = await make_user(mail_api, "gmfa@example.com")
    password = f'mutation($m: String) {{ authWithUsersPassword(identity: "gmfa@example.com", password: "password123", mfaId: $m) {{ {AUTH_FIELDS} }} }}'
    first = await gql(mail_api, password)
    (error,) = first["errors"]
    assert first["data"] == {"authWithUsersPassword": None}
    assert error["extensions"]["status"] == 401 and error["extensions"]["code"] == "mfa_required"
    mfa_id = error["extensions"]["data"]["mfaId"]
    same = await gql(mail_api, password, m=mfa_id)
    assert same["errors"][0]["message"] == "A different authentication method is required."
    # the code is mailed through the same flow REST's request-otp uses
    request = await gql(mail_api, 'mutation { requestUsersOTP(email: "gmfa@example.com") }')
    otp_id = request["data"]["requestUsersOTP"]
    mail = (await mail_sink.receive("gmfa@example.com", 1))[-1]
    otp = f"mutation($o: String!, $p: String!, $m: String) {{ authWithUsersOTP(otpId: $o, password: $p, mfaId: $m) {{ {AUTH_FIELDS} }} }}"
    wrong = await gql(mail_api, otp, o=otp_id, p="00000000", m=mfa_id)
    assert wrong["errors"][0]["extensions"]["status"] == 400
    done = await gql(mail_api, otp, o=otp_id, p=mail.code(), m=mfa_id)
    assert "errors" not in done, done
    answer = done["data"]["authWithUsersOTP"]
    assert (
        answer["record"] == {"id": user["id"], "email": "gmfa@example.com"}
        and answer["meta"] is None
    )
    me = await mail_api.call("POST", U + "auth-refresh", token=answer["token"])
    assert me.status_code == 200 and me.json()["record"]["id"] == user["id"]
    assert (
        await mail_api.app.db.fetch_value(
            'SELECT COUNT(*) FROM "_mfas" WHERE "id" = :i', {"i": mfa_id}
        )
        == 0
    )


async def test_otp_alone_and_its_errors_match_rest(mail_api: Api, mail_sink: Any) -> None:
    off_rest = await mail_api.call("POST", U + "request-otp", json={"email": "a@example.com"})
    off = await gql(mail_api, 'mutation { requestUsersOTP(email: "a@example.com") }')
    assert (
        off["errors"][0]["message"] == off_rest.json()["message"]
        and off["errors"][0]["extensions"]["status"] == 403
    )
    await enable(mail_api, otp={"enabled": True})
    user = await make_user(mail_api, "gotp@example.com")
    bad_rest = await mail_api.call("POST", U + "request-otp", json={"email": "nope"})
    bad = await gql(mail_api, 'mutation { requestUsersOTP(email: "nope") }')
    assert (
        bad["errors"][0]["extensions"]["data"] == bad_rest.json()["data"]
        and bad_rest.json()["data"]["email"]
    )
    unknown = await gql(mail_api, 'mutation { requestUsersOTP(email: "nobody@example.com") }')
    assert isinstance(
        unknown["data"]["requestUsersOTP"], str
    )  # a random id: no account enumeration
    otp_id, code = await otp_code(mail_api, mail_sink, "gotp@example.com")
    query = f"mutation($o: String!, $p: String!) {{ authWithUsersOTP(otpId: $o, password: $p) {{ {AUTH_FIELDS} }} }}"
    done = await gql(mail_api, query, o=otp_id, p=code)
    assert (
        done["data"]["authWithUsersOTP"]["record"]["id"] == user["id"]
        and done["data"]["authWithUsersOTP"]["token"]
    )
    again = await gql(mail_api, query, o=otp_id, p=code)  # single use, as for REST
    assert again["errors"][0]["extensions"]["status"] == 400


OAUTH2 = """mutation($p: String!, $c: String!, $v: String, $r: String) {
  authWithUsersOAuth2Code(provider: $p, code: $c, codeVerifier: $v, redirectURL: $r) { token record { id email } meta }
}"""


async def test_oauth2_code_exchange_signs_up_then_logs_in(api: Api, idp: LocalProvider) -> None:
    await enable_oauth2(api, idp)
    idp.add_user("u-gql", "gql@example.com", name="Via GraphQL")
    entry = await provider_entry(api)
    first = await gql(
        api, OAUTH2, p="oidc", c=await authorize(entry), v=entry["codeVerifier"], r=REDIRECT
    )
    assert "errors" not in first, first
    signed_up = first["data"]["authWithUsersOAuth2Code"]
    assert (
        signed_up["token"]
        and signed_up["meta"]["isNew"] is True
        and signed_up["meta"]["id"] == "u-gql"
    )
    assert signed_up["record"]["email"] == "gql@example.com"
    entry = await provider_entry(api)
    again = await gql(
        api, OAUTH2, p="oidc", c=await authorize(entry), v=entry["codeVerifier"], r=REDIRECT
    )
    logged_in = again["data"]["authWithUsersOAuth2Code"]
    assert (
        logged_in["record"]["id"] == signed_up["record"]["id"]
        and logged_in["meta"]["isNew"] is False
    )
    unknown_rest = await api.call(
        "POST", U + "auth-with-oauth2", json={"provider": "nope", "code": "x"}
    )
    unknown = await gql(api, OAUTH2, p="nope", c="x")
    assert unknown["errors"][0]["extensions"]["data"] == unknown_rest.json()["data"]
    assert (
        unknown["errors"][0]["extensions"]["data"]["provider"]["code"]
        == "validation_invalid_provider"
    )
