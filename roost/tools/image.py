"""Image thumbnails: the sizes PocketBase users write (``WxH``, ``WxHt``, ``WxHb``, ``WxHf``,
``0xH``, ``Wx0``) made with Pillow, and a per-app maker that generates each thumb once.

The geometry follows PocketBase so that clients laying out thumbnails get the same dimensions:
a dimension kept from the aspect ratio is rounded half up (never below 1), ``f`` never enlarges,
the crop forms always answer exactly ``WxH``, and only a JPEG's EXIF orientation is applied.
JPEG, GIF and PNG thumbs keep their format; any other source (WebP) becomes a PNG.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, NamedTuple

from roost.tools.storage.base import Storage

if TYPE_CHECKING:  # Pillow is loaded when the first thumb is made
    from PIL import Image

#: ``WxH`` with an optional ``t``/``b``/``f`` mode; ASCII digits only and no trailing newline,
#: exactly what PocketBase's Go pattern accepts
THUMB_SIZE_RE = re.compile(r"([0-9]+)x([0-9]+)([tbf]?)\Z")

#: source formats a thumb is made from (Pillow's format names)
SOURCE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")

#: the largest image decoded (pixels, after JPEG's reduced-size decoding) and the largest thumb
#: made; at four bytes a pixel this caps one generation near 160 MB
DEFAULT_MAX_PIXELS = 40_000_000

_OUTPUT = {"JPEG": ("JPEG", "image/jpeg"), "GIF": ("GIF", "image/gif")}
_PNG = ("PNG", "image/png")
_ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


class ThumbError(Exception):
    """The thumb cannot be made (bad size, not an image, corrupt, too large); serve the original."""


class NotAnImage(ThumbError):
    """The file is not a JPEG, PNG, GIF or WebP image (nothing to report: the original is served)."""


class Thumb(NamedTuple):
    data: bytes
    content_type: str


class _Plan(NamedTuple):
    size: tuple[int, int]
    #: the region of the (oriented) source scaled into ``size``
    box: tuple[float, float, float, float]


def parse_size(size: str) -> tuple[int, int, str]:
    """``"300x100t"`` -> ``(300, 100, "t")``; raises :class:`ThumbError` for anything else."""
    match = THUMB_SIZE_RE.match(size)
    if match is None:
        raise ThumbError(f"thumb size {size!r} is not WxH, WxHt, WxHb or WxHf")
    width, height = int(match.group(1)), int(match.group(2))
    if width == 0 and height == 0:
        raise ThumbError("thumb width and height cannot both be zero")
    return width, height, match.group(3)


def _kept_ratio(target: int, along: int, other: int) -> int:
    # the same float arithmetic and half-up rounding as PocketBase's resizer
    return max(1, math.floor(float(target) * float(other) / float(along) + 0.5))


def plan_thumb(source: tuple[int, int], size: str) -> _Plan:
    """Output dimensions and the source region for ``size`` on an image of ``source`` pixels."""
    width, height, mode = parse_size(size)
    src_w, src_h = source
    whole = (0.0, 0.0, float(src_w), float(src_h))
    if width == 0:
        return _Plan((_kept_ratio(height, src_h, src_w), height), whole)
    if height == 0:
        return _Plan((width, _kept_ratio(width, src_w, src_h)), whole)
    if mode == "f":
        if src_w <= width and src_h <= height:
            return _Plan(source, whole)
        if src_w / src_h > width / height:
            return _Plan((width, _kept_ratio(width, src_w, src_h)), whole)
        return _Plan((_kept_ratio(height, src_h, src_w), height), whole)
    return _Plan((width, height), _crop_box(source, (width, height), mode))


def _crop_box(
    source: tuple[int, int], target: tuple[int, int], mode: str
) -> tuple[float, float, float, float]:
    src_w, src_h = source
    if src_w / src_h < target[0] / target[1]:  # taller than the target: crop rows
        crop_h = src_w * target[1] / target[0]
        top = {"t": 0.0, "b": src_h - crop_h}.get(mode, (src_h - crop_h) / 2)
        return (0.0, top, float(src_w), top + crop_h)
    crop_w = src_h * target[0] / target[1]
    left = (src_w - crop_w) / 2
    return (left, 0.0, left + crop_w, float(src_h))


def make_thumb(data: bytes, size: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Thumb:
    """Make the ``size`` thumb of the image ``data`` (blocking; run it in a worker thread).

    Only the first frame of an animated image is used. Raises :class:`ThumbError` when the data
    is not a JPEG, PNG, GIF or WebP image, is damaged, or would decode or produce more than
    ``max_pixels`` pixels (decompression bombs are refused from their header, before decoding).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=SOURCE_FORMATS) as source:
            return _thumbnail(source, size, max_pixels)
    except ThumbError:
        raise
    except UnidentifiedImageError as exc:
        raise NotAnImage(str(exc)) from exc
    except Exception as exc:
        # a damaged upload can fail deep inside a decoder with almost any error; every one of
        # them means "no thumb", never a failed request
        raise ThumbError(f"cannot make the thumb: {exc!r}") from exc


def _thumbnail(source: Image.Image, size: str, max_pixels: int) -> Thumb:
    from PIL import Image, ImageOps

    fmt = source.format or ""
    orientation = source.getexif().get(0x0112, 1) if fmt == "JPEG" else 1
    oriented = source.size[::-1] if orientation in _ROTATED else source.size
    if oriented[0] * oriented[1] == 0:
        raise ThumbError("the image is empty")
    plan = plan_thumb(oriented, size)
    if plan.size[0] * plan.size[1] > max_pixels:
        raise ThumbError(f"a {plan.size[0]}x{plan.size[1]} thumb is too large")
    if fmt == "JPEG":
        # decode at a reduced scale that still covers the thumb: big photos need far less memory
        scale = max(
            plan.size[0] / max(plan.box[2] - plan.box[0], 1),
            plan.size[1] / max(plan.box[3] - plan.box[1], 1),
        )
        wanted = (math.ceil(oriented[0] * scale), math.ceil(oriented[1] * scale))
        source.draft("RGB", wanted[::-1] if orientation in _ROTATED else wanted)
    if source.size[0] * source.size[1] > max_pixels:
        raise ThumbError(f"a {source.size[0]}x{source.size[1]} image is too large to decode")
    source.load()
    image = ImageOps.exif_transpose(source) if orientation != 1 else source
    image = _normalised(image)
    sx, sy = image.size[0] / oriented[0], image.size[1] / oriented[1]
    box = (plan.box[0] * sx, plan.box[1] * sy, plan.box[2] * sx, plan.box[3] * sy)
    if plan.size != image.size or box != (0.0, 0.0, float(image.size[0]), float(image.size[1])):
        image = image.resize(plan.size, Image.Resampling.BILINEAR, box=box)
    return _encoded(image, fmt)


def _normalised(image: Image.Image) -> Image.Image:
    """RGB, or RGBA when the image has any transparency (as an opaque PNG thumb stays RGB)."""
    transparent = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if not transparent:
        return image if image.mode == "RGB" else image.convert("RGB")
    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    alpha = rgba.getchannel("A").getextrema()
    return rgba.convert("RGB") if alpha == (255, 255) else rgba


def _encoded(image: Image.Image, source_format: str) -> Thumb:
    fmt, content_type = _OUTPUT.get(source_format, _PNG)
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=95)
    else:
        image.save(out, fmt)
    return Thumb(out.getvalue(), content_type)


class Thumbnailer:
    """Makes thumbs for one app: off the event loop, at most ``workers`` at a time, and once per
    thumb key however many requests ask for it together (they share one generation).

    Args:
        workers: concurrent generations (default: the CPU count; each may hold a decoded image
            of up to ``max_pixels``, so this also bounds the memory thumbs take).
        max_pixels: see :func:`make_thumb`.
        max_wait: seconds a generation may wait for a worker before the original is served.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_wait: float = 60.0,
    ) -> None:
        self.max_pixels = max_pixels
        self.max_wait = max_wait
        self._workers = asyncio.Semaphore(workers or os.cpu_count() or 2)
        self._pending: dict[str, asyncio.Future[Thumb]] = {}
        #: thumbs made by this process (the cost a cache hit saves; read by tests and metrics)
        self.generated = 0

    async def ensure(self, storage: Storage, original_key: str, thumb_key: str, size: str) -> Thumb:
        """The stored thumb at ``thumb_key``, made from ``original_key`` first if it is missing.

        Raises :class:`ThumbError` when it cannot be made. The thumb is stored with one atomic
        ``put``, so a reader in another process sees either nothing or the whole thumb.
        """
        pending = self._pending.get(thumb_key)
        if pending is None:
            pending = asyncio.ensure_future(self._generate(storage, original_key, thumb_key, size))
            self._pending[thumb_key] = pending
            pending.add_done_callback(lambda done: self._settled(thumb_key, done))
        # shielded: a caller that goes away does not cancel the generation the others wait for
        return await asyncio.shield(pending)

    def _settled(self, thumb_key: str, done: asyncio.Future[Thumb]) -> None:
        self._pending.pop(thumb_key, None)
        if not done.cancelled():
            done.exception()  # retrieved: every caller may have gone away before it failed

    async def _generate(
        self, storage: Storage, original_key: str, thumb_key: str, size: str
    ) -> Thumb:
        stored = await storage.get(thumb_key)  # made by a request that finished in the meantime
        if stored is not None:
            return Thumb(stored, "")
        original = await storage.get(original_key)
        if original is None:
            raise ThumbError("the original file is missing")
        thumb = await self._run(
            lambda: asyncio.to_thread(make_thumb, original, size, max_pixels=self.max_pixels)
        )
        await storage.put(thumb_key, thumb.data)
        self.generated += 1
        return thumb

    async def _run(self, work: Callable[[], Awaitable[Thumb]]) -> Thumb:
        try:
            async with asyncio.timeout(self.max_wait):
                await self._workers.acquire()
        except TimeoutError as exc:
            raise ThumbError("no thumb worker became free in time") from exc
        try:
            return await work()
        finally:
            self._workers.release()
