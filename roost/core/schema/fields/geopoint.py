"""The ``geoPoint`` field type: ``{"lon": x, "lat": y}`` coordinates."""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from roost.core.errors import FieldError
from roost.core.schema.fields.base import (
    Field,
    ValidationContext,
    go_number,
    register,
    required_error,
)

_ZERO_SQL = '\'{"lon":0,"lat":0}\''


def to_point(raw: Any) -> dict[str, int | float]:
    """Decode a client or stored value into ``{"lon", "lat"}``.

    Mirrors PocketBase 0.40.6 (verified): keys are matched case-sensitively in the order given,
    decoding stops at the first non-numeric value (keeping what was read before), ``null`` is
    skipped, unknown keys are ignored, and anything that is not an object gives the zero point.
    """
    if isinstance(raw, bytes | bytearray):
        raw = bytes(raw).decode("utf-8", "replace")
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            raw = None
    point: dict[str, float] = {"lon": 0.0, "lat": 0.0}
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key not in point or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                break
            point[key] = float(value)
    return {"lon": go_number(point["lon"]), "lat": go_number(point["lat"])}


@register
class GeoPointField(Field):
    """A longitude/latitude pair; ``required`` rejects the zero point ("Null Island")."""

    type: ClassVar[str] = "geoPoint"
    COLUMN: ClassVar[dict[str, str]] = {
        "sqlite": f"JSON DEFAULT {_ZERO_SQL} NOT NULL",
        "postgresql": f"JSONB DEFAULT {_ZERO_SQL} NOT NULL",
        "mysql": f"LONGTEXT NOT NULL DEFAULT ({_ZERO_SQL})",
    }
    json_column: ClassVar[bool] = True
    OPTIONS: ClassVar[dict[str, Any]] = {"required": False}
    required: bool

    def zero(self) -> dict[str, int | float]:
        return {"lon": 0, "lat": 0}

    def coerce(self, raw: Any) -> dict[str, int | float]:
        return to_point(raw)

    def to_db(self, value: Any) -> str:
        return orjson.dumps(to_point(value)).decode()

    def from_db(self, raw: Any) -> dict[str, int | float]:
        return to_point(raw)

    def validate(self, value: Any, ctx: ValidationContext) -> FieldError | None:
        point = to_point(value)
        lon, lat = point["lon"], point["lat"]
        if lon == 0 and lat == 0:
            return required_error() if self.required else None
        if not -90 <= lat <= 90:
            return FieldError("validation_invalid_latitude", "Latitude must be between -90 and 90 degrees.")
        if not -180 <= lon <= 180:
            return FieldError(
                "validation_invalid_longitude", "Longitude must be between -180 and 180 degrees."
            )
        return None
