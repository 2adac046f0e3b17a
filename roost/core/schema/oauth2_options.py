"""The ``oauth2`` option block of auth collections: its normal form and its validation.

Client secrets are never output, so a saved provider entry without a ``clientSecret`` key
keeps the secret the same-named provider had before the change.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from roost.core.errors import FieldError
from roost.core.schema.collection import Collection
from roost.tools.oauth2 import providers as registry

MAPPED_KEYS = ("id", "name", "username", "avatarURL")
_TEXT_KEYS = ("clientId", "clientSecret", "authURL", "tokenURL", "userInfoURL", "displayName")
_URL_KEYS = ("authURL", "tokenURL", "userInfoURL")
_BARE_HOST = re.compile(r"^[\w-]+(\.[\w-]+)+(:\d+)?(/\S*)?$")


def normal_provider(data: dict[str, Any]) -> dict[str, Any]:
    """One provider entry with every key present, in the order the API outputs them."""
    pkce = data.get("pkce")
    extra = data.get("extra")
    out: dict[str, Any] = {
        "pkce": pkce if isinstance(pkce, bool) else None,
        "name": str(data.get("name") or ""),
    }
    for key in _TEXT_KEYS:
        out[key] = str(data.get(key) or "")
    out["extra"] = dict(extra) if isinstance(extra, dict) else {}
    return out


def prepare_oauth2_options(coll: Collection, existing: Collection | None) -> dict[str, Any]:
    """Normalise ``coll``'s oauth2 block in place; returns field errors (``{}`` when valid)."""
    block = coll.options.get("oauth2")
    block = block if isinstance(block, dict) else {}
    old_block = (existing.options.get("oauth2") or {}) if existing is not None else {}
    old_secrets = {
        str(p.get("name")): str(p.get("clientSecret") or "")
        for p in old_block.get("providers") or [] if isinstance(p, dict)
    }  # fmt: skip
    providers = []
    for raw in block.get("providers") or []:
        if not isinstance(raw, dict):
            continue
        entry = normal_provider(raw)
        if "clientSecret" not in raw:
            entry["clientSecret"] = old_secrets.get(entry["name"], "")
        providers.append(entry)
    mapped_in = block.get("mappedFields")
    mapped_in = mapped_in if isinstance(mapped_in, dict) else {}
    # a mapping to a field the collection does not have is dropped, not an error
    mapped = {
        k: str(mapped_in.get(k) or "") if coll.get_field(str(mapped_in.get(k) or "")) else ""
        for k in MAPPED_KEYS
    }
    enabled = bool(block.get("enabled"))
    coll.options["oauth2"] = {"providers": providers, "mappedFields": mapped, "enabled": enabled}
    if not enabled:
        return {}
    errors = _provider_errors(providers)
    return {"providers": errors} if errors else {}


def _provider_errors(providers: list[dict[str, Any]]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    seen: set[str] = set()
    for index, entry in enumerate(providers):
        err: dict[str, FieldError] = {}
        name = entry["name"]
        if not name:
            err["name"] = FieldError("validation_required", "Cannot be blank.")
        elif registry.get(name) is None:
            err["name"] = FieldError(
                "validation_missing_provider",
                f"Invalid or missing provider with name {name}.",
                {"name": name},
            )
        elif name in seen:
            err["name"] = FieldError(
                "validation_duplicated_provider",
                f"The provider {name} is already registered.",
                {"name": name},
            )
        seen.add(name)
        for key in ("clientId", "clientSecret"):
            if not entry[key]:
                err[key] = FieldError("validation_required", "Cannot be blank.")
        for key in _URL_KEYS:
            if entry[key] and not _is_url(entry[key]):
                err[key] = FieldError("validation_is_url", "Must be a valid URL.")
        if err:
            errors[str(index)] = dict(sorted(err.items()))
    return errors


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    if parts.scheme:
        return bool(parts.netloc) and " " not in value
    return bool(_BARE_HOST.match(value))
