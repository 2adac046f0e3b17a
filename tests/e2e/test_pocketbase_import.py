"""Moving in from PocketBase: a data dir made here by the reference server, imported with
``roost import pocketbase``, then served by ``roost serve``. Users and superusers log in with
their old passwords; records, files, rules, views and OAuth2 links come over unchanged."""

from __future__ import annotations

import base64
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import skip_or_fail
from tests.e2e.sdk import SdkDriver, code, js, step
from tests.e2e.servers import (
    PG_URL,
    SUPERUSER_EMAIL,
    SUPERUSER_PASSWORD,
    ServiceUnavailable,
    _mysql_database,
    _pg_schema,
    _subprocess_env,
    roost_kind,
    start_server,
)
from tests.roost_process import roost_process

pytestmark = pytest.mark.e2e

USER_EMAIL = "ada@example.com"
USER_PASSWORD = "old-pass-123"
FILE_BYTES = b"report body\x00\x01\xfe\xff" * 100
POSTS_RULE = "@request.auth.id != ''"


def su_headers(http: httpx.Client) -> dict[str, str]:
    token = http.post(
        "/api/collections/_superusers/auth-with-password",
        json={"identity": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD},
    ).json()["token"]
    return {"Authorization": token}


def seed_pocketbase(http: httpx.Client) -> dict[str, Any]:
    """Collections, a user, records and an upload, all through PocketBase's own API."""
    su = su_headers(http)
    users = http.patch(
        "/api/collections/users", headers=su,
        json={"listRule": "id = @request.auth.id", "fields": [*http.get("/api/collections/users", headers=su).json()["fields"],
                                                             {"name": "nickname", "type": "text"}],
              "authToken": {"duration": 1234},
              "oauth2": {"enabled": True, "providers": [{"name": "github", "clientId": "gh-id", "clientSecret": "gh-secret"},
                                                         {"name": "twitch", "clientId": "tw-id", "clientSecret": "tw-secret"}]}},
    )  # fmt: skip
    assert users.status_code == 200, users.text
    superusers = http.patch(
        "/api/collections/_superusers", headers=su, json={"authToken": {"duration": 4321}}
    )
    assert superusers.status_code == 200, superusers.text
    tags = http.post("/api/collections", headers=su, json={
        "name": "tags", "listRule": "", "viewRule": "",
        "fields": [{"name": "label", "type": "text", "required": True}],
    })  # fmt: skip
    assert tags.status_code == 200, tags.text
    posts = http.post("/api/collections", headers=su, json={
        "name": "posts", "listRule": POSTS_RULE, "viewRule": POSTS_RULE, "createRule": POSTS_RULE,
        "updateRule": "author = @request.auth.id", "deleteRule": None,
        "fields": [
            {"name": "title", "type": "text", "required": True},
            {"name": "score", "type": "number"},
            {"name": "published", "type": "bool"},
            {"name": "meta", "type": "json"},
            {"name": "kind", "type": "select", "values": ["news", "note"], "maxSelect": 2},
            {"name": "when", "type": "date"},
            {"name": "doc", "type": "file", "maxSelect": 1, "maxSize": 1 << 20},
            {"name": "tags", "type": "relation", "collectionId": tags.json()["id"], "maxSelect": 5},
            {"name": "author", "type": "relation", "collectionId": users.json()["id"], "maxSelect": 1},
            {"name": "created", "type": "autodate", "onCreate": True},
            {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
        ],
        "indexes": ["CREATE INDEX idx_posts_title ON posts (title)"],
    })  # fmt: skip
    assert posts.status_code == 200, posts.text
    # a cycle (tags -> posts -> tags) and a self relation: created in two passes by the import
    cycle = http.patch("/api/collections/tags", headers=su, json={"fields": [*tags.json()["fields"],
        {"name": "featured", "type": "relation", "collectionId": posts.json()["id"]},
        {"name": "parent", "type": "relation", "collectionId": tags.json()["id"]}]})  # fmt: skip
    assert cycle.status_code == 200, cycle.text
    view = http.post("/api/collections", headers=su, json={
        "name": "posts_per_author", "type": "view", "listRule": "",
        "viewQuery": "SELECT author AS id, COUNT(*) AS total FROM posts GROUP BY author",
    })  # fmt: skip
    assert view.status_code == 200, view.text
    user = http.post("/api/collections/users/records", json={
        "email": USER_EMAIL, "password": USER_PASSWORD, "passwordConfirm": USER_PASSWORD,
        "name": "Ada", "nickname": "ada",
    })  # fmt: skip
    assert user.status_code == 200, user.text
    tag = http.post("/api/collections/tags/records", headers=su, json={"label": "first"}).json()
    tag_id = tag["id"]
    post = http.post(
        "/api/collections/posts/records", headers=su,
        data={"title": "Hello", "score": "4.5", "published": "true", "meta": '{"a": [1, 2], "b": null}',
              "kind": ["news", "note"], "when": "2024-02-03 04:05:06.789Z", "tags": tag["id"], "author": user.json()["id"]},
        files={"doc": ("report.bin", FILE_BYTES, "application/octet-stream")},
    )  # fmt: skip
    assert post.status_code == 200, post.text
    tag = http.patch(
        f"/api/collections/tags/records/{tag_id}",
        headers=su,
        json={"featured": post.json()["id"], "parent": tag_id},
    ).json()
    login = http.post(
        "/api/collections/users/auth-with-password",
        json={"identity": USER_EMAIL, "password": USER_PASSWORD},
    )
    assert login.status_code == 200, login.text
    return {
        "user": user.json(), "post": post.json(), "tag": tag, "old_token": login.json()["token"],
        "collections": {c["name"]: c for c in http.get("/api/collections?perPage=100", headers=su).json()["items"]},
    }  # fmt: skip


def add_oauth2_link(pb_data: Path, user_id: str) -> None:
    """An OAuth2 link as PocketBase stores it (made without a live provider)."""
    with closing(sqlite3.connect(pb_data / "data.db")) as conn, conn:
        conn.execute(
            'INSERT INTO "_externalAuths" ("id", "collectionRef", "recordRef", "provider", "providerId", "created", "updated") '
            "VALUES ('extlink00000001', '_pb_users_auth_', ?, 'github', 'gh-4242', '2024-01-01 00:00:00.000Z', '2024-01-01 00:00:00.000Z')",
            (user_id,),
        )


def roost_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*roost_kind().base_command, *args], env={**_subprocess_env(), **(env or {})},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pocketbase_data(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("pb")
    try:
        server = start_server("pocketbase", root)
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))
    with server, server.client() as http:
        made = seed_pocketbase(http)
    add_oauth2_link(server.data_dir, made["user"]["id"])
    yield server.data_dir, made


def check_served(base_url: str, made: dict[str, Any]) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        login = http.post(
            "/api/collections/users/auth-with-password",
            json={"identity": USER_EMAIL, "password": USER_PASSWORD},
        )
        assert login.status_code == 200, login.text
        assert login.json()["record"]["id"] == made["user"]["id"]
        assert login.json()["record"]["nickname"] == "ada"
        wrong = http.post(
            "/api/collections/users/auth-with-password",
            json={"identity": USER_EMAIL, "password": "not-it-123"},
        )
        assert wrong.status_code == 400
        user = {"Authorization": login.json()["token"]}

        post = made["post"]
        got = http.get(f"/api/collections/posts/records/{post['id']}", headers=user)
        assert got.status_code == 200, got.text
        assert got.json() == post  # same id, values, file name and timestamps
        assert (
            http.get("/api/collections/posts/records").json()["items"] == []
        )  # the list rule came over
        assert http.get(f"/api/collections/posts/records/{post['id']}").status_code == 404
        expanded = http.get(
            f"/api/collections/posts/records/{post['id']}?expand=tags,author", headers=user
        ).json()
        assert expanded["expand"]["tags"][0]["label"] == "first"
        tag = http.get(
            f"/api/collections/tags/records/{made['tag']['id']}?expand=featured,parent",
            headers=user,
        ).json()
        assert tag["featured"] == post["id"] and tag["expand"]["featured"]["title"] == "Hello"
        assert tag["expand"]["parent"]["id"] == made["tag"]["id"]
        assert expanded["expand"]["author"]["id"] == made["user"]["id"]

        # a token PocketBase issued still works: same tokenKey and same collection secret
        old = http.get(
            f"/api/collections/posts/records/{post['id']}",
            headers={"Authorization": made["old_token"]},
        )
        assert old.status_code == 200 and old.json()["id"] == post["id"]

        file = http.get(f"/api/files/posts/{post['id']}/{post['doc']}")
        assert file.status_code == 200 and file.content == FILE_BYTES

        view = http.get("/api/collections/posts_per_author/records").json()
        assert view["items"][0]["id"] == made["user"]["id"] and view["items"][0]["total"] == 1

        su = su_headers(http)  # the superuser's old password
        for name, before in made["collections"].items():
            after = http.get(f"/api/collections/{name}", headers=su)
            assert after.status_code == 200, name
            after_json = after.json()
            assert after_json["id"] == before["id"], name
            for key in (
                "type",
                "listRule",
                "viewRule",
                "createRule",
                "updateRule",
                "deleteRule",
                "viewQuery",
            ):
                assert after_json.get(key) == before.get(key), (name, key)
            if before["type"] != "view":
                assert [f["name"] for f in after_json["fields"]] == [
                    f["name"] for f in before["fields"]
                ], name
                assert [f["id"] for f in after_json["fields"]] == [
                    f["id"] for f in before["fields"]
                ], name
        assert (
            "CREATE INDEX idx_posts_title ON posts (title)"
            in http.get("/api/collections/posts", headers=su).json()["indexes"]
        )

        links = http.get("/api/collections/_externalAuths/records", headers=su).json()["items"]
        assert [(x["provider"], x["providerId"], x["recordRef"]) for x in links] == [
            ("github", "gh-4242", made["user"]["id"])
        ]
        own_links = http.get("/api/collections/_externalAuths/records", headers=user).json()[
            "items"
        ]
        assert [x["id"] for x in own_links] == ["extlink00000001"]

        users = http.get("/api/collections/users", headers=su).json()
        assert users["authToken"]["duration"] == 1234
        assert [p["name"] for p in users["oauth2"]["providers"]] == ["github", "twitch"]
        methods = http.get("/api/collections/users/auth-methods").json()
        assert [p["name"] for p in methods["oauth2"]["providers"]] == ["github", "twitch"]
        assert (
            http.get("/api/collections/_superusers", headers=su).json()["authToken"]["duration"]
            == 4321
        )

        settings = http.get("/api/settings", headers=su).json()
        assert settings["meta"]["appName"] == "Acme"  # PocketBase's default, carried from _params


def test_import_then_serve_sqlite(
    pocketbase_data: tuple[Path, dict[str, Any]], tmp_path: Path, sdk: SdkDriver
) -> None:
    pb_data, made = pocketbase_data
    target = tmp_path / "data"
    done = roost_cli("import", "pocketbase", str(pb_data), "--dir", str(target))
    assert done.returncode == 0, done.stderr
    assert "Imported 4 collections, 7 records and 1 files." in done.stdout
    assert "records posts: 1 done" in done.stderr  # progress lines go to stderr
    assert "records _authOrigins: 2 done" in done.stderr  # the logins PocketBase saw (login alerts)
    assert "OAuth2 provider settings" not in done.stdout  # Roost has a client for each of them
    with roost_process(tmp_path) as server:
        check_served(server.base_url, made)
        post = made["post"]
        run = sdk.run(server.base_url, [
            step("user login", f"pb.collection('users').authWithPassword({js(USER_EMAIL)}, {js(USER_PASSWORD)})"
                               ".then(r => r.record.id)"),
            step("post", f"pb.collection('posts').getOne({js(post['id'])}, {{expand: 'tags'}})"),
            code("file", f"const r = await pb.collection('posts').getOne({js(post['id'])});"
                         "const res = await fetch(pb.files.getURL(r, r.doc));"
                         "return Buffer.from(await res.arrayBuffer()).toString('base64');"),
            step("superuser login", f"client('su').collection('_superusers').authWithPassword({js(SUPERUSER_EMAIL)}, "
                                    f"{js(SUPERUSER_PASSWORD)}).then(r => r.record.email)"),
        ])  # fmt: skip
        assert run["user login"].value == made["user"]["id"]
        got = run["post"].value
        assert {k: v for k, v in got.items() if k != "expand"} == post
        assert got["expand"]["tags"][0]["label"] == "first"
        assert base64.b64decode(run["file"].value) == FILE_BYTES
        assert run["superuser login"].value == SUPERUSER_EMAIL


@pytest.mark.parametrize("backend", ["postgres", "mysql"])
def test_import_into_a_database_server(
    pocketbase_data: tuple[Path, dict[str, Any]], tmp_path: Path, backend: str
) -> None:
    pb_data, made = pocketbase_data
    try:
        if backend == "postgres":
            schema, drop = _pg_schema()
            url, env = PG_URL, {"ROOST_DB_SCHEMA": schema}
        else:
            url, drop = _mysql_database()
            env = {}
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))
    try:
        done = roost_cli(
            "import",
            "pocketbase",
            str(pb_data),
            "--dir",
            str(tmp_path / "data"),
            "--db-url",
            url,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        with roost_process(tmp_path, "--db-url", url, env=env) as server:
            check_served(server.base_url, made)
    finally:
        drop()


def test_serving_a_pocketbase_dir_says_to_import(
    pocketbase_data: tuple[Path, dict[str, Any]],
) -> None:
    pb_data, _ = pocketbase_data
    served = roost_cli("serve", "--dir", str(pb_data), "--http", "127.0.0.1:1")
    assert served.returncode == 1
    assert served.stderr.strip().count("\n") == 0, served.stderr
    assert "roost import pocketbase" in served.stderr and "KeyError" not in served.stderr


def test_a_non_empty_roost_is_refused_unless_forced(
    pocketbase_data: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    pb_data, _ = pocketbase_data
    target = tmp_path / "data"
    assert (
        roost_cli(
            "superuser", "upsert", "other@example.com", "other-pass-123", "--dir", str(target)
        ).returncode
        == 0
    )
    refused = roost_cli("import", "pocketbase", str(pb_data), "--dir", str(target))
    assert refused.returncode == 1
    assert "not empty" in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    merged = roost_cli("import", "pocketbase", str(pb_data), "--dir", str(target), "--force")
    assert merged.returncode == 0, merged.stderr
    again = roost_cli(
        "import", "pocketbase", str(pb_data), "--dir", str(target), "--force"
    )  # idempotent
    assert again.returncode == 0, again.stderr
    with (
        roost_process(tmp_path) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        for email, password in (
            (SUPERUSER_EMAIL, SUPERUSER_PASSWORD),
            ("other@example.com", "other-pass-123"),
        ):
            login = http.post(
                "/api/collections/_superusers/auth-with-password",
                json={"identity": email, "password": password},
            )
            assert login.status_code == 200, email
        su = {"Authorization": login.json()["token"]}
        assert http.get("/api/collections/posts/records", headers=su).json()["totalItems"] == 1


def test_import_refuses_what_is_not_pocketbase(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = roost_cli(
        "import", "pocketbase", str(tmp_path / "empty"), "--dir", str(tmp_path / "data")
    )
    assert done.returncode == 1 and "not a PocketBase 0.23+ data dir" in done.stderr


def test_encrypted_settings_need_the_same_key(tmp_path: Path) -> None:
    """PocketBase run with --encryptionEnv seals its settings; the import opens them with the
    same key, and without it imports the rest and says the settings were left out."""
    from tests.e2e.servers import pocketbase_kind

    try:
        binary = pocketbase_kind().base_command
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))
    key = {"PB_KEY": "0123456789abcdef0123456789abcdef"}
    pb_data = tmp_path / "pb_data"
    made = subprocess.run([*binary, "superuser", "upsert", SUPERUSER_EMAIL, SUPERUSER_PASSWORD, f"--dir={pb_data}",
                           "--encryptionEnv=PB_KEY"], env={**_subprocess_env(), **key}, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert made.returncode == 0, made.stderr
    with closing(sqlite3.connect(pb_data / "data.db")) as conn:
        sealed = conn.execute("SELECT value FROM _params WHERE id = 'settings'").fetchone()[0]
    assert not sealed.startswith("{")  # really encrypted by the reference server

    plain = roost_cli("import", "pocketbase", str(pb_data), "--dir", str(tmp_path / "a"))
    assert plain.returncode == 0, plain.stderr
    assert "Settings: NOT imported: PocketBase stored them encrypted" in plain.stdout
    opened = roost_cli(
        "import",
        "pocketbase",
        str(pb_data),
        "--dir",
        str(tmp_path / "b"),
        "--encryptionEnv",
        "PB_KEY",
        env=key,
    )
    assert opened.returncode == 0, opened.stderr
    assert "Settings: imported (decrypted)." in opened.stdout
    wrong = roost_cli("import", "pocketbase", str(pb_data), "--dir", str(tmp_path / "c"), "--encryptionEnv", "PB_KEY",
                      env={"PB_KEY": "f" * 32})  # fmt: skip
    assert (
        wrong.returncode == 1
        and "could not be decrypted" in wrong.stderr
        and "Traceback" not in wrong.stderr
    )
    # the superuser came over with the decrypted import too
    with closing(sqlite3.connect(tmp_path / "b" / "data.db")) as conn:
        assert conn.execute('SELECT email FROM "_superusers"').fetchall() == [(SUPERUSER_EMAIL,)]


async def test_an_app_built_on_a_pocketbase_dir_says_to_import(
    pocketbase_data: tuple[Path, dict[str, Any]],
) -> None:
    from roost import Roost
    from roost.core.pb_import import PocketBaseDataDir

    pb_data, _ = pocketbase_data
    with pytest.raises(PocketBaseDataDir, match="roost import pocketbase"):
        await Roost(data_dir=pb_data).start()
