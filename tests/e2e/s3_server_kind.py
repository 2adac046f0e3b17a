"""A module-scoped ``server`` fixture body that adds a ``roost+s3`` kind: Roost on SQLite whose
files go to a moto bucket, so the SDK file tests run on local storage and on S3 alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.s3_services import MotoS3

from .conftest import launch
from .servers import KINDS, LiveServer

#: every kind of ``conftest.server`` plus Roost with S3 storage
KINDS_WITH_S3 = (*KINDS, "roost+s3")


def server_with_s3(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    kind = str(request.param)
    live = launch("roost" if kind == "roost+s3" else kind)
    try:
        if kind != "roost+s3":
            yield live
            return
        s3: MotoS3 = request.getfixturevalue("s3_server")
        bucket = s3.new_bucket()
        with live.client(headers={"Authorization": live.superuser_token()}) as http:
            res = http.patch("/api/settings", json={"s3": s3.settings(bucket)})
            assert res.status_code == 200, res.text
        yield live
        # whatever files the module left went to the bucket, none to the data dir
        assert not [p for p in (live.data_dir / "storage").rglob("*") if p.is_file()]
    finally:
        live.stop()


