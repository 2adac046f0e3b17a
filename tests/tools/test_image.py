"""Thumb geometry and safety of roost.tools.image, checked by opening each result with Pillow."""

from __future__ import annotations

import asyncio
import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from roost.tools.image import NotAnImage, ThumbError, Thumbnailer, make_thumb, parse_size
from roost.tools.storage import LocalStorage

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/png"}

# (size, dimensions of its thumb of a 40x30 image): PocketBase's answers for the same requests
FORMS = [
    ("20x10", (20, 10)), ("20x10t", (20, 10)), ("20x10b", (20, 10)), ("20x10f", (13, 10)),
    ("0x10", (13, 10)), ("20x0", (20, 15)), ("100x100", (100, 100)), ("200x100f", (40, 30)),
    ("500x0", (500, 375)), ("0x400", (533, 400)), ("10x40f", (10, 8)),
]  # fmt: skip


def image_bytes(
    fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB", **save: object
) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "red" if mode != "RGBA" else (255, 0, 0, 128)).save(out, fmt, **save)
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 4)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("size", "dimensions"), FORMS)
def test_each_form_on_each_format(fmt: str, size: str, dimensions: tuple[int, int]) -> None:
    thumb = make_thumb(image_bytes(fmt), size)
    image = opened(thumb.data)
    assert image.size == dimensions
    assert thumb.content_type == FORMATS[fmt]
    assert image.format == {"WEBP": "PNG"}.get(fmt, fmt)  # a WebP source gives a PNG thumb


def test_crop_forms_keep_the_centre_top_or_bottom() -> None:
    source = Image.new("RGB", (20, 60), "white")
    source.paste((255, 0, 0), (0, 0, 20, 20))  # red top third, blue bottom third
    source.paste((0, 0, 255), (0, 40, 20, 60))
    out = io.BytesIO()
    source.save(out, "PNG")
    colours = {
        size: opened(make_thumb(out.getvalue(), size).data).convert("RGB").getpixel((5, 5))
        for size in ("10x10", "10x10t", "10x10b")
    }
    assert colours == {"10x10": (255, 255, 255), "10x10t": (255, 0, 0), "10x10b": (0, 0, 255)}


def test_fit_never_enlarges_and_a_kept_ratio_rounds_half_up() -> None:
    assert opened(make_thumb(image_bytes("PNG", (5, 4)), "20x10f").data).size == (5, 4)
    assert opened(make_thumb(image_bytes("PNG", (5, 4)), "20x0").data).size == (20, 16)
    assert opened(make_thumb(image_bytes("PNG", (3, 1000)), "10x0").data).size == (10, 3333)
    assert opened(make_thumb(image_bytes("PNG", (1000, 3)), "10x0").data).size == (
        10,
        1,
    )  # never below 1


def test_only_a_jpeg_exif_orientation_turns_the_image() -> None:
    source = Image.new("RGB", (40, 20), "blue")
    exif = source.getexif()
    exif[0x0112] = 6  # rotate 90 degrees
    sizes = {}
    for fmt in ("JPEG", "PNG", "WEBP"):
        out = io.BytesIO()
        source.save(out, fmt, exif=exif.tobytes())
        sizes[fmt] = opened(make_thumb(out.getvalue(), "20x0").data).size
    assert sizes == {"JPEG": (20, 40), "PNG": (20, 10), "WEBP": (20, 10)}


def test_an_animated_gif_keeps_its_first_frame() -> None:
    frames = [Image.new("RGB", (40, 30), colour) for colour in ("red", "lime", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = opened(make_thumb(out.getvalue(), "20x10").data)
    assert image.format == "GIF" and getattr(image, "n_frames", 1) == 1
    assert image.convert("RGB").getpixel((10, 5)) == (255, 0, 0)


def test_transparency_survives_and_an_opaque_png_stays_rgb() -> None:
    assert opened(make_thumb(image_bytes("PNG", mode="RGBA"), "20x10").data).mode == "RGBA"
    assert opened(make_thumb(image_bytes("PNG", mode="L"), "20x10").data).mode == "RGB"
    assert opened(make_thumb(image_bytes("JPEG", mode="L"), "20x10").data).mode == "RGB"


@pytest.mark.parametrize("data", [
    png_declaring(50_000, 50_000),  # a decompression bomb: 2.5 gigapixels declared in a few bytes
    png_declaring(8_000, 8_000),  # within Pillow's own limit, above ours
    image_bytes("PNG")[:60],  # cut short
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    b"GIF89a" + b"\xff" * 20,
    b"\xff\xd8\xff\xe0" + b"\x00" * 30,
], ids=["bomb", "too-many-pixels", "truncated", "png-magic-only", "gif-garbage", "jpeg-garbage"])  # fmt: skip
def test_damaged_or_oversized_images_raise_thumb_error(data: bytes) -> None:
    with pytest.raises(ThumbError):
        make_thumb(data, "20x10", max_pixels=40_000_000)


def test_a_huge_thumb_is_refused_and_other_files_are_not_images() -> None:
    with pytest.raises(ThumbError, match="too large"):
        make_thumb(image_bytes("PNG", (1, 1)), "100000x0")
    with pytest.raises(NotAnImage):
        make_thumb(b"hello", "20x10")
    with pytest.raises(NotAnImage):  # BMP and other formats Pillow reads are not thumbnailed
        make_thumb(image_bytes("BMP"), "20x10")


def test_a_big_jpeg_is_decoded_at_a_reduced_scale() -> None:
    data = image_bytes("JPEG", (6000, 4000))
    # 24 megapixels would not fit a 2-megapixel budget; decoding at 1/8 scale does
    assert opened(make_thumb(data, "100x100", max_pixels=2_000_000).data).size == (100, 100)
    assert opened(make_thumb(data, "0x101", max_pixels=2_000_000).data).size == (152, 101)


@pytest.mark.parametrize(
    "size", ["", "10", "0x0", "0x0f", "10x10x", "10x10\n", "\u0661x\u0661", "-1x5", "10X10"]
)
def test_parse_size_accepts_only_the_thumb_forms(size: str) -> None:
    with pytest.raises(ThumbError):
        parse_size(size)


async def test_concurrent_requests_for_one_thumb_generate_it_once(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("c/r/a.png", image_bytes("PNG", (400, 300)))
    maker = Thumbnailer(workers=2)
    key = "c/r/thumbs_a.png/20x10_a.png"
    results = await asyncio.gather(
        *(maker.ensure(storage, "c/r/a.png", key, "20x10") for _ in range(20))
    )
    assert maker.generated == 1
    assert {r.data for r in results} == {await storage.get(key)}
    assert opened(results[0].data).size == (20, 10)
    await maker.ensure(storage, "c/r/a.png", key, "20x10")  # stored: not made again
    assert maker.generated == 1
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "20x10_a.png",
        "a.png",
    ]  # no temp left


async def test_a_thumb_that_cannot_be_made_is_not_stored(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("c/r/bomb.png", png_declaring(50_000, 50_000))
    maker = Thumbnailer()
    with pytest.raises(ThumbError):
        await maker.ensure(storage, "c/r/bomb.png", "c/r/thumbs_bomb.png/20x10_bomb.png", "20x10")
    with pytest.raises(ThumbError, match="missing"):
        await maker.ensure(storage, "c/r/gone.png", "c/r/thumbs_gone.png/20x10_gone.png", "20x10")
    assert maker.generated == 0 and not (tmp_path / "c/r/thumbs_bomb.png").exists()
