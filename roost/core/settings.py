"""Runtime settings stored in the database (``_params`` row ``settings``), PocketBase's keys."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from roost.core.auth.password_policy import default_password_hash, validate_password_hash
from roost.core.auth.superuser_ips import ip_list_problems
from roost.core.auth.throttle import default_login_throttle, validate_login_throttle
from roost.core.db import Database
from roost.core.errors import BadRequest
from roost.core.fields.date import now_string
from roost.core.secret_box import SecretBox
from roost.tools.ratelimit import validate_rate_limits

#: secret keys that are stored but never output
SECRET_PATHS = (("smtp", "password"), ("s3", "secret"), ("backups", "s3", "secret"))


def default_settings() -> dict[str, Any]:
    s3 = {"enabled": False, "bucket": "", "region": "", "endpoint": "", "accessKey": "", "secret": "", "forcePathStyle": False}
    return {
        "superuserIPs": [],
        "smtp": {"enabled": False, "port": 587, "host": "smtp.example.com", "username": "", "password": "",
                 "authMethod": "", "tls": False, "localName": ""},
        "backups": {"cron": "", "cronMaxKeep": 3, "s3": dict(s3)},
        "s3": dict(s3),
        "meta": {"accentColor": "#1055c9", "appName": "Acme", "appURL": "http://localhost:8090",
                 "senderName": "Support", "senderAddress": "support@example.com", "hideControls": False},
        "rateLimits": {
            "rules": [
                {"label": "*:auth", "audience": "", "duration": 3, "maxRequests": 2},
                {"label": "*:create", "audience": "", "duration": 5, "maxRequests": 20},
                {"label": "/api/batch", "audience": "", "duration": 1, "maxRequests": 3},
                {"label": "/api/", "audience": "", "duration": 10, "maxRequests": 300},
            ],
            "excludedIPs": [],
            "enabled": False,
        },
        "trustedProxy": {"headers": [], "useLeftmostIP": False},
        "batch": {"enabled": False, "maxRequests": 50, "timeout": 3, "maxBodySize": 0},
        "logs": {"maxDataSize": 0, "maxDays": 5, "minLevel": 0, "logIP": True, "logAuthId": False},
        # Roost's own key (PocketBase has none like it): password hashing and login throttling
        "roostAuth": {"passwordHash": default_password_hash(), "loginThrottle": default_login_throttle()},
    }  # fmt: skip


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if key not in out:
            continue
        if isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _validate_limits_and_auth(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    limits = validate_rate_limits(data.get("rateLimits"))
    if limits:
        errors["rateLimits"] = limits
    roost_auth = data.get("roostAuth") or {}
    auth = {k: v for k, v in (("passwordHash", validate_password_hash(roost_auth.get("passwordHash"))),
                              ("loginThrottle", validate_login_throttle(roost_auth.get("loginThrottle")))) if v}  # fmt: skip
    if auth:
        errors["roostAuth"] = auth
    return errors


def _string_list(value: Any) -> list[str]:
    """A JSON list of strings (``null`` is the empty list), else PocketBase's binding error."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest("An error occurred while loading the submitted data.")
    return list(value)


class Settings:
    """Cached runtime settings; ``data`` is the full (secret-bearing) document."""

    def __init__(self, db: Database, encryption_key: str = "") -> None:
        self.db = db
        self.box = SecretBox(encryption_key) if encryption_key else None
        self.data = default_settings()
        #: called after a committed change (other processes reload their copy)
        self.on_change: Callable[[], Awaitable[None]] | None = None

    async def load(self) -> None:
        row = await self.db.fetch_one('SELECT "value" FROM "_params" WHERE "id" = :id', {"id": "settings"})
        if row and row["value"]:
            self.data = _merge(default_settings(), self._secrets(orjson.loads(row["value"]), seal=False))

    def public(self) -> dict[str, Any]:
        out = copy.deepcopy(self.data)
        for path in SECRET_PATHS:
            node: Any = out
            for key in path[:-1]:
                node = node.get(key, {}) if isinstance(node, dict) else {}
            if isinstance(node, dict):
                node.pop(path[-1], None)
        return out

    async def update(self, patch: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(patch, dict):
            raise BadRequest("An error occurred while loading the submitted data.")
        if "superuserIPs" in patch:
            patch = {**patch, "superuserIPs": _string_list(patch["superuserIPs"])}
        new = _merge(self.data, patch)
        self._validate(new)
        now = now_string()
        async with self.db.transaction() as conn:
            value = orjson.dumps(self._secrets(new, seal=True)).decode()
            changed = await conn.execute(
                'UPDATE "_params" SET "value" = :v, "updated" = :u WHERE "id" = :id', {"v": value, "u": now, "id": "settings"}
            )
            if not changed:
                await conn.execute(
                    'INSERT INTO "_params" ("id", "value", "created", "updated") VALUES (:id, :v, :u, :u)',
                    {"v": value, "u": now, "id": "settings"},
                )
        self.data = new
        if self.on_change is not None:
            await self.on_change()
        return self.public()

    def _secrets(self, data: dict[str, Any], *, seal: bool) -> dict[str, Any]:
        """A copy with every secret sealed (for storage) or opened (after loading)."""
        if self.box is None:
            return data
        out = copy.deepcopy(data)
        for path in SECRET_PATHS:
            node: Any = out
            for key in path[:-1]:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict) and isinstance(node.get(path[-1]), str):
                node[path[-1]] = self.box.seal(node[path[-1]]) if seal else self.box.open(node[path[-1]])
        return out

    def _validate(self, data: dict[str, Any]) -> None:
        from roost.core.errors import FieldError, ValidationFailed

        errors: dict[str, Any] = {}
        batch = data.get("batch", {})
        batch_errors = {}
        for key in ("maxRequests", "timeout"):
            value = batch.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or (batch.get("enabled") and value <= 0):
                batch_errors[key] = FieldError("validation_required", "Cannot be blank.")
        if batch_errors:
            errors["batch"] = batch_errors
        smtp = data.get("smtp", {})
        if smtp.get("enabled"):
            smtp_errors = {key: FieldError("validation_required", "Cannot be blank.")
                           for key in ("host", "port") if not smtp.get(key)}  # fmt: skip
            if smtp_errors:
                errors["smtp"] = smtp_errors
        meta = data.get("meta", {})
        if not meta.get("appName"):
            errors["meta"] = {"appName": FieldError("validation_required", "Cannot be blank.")}
        errors.update(_validate_limits_and_auth(data))
        ips = ip_list_problems(data.get("superuserIPs"))
        if ips:
            errors["superuserIPs"] = ips
        if errors:
            raise ValidationFailed("An error occurred while saving the new settings.", errors)

    @property
    def batch(self) -> dict[str, Any]:
        return dict(self.data["batch"])
