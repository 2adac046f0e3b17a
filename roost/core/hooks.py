"""The named hooks users program against: ``app.hooks.on_record_create.bind(handler)``.

Core triggers every hook at a fixed point of its pipelines, for every transport (REST, batch,
realtime, GraphQL) and for internal writes; no transport triggers one itself. Chains, priority,
tags and ``next()`` are described in :mod:`roost.tools.hook`; ``docs/hooks.md`` lists the hooks
with their payloads.

Model-level record hooks fire in this order for one save::

    on_record_create  (before next(): may change e.record or abort)
      -> on_record_validate -> field validation
      -> on_record_create_execute -> INSERT
    on_record_after_create_success  (after the commit)  |  on_record_after_create_error

and likewise for ``update`` and ``delete``. The ``*_request`` hooks wrap the model level for one
client request, before its rule checks. After-success hooks run once the transaction has
committed: their failures are logged and never change the answer the caller gets.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from roost.core.events import (
    BackupEvent,
    BatchRequestEvent,
    BootstrapEvent,
    CollectionErrorEvent,
    CollectionEvent,
    CollectionRequestEvent,
    CollectionsImportRequestEvent,
    CollectionsListRequestEvent,
    FileDownloadRequestEvent,
    FileTokenRequestEvent,
    MailerEvent,
    MailerRecordEvent,
    RealtimeConnectRequestEvent,
    RealtimeMessageEvent,
    RealtimeSubscribeRequestEvent,
    RecordAuthRefreshRequestEvent,
    RecordAuthRequestEvent,
    RecordAuthWithOAuth2RequestEvent,
    RecordAuthWithOTPRequestEvent,
    RecordAuthWithPasswordRequestEvent,
    RecordCreateOTPRequestEvent,
    RecordEmailRequestEvent,
    RecordEnrichEvent,
    RecordErrorEvent,
    RecordEvent,
    RecordRequestEvent,
    RecordsListRequestEvent,
    ServeEvent,
    SettingsListRequestEvent,
    SettingsReloadEvent,
    SettingsUpdateRequestEvent,
    TerminateEvent,
)
from roost.tools.hook import Event, Hook, TaggedHook

__all__ = ["SYSTEM_PRIORITY", "CollectionHook", "Hook", "Hooks", "trigger_logged"]

E = TypeVar("E", bound=Event)
log = logging.getLogger("roost.hooks")
#: the priority Roost's own handlers bind with, so they run before handlers bound at the default 0
SYSTEM_PRIORITY = -1000


class CollectionHook(Hook[E]):
    """A hook whose events concern one collection, so handlers can be bound to some collections only."""

    def for_collections(self, *names_or_ids: str) -> TaggedHook[E]:
        """Bind through the result to run only for these collections (names or ids)."""
        return self.tagged(*names_or_ids)


async def trigger_logged(hook: Hook[E], event: E) -> None:
    """Trigger an after-the-fact hook: a failing handler is logged, never raised to the caller."""
    if not hook.handlers:
        return
    try:
        await hook.trigger(event)
    except Exception:
        log.exception("hook %s: a handler failed", hook.name)


class Hooks:
    """Every named hook of one app (``app.hooks``); the attribute name is the hook's name."""

    def __init__(self) -> None:
        # app lifecycle
        self.on_bootstrap: Hook[BootstrapEvent] = Hook("on_bootstrap")
        self.on_serve: Hook[ServeEvent] = Hook("on_serve")
        self.on_terminate: Hook[TerminateEvent] = Hook("on_terminate")
        #: wrap creating and restoring a backup (``app.backups``); ``e.name`` may be changed before ``next()``
        self.on_backup_create: Hook[BackupEvent] = Hook("on_backup_create")
        self.on_backup_restore: Hook[BackupEvent] = Hook("on_backup_restore")

        # records, model level
        self.on_record_enrich: CollectionHook[RecordEnrichEvent] = CollectionHook(
            "on_record_enrich"
        )
        self.on_record_validate: CollectionHook[RecordEvent] = CollectionHook("on_record_validate")
        self.on_record_create: CollectionHook[RecordEvent] = CollectionHook("on_record_create")
        self.on_record_create_execute: CollectionHook[RecordEvent] = CollectionHook(
            "on_record_create_execute"
        )
        self.on_record_after_create_success: CollectionHook[RecordEvent] = CollectionHook(
            "on_record_after_create_success"
        )
        self.on_record_after_create_error: CollectionHook[RecordErrorEvent] = CollectionHook(
            "on_record_after_create_error"
        )
        self.on_record_update: CollectionHook[RecordEvent] = CollectionHook("on_record_update")
        self.on_record_update_execute: CollectionHook[RecordEvent] = CollectionHook(
            "on_record_update_execute"
        )
        self.on_record_after_update_success: CollectionHook[RecordEvent] = CollectionHook(
            "on_record_after_update_success"
        )
        self.on_record_after_update_error: CollectionHook[RecordErrorEvent] = CollectionHook(
            "on_record_after_update_error"
        )
        self.on_record_delete: CollectionHook[RecordEvent] = CollectionHook("on_record_delete")
        self.on_record_delete_execute: CollectionHook[RecordEvent] = CollectionHook(
            "on_record_delete_execute"
        )
        self.on_record_after_delete_success: CollectionHook[RecordEvent] = CollectionHook(
            "on_record_after_delete_success"
        )
        self.on_record_after_delete_error: CollectionHook[RecordErrorEvent] = CollectionHook(
            "on_record_after_delete_error"
        )

        # records, request level
        self.on_records_list_request: CollectionHook[RecordsListRequestEvent] = CollectionHook(
            "on_records_list_request"
        )
        self.on_record_view_request: CollectionHook[RecordRequestEvent] = CollectionHook(
            "on_record_view_request"
        )
        self.on_record_create_request: CollectionHook[RecordRequestEvent] = CollectionHook(
            "on_record_create_request"
        )
        self.on_record_update_request: CollectionHook[RecordRequestEvent] = CollectionHook(
            "on_record_update_request"
        )
        self.on_record_delete_request: CollectionHook[RecordRequestEvent] = CollectionHook(
            "on_record_delete_request"
        )
        self.on_batch_request: Hook[BatchRequestEvent] = Hook("on_batch_request")

        # auth flows, request level
        self.on_record_auth_request: CollectionHook[RecordAuthRequestEvent] = CollectionHook(
            "on_record_auth_request"
        )
        self.on_record_auth_with_password_request: CollectionHook[
            RecordAuthWithPasswordRequestEvent
        ] = CollectionHook("on_record_auth_with_password_request")
        self.on_record_auth_with_oauth2_request: CollectionHook[
            RecordAuthWithOAuth2RequestEvent
        ] = CollectionHook("on_record_auth_with_oauth2_request")
        self.on_record_auth_refresh_request: CollectionHook[RecordAuthRefreshRequestEvent] = (
            CollectionHook("on_record_auth_refresh_request")
        )
        self.on_record_request_otp_request: CollectionHook[RecordCreateOTPRequestEvent] = (
            CollectionHook("on_record_request_otp_request")
        )
        self.on_record_auth_with_otp_request: CollectionHook[RecordAuthWithOTPRequestEvent] = (
            CollectionHook("on_record_auth_with_otp_request")
        )
        self.on_record_request_password_reset_request: CollectionHook[RecordEmailRequestEvent] = (
            CollectionHook("on_record_request_password_reset_request")
        )
        self.on_record_confirm_password_reset_request: CollectionHook[RecordEmailRequestEvent] = (
            CollectionHook("on_record_confirm_password_reset_request")
        )
        self.on_record_request_verification_request: CollectionHook[RecordEmailRequestEvent] = (
            CollectionHook("on_record_request_verification_request")
        )
        self.on_record_confirm_verification_request: CollectionHook[RecordEmailRequestEvent] = (
            CollectionHook("on_record_confirm_verification_request")
        )
        self.on_record_request_email_change_request: CollectionHook[RecordEmailRequestEvent] = (
            CollectionHook("on_record_request_email_change_request")
        )
        self.on_record_confirm_email_change_request: CollectionHook[RecordEmailRequestEvent] = (
            CollectionHook("on_record_confirm_email_change_request")
        )

        # collections, model level
        self.on_collection_validate: CollectionHook[CollectionEvent] = CollectionHook(
            "on_collection_validate"
        )
        self.on_collection_create: CollectionHook[CollectionEvent] = CollectionHook(
            "on_collection_create"
        )
        self.on_collection_create_execute: CollectionHook[CollectionEvent] = CollectionHook(
            "on_collection_create_execute"
        )
        self.on_collection_after_create_success: CollectionHook[CollectionEvent] = CollectionHook(
            "on_collection_after_create_success"
        )
        self.on_collection_after_create_error: CollectionHook[CollectionErrorEvent] = (
            CollectionHook("on_collection_after_create_error")
        )
        self.on_collection_update: CollectionHook[CollectionEvent] = CollectionHook(
            "on_collection_update"
        )
        self.on_collection_update_execute: CollectionHook[CollectionEvent] = CollectionHook(
            "on_collection_update_execute"
        )
        self.on_collection_after_update_success: CollectionHook[CollectionEvent] = CollectionHook(
            "on_collection_after_update_success"
        )
        self.on_collection_after_update_error: CollectionHook[CollectionErrorEvent] = (
            CollectionHook("on_collection_after_update_error")
        )
        self.on_collection_delete: CollectionHook[CollectionEvent] = CollectionHook(
            "on_collection_delete"
        )
        self.on_collection_delete_execute: CollectionHook[CollectionEvent] = CollectionHook(
            "on_collection_delete_execute"
        )
        self.on_collection_after_delete_success: CollectionHook[CollectionEvent] = CollectionHook(
            "on_collection_after_delete_success"
        )
        self.on_collection_after_delete_error: CollectionHook[CollectionErrorEvent] = (
            CollectionHook("on_collection_after_delete_error")
        )

        # collections, request level
        self.on_collections_list_request: Hook[CollectionsListRequestEvent] = Hook(
            "on_collections_list_request"
        )
        self.on_collection_view_request: Hook[CollectionRequestEvent] = Hook(
            "on_collection_view_request"
        )
        self.on_collection_create_request: Hook[CollectionRequestEvent] = Hook(
            "on_collection_create_request"
        )
        self.on_collection_update_request: Hook[CollectionRequestEvent] = Hook(
            "on_collection_update_request"
        )
        self.on_collection_delete_request: Hook[CollectionRequestEvent] = Hook(
            "on_collection_delete_request"
        )
        self.on_collections_import_request: Hook[CollectionsImportRequestEvent] = Hook(
            "on_collections_import_request"
        )

        # mail
        self.on_mailer_send: Hook[MailerEvent] = Hook("on_mailer_send")
        self.on_mailer_record_auth_alert_send: CollectionHook[MailerRecordEvent] = CollectionHook(
            "on_mailer_record_auth_alert_send"
        )
        self.on_mailer_record_password_reset_send: CollectionHook[MailerRecordEvent] = (
            CollectionHook("on_mailer_record_password_reset_send")
        )
        self.on_mailer_record_verification_send: CollectionHook[MailerRecordEvent] = CollectionHook(
            "on_mailer_record_verification_send"
        )
        self.on_mailer_record_email_change_send: CollectionHook[MailerRecordEvent] = CollectionHook(
            "on_mailer_record_email_change_send"
        )
        self.on_mailer_record_otp_send: CollectionHook[MailerRecordEvent] = CollectionHook(
            "on_mailer_record_otp_send"
        )

        # realtime
        self.on_realtime_connect_request: Hook[RealtimeConnectRequestEvent] = Hook(
            "on_realtime_connect_request"
        )
        self.on_realtime_subscribe_request: Hook[RealtimeSubscribeRequestEvent] = Hook(
            "on_realtime_subscribe_request"
        )
        self.on_realtime_message_send: Hook[RealtimeMessageEvent] = Hook("on_realtime_message_send")

        # settings
        self.on_settings_list_request: Hook[SettingsListRequestEvent] = Hook(
            "on_settings_list_request"
        )
        self.on_settings_update_request: Hook[SettingsUpdateRequestEvent] = Hook(
            "on_settings_update_request"
        )
        self.on_settings_reload: Hook[SettingsReloadEvent] = Hook("on_settings_reload")

        # files
        self.on_file_token_request: Hook[FileTokenRequestEvent] = Hook("on_file_token_request")
        self.on_file_download_request: CollectionHook[FileDownloadRequestEvent] = CollectionHook(
            "on_file_download_request"
        )

    def records_committed(self) -> tuple[CollectionHook[RecordEvent], ...]:
        """The three after-success record hooks: bind one handler to all three to follow every
        committed record change (the realtime hub and the response cache do)."""
        return (
            self.on_record_after_create_success,
            self.on_record_after_update_success,
            self.on_record_after_delete_success,
        )

    def all(self) -> dict[str, Hook[Event]]:
        """Every hook by name (the order they are declared in)."""
        return {name: hook for name, hook in vars(self).items() if isinstance(hook, Hook)}
