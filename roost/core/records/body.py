"""Loading a client body onto a record: modifiers, ignored keys and auth-only rules."""

from __future__ import annotations

from typing import Any

from roost.core.errors import FieldError
from roost.core.events import RequestInfo
from roost.core.schema.collection import Collection
from roost.core.schema.fields import Field

AUTH_ONLY_KEYS = ("passwordConfirm", "oldPassword")


def split_modifier(key: str) -> tuple[str, str]:
    """``tags+`` -> (tags, "+"), ``+tags`` -> (tags, "^"), ``n-`` -> (n, "-"), ``title:autogenerate``."""
    last = key[-1:]  # every key passes here: a plain one is told apart by its first and last character
    if last == "e" and key.endswith(":autogenerate"):
        return key[: -len(":autogenerate")], "autogenerate"
    if last == "+":
        return key[:-1], "+"
    if key[:1] == "+":
        return key[1:], "^"
    if last == "-":
        return key[:-1], "-"
    return key, ""


def settable_field(coll: Collection, key: str, *, is_superuser: bool) -> tuple[Field, str] | None:
    """The field and modifier a client body key may set, or None when the key is ignored.

    Every body key and upload goes through here, whatever the transport, so a modifier form
    (``verified+``, ``+password``, ``email-``) reaches a field only if its type takes that
    modifier; autodates are never client-set and hidden fields only by superusers.
    """
    return _settable(coll, *split_modifier(key), is_superuser)


def _settable(coll: Collection, name: str, modifier: str, is_superuser: bool) -> tuple[Field, str] | None:
    field = coll.get_field(name)
    if field is None or field.type == "autodate":
        return None
    if modifier and modifier not in field.MODIFIERS:
        return None
    if field.hidden and not is_superuser and field.type != "password":
        return None
    return field, modifier


def load_body(
    coll: Collection,
    record: dict[str, Any],
    body: dict[str, Any],
    info: RequestInfo,
    *,
    is_new: bool,
) -> dict[str, Any]:
    """Apply ``body`` to ``record`` in place; return the resolved values (for ``@request.body``)."""
    resolved: dict[str, Any] = {}
    # plain keys first, then modifiers, so "tags" + "tags+" in one body compose predictably
    plain: list[tuple[str, str, Any]] = []
    modified: list[tuple[str, str, Any]] = []
    for key, raw in body.items():
        name, modifier = split_modifier(key)
        (modified if modifier else plain).append((name, modifier, raw))
    is_superuser = info.is_superuser
    for name, modifier, raw in [*plain, *modified]:
        target = _settable(coll, name, modifier, is_superuser)
        if target is None:
            continue
        field, modifier = target
        name = field.name
        if modifier == "autogenerate":
            value = field.autogenerate()
            if value is None:
                continue
        elif modifier:
            value = field.apply_modifier(record.get(name), modifier, raw)
        else:
            value = field.coerce(raw)
        record[name] = value
        resolved[name] = value
    for key in AUTH_ONLY_KEYS:
        if coll.is_auth and key in body:
            resolved[key] = body[key]
    return resolved


def auth_body_errors(
    coll: Collection,
    record: dict[str, Any],
    original: dict[str, Any] | None,
    body: dict[str, Any],
    *,
    is_manager: bool,
    old_password_ok: bool | None,
) -> dict[str, FieldError]:
    """The auth-form checks that run before field validation (PocketBase order).

    ``body`` is the resolved body (:func:`load_body`'s result), so a key that set nothing is
    not seen here either.
    """
    errors: dict[str, FieldError] = {}
    if not coll.is_auth:
        return errors
    if "password" in body:
        confirm = body.get("passwordConfirm")
        if confirm in (None, ""):
            errors["passwordConfirm"] = FieldError("validation_required", "Cannot be blank.")
        elif str(confirm) != str(body.get("password")):
            errors["passwordConfirm"] = FieldError("validation_values_mismatch", "Values don't match.")
        if original is not None and not is_manager:
            if not body.get("oldPassword"):
                errors["oldPassword"] = FieldError("validation_required", "Cannot be blank.")
            elif not old_password_ok:
                errors["oldPassword"] = FieldError("validation_invalid_old_password", "Missing or invalid old password.")
    if not is_manager:
        before = original or {"email": record.get("email") if original is None else "", "verified": False}
        if "verified" in body and bool(record.get("verified")) != bool(before.get("verified")):
            errors["verified"] = FieldError("validation_values_mismatch", "Values don't match.")
        if original is not None and "email" in body and record.get("email") != original.get("email"):
            errors["email"] = FieldError("validation_values_mismatch", "Values don't match.")
    return errors
