"""``?thumb=`` on file downloads: listed sizes, the original for the rest, protected files, cleanup."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import Api
from tests.tools.test_image import image_bytes, png_declaring

THUMBS = ["20x10", "20x10t", "20x10b", "20x10f", "0x10", "20x0"]
EXPECTED = {"20x10": (20, 10), "20x10t": (20, 10), "20x10b": (20, 10), "20x10f": (13, 10), "0x10": (13, 10),
            "20x0": (20, 15), "100x100": (100, 100)}  # fmt: skip
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])


async def make_pics(api: Api, **extra: Any) -> None:
    res = await api.su("POST", "/api/collections", json={
        "name": "pics", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [{"name": "img", "type": "file", "maxSelect": 3, "thumbs": THUMBS, **extra}],
    })  # fmt: skip
    assert res.status_code == 200, res.text


async def upload(api: Api, *files: tuple[str, bytes]) -> dict[str, Any]:
    res = await api.call("POST", "/api/collections/pics/records", files=[("img", f) for f in files])
    assert res.status_code == 200, res.text
    return dict(res.json())


def dimensions(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


@sqlite_only
@pytest.mark.parametrize(("fmt", "ext", "thumb_type"), [
    ("PNG", "png", "image/png"), ("JPEG", "jpg", "image/jpeg"), ("GIF", "gif", "image/gif"), ("WEBP", "webp", "image/png"),
])  # fmt: skip
async def test_each_listed_form_serves_its_thumb(
    api: Api, tmp_path: Path, fmt: str, ext: str, thumb_type: str
) -> None:
    await make_pics(api)
    rec = await upload(api, (f"photo.{ext}", image_bytes(fmt)))
    name = rec["img"][0]
    url = f"/api/files/pics/{rec['id']}/{name}"
    for size, dims in EXPECTED.items():
        got = await api.call("GET", url, params={"thumb": size})
        assert got.status_code == 200, (size, got.text)
        assert got.headers["content-type"] == thumb_type, size
        assert got.headers["content-disposition"] == f'inline; filename="{size}_{name}"'
        assert dimensions(got.content) == dims, size
        stored = tmp_path.rglob(f"thumbs_{name}/{size}_{name}")
        assert [p.read_bytes() for p in stored] == [got.content]


@sqlite_only
async def test_an_unlisted_size_or_a_non_image_serves_the_original(
    api: Api, tmp_path: Path
) -> None:
    await make_pics(api)
    original = image_bytes("PNG")
    rec = await upload(api, ("a.png", original), ("notes.txt", b"hello"))
    url = f"/api/files/pics/{rec['id']}/{rec['img'][0]}"
    for size in ("30x30", "20x10x", "0x0", " 20x10", "20x10 "):
        got = await api.call("GET", url, params={"thumb": size})
        assert got.status_code == 200 and got.content == original, size
        assert got.headers["content-disposition"] == f'inline; filename="{rec["img"][0]}"'
    text = await api.call(
        "GET", f"/api/files/pics/{rec['id']}/{rec['img'][1]}", params={"thumb": "20x10"}
    )
    assert text.status_code == 200 and text.content == b"hello"
    assert not list(tmp_path.rglob("thumbs_*"))


@sqlite_only
@pytest.mark.parametrize(
    "data", [png_declaring(50_000, 50_000), image_bytes("PNG")[:60]], ids=["bomb", "corrupt"]
)
async def test_a_thumb_that_cannot_be_made_serves_the_original(api: Api, data: bytes) -> None:
    await make_pics(api)
    rec = await upload(api, ("bad.png", data))
    got = await api.call(
        "GET", f"/api/files/pics/{rec['id']}/{rec['img'][0]}", params={"thumb": "20x10"}
    )
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "image/png"


@sqlite_only
async def test_concurrent_requests_make_one_thumb(api: Api) -> None:
    await make_pics(api)
    rec = await upload(api, ("big.png", image_bytes("PNG", (1200, 900))))
    url = f"/api/files/pics/{rec['id']}/{rec['img'][0]}"
    answers = await asyncio.gather(
        *(api.call("GET", url, params={"thumb": "20x10"}) for _ in range(12))
    )
    assert {(a.status_code, dimensions(a.content)) for a in answers} == {(200, (20, 10))}
    assert api.app.thumbnailer.generated == 1


async def test_protected_thumbs_still_need_the_file_token(api: Api) -> None:
    await make_pics(api, protected=True)
    assert (
        await api.su("PATCH", "/api/collections/pics", json={"viewRule": "@request.auth.id != ''"})
    ).status_code == 200
    rec = await upload(api, ("a.png", image_bytes("PNG")))
    url = f"/api/files/pics/{rec['id']}/{rec['img'][0]}"
    for size in ("20x10", "100x100"):
        assert (await api.call("GET", url, params={"thumb": size})).status_code == 404
    file_token = (await api.su("POST", "/api/files/token")).json()["token"]
    for size in ("20x10", "100x100"):
        got = await api.call("GET", url, params={"thumb": size, "token": file_token})
        assert got.status_code == 200 and dimensions(got.content) == EXPECTED[size]
        assert got.headers["cache-control"] == "private, no-store"


@sqlite_only
async def test_thumbs_go_with_their_file_and_record(api: Api, tmp_path: Path) -> None:
    await make_pics(api)
    rec = await upload(api, ("a.png", image_bytes("PNG")), ("b.png", image_bytes("PNG")))
    first, second = rec["img"]
    for name in (first, second):
        for size in ("20x10", "0x10"):
            assert (
                await api.call("GET", f"/api/files/pics/{rec['id']}/{name}", params={"thumb": size})
            ).status_code == 200
    assert len(list(tmp_path.rglob(f"thumbs_{first}/*"))) == 2
    res = await api.call(
        "PATCH", f"/api/collections/pics/records/{rec['id']}", json={"img-": [first]}
    )
    assert res.status_code == 200, res.text
    assert (
        not list(tmp_path.rglob(f"thumbs_{first}*"))
        and len(list(tmp_path.rglob(f"thumbs_{second}/*"))) == 2
    )
    assert (
        await api.call("DELETE", f"/api/collections/pics/records/{rec['id']}")
    ).status_code == 204
    assert not list(tmp_path.rglob("thumbs_*"))


@sqlite_only
async def test_the_download_hook_sees_the_thumb_name(api: Api) -> None:
    await make_pics(api)
    seen: list[str] = []

    async def record_name(e: Any) -> None:
        seen.append(e.served_name)
        await e.next()

    api.app.hooks.on_file_download_request.bind(record_name)
    rec = await upload(api, ("a.png", image_bytes("PNG")))
    name = rec["img"][0]
    for size in ("20x10", "31x31"):
        assert (
            await api.call("GET", f"/api/files/pics/{rec['id']}/{name}", params={"thumb": size})
        ).status_code == 200
    assert seen == [f"20x10_{name}", name]


@sqlite_only
async def test_thumbs_option_is_validated(api: Api) -> None:
    res = await api.su("POST", "/api/collections", json={
        "name": "pics", "fields": [{"name": "img", "type": "file", "thumbs": ["10x10", "0x0t", "10x10\n", "10X10", "\u0661x\u0661", "0x5f"]}],
    })  # fmt: skip
    assert res.status_code == 400
    assert res.json()["data"]["fields"]["1"]["thumbs"] == {  # field 0 is the id
        "1": {"code": "validation_not_in_invalid", "message": "Must not be in list."},
        "2": {"code": "validation_match_invalid", "message": "Must be in a valid format."},
        "3": {"code": "validation_match_invalid", "message": "Must be in a valid format."},
        "4": {"code": "validation_match_invalid", "message": "Must be in a valid format."},
    }


@sqlite_only
async def test_storage_that_cannot_keep_the_thumb_serves_the_original(
    api: Api, tmp_path: Path
) -> None:
    await make_pics(api)
    original = image_bytes("PNG")
    rec = await upload(api, ("a.png", original))
    name = rec["img"][0]
    # a plain file where the thumbs directory should be: the thumb cannot be stored
    next(tmp_path.rglob(name)).with_name(f"thumbs_{name}").write_bytes(b"in the way")
    got = await api.call("GET", f"/api/files/pics/{rec['id']}/{name}", params={"thumb": "20x10"})
    assert got.status_code == 200 and got.content == original
