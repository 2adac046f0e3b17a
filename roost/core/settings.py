"""Runtime settings stored in the database (``_params`` row ``settings``), PocketBase's keys."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from roost.core.db.facade import Database
from roost.core.errors import BadRequest, FieldError, ValidationFailed
from roost.core.schema.fields.date import now_string
from roost.core.secret_box import MISSING_KEY, SecretBox, WrongEncryptionKey, is_sealed
from roost.core.settings_auth import (
    default_login_throttle,
    default_password_hash,
    ip_list_problems,
    validate_login_throttle,
    validate_password_hash,
)
from roost.tools.cron import CronError
from roost.tools.cron import parse as parse_cron
from roost.tools.ratelimit import validate_rate_limits

#: secret keys that are stored but never output
SECRET_PATHS = (("smtp", "password"), ("s3", "secret"), ("backups", "s3", "secret"), ("roostMetrics", "token"))
#: shortest ``roostMetrics.token`` accepted (it guards the metrics of the whole server)
METRICS_TOKEN_MIN = 16


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
        # Roost's own key: GET /api/metrics (off = 404) and a bearer token that may read it
        "roostMetrics": {"enabled": True, "token": ""},
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


def _s3_objects(patch: dict[str, Any]) -> bool:
    """False when ``s3``, ``backups`` or ``backups.s3`` is given but is no object (PocketBase
    fails to bind such a body)."""
    backups = patch.get("backups", {})
    if not isinstance(backups, dict):
        return False
    return all(isinstance(node, dict) for node in (patch.get("s3", {}), backups.get("s3", {})))


def _validate_backup_schedule(backups: Any) -> dict[str, FieldError]:
    """``backups.cron`` parses; ``backups.cronMaxKeep`` is at least 1 (required with a cron)."""
    if not isinstance(backups, dict):
        return {}
    errors: dict[str, FieldError] = {}
    cron, keep = backups.get("cron") or "", backups.get("cronMaxKeep")
    try:
        if not isinstance(cron, str):
            raise CronError("not a string")
        if cron:
            parse_cron(cron)
    except CronError:
        message = "Invalid cron expression - must be a valid macro or to have exactly 5 space separated segments."
        errors["cron"] = FieldError("validation_invalid_cron", message)
    if not isinstance(keep, int) or isinstance(keep, bool) or (cron and keep == 0):
        errors["cronMaxKeep"] = FieldError("validation_required", "Cannot be blank.")
    elif keep < 0:
        errors["cronMaxKeep"] = FieldError("validation_min_greater_equal_than_required", "Must be no less than 1.", {"threshold": 1})
    return errors


def _validate_s3(data: dict[str, Any]) -> dict[str, Any]:
    """An enabled ``s3`` (files) or ``backups.s3`` needs every connection value."""
    errors: dict[str, Any] = {}
    backups = data.get("backups")
    for path, s3 in ((("s3",), data.get("s3")), (("backups", "s3"), backups.get("s3") if isinstance(backups, dict) else None)):
        if not isinstance(s3, dict) or not s3.get("enabled"):
            continue
        missing = {key: FieldError("validation_required", "Cannot be blank.")
                   for key in ("bucket", "region", "endpoint", "accessKey", "secret") if not s3.get(key)}  # fmt: skip
        if missing:
            node = errors
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = missing
    return errors


def _metrics_problems(value: Any) -> dict[str, Any]:
    """Field errors of the ``roostMetrics`` block."""
    if not isinstance(value, dict):
        return {"enabled": FieldError("validation_invalid_value", "Must be an object.")}
    errors: dict[str, Any] = {}
    if not isinstance(value.get("enabled"), bool):
        errors["enabled"] = FieldError("validation_invalid_value", "Must be a boolean.")
    token = value.get("token")
    if not isinstance(token, str):
        errors["token"] = FieldError("validation_invalid_value", "Must be a string.")
    elif token and (len(token) < METRICS_TOKEN_MIN or len(token) > 255):
        errors["token"] = FieldError("validation_length_out_of_range",
                                     f"Must be empty or between {METRICS_TOKEN_MIN} and 255 characters.")  # fmt: skip
    return errors


class Settings:
    """Cached runtime settings; ``data`` is the full (secret-bearing) document."""

    def __init__(self, db: Database, encryption_key: str = "") -> None:
        self.db = db
        self.box = SecretBox(encryption_key) if encryption_key else None
        self.data = default_settings()
        #: called after a committed change (other processes reload their copy)
        self.on_change: Callable[[], Awaitable[None]] | None = None
        #: called before a change is written; raises when other processes could not hear of it
        self.before_change: Callable[[], Awaitable[None]] | None = None

    async def load(self) -> None:
        row = await self.db.fetch_one('SELECT "value" FROM "_params" WHERE "id" = :id', {"id": "settings"})
        if row and row["value"]:
            self.data = _merge(default_settings(), self._open_secrets(orjson.loads(self._open(row["value"]))))

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
        if not _s3_objects(patch):
            raise BadRequest("An error occurred while loading the submitted data.")
        if "superuserIPs" in patch:
            patch = {**patch, "superuserIPs": _string_list(patch["superuserIPs"])}
        new = _merge(self.data, patch)
        self._validate(new)
        if self.before_change is not None:
            await self.before_change()
        now = now_string()
        async with self.db.transaction() as conn:
            value = self._seal(orjson.dumps(new).decode())
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

    def check_readable(self, stored: str) -> None:
        """Raise WrongEncryptionKey unless a stored settings value (from a backup) opens with
        this app's key."""
        self._open_secrets(orjson.loads(self._open(stored)))

    def _seal(self, document: str) -> str:
        """The stored form: with an encryption key, the whole document sealed, as PocketBase does."""
        return self.box.seal(document) if self.box is not None else document

    def _open(self, stored: str) -> str:
        """The JSON document of a stored value, sealed or plain.

        Raises:
            WrongEncryptionKey: it is sealed and there is no key, or another key.
        """
        if not is_sealed(stored):
            return stored
        if self.box is None:
            raise WrongEncryptionKey(MISSING_KEY)
        return self.box.open_strict(stored)

    def _open_secrets(self, data: dict[str, Any]) -> dict[str, Any]:
        """A copy with the secrets opened that were sealed one by one (settings stored before
        the whole document was sealed).

        Raises:
            WrongEncryptionKey: a secret is sealed and there is no key, or another key.
        """
        out = copy.deepcopy(data)
        for path in SECRET_PATHS:
            node: Any = out
            for key in path[:-1]:
                node = node.get(key) if isinstance(node, dict) else None
            if not isinstance(node, dict) or not is_sealed(node.get(path[-1])):
                continue
            if self.box is None:
                raise WrongEncryptionKey(MISSING_KEY)
            node[path[-1]] = self.box.open_strict(node[path[-1]])
        return out

    def _validate(self, data: dict[str, Any]) -> None:
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
        errors.update(_validate_s3(data))
        backup_errors = _validate_backup_schedule(data.get("backups"))
        if backup_errors:
            errors.setdefault("backups", {}).update(backup_errors)
        meta = data.get("meta", {})
        if not meta.get("appName"):
            errors["meta"] = {"appName": FieldError("validation_required", "Cannot be blank.")}
        errors.update(_validate_limits_and_auth(data))
        metrics = _metrics_problems(data.get("roostMetrics"))
        if metrics:
            errors["roostMetrics"] = metrics
        ips = ip_list_problems(data.get("superuserIPs"))
        if ips:
            errors["superuserIPs"] = ips
        if errors:
            raise ValidationFailed("An error occurred while saving the new settings.", errors)

    @property
    def batch(self) -> dict[str, Any]:
        return dict(self.data["batch"])
