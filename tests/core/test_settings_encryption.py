"""Settings sealed with the encryption key: the whole document, and older per-secret seals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from roost.config import Config
from roost.core.app import App
from roost.core.secret_box import SecretBox, WrongEncryptionKey
from roost.core.settings import Settings

KEY = "correct horse battery staple"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    app = App(Config(data_dir=tmp_path, encryption_key=KEY))
    await app.bootstrap()
    yield app
    await app.close()


async def _stored(app: App) -> str:
    return str(await app.db.fetch_value('SELECT "value" FROM "_params" WHERE "id" = :i', {"i": "settings"}))


async def test_the_whole_document_is_sealed_and_opens_with_the_key(app: App) -> None:
    await app.settings.update({"smtp": {"password": "hunter2-smtp"}, "meta": {"appName": "Sealed"}})
    stored = await _stored(app)
    assert stored.startswith("enc:v1:") and "Sealed" not in stored and "hunter2" not in stored
    again = Settings(app.db, KEY)
    await again.load()
    assert again.data["smtp"]["password"] == "hunter2-smtp" and again.data["meta"]["appName"] == "Sealed"
    for key, word in (("", "encrypted"), ("another key", "cannot be decrypted")):
        with pytest.raises(WrongEncryptionKey, match=word):
            await Settings(app.db, key).load()


async def test_settings_sealed_secret_by_secret_still_load(app: App) -> None:
    document = {"smtp": {"password": SecretBox(KEY).seal("older-secret")}, "meta": {"appName": "Older"}}
    await app.settings.update({})  # the row exists
    async with app.db.transaction() as conn:
        await conn.execute('UPDATE "_params" SET "value" = :v WHERE "id" = :i', {"v": orjson.dumps(document).decode(), "i": "settings"})
    older = Settings(app.db, KEY)
    await older.load()
    assert older.data["smtp"]["password"] == "older-secret" and older.data["meta"]["appName"] == "Older"
    with pytest.raises(WrongEncryptionKey, match="encrypted"):
        await Settings(app.db, "").load()
    await older.update({"meta": {"appName": "Newer"}})
    assert (await _stored(app)).startswith("enc:v1:")  # the next save seals the whole document
