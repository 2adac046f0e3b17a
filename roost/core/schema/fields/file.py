"""The ``file`` field type: definition, value shape and count validation.

The value is a filename (single) or a list of filenames (multiple). Uploads are handled by the
records pipeline: it passes new uploads to :meth:`FileField.validate_uploads` (size and MIME
type) and replaces them with stored filenames before :meth:`FileField.validate`, which then
only sees strings. Any string not among the record's previous filenames is an invalid "new
file", exactly as PocketBase rejects plain-string submissions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

from roost.core.errors import FieldError
from roost.core.schema.fields._multi import MultiValueField
from roost.core.schema.fields.base import (
    FieldCollection,
    ValidationContext,
    check_int_range,
    register,
    required_error,
    unique_strings,
)

DEFAULT_FILE_MAX_SIZE = 5 << 20
# WxH, WxHt, WxHb, WxHf, 0xH and Wx0 (PocketBase's thumb size format)
THUMB_SIZE_RE = re.compile(r"^([0-9]+)x([0-9]+)(t|b|f)?\Z")
_ZERO_THUMBS = ("0x0", "0x0t", "0x0b", "0x0f")


class Upload(Protocol):
    """What the pipeline hands over for one uploaded file."""

    name: str
    size: int
    content_type: str


@register
class FileField(MultiValueField):
    """Stored filenames; ``maxSize`` 0 means 5 MiB per file."""

    type: ClassVar[str] = "file"
    OPTIONS: ClassVar[dict[str, Any]] = {
        "maxSelect": 0,
        "maxSize": 0,
        "mimeTypes": [],
        "protected": False,
        "required": False,
        "thumbs": [],
    }
    maxSelect: int
    maxSize: int
    mimeTypes: list[str]
    protected: bool
    required: bool
    thumbs: list[str]

    def effective_max_size(self) -> int:
        """The per-file byte limit."""
        return self.maxSize if self.maxSize > 0 else DEFAULT_FILE_MAX_SIZE

    def max_body_size(self) -> int:
        """Upper bound of this field's share of a request body."""
        return self.effective_max_size() * self.effective_max_select()

    def validate(self, value: Any, ctx: ValidationContext) -> FieldError | None:
        names = self.values_of(value)
        if not names:
            return required_error() if self.required else None
        previous = unique_strings((ctx.original or {}).get(self.name))
        uploaded = ctx.extras.get("uploaded", ())  # names the pipeline just generated for uploads
        invalid = [n[:250] for n in names if n not in previous and n not in uploaded]
        if invalid:
            return FieldError(
                "validation_invalid_file",
                f"Invalid new files: [{' '.join(invalid)}].",
                {"invalidFiles": invalid},
            )
        limit = self.effective_max_select()
        if len(names) > limit:
            return FieldError(
                "validation_too_many_files",
                f"The maximum allowed files is {limit}.",
                {"maxSelect": limit},
            )
        return None

    def validate_uploads(self, kept: Sequence[str], uploads: Sequence[Upload]) -> FieldError | None:
        """Check new uploads (count with ``kept`` names, size, MIME type) before storing them.

        The seam for the upload pipeline; PocketBase's exact upload error wording is confirmed
        there, not here.
        """
        limit = self.effective_max_select()
        if len(kept) + len(uploads) > limit:
            return FieldError(
                "validation_too_many_files",
                f"The maximum allowed files is {limit}.",
                {"maxSelect": limit},
            )
        for upload in uploads:
            if upload.size > self.effective_max_size():
                # the size error names the client's file, the type error the stored one (PocketBase)
                original = getattr(upload, "original_name", "") or upload.name
                return FieldError(
                    "validation_file_size_limit",
                    f"Failed to upload {original} - the maximum allowed file size is "
                    f"{self.effective_max_size()} bytes.",
                    {"file": original, "maxSize": self.effective_max_size()},
                )
            if self.mimeTypes and upload.content_type not in self.mimeTypes:
                return FieldError(
                    "validation_invalid_mime_type",
                    f'"{upload.name}" mime type must be one of: {", ".join(self.mimeTypes)}.',
                )
        return None

    def validate_definition(self, collection: FieldCollection) -> dict[str, FieldError]:
        errors = super().validate_definition(collection)
        for key in ("maxSelect", "maxSize"):
            err = check_int_range(getattr(self, key), 0)
            if err is not None:
                errors[key] = err
        thumb_errors: dict[str, FieldError] = {}
        for i, thumb in enumerate(self.thumbs):
            if thumb in _ZERO_THUMBS:
                thumb_errors[str(i)] = FieldError("validation_not_in_invalid", "Must not be in list.")
            elif not THUMB_SIZE_RE.match(thumb):
                thumb_errors[str(i)] = FieldError("validation_match_invalid", "Must be in a valid format.")
        if thumb_errors:
            errors["thumbs"] = thumb_errors  # type: ignore[assignment]  # nested per-item errors
        return errors
