"""Backups in a cluster: three ``roost serve`` instances on one PostgreSQL schema joined by Redis,
backups on S3 (no shared disk). A backup made through one instance is listed by the others, and
a restore through another brings every instance back to it: collections, records and settings.
"""

from __future__ import annotations

import httpx

from tests.s3_services import MotoS3

from .servers import SUPERUSER_EMAIL, SUPERUSER_PASSWORD, LiveServer
from .test_s3_cluster import _until, cluster  # noqa: F401  (the three-instance fixture)


def test_a_restore_through_one_instance_reaches_every_instance(cluster: list[LiveServer], s3_server: MotoS3) -> None:  # noqa: F811
    token = cluster[0].superuser_token()
    clients = [live.client(headers={"Authorization": token}) for live in cluster]
    try:
        _scenario(clients, s3_server)
    finally:
        for http in clients:
            http.close()


def _titles(http: httpx.Client) -> list[str]:
    res = http.get("/api/collections/notes/records", params={"sort": "title"})
    return [item["title"] for item in res.json().get("items", [])] if res.status_code == 200 else []


def _scenario(clients: list[httpx.Client], s3_server: MotoS3) -> None:
    a, b, c = clients
    bucket = s3_server.new_bucket()
    assert a.patch("/api/settings", json={"backups": {"s3": s3_server.settings(bucket)}}).status_code == 200
    res = a.post("/api/collections", json={"name": "notes", "listRule": "", "createRule": "", "fields": [{"name": "title", "type": "text"}]})
    assert res.status_code == 200, res.text
    for title in ("one", "two"):
        assert a.post("/api/collections/notes/records", json={"title": title}).status_code == 200
    for http in (b, c):
        _until(lambda http=http: http.get("/api/settings").json()["backups"]["s3"]["enabled"], "backups.s3 everywhere")
    assert a.post("/api/backups", json={"name": "cluster.zip"}).status_code == 204
    assert s3_server.keys(bucket) == ["cluster.zip"]
    assert [item["key"] for item in c.get("/api/backups").json()] == ["cluster.zip"]

    assert b.post("/api/collections/notes/records", json={"title": "three"}).status_code == 200
    assert b.post("/api/collections", json={"name": "later", "fields": [{"name": "x", "type": "text"}]}).status_code == 200
    _until(lambda: c.get("/api/collections/later").status_code == 200, "the new collection on c")

    res = b.post("/api/backups/cluster.zip/restore")
    assert res.status_code == 204, res.text
    token = httpx.post(f"{c.base_url}/api/collections/_superusers/auth-with-password",
                       json={"identity": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD}).json()["token"]  # fmt: skip
    for http in (a, b, c):
        http.headers["Authorization"] = token
    for http in (a, b, c):
        _until(lambda http=http: http.get("/api/collections/later").status_code == 404, f"the restore on {http.base_url}")
        assert _titles(http) == ["one", "two"]
