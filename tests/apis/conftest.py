"""The file storage fixture: the same file tests run on local storage and on S3 (moto)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Api
from tests.s3_services import MotoS3


@dataclass
class Files:
    """An app whose uploads go to ``kind`` storage, and a look at what that storage holds."""

    api: Api
    kind: str
    data_dir: Path
    s3: MotoS3 | None = None
    bucket: str = ""

    def local_names(self) -> set[str]:
        return {p.name for p in (self.data_dir / "storage").rglob("*") if p.is_file()}

    def stored(self) -> set[str]:
        """Names of the files the active backend holds."""
        if self.s3 is None:
            return self.local_names()
        return {key.rsplit("/", 1)[-1] for key in self.s3.keys(self.bucket)}


@pytest.fixture(params=["local", "s3"])
async def files(request: pytest.FixtureRequest, api: Api, tmp_path: Path) -> Files:
    if request.param == "local":
        return Files(api, "local", tmp_path)
    server: MotoS3 = request.getfixturevalue("s3_server")
    bucket = server.new_bucket()
    res = await api.su("PATCH", "/api/settings", json={"s3": server.settings(bucket)})
    assert res.status_code == 200, res.text
    return Files(api, "s3", tmp_path, server, bucket)
