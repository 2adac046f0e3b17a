"""The registration API shared by hooks files and programs that import Roost.

``Roost`` inherits it, so ``app = Roost(); @app.on_record_create("posts") async def f(e): ...``
binds at once. In a hooks file the same methods are reached through ``roost.hooks.app``, which
records what the file registers so a reload can take it back. Every named hook of
:class:`roost.core.hooks.Hooks` has a method of the same name here; the collection hooks take
collection names (or ids) to run for, the others run for everything.

The hook methods below are written out, one per hook, so editors and type checkers know each
handler's event type; ``tests/plugins/test_hooks_api.py`` keeps them in step with ``Hooks``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from roost.apis.openapi.operation import Op
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
from roost.plugins.hooks_dir.registrations import (
    CronBinding,
    CronFunc,
    HookBinding,
    Registration,
    RouteBinding,
    caller_location,
)
from roost.plugins.hooks_dir.routes import RouteHandler, custom_route
from roost.tools.hook import Event, HandlerFunc

E = TypeVar("E", bound=Event)
#: what ``@app.on_record_create("posts")`` returns: a decorator handing the function back
HookDecorator = Callable[[HandlerFunc[E]], HandlerFunc[E]]
R = TypeVar("R", bound=RouteHandler)
C = TypeVar("C", bound=CronFunc)


class HookAPI:
    """Decorators that register hook handlers, routes and cron jobs."""

    def _register(self, registration: Registration) -> None:
        raise NotImplementedError

    def _hook(self, name: str, collections: Iterable[str], priority: int) -> HookDecorator[Any]:
        def decorator(func: HandlerFunc[Any]) -> HandlerFunc[Any]:
            self._register(
                HookBinding(name, func, tuple(collections), priority, where=caller_location())
            )
            return func

        return decorator

    def route(
        self,
        method: str | Sequence[str],
        path: str,
        *,
        openapi: Op | None = None,
        tags: Iterable[str] = (),
        body_limit: int | None = None,
    ) -> Callable[[R], R]:
        """Serve ``path`` (``/api/hello/{name}``) with the decorated ``async def handler(e: RouteEvent)``.

        Args:
            method: ``"GET"`` or several (``["GET", "POST"]``).
            path: Starlette path syntax; ``{name}`` parameters land in ``e.params``.
            openapi: the OpenAPI operation; by default one tagged ``custom`` whose summary is the
                first line of the handler's docstring.
            tags: rate-limit tags (the first path parameter then names the collection).
            body_limit: bytes the route accepts in a body instead of the server-wide limit.
        """
        methods = [method] if isinstance(method, str) else list(method)

        def decorator(handler: R) -> R:
            built = custom_route(
                [m.upper() for m in methods],
                path,
                handler,
                openapi=openapi,
                tags=tags,
                body_limit=body_limit,
            )
            self._register(RouteBinding(built, where=caller_location()))
            return handler

        return decorator

    def cron(self, job_id: str, expression: str) -> Callable[[C], C]:
        """Run the decorated ``async def job()`` on a cron schedule (``"*/5 * * * *"``, ``"@hourly"``).

        The job is listed by ``GET /api/crons`` under ``job_id`` and can be run from there.
        """

        def decorator(func: C) -> C:
            self._register(CronBinding(job_id, expression, func, where=caller_location()))
            return func

        return decorator

    def on_bootstrap(self, *, priority: int = 0) -> HookDecorator[BootstrapEvent]:
        return self._hook("on_bootstrap", (), priority)

    def on_serve(self, *, priority: int = 0) -> HookDecorator[ServeEvent]:
        return self._hook("on_serve", (), priority)

    def on_terminate(self, *, priority: int = 0) -> HookDecorator[TerminateEvent]:
        return self._hook("on_terminate", (), priority)

    def on_backup_create(self, *, priority: int = 0) -> HookDecorator[BackupEvent]:
        return self._hook("on_backup_create", (), priority)

    def on_backup_restore(self, *, priority: int = 0) -> HookDecorator[BackupEvent]:
        return self._hook("on_backup_restore", (), priority)

    def on_record_enrich(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordEnrichEvent]:
        return self._hook("on_record_enrich", collections, priority)

    def on_record_validate(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordEvent]:
        return self._hook("on_record_validate", collections, priority)

    def on_record_create(self, *collections: str, priority: int = 0) -> HookDecorator[RecordEvent]:
        return self._hook("on_record_create", collections, priority)

    def on_record_create_execute(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordEvent]:
        return self._hook("on_record_create_execute", collections, priority)

    def on_record_after_create_success(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordEvent]:
        return self._hook("on_record_after_create_success", collections, priority)

    def on_record_after_create_error(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordErrorEvent]:
        return self._hook("on_record_after_create_error", collections, priority)

    def on_record_update(self, *collections: str, priority: int = 0) -> HookDecorator[RecordEvent]:
        return self._hook("on_record_update", collections, priority)

    def on_record_update_execute(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordEvent]:
        return self._hook("on_record_update_execute", collections, priority)

    def on_record_after_update_success(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordEvent]:
        return self._hook("on_record_after_update_success", collections, priority)

    def on_record_after_update_error(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordErrorEvent]:
        return self._hook("on_record_after_update_error", collections, priority)

    def on_record_delete(self, *collections: str, priority: int = 0) -> HookDecorator[RecordEvent]:
        return self._hook("on_record_delete", collections, priority)

    def on_record_delete_execute(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordEvent]:
        return self._hook("on_record_delete_execute", collections, priority)

    def on_record_after_delete_success(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordEvent]:
        return self._hook("on_record_after_delete_success", collections, priority)

    def on_record_after_delete_error(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordErrorEvent]:
        return self._hook("on_record_after_delete_error", collections, priority)

    def on_records_list_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordsListRequestEvent]:
        return self._hook("on_records_list_request", collections, priority)

    def on_record_view_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordRequestEvent]:
        return self._hook("on_record_view_request", collections, priority)

    def on_record_create_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordRequestEvent]:
        return self._hook("on_record_create_request", collections, priority)

    def on_record_update_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordRequestEvent]:
        return self._hook("on_record_update_request", collections, priority)

    def on_record_delete_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordRequestEvent]:
        return self._hook("on_record_delete_request", collections, priority)

    def on_batch_request(self, *, priority: int = 0) -> HookDecorator[BatchRequestEvent]:
        return self._hook("on_batch_request", (), priority)

    def on_record_auth_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordAuthRequestEvent]:
        return self._hook("on_record_auth_request", collections, priority)

    def on_record_auth_with_password_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordAuthWithPasswordRequestEvent]:
        return self._hook("on_record_auth_with_password_request", collections, priority)

    def on_record_auth_with_oauth2_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordAuthWithOAuth2RequestEvent]:
        return self._hook("on_record_auth_with_oauth2_request", collections, priority)

    def on_record_auth_refresh_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordAuthRefreshRequestEvent]:
        return self._hook("on_record_auth_refresh_request", collections, priority)

    def on_record_request_otp_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordCreateOTPRequestEvent]:
        return self._hook("on_record_request_otp_request", collections, priority)

    def on_record_auth_with_otp_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordAuthWithOTPRequestEvent]:
        return self._hook("on_record_auth_with_otp_request", collections, priority)

    def on_record_request_password_reset_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordEmailRequestEvent]:
        return self._hook("on_record_request_password_reset_request", collections, priority)

    def on_record_confirm_password_reset_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordEmailRequestEvent]:
        return self._hook("on_record_confirm_password_reset_request", collections, priority)

    def on_record_request_verification_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordEmailRequestEvent]:
        return self._hook("on_record_request_verification_request", collections, priority)

    def on_record_confirm_verification_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordEmailRequestEvent]:
        return self._hook("on_record_confirm_verification_request", collections, priority)

    def on_record_request_email_change_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordEmailRequestEvent]:
        return self._hook("on_record_request_email_change_request", collections, priority)

    def on_record_confirm_email_change_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[RecordEmailRequestEvent]:
        return self._hook("on_record_confirm_email_change_request", collections, priority)

    def on_collection_validate(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[CollectionEvent]:
        return self._hook("on_collection_validate", collections, priority)

    def on_collection_create(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[CollectionEvent]:
        return self._hook("on_collection_create", collections, priority)

    def on_collection_create_execute(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[CollectionEvent]:
        return self._hook("on_collection_create_execute", collections, priority)

    def on_collection_after_create_success(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[CollectionEvent]:
        return self._hook("on_collection_after_create_success", collections, priority)

    def on_collection_after_create_error(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[CollectionErrorEvent]:
        return self._hook("on_collection_after_create_error", collections, priority)

    def on_collection_update(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[CollectionEvent]:
        return self._hook("on_collection_update", collections, priority)

    def on_collection_update_execute(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[CollectionEvent]:
        return self._hook("on_collection_update_execute", collections, priority)

    def on_collection_after_update_success(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[CollectionEvent]:
        return self._hook("on_collection_after_update_success", collections, priority)

    def on_collection_after_update_error(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[CollectionErrorEvent]:
        return self._hook("on_collection_after_update_error", collections, priority)

    def on_collection_delete(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[CollectionEvent]:
        return self._hook("on_collection_delete", collections, priority)

    def on_collection_delete_execute(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[CollectionEvent]:
        return self._hook("on_collection_delete_execute", collections, priority)

    def on_collection_after_delete_success(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[CollectionEvent]:
        return self._hook("on_collection_after_delete_success", collections, priority)

    def on_collection_after_delete_error(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[CollectionErrorEvent]:
        return self._hook("on_collection_after_delete_error", collections, priority)

    def on_collections_list_request(
        self, *, priority: int = 0
    ) -> HookDecorator[CollectionsListRequestEvent]:
        return self._hook("on_collections_list_request", (), priority)

    def on_collection_view_request(
        self, *, priority: int = 0
    ) -> HookDecorator[CollectionRequestEvent]:
        return self._hook("on_collection_view_request", (), priority)

    def on_collection_create_request(
        self, *, priority: int = 0
    ) -> HookDecorator[CollectionRequestEvent]:
        return self._hook("on_collection_create_request", (), priority)

    def on_collection_update_request(
        self, *, priority: int = 0
    ) -> HookDecorator[CollectionRequestEvent]:
        return self._hook("on_collection_update_request", (), priority)

    def on_collection_delete_request(
        self, *, priority: int = 0
    ) -> HookDecorator[CollectionRequestEvent]:
        return self._hook("on_collection_delete_request", (), priority)

    def on_collections_import_request(
        self, *, priority: int = 0
    ) -> HookDecorator[CollectionsImportRequestEvent]:
        return self._hook("on_collections_import_request", (), priority)

    def on_mailer_send(self, *, priority: int = 0) -> HookDecorator[MailerEvent]:
        return self._hook("on_mailer_send", (), priority)

    def on_mailer_record_auth_alert_send(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[MailerRecordEvent]:
        return self._hook("on_mailer_record_auth_alert_send", collections, priority)

    def on_mailer_record_password_reset_send(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[MailerRecordEvent]:
        return self._hook("on_mailer_record_password_reset_send", collections, priority)

    def on_mailer_record_verification_send(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[MailerRecordEvent]:
        return self._hook("on_mailer_record_verification_send", collections, priority)

    def on_mailer_record_email_change_send(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[MailerRecordEvent]:
        return self._hook("on_mailer_record_email_change_send", collections, priority)

    def on_mailer_record_otp_send(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[MailerRecordEvent]:
        return self._hook("on_mailer_record_otp_send", collections, priority)

    def on_realtime_connect_request(
        self, *, priority: int = 0
    ) -> HookDecorator[RealtimeConnectRequestEvent]:
        return self._hook("on_realtime_connect_request", (), priority)

    def on_realtime_subscribe_request(
        self, *, priority: int = 0
    ) -> HookDecorator[RealtimeSubscribeRequestEvent]:
        return self._hook("on_realtime_subscribe_request", (), priority)

    def on_realtime_message_send(self, *, priority: int = 0) -> HookDecorator[RealtimeMessageEvent]:
        return self._hook("on_realtime_message_send", (), priority)

    def on_settings_list_request(
        self, *, priority: int = 0
    ) -> HookDecorator[SettingsListRequestEvent]:
        return self._hook("on_settings_list_request", (), priority)

    def on_settings_update_request(
        self, *, priority: int = 0
    ) -> HookDecorator[SettingsUpdateRequestEvent]:
        return self._hook("on_settings_update_request", (), priority)

    def on_settings_reload(self, *, priority: int = 0) -> HookDecorator[SettingsReloadEvent]:
        return self._hook("on_settings_reload", (), priority)

    def on_file_token_request(self, *, priority: int = 0) -> HookDecorator[FileTokenRequestEvent]:
        return self._hook("on_file_token_request", (), priority)

    def on_file_download_request(
        self, *collections: str, priority: int = 0
    ) -> HookDecorator[FileDownloadRequestEvent]:
        return self._hook("on_file_download_request", collections, priority)
