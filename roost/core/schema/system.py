"""Definitions of the collections every data dir starts with, and of new auth collections.

Ids, names, fields and rules match PocketBase's so that the official SDKs (which hard-code
``pbc_3142635823`` and ``_superusers``) and PocketBase data imports keep working.
"""

from __future__ import annotations

import secrets
from typing import Any

from roost.core.schema.collection import (
    AUTH,
    BASE,
    Collection,
    default_collection_id,
    new_token_secret,
)

OWNER_RULE = "@request.auth.id != '' && recordRef = @request.auth.id && collectionRef = @request.auth.collectionId"


def id_field() -> dict[str, Any]:
    return {
        "type": "text", "name": "id", "system": True, "required": True, "primaryKey": True,
        "min": 15, "max": 15, "pattern": "^[a-z0-9]+$", "autogeneratePattern": "[a-z0-9]{15}",
    }  # fmt: skip


def text_field(name: str, *, required: bool = True, hidden: bool = False) -> dict[str, Any]:
    return {"type": "text", "name": name, "system": True, "required": required, "hidden": hidden}


def autodate_fields(system: bool) -> list[dict[str, Any]]:
    return [
        {"type": "autodate", "name": "created", "system": system, "onCreate": True, "onUpdate": False},
        {"type": "autodate", "name": "updated", "system": system, "onCreate": True, "onUpdate": True},
    ]


def auth_system_fields() -> list[dict[str, Any]]:
    """The fields every auth collection has, in PocketBase's order."""
    return [
        id_field(),
        {"type": "password", "name": "password", "system": True, "hidden": True, "required": True, "min": 8},
        {
            "type": "text", "name": "tokenKey", "system": True, "hidden": True, "required": True,
            "min": 30, "max": 60, "autogeneratePattern": "[a-zA-Z0-9]{50}",
        },
        {"type": "email", "name": "email", "system": True, "required": True},
        {"type": "bool", "name": "emailVisibility", "system": True},
        {"type": "bool", "name": "verified", "system": True},
    ]


def auth_indexes(table: str, suffix: str) -> list[str]:
    return [
        f"CREATE UNIQUE INDEX `idx_tokenKey_{suffix}` ON `{table}` (`tokenKey`)",
        f"CREATE UNIQUE INDEX `idx_email_{suffix}` ON `{table}` (`email`) WHERE `email` != ''",
    ]


def _template(subject: str, body: str) -> dict[str, str]:
    return {"subject": subject, "body": body}


def auth_options(*, token_duration: int = 432000, mapped_name: str = "", mapped_avatar: str = "") -> dict[str, Any]:
    """Default options of an auth collection (secrets freshly generated)."""
    return {
        "authRule": "",
        "manageRule": None,
        "authAlert": {
            "enabled": True,
            "emailTemplate": _template(
                "New sign-in to your {APP_NAME} account",
                "<p>Hi,</p>\n<p>Your {APP_NAME} account was just used to sign in from a new place:</p>\n"
                "<p><em>{ALERT_INFO}</em></p>\n<p><strong>Not you? Change your password now; that signs "
                "out every other session.</strong></p>\n<p>The {APP_NAME} team</p>",
            ),
        },
        "oauth2": {
            "providers": [],
            "mappedFields": {"id": "", "name": mapped_name, "username": "", "avatarURL": mapped_avatar},
            "enabled": False,
        },
        "passwordAuth": {"enabled": True, "identityFields": ["email"]},
        "mfa": {"enabled": False, "duration": 600, "rule": ""},
        "otp": {
            "enabled": False,
            "duration": 180,
            "length": 8,
            "emailTemplate": _template(
                "Your {APP_NAME} sign-in code",
                "<p>Hi,</p>\n<p>Your one-time code is <strong>{OTP}</strong>.</p>\n"
                "<p><i>Didn't ask for it? Nothing to do, it expires on its own.</i></p>\n<p>The {APP_NAME} team</p>",
            ),
        },
        "authToken": {"duration": token_duration, "secret": new_token_secret()},
        "passwordResetToken": {"duration": 1800, "secret": new_token_secret()},
        "emailChangeToken": {"duration": 1800, "secret": new_token_secret()},
        "verificationToken": {"duration": 86400, "secret": new_token_secret()},
        "fileToken": {"duration": 180, "secret": new_token_secret()},
        "verificationTemplate": _template(
            "Confirm your {APP_NAME} email address",
            '<p>Hi,</p>\n<p>Welcome to {APP_NAME}! Please confirm your email address:</p>\n<p>\n  <a class="btn" '
            'href="{APP_URL}/_/#/auth/confirm-verification/{TOKEN}" target="_blank" rel="noopener">Confirm email</a>\n'
            "</p>\n<p><i>Didn't sign up? You can ignore this message.</i></p>\n<p>The {APP_NAME} team</p>",
        ),
        "resetPasswordTemplate": _template(
            "Reset your {APP_NAME} password",
            '<p>Hi,</p>\n<p>Use the button below to choose a new password:</p>\n<p>\n  <a class="btn" '
            'href="{APP_URL}/_/#/auth/confirm-password-reset/{TOKEN}" target="_blank" rel="noopener">Choose a new password</a>\n'
            "</p>\n<p><i>Didn't ask for this? You can ignore this message.</i></p>\n<p>The {APP_NAME} team</p>",
        ),
        "confirmEmailChangeTemplate": _template(
            "Confirm your new {APP_NAME} email address",
            '<p>Hi,</p>\n<p>Use the button below to confirm your new email address:</p>\n<p>\n  <a class="btn" '
            'href="{APP_URL}/_/#/auth/confirm-email-change/{TOKEN}" target="_blank" rel="noopener">Confirm new email</a>\n'
            "</p>\n<p><i>Didn't ask for this? You can ignore this message.</i></p>\n<p>The {APP_NAME} team</p>",
        ),
    }


def _owned_collection(name: str, extra_fields: list[dict[str, Any]], indexes: list[str], deletable: bool) -> dict[str, Any]:
    return {
        "id": default_collection_id(BASE, name),
        "name": name,
        "type": BASE,
        "system": True,
        "listRule": OWNER_RULE,
        "viewRule": OWNER_RULE,
        "createRule": None,
        "updateRule": None,
        "deleteRule": OWNER_RULE if deletable else None,
        "fields": [id_field(), text_field("collectionRef"), text_field("recordRef"), *extra_fields, *autodate_fields(True)],
        "indexes": indexes,
    }


#: later system collections: migration name -> definition, created at start-up or first use
def totp_collection() -> dict[str, Any]:
    """``_totps``: one authenticator-app enrolment per auth record (Roost addition); superusers only."""
    data = _owned_collection(
        "_totps",
        [text_field("secret", hidden=True),
         {"type": "bool", "name": "confirmed", "system": True, "hidden": True},
         {"type": "number", "name": "lastUsedStep", "system": True, "hidden": True, "onlyInt": True},
         {"type": "json", "name": "recoveryHashes", "system": True, "hidden": True}],
        ["CREATE UNIQUE INDEX `idx_totps_collectionRef_recordRef` ON `_totps` (collectionRef, recordRef)"], False,
    )  # fmt: skip
    data.update(listRule=None, viewRule=None, deleteRule=None)
    return data


TOTP_MIGRATION = "2_totps"


def passkey_collection() -> dict[str, Any]:
    """``_passkeys``: WebAuthn credentials, several per auth record (Roost addition); superusers only."""
    data = _owned_collection(
        "_passkeys",
        [text_field("credentialId"),
         text_field("publicKey", hidden=True),
         {"type": "number", "name": "signCount", "system": True, "onlyInt": True, "min": 0},
         text_field("name", required=False),
         text_field("aaguid", required=False),
         text_field("deviceType", required=False),
         {"type": "bool", "name": "backedUp", "system": True},
         {"type": "json", "name": "transports", "system": True},
         {"type": "date", "name": "lastUsed", "system": True}],
        ["CREATE UNIQUE INDEX `idx_passkeys_collectionRef_credentialId` ON `_passkeys` (collectionRef, credentialId)",
         "CREATE INDEX `idx_passkeys_collectionRef_recordRef` ON `_passkeys` (collectionRef, recordRef)"], False,
    )  # fmt: skip
    data.update(listRule=None, viewRule=None, deleteRule=None)
    return data


def auth_sessions_collection() -> dict[str, Any]:
    """``_authSessions``: browser cookie sessions (Roost addition); superusers only.

    ``sessionHash`` is the SHA-256 of the cookie value and ``keyHash`` a fingerprint of the
    record's token signing key, so a tokenKey rotation ends every session of the record.
    """
    data = _owned_collection(
        "_authSessions",
        [text_field("sessionHash", hidden=True), text_field("keyHash", hidden=True),
         text_field("userAgent", required=False), text_field("ip", required=False),
         {"type": "date", "name": "lastSeen", "system": True},
         {"type": "date", "name": "expires", "system": True, "required": True}],
        ["CREATE UNIQUE INDEX `idx_authSessions_sessionHash` ON `_authSessions` (sessionHash)",
         "CREATE INDEX `idx_authSessions_collectionRef_recordRef` ON `_authSessions` (collectionRef, recordRef)"], False,
    )  # fmt: skip
    data.update(listRule=None, viewRule=None, deleteRule=None)
    return data


PASSKEY_MIGRATION = "3_passkeys"
#: names of the system collections created on first use
AUTH_SESSIONS = "_authSessions"
PASSKEYS = "_passkeys"
TOTPS = "_totps"
AUTH_SESSIONS_MIGRATION = "4_authSessions"


def initial_collections() -> list[dict[str, Any]]:
    """Collections created on a fresh data dir, in creation order."""
    su_id = default_collection_id(AUTH, "_superusers")
    superusers: dict[str, Any] = {
        "id": su_id, "name": "_superusers", "type": AUTH, "system": True,
        **{rule: None for rule in ("listRule", "viewRule", "createRule", "updateRule", "deleteRule")},
        "fields": [*auth_system_fields(), *autodate_fields(True)],
        "indexes": auth_indexes("_superusers", su_id),
        **auth_options(token_duration=86400),
    }  # fmt: skip
    users: dict[str, Any] = {
        "id": "_pb_users_auth_", "name": "users", "type": AUTH, "system": False,
        "listRule": "id = @request.auth.id", "viewRule": "id = @request.auth.id", "createRule": "",
        "updateRule": "id = @request.auth.id", "deleteRule": "id = @request.auth.id",
        "fields": [
            *auth_system_fields(),
            {"type": "text", "name": "name", "max": 255},
            {
                "type": "file", "name": "avatar", "maxSelect": 1,
                "mimeTypes": ["image/jpeg", "image/png", "image/svg+xml", "image/gif", "image/webp"],
            },
            *autodate_fields(False),
        ],
        "indexes": auth_indexes("users", "_pb_users_auth_"),
        **auth_options(mapped_name="name", mapped_avatar="avatar"),
    }  # fmt: skip
    return [
        _owned_collection(
            "_mfas", [text_field("method")],
            ["CREATE INDEX `idx_mfas_collectionRef_recordRef` ON `_mfas` (collectionRef,recordRef)"], False,
        ),
        _owned_collection(
            "_otps",
            [{"type": "password", "name": "password", "system": True, "hidden": True, "required": True, "cost": 8},
             text_field("sentTo", required=False, hidden=True)],
            ["CREATE INDEX `idx_otps_collectionRef_recordRef` ON `_otps` (collectionRef, recordRef)"], False,
        ),
        _owned_collection(
            "_externalAuths", [text_field("provider"), text_field("providerId")],
            ["CREATE UNIQUE INDEX `idx_externalAuths_record_provider` ON `_externalAuths` (collectionRef, recordRef, provider)",
             "CREATE UNIQUE INDEX `idx_externalAuths_collection_provider` ON `_externalAuths` (collectionRef, provider, providerId)"],
            True,
        ),
        _owned_collection(
            "_authOrigins", [text_field("fingerprint")],
            ["CREATE UNIQUE INDEX `idx_authOrigins_unique_pairs` ON `_authOrigins` (collectionRef, recordRef, fingerprint)"],
            True,
        ),
        superusers,
        users,
    ]  # fmt: skip


def scaffolds() -> dict[str, dict[str, Any]]:
    """Blank collections of each type, as ``GET /api/collections/meta/scaffolds`` returns them."""
    blank_rules: dict[str, Any] = {r: None for r in ("listRule", "viewRule", "createRule", "updateRule", "deleteRule")}
    base = Collection.from_dict({"id": "", "name": "", "type": BASE, **blank_rules, "fields": [id_field()]})
    auth_data: dict[str, Any] = {
        "id": "", "name": "", "type": AUTH, **blank_rules, "fields": auth_system_fields(),
        "indexes": auth_indexes("", secrets.token_hex(5)), **auth_options(),
    }  # fmt: skip
    auth = Collection.from_dict(auth_data)
    view = Collection.from_dict({"id": "", "name": "", "type": "view", **blank_rules, "viewQuery": ""})
    return {"base": base.to_dict(), "auth": auth.to_dict(), "view": view.to_dict()}
