"""Moving in from PocketBase: read a PocketBase 0.23+ ``pb_data`` directory into a Roost app.

The source is opened read-only with the standard library's ``sqlite3`` (PocketBase is not
running, or at least not written to, while it is copied). What comes over, in order:

1. app settings from ``_params`` (plain JSON, or AES-GCM sealed when PocketBase ran with
   ``--encryptionEnv``: then the same key must be given, or the settings are left out and reported);
2. collections, every type, with their ids, fields, rules, indexes and options, through the
   collection store (so Roost validates them and builds their tables). Relation fields pointing
   at a collection not created yet are added in a second pass; views come last;
3. the auth options of ``_superusers`` (token durations, MFA, OTP, alerts);
4. records, row for row with their ids, hashes (bcrypt, so every password still works), token
   keys and timestamps, for the user collections and ``_superusers``, ``_externalAuths`` (OAuth2
   links) and ``_authOrigins``. This is a restore, not a series of creates: no record hook fires,
   no rule applies and no autodate is stamped, exactly as a backup restore behaves;
5. uploaded files, ``storage/<collectionId>/<recordId>/<name>``, into Roost's storage under the
   same keys (PocketBase's ``.attrs`` side files and generated thumbnails are left behind).

Nothing here knows about HTTP or the command line: :func:`import_pocketbase` reports progress
through a callback and raises :class:`ImportRefused` for anything the user must decide.
"""

from roost.core.pb_import.restore import ImportReport, import_pocketbase
from roost.core.pb_import.source import (
    ImportRefused,
    PocketBaseDataDir,
    encryption_key_from_env,
    is_pocketbase_dir,
    pocketbase_dir_message,
)

__all__ = [
    "ImportRefused",
    "ImportReport",
    "PocketBaseDataDir",
    "encryption_key_from_env",
    "import_pocketbase",
    "is_pocketbase_dir",
    "pocketbase_dir_message",
]
