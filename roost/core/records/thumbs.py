"""Thumbnails of a record's image files, stored next to the original.

A thumb of ``<prefix>/<file>`` at size ``WxH`` lives at ``<prefix>/thumbs_<file>/WxH_<file>``
(PocketBase's layout, so imported and exported storage trees line up). Only the sizes listed in
the field's ``thumbs`` option, plus :data:`DEFAULT_THUMB_SIZES` that the dashboard asks for, are
ever made; any other ``?thumb=`` value serves the original. Thumbs are made on first request and
removed with their file (``files.delete_removed``) or with the record's whole storage prefix.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, NamedTuple

from roost.core.records.files import detect_mime, record_prefix, thumbs_prefix
from roost.core.schema.collection import Collection
from roost.tools.image import THUMB_SIZE_RE, NotAnImage, ThumbError
from roost.tools.storage import StorageError

if TYPE_CHECKING:
    from roost.core.base import App

#: sizes every image file answers, whatever its field lists (the dashboard's previews)
DEFAULT_THUMB_SIZES = ("100x100",)

log = logging.getLogger("roost.thumbs")


class ServedThumb(NamedTuple):
    data: bytes
    name: str
    content_type: str
    #: where it is stored (served from there like any file)
    key: str


def thumb_allowed(field: Any, size: str) -> bool:
    listed = size in DEFAULT_THUMB_SIZES or size in (getattr(field, "thumbs", None) or ())
    # the pattern too: a malformed size kept in old field options never becomes a storage key
    return listed and THUMB_SIZE_RE.match(size) is not None


def thumb_name(filename: str, size: str) -> str:
    return f"{size}_{filename}"


async def find_thumb(
    app: App, coll: Collection, record_id: str, filename: str, size: str
) -> ServedThumb | None:
    """The ``size`` thumb of a record's file, made now if it was never made; ``None`` when it
    cannot be (not an image, damaged, too large): the caller then serves the original."""
    name = thumb_name(filename, size)
    key = f"{thumbs_prefix(coll, record_id, filename)}/{name}"
    data = await app.storage.get(key)
    if data is None:
        original = f"{record_prefix(coll, record_id)}/{filename}"
        try:
            data = (await app.thumbnailer.ensure(app.storage, original, key, size)).data
        except NotAnImage:
            return None
        except (ThumbError, StorageError, OSError) as exc:  # storage failing to keep it, too
            log.warning("serving the original: no %s thumb of %s: %s", size, original, exc)
            return None
    return ServedThumb(data, name, detect_mime(data), key)
