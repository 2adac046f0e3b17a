"""Three ``roost serve`` instances on one PostgreSQL schema, joined by Redis, with S3 storage and
a data dir each (no shared disk): every instance serves the files the others stored.

S3 is switched on through one instance's settings; the others follow through the broker.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.s3_services import MotoS3

from .conftest import skip_unavailable
from .pairs import REDIS_URL, _redis_reachable
from .servers import (
    PG_URL,
    SUPERUSER_EMAIL,
    SUPERUSER_PASSWORD,
    LiveServer,
    ServiceUnavailable,
    _pg_schema,
    _run_checked,
    _subprocess_env,
    _wait_healthy,
    free_port,
    roost_kind,
)

NAMES = ("a", "b", "c")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[LiveServer]]:
    if not _redis_reachable():
        skip_unavailable("Redis not reachable at 127.0.0.1:6379")
    try:
        schema, drop = _pg_schema()
    except ServiceUnavailable as exc:
        skip_unavailable(str(exc))
    env = _subprocess_env() | {"ROOST_DB_URL": PG_URL, "ROOST_DB_SCHEMA": schema, "ROOST_REDIS_URL": REDIS_URL}
    kind = roost_kind()
    servers: list[LiveServer] = []
    try:
        _run_checked(kind.upsert_superuser(tmp_path / "a", SUPERUSER_EMAIL, SUPERUSER_PASSWORD), tmp_path, env)
        for name in NAMES:
            port = free_port()
            with (tmp_path / f"{name}.log").open("ab") as log:
                process = subprocess.Popen(kind.serve(tmp_path / name, port), cwd=tmp_path, env=env, stdout=log,
                                           stderr=subprocess.STDOUT)  # fmt: skip
            live = LiveServer("roost-pg", f"http://127.0.0.1:{port}", tmp_path / name, process, tmp_path / f"{name}.log")
            servers.append(live)
            assert _wait_healthy(live), live.log_tail()
        yield servers
    finally:
        for live in servers:
            live.stop()
        drop()


def _until(check: object, what: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_three_instances_serve_each_others_files(cluster: list[LiveServer], s3_server: MotoS3) -> None:
    token = cluster[0].superuser_token()
    clients = [live.client(headers={"Authorization": token}) for live in cluster]
    try:
        _scenario(cluster, clients, s3_server)
    finally:
        for http in clients:
            http.close()


def _scenario(cluster: list[LiveServer], clients: list[httpx.Client], s3_server: MotoS3) -> None:
    a, b, c = clients
    bucket = s3_server.new_bucket()
    assert a.patch("/api/settings", json={"s3": s3_server.settings(bucket)}).status_code == 200
    res = a.post("/api/collections", json={
        "name": "shared", "listRule": "", "viewRule": "@request.auth.id != ''", "createRule": "", "deleteRule": "",
        "fields": [{"name": "doc", "type": "file", "maxSelect": 1, "maxSize": 50 << 20},
                   {"name": "secret", "type": "file", "maxSelect": 1, "protected": True}],
    })  # fmt: skip
    assert res.status_code == 200, res.text
    for http in (b, c):
        _until(lambda http=http: http.get("/api/settings").json()["s3"]["enabled"], "S3 settings on every instance")
        _until(lambda http=http: http.get("/api/collections/shared").status_code == 200, "the collection everywhere")

    big = os.urandom(12 << 20)
    stored: dict[str, bytes] = {}
    protected: set[str] = set()
    for index, http in enumerate(clients):
        body = big if index == 2 else f"from instance {NAMES[index]}".encode()
        res = http.post("/api/collections/shared/records",
                        files=[("doc", (f"{NAMES[index]}.bin", body)), ("secret", ("s.txt", b"top secret"))])  # fmt: skip
        assert res.status_code == 200, res.text
        rec = res.json()
        stored[f"/api/files/shared/{rec['id']}/{rec['doc']}"] = body
        stored[f"/api/files/shared/{rec['id']}/{rec['secret']}"] = b"top secret"
        protected.add(f"/api/files/shared/{rec['id']}/{rec['secret']}")

    file_token = a.post("/api/files/token").json()["token"]
    for url, body in stored.items():
        for http in clients:
            with httpx.Client(base_url=str(http.base_url), timeout=60) as guest:
                got = guest.get(url, params={"token": file_token})
                assert got.status_code == 200 and got.content == body, (http.base_url, url)
                if url in protected:  # a guest may not view the record: no token, no file
                    assert guest.get(url).status_code == 404
    big_url = next(url for url, body in stored.items() if body is big)
    part = a.get(big_url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == big[1000:2000]

    keys = s3_server.keys(bucket)
    assert len(keys) == 6
    big_key = next(key for key in keys if big_url.endswith(key.rsplit("/", 1)[-1]))
    assert "-" in s3_server.head(bucket, big_key)["ETag"]  # streamed up in parts
    for live in cluster:  # nothing on any instance's disk
        assert not [p for p in (live.data_dir / "storage").rglob("*") if p.is_file()]

    record = big_url.split("/")[4]
    assert b.delete(f"/api/collections/shared/records/{record}").status_code == 204
    _until(lambda: len(s3_server.keys(bucket)) == 4, "the deleted record's files to leave the bucket")
    assert c.get(big_url).status_code == 404
