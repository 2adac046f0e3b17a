"""The request level of the settings: reading and changing them for a superuser, with the hooks.

:class:`roost.core.settings.Settings` holds and stores the values; these functions fire
``on_settings_list_request`` / ``on_settings_update_request`` around it, and :func:`reloaded`
fires ``on_settings_reload`` whenever the app's copy changed.
"""

from __future__ import annotations

from typing import Any

from roost.core.base import App
from roost.core.events import (
    RequestInfo,
    SettingsListRequestEvent,
    SettingsReloadEvent,
    SettingsUpdateRequestEvent,
)


async def list_settings(app: App, info: RequestInfo) -> dict[str, Any]:
    """The settings a superuser sees (secrets left out); ``on_settings_list_request`` may change them."""
    data = app.settings.public()
    hook = app.hooks.on_settings_list_request
    if hook.handlers:
        event = SettingsListRequestEvent(app=app, info=info, settings=data)
        await hook.trigger(event)
        data = event.settings
    return data


async def update_settings(app: App, info: RequestInfo, patch: dict[str, Any]) -> dict[str, Any]:
    """Validate and store ``patch``; returns the new public settings (``on_settings_update_request``
    wraps the write, ``on_settings_reload`` follows it)."""
    event = SettingsUpdateRequestEvent(app=app, info=info, patch=patch, old=app.settings.public())
    await app.hooks.on_settings_update_request.trigger(event, _update)
    return event.new


async def _update(event: SettingsUpdateRequestEvent) -> None:
    event.new = await event.app.settings.update(event.patch)
    await reloaded(event.app)


async def reloaded(app: App) -> None:
    """Fire ``on_settings_reload``: the app's settings were (re)loaded or changed."""
    hook = app.hooks.on_settings_reload
    if hook.handlers:
        await hook.trigger(SettingsReloadEvent(app=app))
